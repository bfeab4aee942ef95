"""Suite-wide pytest setup.

Clocks: no test may keep a time taken while pytest collects (at import, in a
default argument, in a parametrize list): on a fresh machine the control-plane
build runs between collection and the first test (tests/e2e/conftest.py).
Take the time inside the test, or pass a clock in (``clock=``, ``now=``).
``GITWAVE_TEST_CLOCK_SKEW=660 pytest ...`` checks that (tests/clockcheck.py).

Fixtures shared across tests (session or module scope) are set up by the first
test that uses them, after the build; what they hold must stay true however
long the tests after them take: none of them keeps a time, and none asserts an
age or a ``--since`` window.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clockcheck import ClockCheck, skew_seconds
from tests.oci_registry import oci_registry  # noqa: F401  (a fixture: a real OCI registry)

# The Argo Rollouts controller's build hook and fixture (tests/rollouts/plugin.py).
pytest_plugins = ["tests.rollouts.plugin"]


def pytest_configure(config: pytest.Config) -> None:
    seconds = skew_seconds()
    if seconds is not None:
        config.pluginmanager.register(ClockCheck(seconds), "gitwave-clockcheck")


# kubeseal and the sealed-secrets controller (tests/sealedsecrets/peers.py):
# built here, after collection, when a selected test asks for them.
_SEALED_SECRETS_FIXTURE = "sealed_secrets_peers"
_sealed_secrets_build_errors: list[str] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    from tests.sealedsecrets import peers

    if session.config.option.collectonly or peers.present():
        return
    if not any(_SEALED_SECRETS_FIXTURE in getattr(i, "fixturenames", ()) for i in session.items):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"gitwave: building kubeseal and the sealed-secrets controller {peers.VERSION} "
            f"(one-off; cached in {peers.cache_dir()}) ..."
        )
    try:
        peers.build()
    except peers.BuildError as exc:
        _sealed_secrets_build_errors.append(str(exc))


@pytest.fixture(scope="session")
def sealed_secrets_peers() -> Path:
    """The directory holding ``kubeseal``, ``controller`` and the SealedSecret CRD."""
    from tests.sealedsecrets import peers

    if _sealed_secrets_build_errors:
        pytest.fail(_sealed_secrets_build_errors[0], pytrace=False)
    if not peers.present():
        pytest.fail(
            "kubeseal is not built: install Go and run `make sealed-secrets-build`", pytrace=False
        )
    return peers.cache_dir()

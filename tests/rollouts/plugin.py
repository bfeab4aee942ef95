"""The Argo Rollouts controller for the e2e tests (tests/rollouts/peers.py):
built after collection, when a selected test asks for ``rollouts_peers``, so
the long cold build stays outside every test's timeout (as the sealed-secrets
peers are). Registered by the root conftest's ``pytest_plugins``."""

from __future__ import annotations

from pathlib import Path

import pytest

_FIXTURE = "rollouts_peers"
_build_errors: list[str] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    from tests.rollouts import peers

    if session.config.option.collectonly or peers.present():
        return
    if not any(_FIXTURE in getattr(i, "fixturenames", ()) for i in session.items):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"gitwave: building the Argo Rollouts controller {peers.VERSION} "
            f"(one-off, ~4-10 min; cached in {peers.cache_dir()}) ..."
        )
    try:
        peers.build()
    except peers.BuildError as exc:
        _build_errors.append(str(exc))


@pytest.fixture(scope="session")
def rollouts_peers() -> Path:
    """The directory holding ``rollouts-controller`` and ``crds/``."""
    from tests.rollouts import peers

    if _build_errors:
        pytest.fail(_build_errors[0], pytrace=False)
    if not peers.present():
        pytest.fail(
            "the Argo Rollouts controller is not built: install Go and run `make rollouts-build`",
            pytrace=False,
        )
    return peers.cache_dir()

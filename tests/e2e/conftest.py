"""Fixtures for end-to-end tests against a real local Kubernetes control plane.

`kube_cluster` (session scope) makes sure the control plane from
tests/cluster/controlplane.py is up: it reuses a running one (e.g. from
`make cluster-up`) and leaves it running, or starts one and stops it when the
session ends (set GITWAVE_KEEP_CLUSTER=1 to keep it). Every test collected
from tests/e2e is marked `e2e`, so `pytest -m "not e2e"` skips them.

Without Go (and without prebuilt binaries in the cache) the tests are skipped,
except under CI (CI=true), where anything that stops the cluster from starting
is a failure, never a skip.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

_E2E_DIR = Path(__file__).resolve().parent
_CONTROLPLANE = _E2E_DIR.parent / "cluster" / "controlplane.py"
_FIXTURE = "kube_cluster"
_build_errors: list[str] = []


@dataclasses.dataclass(frozen=True)
class KubeCluster:
    kubeconfig: Path
    context: str
    server: str


def _controlplane() -> ModuleType:
    """tests/cluster/controlplane.py, imported by path (it is not a package)."""
    name = "gitwave_tests_cluster_controlplane"
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, _CONTROLPLANE)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # dataclasses look their module up here
        spec.loader.exec_module(mod)
    return mod


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(msg: str) -> None:
    """Skip locally; fail under CI."""
    if _in_ci():
        pytest.fail(f"{msg} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(msg)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Compile missing binaries here, outside every test's timeout.

    A cold build takes many minutes (see tests/cluster/README.md) and would
    otherwise count against the first e2e test's pytest-timeout.
    """
    if session.config.option.collectonly:
        return
    if not any(_FIXTURE in getattr(item, "fixturenames", ()) for item in session.items):
        return
    cp = _controlplane()
    if cp.binaries_present() or cp.find_go() is None:
        return  # nothing to do, or the fixture reports the missing toolchain
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            "gitwave e2e: building the local Kubernetes control plane "
            f"(one-off; cached in {cp.bin_dir()}) ..."
        )
    try:
        cp.build()
    except cp.ClusterError as e:
        _build_errors.append(str(e))


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[KubeCluster]:
    cp = _controlplane()
    if _build_errors:
        pytest.fail(f"building the control plane failed: {_build_errors[0]}", pytrace=False)
    if not cp.binaries_present() and cp.find_go() is None:
        _unavailable(
            "Kubernetes e2e tests need the local control plane: "
            "install Go (>= 1.26) and run `make cluster-build`"
        )
    if shutil.which("openssl") is None:
        _unavailable("Kubernetes e2e tests need the openssl CLI to create certificates")
    try:
        info, started = cp.up()
    except cp.ClusterError as e:
        # A broken control plane is a real failure locally too; only a missing
        # toolchain is a reason to skip.
        pytest.fail(f"the local Kubernetes control plane did not start: {e}", pytrace=False)
    try:
        yield KubeCluster(kubeconfig=info.kubeconfig, context=info.context, server=info.server)
    finally:
        if started and os.environ.get("GITWAVE_KEEP_CLUSTER") != "1":
            cp.down()

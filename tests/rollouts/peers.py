"""The Argo Rollouts controller, built from the Go module proxy.

``github.com/argoproj/argo-rollouts`` v1.10.2 has ``replace`` directives (the
k8s.io staging modules), so it cannot be ``go install``ed at a version: it is
built from the wrapper module in ``gobuild/``, which repeats them, as the
sealed-secrets peers are (tests/sealedsecrets/peers.py). v1.10.2 asks for Go
1.26.10, so the build runs with ``GOTOOLCHAIN=auto``: an older local go fetches
that toolchain from the Go module proxy (``golang.org/toolchain``) once.

The binary and the module's CRDs (``manifests/crds``) are cached in
``~/.cache/gitwave/rollouts/v1.10.2/`` and built at most once, under a file
lock, by ``tests/conftest.py`` in ``pytest_collection_finish`` (never inside a
timed test) or by ``python -m tests.rollouts.peers``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.gobuild.wrapper import BuildError, build_missing, find_go, go_env, locked, module_dir

__all__ = ["CRDS", "VERSION", "BuildError", "binary", "build", "cache_dir", "crd_dir", "present"]

VERSION = "v1.10.2"
MODULE = "github.com/argoproj/argo-rollouts"
GOBUILD = Path(__file__).resolve().parent / "gobuild"
BINARIES = {"rollouts-controller": f"{MODULE}/cmd/rollouts-controller"}
# The CRDs the controller needs, as the module ships them.
CRDS = (
    "rollout-crd.yaml",
    "analysis-template-crd.yaml",
    "cluster-analysis-template-crd.yaml",
    "analysis-run-crd.yaml",
    "experiment-crd.yaml",
)


def cache_dir() -> Path:
    root = os.environ.get("GITWAVE_ROLLOUTS_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "gitwave" / "rollouts"
    return base / VERSION


def binary(name: str = "rollouts-controller") -> Path:
    return cache_dir() / name


def crd_dir() -> Path:
    return cache_dir() / "crds"


def present() -> bool:
    return all(binary(n).is_file() for n in BINARIES) and all(
        (crd_dir() / name).is_file() for name in CRDS
    )


def build() -> Path:
    """Build what is missing (nice'd: the machine is shared); return the cache dir."""
    with locked(cache_dir()):
        if present():
            return cache_dir()
        go = find_go()
        if go is None:
            raise BuildError("the go toolchain was not found; install Go >= 1.26")
        # go.mod says go 1.26.10: let an older local go fetch that toolchain.
        env = go_env(toolchain="auto")
        build_missing(go, BINARIES, cache_dir(), module=GOBUILD, env=env)
        crds = module_dir(go, MODULE, module=GOBUILD, env=env) / "manifests" / "crds"
        crd_dir().mkdir(parents=True, exist_ok=True)
        for name in CRDS:
            source = crds / name
            if not source.is_file():
                raise BuildError(f"the CRD {name} is not in the module at {source}")
            shutil.copyfile(source, crd_dir() / name)
        return cache_dir()


if __name__ == "__main__":
    try:
        print(build())
    except BuildError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)

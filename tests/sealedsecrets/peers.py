"""kubeseal and the sealed-secrets controller, built from the Go module proxy.

``github.com/bitnami-labs/sealed-secrets`` v0.40.0 declares its module path as
``github.com/bitnami/sealed-secrets``, so it is built from the wrapper module
in ``gobuild/`` (a ``replace`` maps the one path onto the other), as the
control plane is (tests/cluster). Binaries are cached in
``~/.cache/gitwave/sealed-secrets/v0.40.0/`` and built at most once, under a
file lock (``tests/gobuild/wrapper.py``), by ``tests/conftest.py`` in
``pytest_collection_finish`` (never inside a timed test) or by
``make sealed-secrets-build``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.gobuild.wrapper import BuildError, build_missing, find_go, go_env, locked, module_dir

__all__ = ["VERSION", "BuildError", "binary", "build", "cache_dir", "crd_path", "present"]

VERSION = "v0.40.0"
MODULE = "github.com/bitnami/sealed-secrets"
GOBUILD = Path(__file__).resolve().parent / "gobuild"
BINARIES = {
    "kubeseal": f"{MODULE}/cmd/kubeseal",
    "controller": f"{MODULE}/cmd/controller",
}
# The CRD as the module ships it for its Helm chart.
CRD_IN_MODULE = "helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"


def cache_dir() -> Path:
    root = os.environ.get("GITWAVE_SEALED_SECRETS_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "gitwave" / "sealed-secrets"
    return base / VERSION


def binary(name: str) -> Path:
    return cache_dir() / name


def crd_path() -> Path:
    return cache_dir() / "sealedsecrets.bitnami.com.yaml"


def present() -> bool:
    return all(binary(n).is_file() for n in BINARIES) and crd_path().is_file()


def build() -> Path:
    """Build what is missing (nice'd: the machine is shared); return the cache dir."""
    with locked(cache_dir()):
        if present():
            return cache_dir()
        go = find_go()
        if go is None:
            raise BuildError("the go toolchain was not found; install Go >= 1.26")
        env = go_env()
        build_missing(go, BINARIES, cache_dir(), module=GOBUILD, env=env)
        if not crd_path().is_file():
            source = module_dir(go, MODULE, module=GOBUILD, env=env) / CRD_IN_MODULE
            if not source.is_file():
                raise BuildError(f"the SealedSecret CRD is not in the module at {source}")
            shutil.copyfile(source, crd_path())
        return cache_dir()


if __name__ == "__main__":
    try:
        print(build())
    except BuildError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)

"""kubeseal and the sealed-secrets controller, built from the Go module proxy.

``github.com/bitnami-labs/sealed-secrets`` v0.40.0 declares its module path as
``github.com/bitnami/sealed-secrets``, so it is built from the wrapper module
in ``gobuild/`` (a ``replace`` maps the one path onto the other), as the
control plane is (tests/cluster). Binaries are cached in
``~/.cache/gitwave/sealed-secrets/v0.40.0/`` and built at most once, under a
file lock, by ``tests/conftest.py`` in ``pytest_collection_finish`` (never
inside a timed test) or by ``make sealed-secrets-build``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VERSION = "v0.40.0"
GOBUILD = Path(__file__).resolve().parent / "gobuild"
BINARIES = {
    "kubeseal": "github.com/bitnami/sealed-secrets/cmd/kubeseal",
    "controller": "github.com/bitnami/sealed-secrets/cmd/controller",
}
# The CRD as the module ships it for its Helm chart.
CRD_IN_MODULE = "helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"


class BuildError(Exception):
    """Building a peer failed; the message holds the tail of go's output."""


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


def find_go() -> str | None:
    for candidate in (os.environ.get("GO"), shutil.which("go"), "/usr/local/go/bin/go"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextmanager
def _locked() -> Iterator[None]:
    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build() -> Path:
    """Build what is missing (nice'd: the machine is shared); return the cache dir."""
    with _locked():
        if present():
            return cache_dir()
        go = find_go()
        if go is None:
            raise BuildError("the go toolchain was not found; install Go >= 1.26")
        env = dict(os.environ)
        env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=readonly").strip()
        out = cache_dir()
        for name, pkg in BINARIES.items():
            target = out / name
            if target.is_file():
                continue
            tmp = out / f".{name}.tmp"
            cmd = ["nice", go, "build", "-p", "2", "-trimpath", "-ldflags=-s -w", "-o", str(tmp)]
            proc = subprocess.run(
                [*cmd, pkg],
                cwd=GOBUILD,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            if proc.returncode != 0:
                tmp.unlink(missing_ok=True)
                tail = "\n".join(proc.stdout.splitlines()[-40:])
                raise BuildError(f"building {name} failed: go build {pkg}\n{tail}")
            os.replace(tmp, target)
        if not crd_path().is_file():
            moddir = subprocess.run(
                [go, "list", "-m", "-f", "{{.Dir}}", "github.com/bitnami/sealed-secrets"],
                cwd=GOBUILD,
                env=env,
                capture_output=True,
                text=True,
            ).stdout.strip()
            source = Path(moddir) / CRD_IN_MODULE
            if not source.is_file():
                raise BuildError(f"the SealedSecret CRD is not in the module at {source}")
            shutil.copyfile(source, crd_path())
        return out


if __name__ == "__main__":
    try:
        print(build())
    except BuildError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)

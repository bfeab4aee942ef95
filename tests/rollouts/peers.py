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

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


class BuildError(Exception):
    """Building the controller failed; the message holds the command and go's output."""


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


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=readonly").strip()
    # go.mod says go 1.26.10: let an older local go fetch that toolchain.
    env["GOTOOLCHAIN"] = "auto"
    return env


def build() -> Path:
    """Build what is missing (nice'd: the machine is shared); return the cache dir."""
    with _locked():
        if present():
            return cache_dir()
        go = find_go()
        if go is None:
            raise BuildError("the go toolchain was not found; install Go >= 1.26")
        env = _go_env()
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
                raise BuildError(
                    f"building {name} failed (in {GOBUILD}): GOTOOLCHAIN=auto "
                    f"{' '.join(cmd[1:])} {pkg}\n{tail}"
                )
            os.replace(tmp, target)
        moddir = subprocess.run(
            [go, "list", "-m", "-f", "{{.Dir}}", MODULE],
            cwd=GOBUILD,
            env=env,
            capture_output=True,
            text=True,
        ).stdout.strip()
        crd_dir().mkdir(parents=True, exist_ok=True)
        for name in CRDS:
            source = Path(moddir) / "manifests" / "crds" / name
            if not source.is_file():
                raise BuildError(f"the CRD {name} is not in the module at {source}")
            shutil.copyfile(source, crd_dir() / name)
        return out


if __name__ == "__main__":
    try:
        print(build())
    except BuildError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)

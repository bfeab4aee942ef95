"""Go peers built from a wrapper module, for the tests and the benchmarks.

A peer whose go.mod has ``replace`` directives (or declares another module
path) cannot be ``go install``ed at a version: it is built from a small
wrapper module that requires it and repeats what it needs, with ``go build
<its main package>`` (GOTCHAS.md). tests/rollouts/peers.py,
tests/sealedsecrets/peers.py and benchmarks/peers.py say what to build and
where to cache it; this module builds it. (tests/cluster/controlplane.py keeps
its own copy: it runs by path with the system Python, outside this package.)
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "BuildError",
    "build_binary",
    "build_missing",
    "find_go",
    "go_env",
    "locked",
    "module_dir",
]


class BuildError(Exception):
    """Building a peer failed; the message holds the command and go's output."""


def find_go() -> str | None:
    """The go toolchain: $GO, then PATH, then /usr/local/go/bin/go."""
    for candidate in (os.environ.get("GO"), shutil.which("go"), "/usr/local/go/bin/go"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold ``directory/.lock`` (made with its directory when missing): one
    build at a time across processes (pytest-xdist workers, a CI run)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def go_env(*, toolchain: str = "", default_toolchain: str = "") -> dict[str, str]:
    """The environment for go: ``-mod=readonly`` added to GOFLAGS (a build never
    touches the committed go.mod/go.sum); GOTOOLCHAIN set to ``toolchain``, or
    to ``default_toolchain`` unless the caller's environment sets it."""
    env = dict(os.environ)
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=readonly").strip()
    if toolchain:
        env["GOTOOLCHAIN"] = toolchain
    elif default_toolchain:
        env.setdefault("GOTOOLCHAIN", default_toolchain)
    return env


def build_binary(
    go: str,
    package: str,
    target: Path,
    *,
    module: Path,
    env: Mapping[str, str],
    nice: bool = True,
) -> None:
    """``go build package`` in the wrapper ``module`` directory into ``target``,
    through a temporary file so an interrupted build leaves no half binary
    (nice'd unless told otherwise: the machine is shared). BuildError with the
    command and the tail of go's output when go fails."""
    tmp = target.parent / f".{target.name}.tmp"
    cmd = [go, "build", "-p", "2", "-trimpath", "-ldflags=-s -w", "-o", str(tmp), package]
    proc = subprocess.run(
        ["nice", *cmd] if nice else cmd,
        cwd=module,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        toolchain = env.get("GOTOOLCHAIN")
        prefix = f"GOTOOLCHAIN={toolchain} " if toolchain else ""
        raise BuildError(
            f"building {target.name} failed (in {module}): {prefix}go {' '.join(cmd[1:])}\n{tail}"
        )
    os.replace(tmp, target)


def build_missing(
    go: str, binaries: Mapping[str, str], out: Path, *, module: Path, env: Mapping[str, str]
) -> None:
    """Build each ``name: package`` of ``binaries`` not yet in ``out``."""
    for name, package in binaries.items():
        if not (out / name).is_file():
            build_binary(go, package, out / name, module=module, env=env)


def module_dir(go: str, module_path: str, *, module: Path, env: Mapping[str, str]) -> Path:
    """Where the Go module cache holds ``module_path``, at the version the wrapper
    ``module`` requires; BuildError when go cannot say."""
    proc = subprocess.run(
        [go, "list", "-m", "-f", "{{.Dir}}", module_path],
        cwd=module,
        env=dict(env),
        capture_output=True,
        text=True,
    )
    found = proc.stdout.strip()
    if proc.returncode != 0:
        raise BuildError(f"go cannot find {module_path} (in {module}): {proc.stderr.strip()}")
    if not found:
        raise BuildError(f"{module_path} is not in the Go module cache yet: build its peer first")
    return Path(found)

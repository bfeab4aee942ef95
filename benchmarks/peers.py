#!/usr/bin/env python3
"""Real Flux for the fleet benchmark: source-controller and kustomize-controller
built from the Go module proxy, run as host processes against the local control
plane (tests/cluster), the way tests/cluster/controlplane.py runs Kubernetes.

    python3.11 benchmarks/peers.py build    # compile once into the cache
    python3.11 benchmarks/peers.py paths    # the binaries and CRD files

Binaries go to ${GITWAVE_PEERS_CACHE:-~/.cache/gitwave/peers}/flux-<version>/.
The wrapper modules are benchmarks/gobuild/flux-source and flux-kustomize (the
controllers' own go.mod have replace directives, so they cannot be installed
at a version). v1.9.6, not v1.10.x: 1.10 needs go 1.27, and its
fluxcd/pkg/artifact release is not served by the proxy these machines use.

From Python (benchmarks/bench_fleet.py): ``install_crds(kubectl, kubeconfig)``
and ``with Flux(kubeconfig, workdir) as flux: ...`` runs both controllers out
of cluster (leader election off, every port on 127.0.0.1, artifacts served by
source-controller at 127.0.0.1 to kustomize-controller).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

HERE = Path(__file__).resolve().parent
# Run as a script (and imported by bench_fleet.py): the repo root holds the
# wrapper-module build shared with the tests.
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))
from tests.gobuild.wrapper import BuildError, build_binary, find_go, go_env, module_dir  # noqa: E402

GOBUILD = HERE / "gobuild"
VERSION = "v1.9.6"
# binary -> (wrapper module dir, Go package, module whose config/crd/bases we install)
BINARIES = {
    "source-controller": ("flux-source", "github.com/fluxcd/source-controller"),
    "kustomize-controller": ("flux-kustomize", "github.com/fluxcd/kustomize-controller"),
}


def log(msg: str) -> None:
    print(f"[peers] {msg}", file=sys.stderr, flush=True)


def bin_dir() -> Path:
    root = os.environ.get("GITWAVE_PEERS_CACHE") or str(Path.home() / ".cache/gitwave/peers")
    return Path(root) / f"flux-{VERSION}"


def build() -> Path:
    """Compile each controller missing from bin_dir(); return bin_dir()."""
    out = bin_dir()
    out.mkdir(parents=True, exist_ok=True)
    go = find_go()
    for name, (moddir, pkg) in BINARIES.items():
        target = out / name
        if target.is_file():
            log(f"{name}: present in {out}")
            continue
        if go is None:
            raise SystemExit("go not found (looked at $GO, PATH, /usr/local/go/bin/go)")
        log(f"{name}: go build {pkg} (in {GOBUILD / moddir}) ...")
        t0 = time.monotonic()
        try:
            build_binary(go, pkg, target, module=GOBUILD / moddir, env=_go_env(), nice=False)
        except BuildError as exc:
            raise SystemExit(str(exc)) from None
        log(f"{name}: built in {time.monotonic() - t0:.0f}s")
    return out


def _go_env() -> dict[str, str]:
    return go_env(default_toolchain="local")


def crd_files() -> list[Path]:
    """The Flux CRDs of both controllers, from the Go module cache."""
    go = find_go()
    if go is None:
        raise SystemExit("go not found")
    files: list[Path] = []
    for moddir, pkg in BINARIES.values():
        found = module_dir(go, pkg, module=GOBUILD / moddir, env=_go_env())
        files += sorted((found / "config/crd/bases").glob("*.yaml"))
    return files


def install_crds(kubectl: str, kubeconfig: Path) -> None:
    """Apply the Flux CRDs server-side and wait until they are established."""
    args = [kubectl, "--kubeconfig", str(kubeconfig), "apply", "--server-side", "--force-conflicts"]
    for f in crd_files():
        args += ["-f", str(f)]
    subprocess.run(args, check=True, capture_output=True)
    subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(kubeconfig),
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/gitrepositories.source.toolkit.fluxcd.io",
            "crd/kustomizations.kustomize.toolkit.fluxcd.io",
        ],
        check=True,
        capture_output=True,
    )


def crds_installed(kubectl: str, kubeconfig: Path) -> bool:
    proc = subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(kubeconfig),
            "get",
            "crd",
            "kustomizations.kustomize.toolkit.fluxcd.io",
        ],
        capture_output=True,
    )
    return proc.returncode == 0


def uninstall_crds(kubectl: str, kubeconfig: Path) -> None:
    """Delete the Flux CRDs (and so every Flux object) again."""
    args = [kubectl, "--kubeconfig", str(kubeconfig), "delete", "--ignore-not-found"]
    for f in crd_files():
        args += ["-f", str(f)]
    subprocess.run(args, check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Flux:
    """source-controller and kustomize-controller as host processes; logs in workdir."""

    def __init__(self, kubeconfig: Path, workdir: Path, *, concurrent: int | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self.concurrent = concurrent
        self.procs: list[subprocess.Popen[bytes]] = []

    def _start(self, name: str, extra: list[str]) -> None:
        binary = bin_dir() / name
        if not binary.is_file():
            raise SystemExit(f"{binary} missing: run `python3.11 benchmarks/peers.py build`")
        args = [
            str(binary),
            f"--metrics-addr=127.0.0.1:{_free_port()}",
            f"--health-addr=127.0.0.1:{_free_port()}",
            "--enable-leader-election=false",
            "--watch-all-namespaces=true",
            "--log-level=info",
            *extra,
        ]
        if self.concurrent:
            args.append(f"--concurrent={self.concurrent}")
        # controller-runtime reads $KUBECONFIG (its --kubeconfig flag is not
        # registered by every controller's flag set).
        env = dict(os.environ, RUNTIME_NAMESPACE="flux-system", KUBECONFIG=str(self.kubeconfig))
        log_file = (self.workdir / f"{name}.log").open("wb")
        self.procs.append(
            subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, env=env)
        )

    def start(self) -> Flux:
        self.workdir.mkdir(parents=True, exist_ok=True)
        storage = self.workdir / "artifacts"
        storage.mkdir(exist_ok=True)
        port = _free_port()
        self._start(
            "source-controller",
            [
                f"--storage-path={storage}",
                f"--storage-addr=127.0.0.1:{port}",
                f"--storage-adv-addr=127.0.0.1:{port}",
            ],
        )
        self._start("kustomize-controller", ["--no-remote-bases=true"])
        time.sleep(0.5)
        for proc in self.procs:
            if proc.poll() is not None:
                raise SystemExit(
                    f"{proc.args[0]} exited with {proc.returncode}; see {self.workdir}/*.log"
                )
        return self

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def rss_mib(self) -> dict[str, float]:
        """Current RSS of each controller (MiB), from /proc."""
        out: dict[str, float] = {}
        for proc in self.procs:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):  # peak resident set
                        out[Path(str(proc.args[0])).name] = int(line.split()[1]) / 1024
        return out

    def __enter__(self) -> Flux:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("verb", choices=["build", "paths"])
    args = parser.parse_args()
    if args.verb == "build":
        print(build())
        return 0
    for name in BINARIES:
        print(bin_dir() / name)
    for f in crd_files():
        print(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""A real local Kubernetes control plane for gitwave's end-to-end tests.

Runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok as
plain host processes (the way kwok's "binary" runtime does), with fake Nodes
whose kubelet is simulated by kwok: pods get scheduled, become Running and
Ready, and pods owned by Jobs complete. No containers run anywhere.

Usage (see tests/cluster/README.md):

    python3.11 tests/cluster/controlplane.py build    # compile binaries (cached)
    python3.11 tests/cluster/controlplane.py up       # start; prints kubeconfig path
    python3.11 tests/cluster/controlplane.py status
    python3.11 tests/cluster/controlplane.py down

Only the Python standard library, the go toolchain (for `build`) and the
openssl CLI (for `up`) are used: this runs before any virtualenv exists.

Everything lives outside the repository, under
${GITWAVE_CLUSTER_CACHE:-~/.cache/gitwave/cluster}:

    bin/<version-tag>/   the five binaries plus kwok.yaml (kwok's default stages)
    run/                 state.json, kubeconfig, pki/, etcd-data/, logs/*.log
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GOBUILD = HERE / "gobuild"

CONTEXT = "gitwave-test"
CLUSTER_NAME = "gitwave-test"
SERVICE_CIDR = "10.96.0.0/12"
SERVICE_IP = "10.96.0.1"  # first address of SERVICE_CIDR: the "kubernetes" Service
POD_CIDR = "10.244.0.0/16"  # kwok hands out fake pod IPs from here
NODE_NAMES = ("kwok-node-0", "kwok-node-1")
# Per fake node; two nodes hold ~2200 pods.
NODE_CAPACITY = {"cpu": "1000", "memory": "4Ti", "pods": "1100", "ephemeral-storage": "10Ti"}
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")

# Start order; `down` stops in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")

# binary name -> (wrapper module dir under gobuild/, Go package to build)
BINARIES: dict[str, tuple[str, str]] = {
    "etcd": ("etcd", "go.etcd.io/etcd/server/v3"),
    "kube-apiserver": ("kube", "k8s.io/kubernetes/cmd/kube-apiserver"),
    "kube-controller-manager": ("kube", "k8s.io/kubernetes/cmd/kube-controller-manager"),
    "kube-scheduler": ("kube", "k8s.io/kubernetes/cmd/kube-scheduler"),
    "kwok": ("kwok", "sigs.k8s.io/kwok/cmd/kwok"),
}

# kwok's default stages, exactly the set kwokctl writes into kwok.yaml when a
# cluster has no custom stages (node heartbeats via Leases).
KWOK_STAGE_FILES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)
KWOK_LEASE_SECONDS = 40

STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL
READY_TIMEOUT = 120.0  # seconds for the whole control plane to become ready


class ClusterError(RuntimeError):
    """The control plane could not be built or started."""


class GoNotFound(ClusterError):
    """Binaries are missing and no go toolchain is available to build them."""


@dataclasses.dataclass(frozen=True)
class ClusterInfo:
    kubeconfig: Path
    context: str
    server: str


# --------------------------------------------------------------------- paths


def cache_dir() -> Path:
    env = os.environ.get("GITWAVE_CLUSTER_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gitwave" / "cluster"


def run_dir() -> Path:
    return cache_dir() / "run"


def state_path() -> Path:
    return run_dir() / "state.json"


def kubeconfig_path() -> Path:
    return run_dir() / "kubeconfig"


def log_dir() -> Path:
    return run_dir() / "logs"


def log(msg: str) -> None:
    print(f"[cluster] {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialise build/up/down across processes (e.g. pytest-xdist workers)."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ------------------------------------------------------------------ versions


def _required_version(module_dir: str, module: str) -> str:
    text = (GOBUILD / module_dir / "go.mod").read_text()
    m = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", text, re.M)
    if not m:
        raise ClusterError(f"{module} not found in gobuild/{module_dir}/go.mod")
    return m.group(1)


def versions() -> dict[str, str]:
    return {
        "kubernetes": _required_version("kube", "k8s.io/kubernetes"),
        "etcd": _required_version("etcd", "go.etcd.io/etcd/server/v3"),
        "kwok": _required_version("kwok", "sigs.k8s.io/kwok"),
    }


def version_tag() -> str:
    """Names the bin/ subdirectory; changes whenever a go.mod/go.sum changes."""
    v = versions()
    h = hashlib.sha256()
    for sub in ("kube", "etcd", "kwok"):
        for name in ("go.mod", "go.sum"):
            p = GOBUILD / sub / name
            h.update(p.read_bytes() if p.exists() else b"")
    return f"k8s-{v['kubernetes']}_etcd-{v['etcd']}_kwok-{v['kwok']}_{h.hexdigest()[:8]}"


def bin_dir() -> Path:
    return cache_dir() / "bin" / version_tag()


def kwok_config_path() -> Path:
    return bin_dir() / "kwok.yaml"


def _artifacts() -> list[Path]:
    return [bin_dir() / name for name in BINARIES] + [kwok_config_path()]


def binaries_present() -> bool:
    return all(p.is_file() for p in _artifacts())


# --------------------------------------------------------------------- build


def find_go() -> str | None:
    """The go toolchain: $GO, then PATH, then /usr/local/go/bin/go."""
    for cand in (os.environ.get("GO"), shutil.which("go"), "/usr/local/go/bin/go"):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def _kube_ldflags(kube_version: str) -> str:
    m = re.match(r"v(\d+)\.(\d+)\.", kube_version)
    if not m:
        raise ClusterError(f"unexpected Kubernetes version {kube_version!r}")
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={kube_version}",
            f"-X {pkg}.gitMajor={m.group(1)}",
            f"-X {pkg}.gitMinor={m.group(2)}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return " ".join(flags)


def build(force: bool = False) -> Path:
    """Compile every binary missing from bin/<version-tag>/; return that dir."""
    with _locked():
        return _build_unlocked(force)


def _build_unlocked(force: bool = False) -> Path:
    out = bin_dir()
    if not force and binaries_present():
        log(f"binaries present in {out}")
        return out
    go = find_go()
    if go is None:
        raise GoNotFound(
            "the go toolchain was not found (looked at $GO, PATH, /usr/local/go/bin/go); "
            "install Go >= 1.26 and run `make cluster-build`"
        )
    out.mkdir(parents=True, exist_ok=True)
    v = versions()
    env = dict(os.environ)
    # Never let a build touch the committed go.mod/go.sum.
    env["GOFLAGS"] = (env.get("GOFLAGS", "") + " -mod=readonly").strip()
    gover = subprocess.run([go, "version"], capture_output=True, text=True).stdout.strip()
    log(f"building into {out} with {gover}")
    total = time.monotonic()
    for name, (moddir, pkg) in BINARIES.items():
        target = out / name
        if target.is_file() and not force:
            log(f"  {name}: present")
            continue
        ldflags = _kube_ldflags(v["kubernetes"]) if moddir == "kube" else "-s -w"
        tmp = out / f".{name}.tmp"
        cmd = [go, "build", "-p", "2", "-trimpath", f"-ldflags={ldflags}", "-o", str(tmp), pkg]
        log(f"  {name}: go build {pkg} (in gobuild/{moddir}) ...")
        t0 = time.monotonic()
        proc = subprocess.run(
            cmd,
            cwd=GOBUILD / moddir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise ClusterError(
                f"building {name} failed: {' '.join(cmd)} (cwd gobuild/{moddir})\n"
                + _tail_text(proc.stdout, 60)
            )
        os.replace(tmp, target)
        size = target.stat().st_size / 2**20
        log(f"  {name}: built in {time.monotonic() - t0:.0f}s ({size:.0f} MiB)")
    if force or not kwok_config_path().is_file():
        _write_kwok_config(go, env)
    manifest = {"versions": v, "go": gover, "tag": version_tag()}
    (out / "VERSIONS.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"build done in {time.monotonic() - total:.0f}s")
    return out


def _write_kwok_config(go: str, env: dict[str, str]) -> None:
    """Concatenate kwok's default Stage manifests from the module cache."""
    proc = subprocess.run(
        [go, "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"],
        cwd=GOBUILD / "kwok",
        env=env,
        capture_output=True,
        text=True,
    )
    moddir = Path(proc.stdout.strip())
    if proc.returncode != 0 or not moddir.is_dir():
        # The module source may have been evicted after the binary was built.
        subprocess.run(
            [go, "mod", "download", "sigs.k8s.io/kwok"],
            cwd=GOBUILD / "kwok",
            env=env,
            check=False,
        )
        proc = subprocess.run(
            [go, "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"],
            cwd=GOBUILD / "kwok",
            env=env,
            capture_output=True,
            text=True,
        )
        moddir = Path(proc.stdout.strip())
    if not moddir.is_dir():
        raise ClusterError(f"cannot locate the sigs.k8s.io/kwok module source: {proc.stderr}")
    docs = [(moddir / rel).read_text().strip() for rel in KWOK_STAGE_FILES]
    header = f"# kwok default stages, copied from sigs.k8s.io/kwok {versions()['kwok']}\n"
    tmp = kwok_config_path().with_suffix(".tmp")
    tmp.write_text(header + "\n---\n".join(docs) + "\n")
    os.replace(tmp, kwok_config_path())
    log(f"  kwok.yaml: {len(docs)} default stages")


# ---------------------------------------------------------------------- PKI


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ClusterError("the openssl CLI is required to create certificates")
    proc = subprocess.run([openssl, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ClusterError(f"openssl {' '.join(args)} failed:\n{proc.stderr}")


_OPENSSL_CNF = """\
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = {sans}
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

SERVER_SANS = [
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
    "IP:127.0.0.1",
    f"IP:{SERVICE_IP}",
]

# file stem -> subject of the client certificate
CLIENT_CERTS = {
    "admin": "/O=system:masters/CN=gitwave-admin",
    "controller-manager": "/CN=system:kube-controller-manager",
    "scheduler": "/CN=system:kube-scheduler",
}


def _make_pki(pki: Path) -> None:
    """CA, serving and client certificates (EC P-256) and the SA key pair (RSA)."""
    pki.mkdir(parents=True, exist_ok=True)
    (pki / "openssl.cnf").write_text(_OPENSSL_CNF.format(sans=",".join(SERVER_SANS)))

    def key(name: str) -> None:
        ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        _openssl("genpkey", *ec, "-out", f"{name}.key", cwd=pki)

    def ca(name: str, cn: str) -> None:
        key(name)
        args = ["-key", f"{name}.key", "-subj", f"/CN={cn}", "-days", "3650", "-sha256"]
        cnf = ["-config", "openssl.cnf", "-extensions", "ca"]
        _openssl("req", "-x509", "-new", *args, *cnf, "-out", f"{name}.crt", cwd=pki)

    def signed(name: str, subj: str, ext: str, issuer: str = "ca") -> None:
        key(name)
        csr = f"{name}.csr"
        req = ["-key", f"{name}.key", "-subj", subj, "-config", "openssl.cnf", "-out", csr]
        _openssl("req", "-new", *req, cwd=pki)
        sign = ["-CA", f"{issuer}.crt", "-CAkey", f"{issuer}.key", "-days", "365", "-sha256"]
        serial = ["-set_serial", str(secrets.randbits(62))]
        ext_args = ["-extfile", "openssl.cnf", "-extensions", ext, "-out", f"{name}.crt"]
        _openssl("x509", "-req", "-in", csr, *sign, *serial, *ext_args, cwd=pki)
        (pki / f"{name}.csr").unlink()

    ca("ca", "gitwave-test-ca")
    signed("apiserver", "/CN=kube-apiserver", "server")
    for stem, subj in CLIENT_CERTS.items():
        signed(stem, subj, "client")
    # Front proxy (aggregation layer): without it kube-controller-manager and
    # kube-scheduler log errors about the missing requestheader CA forever.
    ca("front-proxy-ca", "gitwave-test-front-proxy-ca")
    signed("front-proxy-client", "/CN=front-proxy-client", "client", issuer="front-proxy-ca")
    # Service-account token signing key pair (RS256).
    rsa = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
    _openssl("genpkey", *rsa, "-out", "sa.key", cwd=pki)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    for p in pki.iterdir():
        if p.suffix == ".key":
            p.chmod(0o600)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _write_kubeconfig(path: Path, server: str, pki: Path, user_stem: str) -> None:
    """A self-contained kubeconfig (certificates embedded). JSON is valid YAML."""
    user = f"{CONTEXT}-{user_stem}"
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER_NAME,
                "cluster": {"server": server, "certificate-authority-data": _b64(pki / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(pki / f"{user_stem}.crt"),
                    "client-key-data": _b64(pki / f"{user_stem}.key"),
                },
            }
        ],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CLUSTER_NAME, "user": user}}],
        "current-context": CONTEXT,
        "preferences": {},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cfg, indent=2) + "\n")
    tmp.chmod(0o600)
    os.replace(tmp, path)


# ------------------------------------------------------------------ processes


def _free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (held together, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        # Reap it if it is our own child (e.g. started by the pytest fixture).
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _pid_is(pid: int, binary: Path) -> bool:
    """True if pid is alive and runs `binary` (guards against PID reuse)."""
    if not _pid_alive(pid):
        return False
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode()
    except OSError:
        return False
    return argv0 == str(binary)


def _tail_text(text: str, lines: int) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def log_tail(component: str, lines: int = 40) -> str:
    p = log_dir() / f"{component}.log"
    try:
        return _tail_text(p.read_text(errors="replace"), lines)
    except OSError:
        return "(no log)"


def _read_state() -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(state_path().read_text())
        return data
    except (OSError, ValueError):
        return None


def _write_state(state: dict[str, Any]) -> None:
    tmp = state_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, state_path())


class _Starter:
    """Starts the components and records their PIDs as it goes."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        logf = open(log_dir() / f"{name}.log", "wb")  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                cwd=run_dir(),
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            logf.close()
        self.state["pids"][name] = proc.pid
        _write_state(self.state)
        return proc.pid


# ------------------------------------------------------------------ HTTP bits


def _ssl_ctx(pki: Path, client: bool = True, verify: bool = True) -> ssl.SSLContext:
    if verify:
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client:
        ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return ctx


def _http(
    method: str, url: str, ctx: ssl.SSLContext | None = None, body: Any = None, timeout: float = 5
) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    # Never through an HTTP(S)_PROXY from the environment: everything is on 127.0.0.1.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx)
    )
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def _wait(
    what: str,
    check: Callable[[], bool],
    deadline: float,
    watch: list[tuple[str, int]],
    culprit: str | None = None,
) -> None:
    """Poll check() until it is true; fail early if a watched process dies.

    On timeout the log of `culprit` (default: the last watched process) is shown.
    """
    last_err = ""
    while True:
        try:
            if check():
                return
        except (OSError, ValueError, ssl.SSLError) as e:  # connection refused etc.
            last_err = f"{type(e).__name__}: {e}"
        for name, pid in watch:
            if not _pid_alive(pid):
                raise ClusterError(
                    f"{name} exited while waiting for {what}; tail of {log_dir() / name}.log:\n"
                    + log_tail(name)
                )
        if time.monotonic() > deadline:
            culprit = culprit or (watch[-1][0] if watch else "")
            msg = f"timed out waiting for {what}"
            if last_err:
                msg += f" (last error: {last_err})"
            if culprit:
                msg += f"; tail of {log_dir() / culprit}.log:\n" + log_tail(culprit)
            raise ClusterError(msg)
        time.sleep(0.25)


# ----------------------------------------------------------------- up / down


def _healthy(state: dict[str, Any]) -> bool:
    bins = Path(state.get("bin_dir", ""))
    pids = state.get("pids", {})
    if set(pids) != set(COMPONENTS):
        return False
    if not all(_pid_is(pid, bins / name) for name, pid in pids.items()):
        return False
    try:
        code, body = _http("GET", state["server"] + "/readyz", _ssl_ctx(run_dir() / "pki"))
    except (OSError, ssl.SSLError, KeyError):
        return False
    return code == 200 and body.strip() == "ok"


def status() -> ClusterInfo | None:
    """ClusterInfo if the control plane is up and healthy, else None."""
    state = _read_state()
    # A cluster from other pins (bin dir tag) counts as down, so `up` replaces it.
    if state and state.get("version_tag") == version_tag() and _healthy(state):
        return ClusterInfo(Path(state["kubeconfig"]), CONTEXT, state["server"])
    return None


def up(build_if_missing: bool = True) -> tuple[ClusterInfo, bool]:
    """Ensure the control plane runs. Returns (info, started_by_this_call)."""
    with _locked():
        info = status()
        if info is not None:
            log(f"already up: {info.server}")
            return info, False
        if _read_state() is not None:
            log("stale state found (cluster not healthy); cleaning up first")
            _down_unlocked(quiet=True)
        if not binaries_present():
            if not build_if_missing:
                raise ClusterError(f"binaries missing in {bin_dir()}; run `make cluster-build`")
            _build_unlocked()
        t0 = time.monotonic()
        try:
            info = _start()
        except BaseException:
            log(f"start failed; stopping whatever was started (logs kept in {log_dir()})")
            _down_unlocked(quiet=True)
            raise
        log(f"up in {time.monotonic() - t0:.1f}s: {info.server}")
        return info, True


def _start() -> ClusterInfo:
    rd = run_dir()
    bins = bin_dir()
    for sub in ("etcd-data", "pki", "kwok-home"):
        shutil.rmtree(rd / sub, ignore_errors=True)
    rd.mkdir(parents=True, exist_ok=True)
    log_dir().mkdir(exist_ok=True)
    for old in log_dir().glob("*.log"):
        old.unlink()
    pki = rd / "pki"
    log("creating certificates (openssl)")
    _make_pki(pki)

    etcd_port, etcd_peer, api_port, kcm_port, sched_port, kwok_port = _free_ports(6)
    server = f"https://127.0.0.1:{api_port}"
    for stem in CLIENT_CERTS:
        _write_kubeconfig(pki / f"{stem}.kubeconfig", server, pki, stem)
    state: dict[str, Any] = {
        "version_tag": version_tag(),
        "bin_dir": str(bins),
        "server": server,
        "kubeconfig": str(kubeconfig_path()),
        "ports": {
            "etcd": etcd_port,
            "etcd-peer": etcd_peer,
            "kube-apiserver": api_port,
            "kube-controller-manager": kcm_port,
            "kube-scheduler": sched_port,
            "kwok": kwok_port,
        },
        "pids": {},
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _write_state(state)
    starter = _Starter(state)
    deadline = time.monotonic() + READY_TIMEOUT
    watch: list[tuple[str, int]] = []

    # etcd ------------------------------------------------------------------
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    peer_url = f"http://127.0.0.1:{etcd_peer}"
    log(f"starting etcd on {etcd_url}")
    pid = starter.start(
        "etcd",
        [
            str(bins / "etcd"),
            "--name=gitwave",
            f"--data-dir={rd / 'etcd-data'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=gitwave={peer_url}",
            "--initial-cluster-state=new",
            "--auto-compaction-retention=1",
            "--quota-backend-bytes=8589934592",
            # Throwaway test data: durability is not worth the fsync latency.
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ],
    )
    watch.append(("etcd", pid))

    def etcd_ok() -> bool:
        code, body = _http("GET", etcd_url + "/health")
        return code == 200 and json.loads(body).get("health") == "true"

    _wait("etcd /health", etcd_ok, deadline, watch)

    # kube-apiserver -------------------------------------------------------
    log(f"starting kube-apiserver on {server}")
    pid = starter.start(
        "kube-apiserver",
        [
            str(bins / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            # Endpoints may not hold loopback addresses; the "kubernetes" Service
            # still exists, without endpoints (nothing in-cluster could reach it).
            "--endpoint-reconciler-type=none",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--profiling=false",
        ],
    )
    watch.append(("kube-apiserver", pid))
    ctx = _ssl_ctx(pki)

    def api_ready() -> bool:
        code, body = _http("GET", server + "/readyz", ctx)
        return code == 200 and body.strip() == "ok"

    _wait("kube-apiserver /readyz", api_ready, deadline, watch)
    _write_kubeconfig(kubeconfig_path(), server, pki, "admin")

    # kube-controller-manager ---------------------------------------------
    kcm_kc = str(pki / "controller-manager.kubeconfig")
    log(f"starting kube-controller-manager on :{kcm_port}")
    pid = starter.start(
        "kube-controller-manager",
        [
            str(bins / "kube-controller-manager"),
            f"--kubeconfig={kcm_kc}",
            f"--authentication-kubeconfig={kcm_kc}",
            f"--authorization-kubeconfig={kcm_kc}",
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
            "--bind-address=127.0.0.1",
            f"--secure-port={kcm_port}",
            "--controllers=*",
            f"--cluster-name={CLUSTER_NAME}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            "--use-service-account-credentials=true",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            "--leader-elect=false",
            "--kube-api-qps=200",
            "--kube-api-burst=400",
            "--profiling=false",
        ],
    )
    watch.append(("kube-controller-manager", pid))

    # kube-scheduler --------------------------------------------------------
    sched_cfg = rd / "pki" / "scheduler-config.yaml"
    sched_cfg.write_text(
        json.dumps(
            {
                "apiVersion": "kubescheduler.config.k8s.io/v1",
                "kind": "KubeSchedulerConfiguration",
                "clientConnection": {
                    "kubeconfig": str(pki / "scheduler.kubeconfig"),
                    "qps": 200,
                    "burst": 400,
                },
                "leaderElection": {"leaderElect": False},
            },
            indent=2,
        )
        + "\n"
    )
    sched_kc = str(pki / "scheduler.kubeconfig")
    log(f"starting kube-scheduler on :{sched_port}")
    pid = starter.start(
        "kube-scheduler",
        [
            str(bins / "kube-scheduler"),
            f"--config={sched_cfg}",
            f"--authentication-kubeconfig={sched_kc}",
            f"--authorization-kubeconfig={sched_kc}",
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
            "--bind-address=127.0.0.1",
            f"--secure-port={sched_port}",
            "--profiling=false",
        ],
    )
    watch.append(("kube-scheduler", pid))

    # kwok -------------------------------------------------------------------
    kwok_home = rd / "kwok-home"  # kwok also reads ~/.kwok/kwok.yaml; isolate it
    kwok_home.mkdir()
    kwok_env = dict(os.environ, HOME=str(kwok_home))
    log(f"starting kwok on :{kwok_port}")
    pid = starter.start(
        "kwok",
        [
            str(bins / "kwok"),
            f"--kubeconfig={pki / 'admin.kubeconfig'}",
            f"--config={kwok_config_path()}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION[0]}={KWOK_ANNOTATION[1]}",
            f"--cidr={POD_CIDR}",
            "--node-ip=127.0.0.1",
            f"--node-port={kwok_port}",
            f"--server-address=127.0.0.1:{kwok_port}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--node-lease-duration-seconds={KWOK_LEASE_SECONDS}",
        ],
        env=kwok_env,
    )
    watch.append(("kwok", pid))

    # fake nodes + readiness -------------------------------------------------
    for name in NODE_NAMES:
        code, body = _http("POST", server + "/api/v1/nodes", ctx, _node(name))
        if code not in (201, 409):
            raise ClusterError(f"creating node {name} failed: HTTP {code}: {body}")

    insecure = _ssl_ctx(pki, client=False, verify=False)
    for comp, port in (
        ("kube-controller-manager", kcm_port),
        ("kube-scheduler", sched_port),
        ("kwok", kwok_port),
    ):

        def healthz(port: int = port) -> bool:
            code, body = _http("GET", f"https://127.0.0.1:{port}/healthz", insecure)
            return code == 200 and body.strip() == "ok"

        _wait(f"{comp} /healthz", healthz, deadline, watch, culprit=comp)

    def nodes_ready() -> bool:
        code, body = _http("GET", server + "/api/v1/nodes", ctx)
        if code != 200:
            return False
        ready = {
            n["metadata"]["name"]
            for n in json.loads(body)["items"]
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in n.get("status", {}).get("conditions") or []
            )
        }
        return set(NODE_NAMES) <= ready

    _wait("fake nodes Ready (kwok)", nodes_ready, deadline, watch, culprit="kwok")

    def default_sa() -> bool:
        code, _ = _http("GET", server + "/api/v1/namespaces/default/serviceaccounts/default", ctx)
        return code == 200

    _wait(
        "default ServiceAccount (kube-controller-manager)",
        default_sa,
        deadline,
        watch,
        culprit="kube-controller-manager",
    )
    return ClusterInfo(kubeconfig_path(), CONTEXT, server)


def _node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                KWOK_ANNOTATION[0]: KWOK_ANNOTATION[1],
                "node.alpha.kubernetes.io/ttl": "0",
            },
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {
            "allocatable": dict(NODE_CAPACITY),
            "capacity": dict(NODE_CAPACITY),
        },
    }


STOP_ORDER = (
    ("kwok", "kube-scheduler", "kube-controller-manager"),
    ("kube-apiserver",),
    ("etcd",),
)


def _stop(procs: list[tuple[str, int]], quiet: bool, grace: float = STOP_TIMEOUT) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL."""
    for name, pid in procs:
        if not quiet:
            log(f"stopping {name} (pid {pid})")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_pid_alive(p) for _, p in procs):
        time.sleep(0.05)
    for name, pid in procs:
        if _pid_alive(pid):
            log(f"{name} (pid {pid}) ignored SIGTERM for {grace:.0f}s; SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_pid_alive(p) for _, p in procs):
        time.sleep(0.05)


def down(quiet: bool = False) -> None:
    """Stop every component by PID and remove the run data (logs are kept)."""
    with _locked():
        _down_unlocked(quiet)


def _down_unlocked(quiet: bool = False) -> None:
    state = _read_state()
    if state is None:
        if not quiet:
            log("not running (no state file)")
    else:
        bins = Path(state.get("bin_dir", ""))
        pids = state.get("pids", {})
        # Clients first, then the API server, then etcd: an API server that
        # loses etcd mid-shutdown hangs until SIGKILL.
        for group in STOP_ORDER:
            ours = [(n, pids[n]) for n in group if n in pids and _pid_is(pids[n], bins / n)]
            _stop(ours, quiet)
    rd = run_dir()
    for sub in ("etcd-data", "pki", "kwok-home"):
        shutil.rmtree(rd / sub, ignore_errors=True)
    for f in ("kubeconfig", "state.json"):
        (rd / f).unlink(missing_ok=True)
    if state is not None and not quiet:
        log(f"down (logs kept in {log_dir()})")


# ---------------------------------------------------- one component (outage tests)


@dataclasses.dataclass(frozen=True)
class StoppedComponent:
    """A component ``stop_component`` stopped, with what it takes to start it again."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str]


def _proc_strings(pid: int, what: str) -> list[str]:
    raw = Path(f"/proc/{pid}/{what}").read_bytes()
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def stop_component(name: str, *, grace: float = STOP_TIMEOUT) -> StoppedComponent:
    """Stop one running component by the PID in the state file (SIGTERM, then
    SIGKILL after ``grace`` seconds), e.g. kube-apiserver to see how a client
    copes with an outage; the others keep running. kube-apiserver drains open
    watches for up to 15 s on SIGTERM: ``grace=0`` makes it a crash instead.
    Raises ClusterError when it is not running (or the PID no longer runs the
    cached binary)."""
    with _locked():
        state = _read_state()
        if state is None:
            raise ClusterError("the control plane is not running (no state file)")
        pid = state.get("pids", {}).get(name)
        binary = Path(state.get("bin_dir", "")) / name
        if pid is None or not _pid_is(pid, binary):
            raise ClusterError(f"{name} is not running")
        argv = _proc_strings(pid, "cmdline")
        env = dict(e.split("=", 1) for e in _proc_strings(pid, "environ") if "=" in e)
        _stop([(name, pid)], quiet=False, grace=grace)
        return StoppedComponent(name, tuple(argv), env)


def start_component(stopped: StoppedComponent, timeout: float = 60.0) -> int:
    """Start a component ``stop_component`` stopped, with the same arguments and
    environment (its log is appended to), record its new PID, and wait until it
    answers: ``/readyz`` for kube-apiserver, ``/healthz`` for the others.
    Returns the PID. Raises ClusterError when it exits or is not ready in time."""
    with _locked():
        state = _read_state()
        if state is None:
            raise ClusterError("the control plane is not running (no state file)")
        with open(log_dir() / f"{stopped.name}.log", "ab") as logf:
            proc = subprocess.Popen(
                list(stopped.argv),
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                cwd=run_dir(),
                env=stopped.env,
                start_new_session=True,
                close_fds=True,
            )
        state["pids"][stopped.name] = proc.pid
        _write_state(state)
        pki = run_dir() / "pki"
        if stopped.name == "kube-apiserver":
            url, ctx = state["server"] + "/readyz", _ssl_ctx(pki)
        elif stopped.name == "etcd":
            url, ctx = f"http://127.0.0.1:{state['ports']['etcd']}/health", None
        else:
            port = state["ports"][stopped.name]
            url, ctx = (
                f"https://127.0.0.1:{port}/healthz",
                _ssl_ctx(pki, client=False, verify=False),
            )

        def ready() -> bool:
            code, _ = _http("GET", url, ctx)
            return code == 200

        _wait(
            f"{stopped.name} ready again",
            ready,
            time.monotonic() + timeout,
            [(stopped.name, proc.pid)],
        )
        log(f"{stopped.name} started again (pid {proc.pid})")
        return proc.pid


# ----------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="compile the binaries into the cache (idempotent)")
    b.add_argument("--force", action="store_true", help="rebuild even if present")
    sub.add_parser("up", help="start the control plane (no-op if up); prints the kubeconfig path")
    sub.add_parser("down", help="stop the control plane and remove its data")
    sub.add_parser("status", help="print whether the control plane is up")
    sub.add_parser("versions", help="print the pinned versions and the bin dir")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "build":
            build(force=args.force)
        elif args.cmd == "up":
            started, _ = up()
            print(started.kubeconfig)
        elif args.cmd == "down":
            down()
        elif args.cmd == "status":
            current = status()
            if current is None:
                print("down")
                return 1
            print(f"up {current.server} kubeconfig={current.kubeconfig} context={current.context}")
        elif args.cmd == "versions":
            print(json.dumps({**versions(), "bin_dir": str(bin_dir())}, indent=2))
    except ClusterError as e:
        log(f"error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""N apps in Flux's benchmark shape on the local control plane: gitwave, real Flux
and ``kubectl apply --server-side``, cold, timed from start to every app Ready.

Not a test: one run of each per size, printed as one Markdown table (the
figures in docs/benchmarks.md come from here).

    .venv/bin/python benchmarks/bench_fleet.py [--sizes 100 500 1000] [--no-ingress]
        [--tools gitwave flux kubectl controller] [--gitwave-arg=--concurrent=16 ...]
        [--replicas 1 2 3] [--controller-shards 64] [--controller-concurrent 4]

Each app (the shape of fluxcd/flux-benchmark): a ServiceAccount, a Service, a
Deployment scaled to 0 and an Ingress, in ``apps/app-NNNN/``; one Flux
Kustomization per app (``wait: true``, ``prune: true``, ``targetNamespace`` the
run's namespace), all reading one GitRepository. The repository is committed
once per size and served by ``git http-backend`` on 127.0.0.1
(benchmarks/githttp.py); every tool reads that commit:

- gitwave: ``gitwave sync http://127.0.0.1:PORT/fleet.git --context gitwave-test``
  in a fresh process with a fresh state directory; Ready = the command exits 0
  (it returns once every app's waves are applied and healthy). Peak RSS from
  ``wait4`` of that process.
- Flux: source-controller and kustomize-controller v1.9.6 (benchmarks/peers.py),
  started fresh for each size, out of cluster; the clock starts at
  ``kubectl apply`` of the GitRepository and the Kustomizations; Ready = every
  Kustomization has Ready=True (polled once a second with one list request
  from this process).
- kubectl: ``kubectl apply --server-side -R -f apps/`` then every Deployment
  Available (polled with one list every 0.5 s).
- controller: R ``gitwave controller`` replicas (each of ``--replicas``)
  reconcile the same GitRepository and Kustomizations from the cluster, timed
  like Flux; peak RSS and CPU per replica (benchmarks/bench_fleet_controller.py).

Beside the times: each tool's own CPU time (gitwave's process, Flux's two
controllers, the ``kubectl apply``) and the control plane's (its processes'
CPU from the tool's start, Flux's controllers' start included, to all
Ready), since on 2 cores the tools and the API server share the same CPU.

Every tool starts from an empty namespace of its own run (``fleet-<pid>-<size>``,
deleted and waited for between tools; the cluster is shared), so the commit
differs only in that name between sizes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fleet_controller import (
    ControllerResult,
    controller_runs,
    controller_table,
    run_controller,
    run_label,
    time_cell,
)
from githttp import GitHttpServer
from machine import machine
from procstat import process_cpu as _process_cpu

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KUBECTL = BIN / "kubectl"
GITWAVE = BIN / "gitwave"
CONTEXT = "gitwave-test"
LIST_PATHS = {  # what Cluster.items lists, by the resource's kubectl name
    "deployments": "/apis/apps/v1",
    "kustomizations.kustomize.toolkit.fluxcd.io": "/apis/kustomize.toolkit.fluxcd.io/v1",
    "gitrepositories.source.toolkit.fluxcd.io": "/apis/source.toolkit.fluxcd.io/v1",
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@127.0.0.1",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@127.0.0.1",
    "GIT_CONFIG_NOSYSTEM": "1",
}


# ---------------------------------------------------------------- the repository


def app_documents(name: str, *, ingress: bool) -> list[dict[str, Any]]:
    """One app: ServiceAccount, Service, Deployment (0 replicas) and maybe an Ingress."""
    labels = {"app.kubernetes.io/name": name}
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "selector": labels,
                "ports": [{"name": "http", "port": 9898, "targetPort": "http"}],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": name,
                        "containers": [
                            {
                                "name": "podinfo",
                                "image": "ghcr.io/stefanprodan/podinfo:6.7.0",
                                "ports": [{"name": "http", "containerPort": 9898}],
                                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                            }
                        ],
                    },
                },
            },
        },
    ]
    if ingress:
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": name},
                "spec": {
                    "rules": [
                        {
                            "host": f"{name}.bench.example",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {
                                            "service": {"name": name, "port": {"number": 9898}}
                                        },
                                    }
                                ]
                            },
                        }
                    ]
                },
            }
        )
    return docs


def flux_documents(n: int, namespace: str, git_url: str) -> list[dict[str, Any]]:
    """The GitRepository ``fleet`` and one Kustomization per app, in ``namespace``."""
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "fleet", "namespace": namespace},
            # timeout spelled out: a cluster may hold Flux CRDs without their
            # schema (another suite's stand-ins), so nothing defaults it, and
            # source-controller 1.9.6 dereferences it unchecked (a panic).
            "spec": {
                "interval": "60m",
                "timeout": "60s",
                "url": git_url,
                "ref": {"branch": "main"},
            },
        }
    ]
    for i in range(n):
        name = app_name(i)
        docs.append(
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {
                    "interval": "60m",
                    "retryInterval": "1m",
                    "timeout": "5m",
                    "path": f"./apps/{name}",
                    "prune": True,
                    "wait": True,
                    "targetNamespace": namespace,
                    "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                },
            }
        )
    return docs


def app_name(i: int) -> str:
    return f"app-{i:04d}"


def _yaml(docs: list[dict[str, Any]]) -> str:
    # JSON documents are YAML; every tool reads the very same bytes.
    return "".join(f"---\n{json.dumps(d, indent=1)}\n" for d in docs)


def write_fleet(repo: Path, n: int, namespace: str, git_url: str, *, ingress: bool = True) -> str:
    """Create the Git repository ``repo`` (branch main) with ``n`` apps; return the commit."""
    repo.mkdir(parents=True)
    docs = flux_documents(n, namespace, git_url)
    # At the top level: `gitwave sync URL` finds apps in the root's top-level files.
    (repo / "source.yaml").write_text(_yaml(docs[:1]))
    (repo / "kustomizations.yaml").write_text(_yaml(docs[1:]))
    for i in range(n):
        app_dir = repo / "apps" / app_name(i)
        app_dir.mkdir(parents=True)
        (app_dir / "app.yaml").write_text(_yaml(app_documents(app_name(i), ingress=ingress)))
    env = dict(os.environ, **GIT_ENV)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "fleet"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
    out = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


# ---------------------------------------------------------------- the cluster


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Cluster:
    def __init__(self, kubeconfig: Path, pids: dict[str, int] | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.pids = pids or {}  # the control plane's processes, for its CPU time
        self._api: Any = None

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the control plane's processes have used so far."""
        return sum(_process_cpu(pid) for pid in self.pids.values())

    def kubectl(self, *args: str, timeout: float = 1200) -> str:
        proc = subprocess.run(
            [str(KUBECTL), f"--kubeconfig={self.kubeconfig}", f"--context={CONTEXT}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()[-2000:]}")
        return proc.stdout

    def items(self, resource: str, namespace: str) -> list[dict[str, Any]]:
        """One list request from this process. Not ``kubectl get``: polled every
        0.2 s, a kubectl process decoding 1000 objects took a core's worth of
        CPU from the tools being measured."""
        if self._api is None:
            from kubernetes import config

            self._api = config.new_client_from_config(
                config_file=str(self.kubeconfig), context=CONTEXT
            )
        path = f"{LIST_PATHS[resource]}/namespaces/{namespace}/{resource.split('.')[0]}"
        response = self._api.call_api(
            path,
            "GET",
            _preload_content=False,
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
        )
        items: list[dict[str, Any]] = json.loads(response.data)["items"]
        return items

    def drop_finalizers(self, namespace: str) -> None:
        """Remove the finalizers of every Flux object in ``namespace``."""
        paths = [
            f"{LIST_PATHS[resource]}/namespaces/{namespace}/{resource.split('.')[0]}/"
            + item["metadata"]["name"]
            for resource in LIST_PATHS
            if "fluxcd" in resource
            for item in self.items(resource, namespace)
            if item["metadata"].get("finalizers")
        ]

        def patch(path: str) -> None:
            self._api.call_api(
                path,
                "PATCH",
                header_params={"Content-Type": "application/merge-patch+json"},
                body={"metadata": {"finalizers": None}},
                _preload_content=False,
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(patch, paths))

    def count_ready(self, resource: str, namespace: str, condition: str) -> int:
        return sum(
            1 for item in self.items(resource, namespace) if _condition(item, condition) == "True"
        )

    def fresh_namespace(self, namespace: str) -> None:
        self.delete_namespace(namespace)
        self.kubectl("create", "namespace", namespace)

    def delete_namespace(self, namespace: str) -> None:
        self.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--timeout=900s")


def _conditions(item: dict[str, Any], condition: str) -> list[dict[str, Any]]:
    found = (item.get("status") or {}).get("conditions") or []
    return [c for c in found if c.get("type") == condition]


def _condition(item: dict[str, Any], condition: str) -> str:
    """The status of ``condition`` on ``item`` (``True``/``False``/``Unknown``), or ``""``."""
    return next((str(c.get("status")) for c in _conditions(item, condition)), "")


def _message(item: dict[str, Any], condition: str) -> str:
    return next((str(c.get("message", "")) for c in _conditions(item, condition)), "")


def _artifacts(directory: str, names: list[str]) -> list[str]:
    return ["artifacts"] if Path(directory).name == "flux" else []


@dataclass
class Result:
    seconds: float | None
    rss_mib: float | None = None
    note: str = ""
    cpu_s: float | None = None  # the tool's own CPU time (gitwave, Flux's controllers)
    cluster_cpu_s: float | None = None  # the control plane's, from start to all Ready


def _wait_until(check: Any, timeout: float, step: float) -> float | None:
    """Poll ``check()`` (a bool) every ``step`` s; the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(step)
    return None


def run_gitwave(
    cluster: Cluster,
    url: str,
    n: int,
    namespace: str,
    workdir: Path,
    extra: list[str],
    *,
    tracemalloc_out: Path | None = None,
) -> Result:
    state = workdir / "gitwave-state"
    log = workdir / "gitwave.log"
    env = dict(os.environ, GITWAVE_ALLOW_INSECURE_GIT="1", GITWAVE_STATE=str(state))
    # As installed (pip compiles): bytecode read, never the compiler timed.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [str(GITWAVE)]
    if tracemalloc_out is not None:
        wrapper = Path(__file__).resolve().parent / "tracemalloc_main.py"
        command = [sys.executable, "-X", "tracemalloc=1", str(wrapper), str(tracemalloc_out)]
    args = [*command, "sync", url, "--context", CONTEXT]
    args += ["--kubeconfig", str(cluster.kubeconfig), "--no-color", *extra]
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss / 1024  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime
    cluster_cpu = cluster.cpu_seconds()
    ready = cluster.count_ready("deployments", namespace, "Available")
    if proc.returncode != 0 or ready < n:
        kept = Path(tempfile.gettempdir()) / f"bench-fleet-gitwave-{n}.log"
        kept.write_bytes(log.read_bytes())
        lines = log.read_text(errors="replace").splitlines()
        failed = [line.strip() for line in lines if "Failed" in line or "error" in line]
        note = f"exit {proc.returncode}, {ready}/{n} Available, {len(failed)} failure lines"
        note = f"{note} (log: {kept}): " + " / ".join(failed[:3])[:300]
        return Result(None, rss, note, cpu, cluster_cpu)
    return Result(elapsed, rss, cpu_s=cpu, cluster_cpu_s=cluster_cpu)


def compile_gitwave() -> None:
    """Write the bytecode of gitwave's own modules, as ``pip install`` does.

    An editable install has none until a run writes it, and with
    PYTHONDONTWRITEBYTECODE set (as in CI and these sessions) no run does: every
    ``gitwave`` process then compiled the modules it imports from source (about
    0.4 s of CPU, a tenth of a 100-app sync's)."""
    folders = [str(ROOT / name) for name in ("engine", "compositions", "providers", "tui")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True)


def run_flux(
    cluster: Cluster,
    peers: ModuleType,
    repo: Path,
    n: int,
    namespace: str,
    workdir: Path,
    timeout: float,
    concurrent: int | None,
) -> Result:
    flux_dir = workdir / "flux"
    try:
        with peers.Flux(cluster.kubeconfig, flux_dir, concurrent=concurrent) as flux:
            time.sleep(2)  # let both controllers sync their caches before the clock starts
            started = time.monotonic()
            cluster.kubectl(
                "apply",
                "--server-side",
                "-f",
                str(repo / "source.yaml"),
                "-f",
                str(repo / "kustomizations.yaml"),
            )
            done = _wait_until(
                lambda: (
                    cluster.count_ready(
                        "kustomizations.kustomize.toolkit.fluxcd.io", namespace, "Ready"
                    )
                    >= n
                ),
                timeout,
                1.0,
            )
            rss = flux.rss_mib()
            cpu = sum(_process_cpu(proc.pid) for proc in flux.procs)
            cluster_cpu = cluster.cpu_seconds()
            note = ", ".join(f"{k} {v:.0f} MiB" for k, v in sorted(rss.items()))
            if done is None:
                items = cluster.items("kustomizations.kustomize.toolkit.fluxcd.io", namespace)
                ready = sum(1 for item in items if _condition(item, "Ready") == "True")
                # Why not: the first messages, and the logs kept past the temporary dir.
                why = sorted({_message(item, "Ready") for item in items} - {""})[:2]
                source = cluster.items("gitrepositories.source.toolkit.fluxcd.io", namespace)
                why += [f"GitRepository: {_message(item, 'Ready')}" for item in source]
                kept = Path(tempfile.gettempdir()) / f"bench-fleet-flux-{n}"
                shutil.copytree(flux_dir, kept, dirs_exist_ok=True, ignore=_artifacts)
                note = f"{ready}/{n} Ready after {timeout:.0f} s (logs: {kept}): "
                note += " / ".join(why)[:400]
                result = Result(None, sum(rss.values()), note, cpu, cluster_cpu)
            else:
                result = Result(done - started, sum(rss.values()), note, cpu, cluster_cpu)
    finally:
        # The objects carry finalizers only a running controller removes, and with
        # prune: true kustomize-controller would delete each app's objects itself,
        # four apps at a time (minutes for 1000). Measured already: the
        # controllers are stopped, the finalizers dropped, the namespace deleted.
        cluster.drop_finalizers(namespace)
        cluster.delete_namespace(namespace)
    return result


def run_kubectl(cluster: Cluster, repo: Path, n: int, namespace: str, timeout: float) -> Result:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    for attempt in range(3):  # an apply is idempotent; a shared, loaded API server drops some
        try:
            cluster.kubectl(
                "apply", "--server-side", "-n", namespace, "-R", "-f", str(repo / "apps")
            )
            break
        except RuntimeError as exc:
            if attempt == 2:
                raise
            log(f"kubectl apply failed, again: {str(exc)[-300:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the kubectl apply processes
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    done = _wait_until(
        lambda: cluster.count_ready("deployments", namespace, "Available") >= n, timeout, 0.5
    )
    note = "" if done is not None else "Deployments not Available in time"
    return Result(
        None if done is None else done - started,
        note=note,
        cpu_s=cpu,
        cluster_cpu_s=cluster.cpu_seconds(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument(
        "--tools",
        nargs="+",
        default=["kubectl", "gitwave", "flux"],
        choices=["kubectl", "gitwave", "flux", "controller"],
    )
    parser.add_argument(
        "--replicas",
        type=int,
        nargs="+",
        default=[1, 2, 3],
        help="`gitwave controller` replica counts, one run each (--tools controller)",
    )
    parser.add_argument(
        "--controller-shards", type=int, default=64, help="--shards of every replica (64)"
    )
    parser.add_argument(
        "--controller-concurrent",
        type=int,
        default=4,
        help="--concurrent of every replica (4, the controller's default)",
    )
    parser.add_argument("--no-ingress", action="store_true", help="apps without an Ingress")
    parser.add_argument(
        "--gitwave-arg", action="append", default=[], help="extra argument to `gitwave sync`"
    )
    parser.add_argument(
        "--flux-concurrent",
        type=int,
        default=None,
        help="--concurrent of both controllers (default: Flux's own)",
    )
    parser.add_argument(
        "--tracemalloc",
        type=Path,
        default=None,
        help="run gitwave under tracemalloc; write where memory is held to FILE-<size>.txt",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="per tool and size, seconds")
    parser.add_argument(
        "--flux-timeout",
        type=float,
        nargs="+",
        default=None,
        help="Flux's, per size in --sizes order (the last for the rest); default --timeout",
    )
    args = parser.parse_args(argv)
    if "gitwave" in args.tools or "controller" in args.tools:
        compile_gitwave()

    cp = _load("gitwave_bench_controlplane", ROOT / "tests" / "cluster" / "controlplane.py")
    peers = _load("gitwave_bench_peers", Path(__file__).resolve().parent / "peers.py")
    info, _started_here = cp.up()  # shared with other work: never stopped here
    state = cp._read_state() or {}
    cluster = Cluster(Path(info.kubeconfig), {k: int(v) for k, v in state.get("pids", {}).items()})
    # The cluster is shared: Flux's CRDs go away again unless they were there.
    remove_crds = False
    if "flux" in args.tools or "controller" in args.tools:
        # The controller reads the very objects Flux does, under Flux's own CRDs.
        if "flux" in args.tools:
            peers.build()
        remove_crds = not peers.crds_installed(str(KUBECTL), cluster.kubeconfig)
        peers.install_crds(str(KUBECTL), cluster.kubeconfig)
    try:
        results, load_before = _run_sizes(args, cluster, peers)
    finally:
        if remove_crds:
            peers.uninstall_crds(str(KUBECTL), cluster.kubeconfig)
    print_table(args, results, cp.versions(), load_before)
    return 0


def _run_sizes(
    args: argparse.Namespace, cluster: Cluster, peers: ModuleType
) -> tuple[dict[int, dict[str, Any]], tuple[float, float, float]]:
    results: dict[int, dict[str, Any]] = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gitwave-fleet-") as tmp:
        for index, n in enumerate(args.sizes):
            flux_timeouts = args.flux_timeout or [args.timeout]
            flux_timeout = flux_timeouts[min(index, len(flux_timeouts) - 1)]
            namespace = f"fleet-{os.getpid()}-{n}"
            served = Path(tmp) / f"srv-{n}"
            served.mkdir()
            with GitHttpServer(served) as server:
                url = server.url("fleet.git")
                repo = served / "fleet.git"
                commit = write_fleet(repo, n, namespace, url, ingress=not args.no_ingress)
                log(f"{n} apps: commit {commit[:12]} at {url}")
                results[n] = {}
                for tool, replicas in controller_runs(args.tools, args.replicas):
                    label = run_label(tool, replicas)
                    workdir = Path(tmp) / f"{label.replace(' ', '-')}-{n}"
                    workdir.mkdir()
                    cluster.fresh_namespace(namespace)
                    log(f"{n} apps: {label} ...")
                    cluster_cpu = cluster.cpu_seconds()
                    r: Result | ControllerResult
                    try:
                        if replicas is not None:
                            r = run_controller(
                                cluster,
                                repo,
                                n,
                                namespace,
                                workdir,
                                replicas=replicas,
                                shards=args.controller_shards,
                                concurrent=args.controller_concurrent,
                                timeout=args.timeout,
                                log=log,
                            )
                        elif tool == "gitwave":
                            traced = args.tracemalloc
                            r = run_gitwave(
                                cluster,
                                url,
                                n,
                                namespace,
                                workdir,
                                args.gitwave_arg,
                                tracemalloc_out=(
                                    None if traced is None else Path(f"{traced}-{n}.txt")
                                ),
                            )
                        elif tool == "flux":
                            r = run_flux(
                                cluster,
                                peers,
                                repo,
                                n,
                                namespace,
                                workdir,
                                flux_timeout,
                                args.flux_concurrent,
                            )
                        else:
                            r = run_kubectl(cluster, repo, n, namespace, args.timeout)
                        # The runners read the control plane's CPU when all is Ready.
                        if r.cluster_cpu_s is not None:
                            r.cluster_cpu_s -= cluster_cpu
                        results[n][label] = r
                        if isinstance(r, ControllerResult):
                            log(f"{n} apps: {label}: {time_cell(r)} {r.note}")
                        else:
                            log(f"{n} apps: {tool}: {_fmt(r)} {_cpu(r)} {r.note}")
                    finally:  # the cluster is shared: never leave a run behind
                        cluster.delete_namespace(namespace)
    return results, load_before


def log(msg: str) -> None:
    print(f"[fleet] {msg}", file=sys.stderr, flush=True)


def _fmt(r: Result | None) -> str:
    if r is None:
        return "-"
    return "did not finish" if r.seconds is None else f"{r.seconds:.1f} s"


def print_table(
    args: argparse.Namespace,
    results: dict[int, dict[str, Any]],
    versions: dict[str, str],
    load_before: tuple[float, float, float],
) -> None:
    shape = "ServiceAccount, Service, Deployment (0 replicas)" + (
        "" if args.no_ingress else ", Ingress"
    )
    print()
    print(
        f"Machine: {machine()}, {_ram()} RAM; load average before "
        f"{load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}"
    )
    print(
        f"Cluster: tests/cluster (Kubernetes {versions['kubernetes']}, etcd "
        f"{versions['etcd']}) on the same machine; Flux source-controller and "
        f"kustomize-controller v1.9.6"
    )
    print(f"Each app: {shape}; gitwave args: {' '.join(args.gitwave_arg) or '(none)'}")
    print()
    tools = [t for t in args.tools if t != "controller"]
    if tools:
        _print_tools(args, tools, results)
    ran = [r for row in results.values() for r in row.values() if isinstance(r, ControllerResult)]
    if ran:
        print("`gitwave controller` replicas (time from the apply; CPU from each replica's start)")
        print()
        print("\n".join(controller_table(ran)))


def _print_tools(
    args: argparse.Namespace, tools: list[str], results: dict[int, dict[str, Any]]
) -> None:
    """The table of gitwave sync, Flux and kubectl, and their CPU times."""
    print(
        "| apps | objects | gitwave | gitwave peak RSS | Flux | kubectl --server-side "
        "| Flux / gitwave |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    per_app = 3 if args.no_ingress else 4
    for n, row in results.items():
        g, f, k = row.get("gitwave"), row.get("flux"), row.get("kubectl")
        rss = f"{g.rss_mib:.0f} MiB" if g and g.rss_mib else "-"
        ratio = "-"
        if g and f and g.seconds and f.seconds:
            ratio = f"{f.seconds / g.seconds:.1f}x"
        print(f"| {n} | {n * per_app} | {_fmt(g)} | {rss} | {_fmt(f)} | {_fmt(k)} | {ratio} |")
    print()
    print("CPU time used (seconds): the tool's own, and the control plane's during its run")
    print()
    print("| apps | " + " | ".join(tools) + " |")
    print("|---:|" + "---:|" * len(tools))
    for n, row in results.items():
        cells = [_cpu(row[t]) if t in row else "-" for t in tools]
        print(f"| {n} | " + " | ".join(cells) + " |")
    print()
    notes = [
        (n, t, r.note)
        for n, row in results.items()
        for t, r in row.items()
        if t in tools and r.note
    ]
    for n, tool, note in notes:
        print(f"- {n} apps, {tool}: {note}")


def _cpu(r: Result) -> str:
    """``CPU 12.3 s (control plane 45.6 s)``: what the run cost the cores."""
    own = "" if r.cpu_s is None else f"CPU {r.cpu_s:.1f} s"
    plane = "" if r.cluster_cpu_s is None else f"control plane {r.cluster_cpu_s:.1f} s"
    return f"{own} ({plane})" if own and plane else own or plane


def _ram() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 2**20:.0f} GiB"
    return "?"


if __name__ == "__main__":
    sys.exit(main())

"""Watch and drift benchmark: how fast a save is applied, and how fast drift shows.

    .venv/bin/python benchmarks/bench_watch.py              # 30 edits, 10 drifts
    .venv/bin/python benchmarks/bench_watch.py --edits 50 --json
    .venv/bin/python benchmarks/bench_watch.py --kube       # the real control plane

1. Save → applied. A Git work tree holding one app of 100 objects (a
   Namespace, then ConfigMap + Deployment + Service triples) is followed by
   ``engine.watch.watch`` (real watchfiles) syncing into the sandbox. Each
   edit changes one field of one ConfigMap and saves the file; timed from the
   write to the RESOURCE_APPLIED event of that ConfigMap ("applied") and to
   the cycle's end ("cycle": the wave awaited healthy, the history written).
   Target: p50 < 300 ms on the sandbox.
2. Out-of-band change → OutOfSync. ``engine.reconciler.Reconciler`` runs an
   automated app without selfHeal; another process scales one Deployment as
   ``gitwave sandbox scale`` does; timed from that process's write to the
   DRIFT_DETECTED event (the sandbox's change feed is polled every 200 ms).
   Target: within 2 s.

``--kube`` runs both against the local Kubernetes control plane of
tests/cluster (started if it is not running, and stopped again afterwards in
that case) through ``KubernetesProvider``, each in a namespace of its own
(deleted at the end). There the sync is a server-side apply, the plan confirms
the update with a server-side dry run, and drift comes from the provider's
watches; the out-of-band change is a scale through the scale subresource
(the Kubernetes Python client, field manager ``bench-scaler``), timed from the
API server's answer. Target: save → applied p50 < 1 s.

Not a test: figures vary with the machine and its load; docs/loop.md keeps them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import git
import yaml
from machine import machine  # benchmarks/machine.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "bench"
TRIPLES = 33  # 1 Namespace + 33 x (ConfigMap, Deployment, Service) = 100 objects


def generate(
    root: Path, *, application: bool, namespace: str = NAMESPACE, name: str = "bench"
) -> None:
    """Write the 100-object app in ``namespace`` (and, with ``application``, an
    Argo CD Application ``name`` for it) into ``root`` and commit it."""
    manifests = root / "manifests"
    manifests.mkdir(parents=True)
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    ]
    for i in range(TRIPLES):
        svc = f"svc-{i:03d}"
        meta = {"name": svc, "namespace": namespace}
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {**meta, "name": f"{svc}-config"},
                "data": {"LOG_LEVEL": "info", "EDIT": "0"},
            }
        )
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta,
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": svc}},
                    "template": {
                        "metadata": {"labels": {"app": svc}},
                        "spec": {
                            "containers": [{"name": "app", "image": f"registry.example/{svc}:1.0"}]
                        },
                    },
                },
            }
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta,
                "spec": {"selector": {"app": svc}, "ports": [{"port": 80}]},
            }
        )
    # The ConfigMap edited by the benchmark lives in a small file of its own,
    # as an app's files usually are; the rest in files of 33 documents.
    (manifests / "edited.yaml").write_text(yaml.safe_dump(docs[1], sort_keys=False))
    rest = [docs[0], *docs[2:]]
    for start in range(0, len(rest), 33):
        chunk = rest[start : start + 33]
        path = manifests / f"objects-{start // 33}.yaml"
        path.write_text(yaml.dump_all(chunk, Dumper=yaml.CSafeDumper, sort_keys=False))
    if application:
        app = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name},
            "spec": {
                "source": {"repoURL": ".", "path": "manifests"},
                "destination": {"namespace": namespace},
                "syncPolicy": {"automated": {}},
            },
        }
        (root / "app.yaml").write_text(yaml.safe_dump(app, sort_keys=False))
    files = [p.relative_to(root).as_posix() for p in root.rglob("*.yaml")]
    repo = git.Repo.init(root)
    repo.index.add(files)
    repo.index.commit("bench app")
    repo.close()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "n": len(ordered),
    }


# --- targets ---------------------------------------------------------------------------


@dataclass
class SandboxTarget:
    """The embedded sandbox; the out-of-band change comes from another process."""

    label: str = "sandbox"
    namespaces: list[str] = field(default_factory=list)

    def namespace(self, phase: str) -> str:
        return NAMESPACE

    def app_name(self, phase: str) -> str:
        return "bench"

    def provider(self, state: Path) -> Any:
        from gitwave.providers.sandbox import SandboxProvider

        return SandboxProvider(state)

    def scale(self, state: Path, namespace: str, replicas: int) -> float:
        """Scale svc-001 as ``gitwave sandbox scale`` does; when the write was done."""
        # A process of its own that prints when its write is done (the CLI's
        # exit comes later than that).
        done = subprocess.run(
            [sys.executable, "-c", _SCALE, str(state), str(replicas)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"the out-of-band scale failed: {done.stderr}")
        return float(done.stdout.strip())

    def close(self) -> None:
        return None


_SCALE = """
import sys, time
from pathlib import Path
from gitwave.engine.model import ResourceKey
from gitwave.providers.sandbox import SandboxProvider
with SandboxProvider(Path(sys.argv[1])) as sandbox:
    key = ResourceKey("apps", "Deployment", "bench", "svc-001")
    sandbox.scale(key, int(sys.argv[2]), manager="kubectl")
    print(time.time())
"""


def _controlplane() -> ModuleType:
    """tests/cluster/controlplane.py, imported by path (it is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gitwave_bench_controlplane", ROOT / "tests" / "cluster" / "controlplane.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


class KubeTarget:
    """The local control plane of tests/cluster; each phase in a namespace of
    its own, named ``bench-<phase>-<random>`` like its app."""

    def __init__(self) -> None:
        self._cp = _controlplane()
        info, self._started = self._cp.up()
        self.kubeconfig = str(info.kubeconfig)
        self.context = str(info.context)
        versions = self._cp.versions()
        self.label = f"local control plane (Kubernetes {versions['kubernetes']}, kwok)"
        self._suffix = uuid.uuid4().hex[:6]
        self._providers: list[Any] = []
        self._scaler: Any = None
        self.namespaces: list[str] = []

    def namespace(self, phase: str) -> str:
        name = f"bench-{phase}-{self._suffix}"
        if name not in self.namespaces:
            self.namespaces.append(name)
        return name

    def app_name(self, phase: str) -> str:
        return self.namespace(phase)

    def provider(self, state: Path) -> Any:
        from gitwave.providers.kubernetes import KubernetesProvider

        provider = KubernetesProvider.from_kubeconfig(
            context=self.context, kubeconfig=self.kubeconfig, qps=200, burst=400
        )
        self._providers.append(provider)
        return provider

    def scale(self, state: Path, namespace: str, replicas: int) -> float:
        """Scale svc-001 through the scale subresource, as an autoscaler does;
        when the API server answered (the write is stored by then)."""
        import kubernetes

        if self._scaler is None:
            client = kubernetes.config.new_client_from_config(
                config_file=self.kubeconfig, context=self.context
            )
            self._scaler = kubernetes.client.AppsV1Api(client)
        self._scaler.patch_namespaced_deployment_scale(
            "svc-001", namespace, {"spec": {"replicas": replicas}}, field_manager="bench-scaler"
        )
        return time.time()

    def close(self) -> None:
        for provider in self._providers:
            provider.close()
        kubectl = Path(sys.executable).parent / "kubectl"
        for namespace in self.namespaces:
            subprocess.run(
                [
                    str(kubectl),
                    f"--kubeconfig={self.kubeconfig}",
                    f"--context={self.context}",
                    *("delete", "namespace", namespace, "--wait=false", "--ignore-not-found"),
                ],
                capture_output=True,
                check=False,
            )
        if self._started:
            self._cp.down()


Target = SandboxTarget | KubeTarget


# --- the two figures -------------------------------------------------------------------


def bench_watch(edits: int, target: Target) -> dict[str, Any]:
    from gitwave.engine.events import Event, EventKind
    from gitwave.engine.model import ResourceKey
    from gitwave.engine.router import ProviderRouter
    from gitwave.engine.store import Store
    from gitwave.engine.timeline_writer import TimelineWriter
    from gitwave.engine.watch import watch

    work = Path(tempfile.mkdtemp(prefix="gitwave-bench-watch-"))
    os.environ["GITWAVE_CACHE"] = str(work / "cache")
    namespace = target.namespace("watch")
    # watch names a plain directory's app after the directory.
    repo = work / ("repo" if isinstance(target, SandboxTarget) else target.app_name("watch"))
    generate(repo, application=False, namespace=namespace)
    edited = repo / "manifests" / "edited.yaml"
    key = ResourceKey("", "ConfigMap", namespace, "svc-000-config")
    provider = target.provider(work / "state")
    store = Store(work / "state" / "gitwave.db")
    applied: list[float] = []
    cycles: list[float] = []
    lines: list[str] = []

    timeline = TimelineWriter(store)  # what `gitwave watch` stores events with

    def sink(event: Event) -> None:
        timeline(event)
        if event.kind is EventKind.RESOURCE_APPLIED and event.resource == key:
            applied.append(time.perf_counter())
        elif event.kind is EventKind.CYCLE:
            cycles.append(time.perf_counter())
            lines.append(event.message)

    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=watch,
        args=(str(repo),),
        kwargs={
            "targets": ProviderRouter([provider]),
            "store": store,
            "sink": sink,
            "stop": stop,
            "ready": ready,
        },
        daemon=True,
    )
    thread.start()
    ready.wait(30)
    _wait(lambda: len(cycles) == 1, 120)
    first = lines[0]
    text = edited.read_text()
    to_applied: list[float] = []
    to_cycle: list[float] = []
    for n in range(1, edits + 1):
        before = len(cycles)
        saved = time.perf_counter()
        edited.write_text(text.replace("EDIT: '0'", f"EDIT: '{n}'"))
        _wait(lambda before=before: len(cycles) > before, 30)
        to_cycle.append(cycles[-1] - saved)
        to_applied.append(applied[-1] - saved)
        time.sleep(0.15)  # a person does not save faster than this
    stop.set()
    thread.join(10)
    timeline.close()
    live = provider.observe(key)
    assert live is not None and live.manifest["data"]["EDIT"] == str(edits), "last edit not live"
    assert all("1 to update → Synced" in line for line in lines[1:]), lines
    return {
        "objects": 1 + 3 * TRIPLES,
        "first_cycle": first,
        "save_to_applied": percentiles(to_applied),
        "save_to_cycle_end": percentiles(to_cycle),
        "example_line": lines[-1],
    }


def bench_drift(drifts: int, target: Target) -> dict[str, Any]:
    from gitwave.engine.events import Event, EventKind
    from gitwave.engine.reconciler import LoopOptions, Reconciler
    from gitwave.engine.router import ProviderRouter
    from gitwave.engine.store import Store
    from gitwave.engine.timeline_writer import TimelineWriter

    work = Path(tempfile.mkdtemp(prefix="gitwave-bench-drift-"))
    os.environ["GITWAVE_CACHE"] = str(work / "cache")
    namespace, name = target.namespace("drift"), target.app_name("drift")
    generate(work / "repo", application=True, namespace=namespace, name=name)
    state = work / "state"
    provider = target.provider(state)
    store = Store(state / "gitwave.db")
    detected: list[float] = []
    messages: list[str] = []

    timeline = TimelineWriter(store)  # what `gitwave run` stores events with

    def sink(event: Event) -> None:
        timeline(event)
        if event.kind is EventKind.DRIFT_DETECTED:
            detected.append(event.time)
            messages.append(event.message)

    stop = threading.Event()
    reconciler = Reconciler(
        str(work / "repo"),
        targets=ProviderRouter([provider]),
        store=store,
        sink=sink,
        options=LoopOptions(interval_s=600),  # only the change feed can see the drift
    )
    thread = threading.Thread(target=reconciler.run, args=(stop,), daemon=True)
    thread.start()
    _wait(lambda: bool(store.history(name)), 120)
    latencies: list[float] = []
    for n in range(drifts):
        before = len(detected)
        # At a random moment: right after a detection the next feed poll is a
        # full poll period away, which would make every sample the worst case.
        time.sleep(random.uniform(0.2, 0.5))
        written = target.scale(state, namespace, 2 + n)
        _wait(lambda before=before: len(detected) > before, 30)
        latencies.append(detected[-1] - written)
    stop.set()
    thread.join(10)
    timeline.close()
    return {"scale_to_out_of_sync": percentiles(latencies), "example": messages[-1]}


def _wait(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("benchmark timed out")
        time.sleep(0.002)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--drifts", type=int, default=10)
    parser.add_argument(
        "--kube", action="store_true", help="the local control plane instead of the sandbox"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    target: Target = KubeTarget() if args.kube else SandboxTarget()
    try:
        figures: dict[str, Any] = {
            "machine": machine(),
            "target": target.label,
            "watch": bench_watch(args.edits, target),
            "drift": bench_drift(args.drifts, target),
        }
    finally:
        target.close()
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    watch, drift = figures["watch"], figures["drift"]
    print(f"machine: {figures['machine']}")
    print(f"target: {figures['target']}")
    print(f"watch, {watch['objects']} objects, one field edited per save:")
    print(f"  first cycle: {watch['first_cycle']}")
    for label, key in (
        ("save → applied", "save_to_applied"),
        ("save → cycle end", "save_to_cycle_end"),
    ):
        stats = watch[key]
        print(f"  {label:18} p50 {stats['p50_ms']:7.1f} ms  p95 {stats['p95_ms']:7.1f} ms", end="")
        print(f"  (n={stats['n']})")
    print(f"  line: {watch['example_line']}")
    stats = drift["scale_to_out_of_sync"]
    print(
        f"drift, a scale by another client → DriftDetected:"
        f" p50 {stats['p50_ms']:.1f} ms  p95 {stats['p95_ms']:.1f} ms  (n={stats['n']})"
    )
    print(f"  event: {drift['example']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

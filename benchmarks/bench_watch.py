"""Watch and drift benchmark: how fast a save is applied, and how fast drift shows.

    .venv/bin/python benchmarks/bench_watch.py              # 30 edits, 10 drifts
    .venv/bin/python benchmarks/bench_watch.py --edits 50 --json

1. Save → applied. A Git work tree holding one app of 100 objects (a
   Namespace, then ConfigMap + Deployment + Service triples) is followed by
   ``engine.watch.watch`` (real watchfiles) syncing into the sandbox. Each
   edit changes one field of one ConfigMap and saves the file; timed from the
   write to the RESOURCE_APPLIED event of that ConfigMap ("applied") and to
   the cycle's end ("cycle": the wave awaited healthy, the history written).
   Target: p50 < 300 ms on the sandbox.
2. Out-of-band change → OutOfSync. ``engine.loop.Reconciler`` runs an
   automated app without selfHeal; another process scales one Deployment as
   ``gitwave sandbox scale`` does; timed from that process's write to the
   DRIFT_DETECTED event (the sandbox's change feed is polled every 200 ms).
   Target: within 2 s.

Not a test: figures vary with the machine and its load; docs/loop.md keeps them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import git
import yaml
from machine import machine  # benchmarks/machine.py, beside this script

NAMESPACE = "bench"
TRIPLES = 33  # 1 Namespace + 33 x (ConfigMap, Deployment, Service) = 100 objects


def generate(root: Path, *, application: bool) -> None:
    """Write the 100-object app (and, with ``application``, an Argo CD
    Application for it) into ``root`` and commit it."""
    manifests = root / "manifests"
    manifests.mkdir(parents=True)
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    ]
    for i in range(TRIPLES):
        name = f"svc-{i:03d}"
        meta = {"name": name, "namespace": NAMESPACE}
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {**meta, "name": f"{name}-config"},
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
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {
                            "containers": [{"name": "app", "image": f"registry.example/{name}:1.0"}]
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
                "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
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
            "metadata": {"name": "bench"},
            "spec": {
                "source": {"repoURL": ".", "path": "manifests"},
                "destination": {"namespace": NAMESPACE},
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


def bench_watch(edits: int) -> dict[str, Any]:
    from gitwave.engine.events import Event, EventKind
    from gitwave.engine.loop import TimelineWriter
    from gitwave.engine.model import ResourceKey
    from gitwave.engine.store import Store
    from gitwave.engine.sync import Targets
    from gitwave.engine.watch import watch
    from gitwave.providers.sandbox import SandboxProvider

    work = Path(tempfile.mkdtemp(prefix="gitwave-bench-watch-"))
    os.environ["GITWAVE_CACHE"] = str(work / "cache")
    generate(work / "repo", application=False)
    edited = work / "repo" / "manifests" / "edited.yaml"
    key = ResourceKey("", "ConfigMap", NAMESPACE, "svc-000-config")
    sandbox = SandboxProvider(work / "state")
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
        args=(str(work / "repo"),),
        kwargs={
            "targets": Targets([sandbox]),
            "store": store,
            "sink": sink,
            "stop": stop,
            "ready": ready,
        },
        daemon=True,
    )
    thread.start()
    ready.wait(30)
    _wait(lambda: len(cycles) == 1, 60)
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
    live = sandbox.observe(key)
    assert live is not None and live.manifest["data"]["EDIT"] == str(edits), "last edit not live"
    assert all("1 to update → Synced" in line for line in lines[1:]), lines
    return {
        "objects": 1 + 3 * TRIPLES,
        "save_to_applied": percentiles(to_applied),
        "save_to_cycle_end": percentiles(to_cycle),
        "example_line": lines[-1],
    }


def bench_drift(drifts: int) -> dict[str, Any]:
    from gitwave.engine.events import Event, EventKind
    from gitwave.engine.loop import LoopOptions, Reconciler, TimelineWriter
    from gitwave.engine.store import Store
    from gitwave.engine.sync import Targets
    from gitwave.providers.sandbox import SandboxProvider

    work = Path(tempfile.mkdtemp(prefix="gitwave-bench-drift-"))
    os.environ["GITWAVE_CACHE"] = str(work / "cache")
    generate(work / "repo", application=True)
    state = work / "state"
    sandbox = SandboxProvider(state)
    store = Store(state / "gitwave.db")
    detected: list[float] = []

    timeline = TimelineWriter(store)  # what `gitwave run` stores events with

    def sink(event: Event) -> None:
        timeline(event)
        if event.kind is EventKind.DRIFT_DETECTED:
            detected.append(event.time)

    stop = threading.Event()
    reconciler = Reconciler(
        str(work / "repo"),
        targets=Targets([sandbox]),
        store=store,
        sink=sink,
        options=LoopOptions(interval_s=600),  # only the change feed can see the drift
    )
    thread = threading.Thread(target=reconciler.run, args=(stop,), daemon=True)
    thread.start()
    _wait(lambda: bool(store.history("bench")), 60)
    latencies: list[float] = []
    for n in range(drifts):
        before = len(detected)
        # What `gitwave sandbox scale` does, in a process of its own that prints
        # when its write is done (the CLI's exit comes later than that).
        done = subprocess.run(
            [sys.executable, "-c", _SCALE, str(state), str(2 + n)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"the out-of-band scale failed: {done.stderr}")
        written = float(done.stdout.strip())
        _wait(lambda before=before: len(detected) > before, 30)
        latencies.append(detected[-1] - written)
    stop.set()
    thread.join(10)
    timeline.close()
    return {"scale_to_out_of_sync": percentiles(latencies)}


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
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = {
        "machine": machine(),
        "watch": bench_watch(args.edits),
        "drift": bench_drift(args.drifts),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    watch, drift = figures["watch"], figures["drift"]
    print(f"machine: {figures['machine']}")
    print(f"watch, {watch['objects']} objects, one field edited per save:")
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
        f"drift, a scale by another process → DriftDetected:"
        f" p50 {stats['p50_ms']:.1f} ms  p95 {stats['p95_ms']:.1f} ms  (n={stats['n']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

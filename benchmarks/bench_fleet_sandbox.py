"""Many apps on the sandbox: `gitwave sync` of N apps of 4 objects each.

    .venv/bin/python benchmarks/bench_fleet_sandbox.py                 # 100 and 1000 apps
    .venv/bin/python benchmarks/bench_fleet_sandbox.py --apps 200 --concurrent 1,4
    .venv/bin/python benchmarks/bench_fleet_sandbox.py --profile 200   # cProfile, top 30
    .venv/bin/python benchmarks/bench_fleet_sandbox.py --apps 500 --warm-only  # no cold process

One Git repository holds N apps in Flux's benchmark shape, each a
ServiceAccount, a ConfigMap, a Service and a Deployment scaled to 0, and one
Flux Kustomization per app (every tenth depends on the one before it, so the
order rules are exercised), all from one GitRepository. ``--argo`` makes them
Argo CD Applications of an app of apps instead.

- cold: a fresh ``gitwave sync`` process into a fresh state directory, timed
  from start to exit (imports included); peak RSS of that process;
- warm: the same process syncs a warm-up fleet first, then N fresh apps (a
  second repository, a fresh state directory): the per-app overhead is that
  run's time divided by N (render + plan + apply + health of one app, plus
  its history rows and lock).

Targets (issue 11): per-app overhead on a warm process < 30 ms; 1000 apps on
the sandbox < 15 s. Not a test: figures vary with the machine and its load
(docs/benchmarks.md keeps them).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import git
import yaml
from machine import machine  # benchmarks/machine.py, beside this script

ROOT = Path(__file__).resolve().parents[1]


def objects(name: str) -> list[dict[str, Any]]:
    meta = {"name": name, "namespace": "default"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"app": name}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "serviceAccountName": name,
                        "containers": [{"name": "app", "image": "nginx:1.27"}],
                    },
                },
            },
        },
    ]


def generate(root: Path, count: int, *, argo: bool, prefix: str = "app") -> Path:
    """A committed repository of ``count`` apps; returns what to sync."""
    root.mkdir(parents=True)
    definitions: list[dict[str, Any]] = []
    if not argo:
        definitions.append(
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "fleet", "namespace": "flux-system"},
                "spec": {"interval": "1m", "url": "."},
            }
        )
    for i in range(count):
        name = f"{prefix}{i:04d}"
        app_dir = root / "apps" / name
        app_dir.mkdir(parents=True)
        (app_dir / "all.yaml").write_text(yaml.safe_dump_all(objects(name)))
        if argo:
            definitions.append(
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Application",
                    "metadata": {"name": name},
                    "spec": {
                        "source": {"repoURL": ".", "path": f"apps/{name}"},
                        "destination": {"namespace": "default"},
                    },
                }
            )
            continue
        spec: dict[str, Any] = {
            "interval": "1m",
            "path": f"./apps/{name}",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "fleet"},
        }
        if i % 10 == 1:
            spec["dependsOn"] = [{"name": f"{prefix}{i - 1:04d}"}]
        definitions.append(
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": name, "namespace": "flux-system"},
                "spec": spec,
            }
        )
    (root / "fleet").mkdir()
    (root / "fleet" / "apps.yaml").write_text(yaml.safe_dump_all(definitions))
    repo = git.Repo.init(root)
    repo.git.add("-A")
    author = git.Actor("bench", "bench@example.com")
    repo.index.commit("fleet", author=author, committer=author)
    repo.close()
    return root / "fleet"


def environment(work: Path, state: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GITWAVE_STATE": str(state),
        "GITWAVE_CACHE": str(work / "cache"),
        # Deployments scaled to 0 are ready at once; anything else settles fast.
        "GITWAVE_SANDBOX_ROLLOUT": "0.05",
        "NO_COLOR": "1",
    }


def cold(work: Path, where: Path, count: int, concurrent: int) -> dict[str, Any]:
    """A fresh `gitwave sync` process; wall time and its peak RSS."""
    state = work / f"state-cold-{count}-{concurrent}"
    command = [
        sys.executable,
        "-c",
        "import resource, sys\n"
        "from gitwave.tui.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n",
        "sync",
        str(where),
        "--concurrent",
        str(concurrent),
        "-o",
        "json",
    ]
    started = time.perf_counter()
    done = subprocess.run(
        command, env=environment(work, state), capture_output=True, text=True, check=False
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"gitwave sync failed ({done.returncode}):\n{done.stderr[-2000:]}")
    synced = json.loads(done.stdout)
    assert len(synced) == count and all(d["phase"] == "Succeeded" for d in synced)
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return {"seconds": took, "peak_rss_mib": peak_kib / 1024}


def warm(work: Path, count: int, concurrent: int, *, argo: bool) -> dict[str, Any]:
    """Sync a warm-up fleet, then ``count`` fresh apps in the same process."""
    from gitwave.tui.cli import main

    warmup = generate(work / f"warm-up-{count}-{concurrent}", 20, argo=argo, prefix="warm")
    where = generate(work / f"warm-{count}-{concurrent}", count, argo=argo, prefix="w")
    out = io.StringIO()
    with _env(environment(work, work / f"state-warm-{count}-{concurrent}")):
        with contextlib.redirect_stdout(out):
            assert main(["sync", str(warmup), "-o", "json"]) == 0
        started, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(out):
            code = main(["sync", str(where), "--concurrent", str(concurrent), "-o", "json"])
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert code == 0
    # CPU time (every thread of this process) varies less than wall time on a shared machine.
    return {
        "seconds": took,
        "per_app_ms": took / count * 1000,
        "cpu_per_app_ms": cpu / count * 1000,
    }


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Any:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def profile(work: Path, count: int, *, argo: bool) -> None:
    """cProfile the per-app work of a warm process, on the main thread (a
    profiler sees one thread): the CLI's context, each app synced in turn."""
    from gitwave.engine import operations
    from gitwave.engine.source import opened_once
    from gitwave.tui.cli.app_listing import chosen_apps
    from gitwave.tui.cli.context import context_from_args
    from gitwave.tui.cli.parser import build_parser

    warmup = generate(work / "warm-up", 20, argo=argo, prefix="warm")
    where = generate(work / "profiled", count, argo=argo, prefix="p")
    profiler = cProfile.Profile()
    took = 0.0
    with _env(environment(work, work / "state-profile")):
        for location, profiled in ((warmup, False), (where, True)):
            ctx = context_from_args(build_parser().parse_args(["sync", str(location)]))
            started = time.perf_counter()
            if profiled:
                profiler.enable()
            with opened_once():  # as `gitwave sync` does
                for entry in chosen_apps(ctx, removed=True):
                    synced = operations.sync_app(
                        entry.loaded(),
                        targets=ctx.targets,
                        store=ctx.store,
                        request=ctx.sync_request(),
                        ledger=ctx.loop_store,
                        sink=ctx.timeline,
                    )
                    assert synced.result.ok, synced.result.message
            profiler.disable()
            took = time.perf_counter() - started
            ctx.close()
    print(f"{count} apps, one after another: {took:.2f}s = {took / count * 1000:.1f} ms per app")
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(45)
    stats.sort_stats("tottime").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", default="100,1000", help="fleet sizes (comma-separated)")
    parser.add_argument("--concurrent", default="4", help="--concurrent values (comma-separated)")
    parser.add_argument("--argo", action="store_true", help="Argo CD Applications, not Flux")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile a warm sync of N")
    parser.add_argument("--warm-only", action="store_true", help="skip the cold process")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        work = Path(tmp)
        if args.profile:
            profile(work, args.profile, argo=args.argo)
            return
        rows = []
        for count in (int(n) for n in args.apps.split(",")):
            where = generate(work / f"repo-{count}", count, argo=args.argo)
            for concurrent in (int(c) for c in args.concurrent.split(",")):
                row: dict[str, Any] = {"apps": count, "concurrent": concurrent}
                if not args.warm_only:
                    row["cold"] = cold(work, where, count, concurrent)
                row["warm"] = warm(work, count, concurrent, argo=args.argo)
                rows.append(row)
                if not args.json:
                    cold_text = (
                        ""
                        if args.warm_only
                        else f"cold {row['cold']['seconds']:.1f}s (peak RSS "
                        f"{row['cold']['peak_rss_mib']:.0f} MiB); "
                    )
                    print(
                        f"{count:5d} apps, --concurrent {concurrent}: {cold_text}warm "
                        f"{row['warm']['seconds']:.1f}s = "
                        f"{row['warm']['per_app_ms']:.1f} ms per app "
                        f"({row['warm']['cpu_per_app_ms']:.1f} ms CPU)",
                        flush=True,
                    )
        load = os.getloadavg()
        if args.json:
            print(json.dumps({"machine": machine(), "load": load, "results": rows}, indent=2))
        else:
            print(f"machine: {machine()}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "benchmarks"))
    main()

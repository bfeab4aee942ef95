"""Engine benchmark: render, graph, plan and sandbox sync of a synthetic repo.

    .venv/bin/python benchmarks/bench_engine.py            # N = 1,000 and 10,000
    .venv/bin/python benchmarks/bench_engine.py --sizes 500 --json

Each size runs in a fresh subprocess so its peak RSS is its own. The synthetic
repo is a Git repository of N objects: per namespace one Namespace, and pairs
of ConfigMap + Deployment (mounting the ConfigMap) plus Services, spread over
files of 100 documents, with sync waves 0-2. Targets (2 cores): cold
render+plan of 10,000 < 5 s; no-op re-plan < 1 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import git
import yaml
from machine import machine  # benchmarks/machine.py, beside this script


def generate(root: Path, count: int) -> None:
    """Write a repo of about ``count`` objects into ``root`` and commit it."""
    root.mkdir(parents=True, exist_ok=True)
    per_namespace = 100
    docs: list[dict[str, Any]] = []
    made = 0
    ns_index = 0
    while made < count:
        ns = f"team-{ns_index:03d}"
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        made += 1
        i = 0
        while made < count and i < per_namespace:
            name = f"svc-{i:03d}"
            wave = str(i % 3)
            ann = {"argocd.argoproj.io/sync-wave": wave}
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"{name}-config", "namespace": ns, "annotations": ann},
                    "data": {"LOG_LEVEL": "info", "FEATURE": f"f{i}"},
                }
            )
            made += 1
            if made >= count:
                break
            docs.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": name, "namespace": ns, "annotations": ann},
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": {"app": name}},
                        "template": {
                            "metadata": {"labels": {"app": name}},
                            "spec": {
                                "containers": [
                                    {
                                        "name": "app",
                                        "image": f"registry.example/{name}:1.0.{i}",
                                        "ports": [{"containerPort": 8080}],
                                        "resources": {"requests": {"cpu": "100m"}},
                                        "volumeMounts": [
                                            {"name": "config", "mountPath": "/etc/app"}
                                        ],
                                    }
                                ],
                                "volumes": [
                                    {"name": "config", "configMap": {"name": f"{name}-config"}}
                                ],
                            },
                        },
                    },
                }
            )
            made += 1
            if made >= count:
                break
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "namespace": ns, "annotations": ann},
                    "spec": {
                        "selector": {"app": name},
                        "ports": [{"port": 80, "targetPort": 8080}],
                    },
                }
            )
            made += 1
            i += 1
        ns_index += 1
    for start in range(0, len(docs), 100):
        chunk = docs[start : start + 100]
        path = root / f"objects-{start // 100:04d}.yaml"
        path.write_text(yaml.dump_all(chunk, Dumper=yaml.CSafeDumper, sort_keys=False))
    repo = git.Repo.init(root)
    repo.index.add([p.name for p in root.glob("*.yaml")])
    repo.index.commit("synthetic repo")


def run_size(count: int) -> dict[str, Any]:
    """One size, in this process: every stage timed on its own."""
    from gitwave.engine.app_pipeline import Desired, desired_of, plan_resources
    from gitwave.engine.apps import load_apps, render_app
    from gitwave.engine.graph import build_graph
    from gitwave.engine.render import clear_render_cache
    from gitwave.engine.router import ProviderRouter
    from gitwave.engine.sync import SyncOptions, execute
    from gitwave.engine.validate import check
    from gitwave.providers.sandbox import SandboxProvider

    work = Path(tempfile.mkdtemp(prefix="gitwave-bench-"))
    repo = work / "repo"
    generate(repo, count)
    sandbox = SandboxProvider(work / "state", rollout_seconds=0.0)
    targets = ProviderRouter([sandbox])
    figures: dict[str, Any] = {"n": count}

    def plan_path(
        targets: ProviderRouter, *, desired: Desired | None = None
    ) -> tuple[Any, float, float]:
        """What `gitwave plan` does: load apps, render, compose, graph, observe,
        plan. With ``desired`` the composed graph of this commit is reused, as
        the reconcile loop does until the commit moves."""
        t0 = time.perf_counter()
        _, apps = load_apps(str(repo))
        rendered = render_app(apps[0])
        t1 = time.perf_counter()
        plan = plan_resources(
            apps[0],
            rendered.resources,
            revision=rendered.revision,
            targets=targets,
            prune=False,
            desired=desired,
        ).plan
        return plan, t1 - t0, time.perf_counter() - t0

    clear_render_cache()
    plan, render_s, total = plan_path(targets)
    figures["objects"] = sum(1 for _ in plan.tasks())
    # The pre-flight `gitwave plan` adds (engine.validate): the first run in a
    # process loads the schemas and compiles one validator per kind; the
    # reconcile loop's later plans find them compiled.
    resources_now = render_app(load_apps(str(repo))[1][0]).resources
    for label in ("preflight_cold_s", "preflight_warm_s"):
        t0 = time.perf_counter()
        refused = check(resources_now, plan, targets=targets)
        figures[label] = round(time.perf_counter() - t0, 3)
        assert not refused, refused[:3]
    figures["cold_render_s"] = round(render_s, 3)
    _, apps = load_apps(str(repo))
    resources = render_app(apps[0]).resources
    t0 = time.perf_counter()
    build_graph(resources)
    figures["graph_s"] = round(time.perf_counter() - t0, 3)
    figures["cold_render_graph_plan_s"] = round(total, 3)

    t0 = time.perf_counter()
    result = execute(plan, targets=targets, options=SyncOptions(parallelism=8))
    figures["sandbox_sync_s"] = round(time.perf_counter() - t0, 3)
    figures["sync_phase"] = result.phase.value
    figures["sync_waves"] = len(plan.waves)

    # Re-plan with nothing changed, twice in one process as `gitwave run` does
    # (the render cache and the sandbox's decoded objects warm from the first;
    # the loop keeps the commit's composed graph, ``Desired``), then as a
    # fresh CLI process would: every cache cold.
    desired = desired_of(render_app(load_apps(str(repo))[1][0]).resources)
    plan_path(targets, desired=desired)
    plan2, _, total = plan_path(targets, desired=desired)
    figures["noop_replan_s"] = round(total, 3)
    figures["noop_replan_changes"] = plan2.has_changes
    clear_render_cache()
    fresh = ProviderRouter([SandboxProvider(work / "state", rollout_seconds=0.0)])
    _, _, total = plan_path(fresh)
    figures["noop_replan_fresh_process_s"] = round(total, 3)
    figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_size(args.one)))
        return 0
    rows = []
    for size in args.sizes:
        print(f"running N={size} ...", file=sys.stderr, flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps({"machine": machine(), "results": rows}, indent=2))
        return 0
    print(f"machine: {machine()}")
    keys = [k for k in rows[0] if k != "n"]
    print("| figure | " + " | ".join(f"N={r['n']:,}" for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for key in keys:
        print(f"| {key} | " + " | ".join(str(r[key]) for r in rows) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sync 1,000 objects into the local control plane: gitwave vs ``kubectl apply --server-side``.

Not a test: one run of each on this machine, printed as a Markdown table (the
figures in docs/kubernetes.md come from here).

    .venv/bin/python benchmarks/bench_kube.py [--configmaps 500] [--deployments 500]
        [--qps 200] [--burst 400] [--parallelism 16]

The same rendered YAML (a Namespace, N ConfigMaps, M one-replica Deployments)
goes to each tool in a namespace of its own; the namespace is deleted (and
waited for) between the runs, so both start from the same cluster.

- gitwave: ``sync_app`` through ``KubernetesProvider`` — render, plan (discovery,
  list+watch, the prune scan), server-side apply of the wave in parallel under
  the client rate limit, then wait until every object is healthy (all
  Deployments Available).
- kubectl: ``kubectl apply --server-side`` (one object after the other), then
  ``kubectl wait --for=condition=Available deployment --all``; both timed.

Uses the control plane of tests/cluster (started if it is not running, and
stopped again afterwards in that case).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from machine import machine  # benchmarks/machine.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
KUBECTL = Path(sys.executable).parent / "kubectl"


def _controlplane() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gitwave_bench_controlplane", ROOT / "tests" / "cluster" / "controlplane.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def manifests(namespace: str, *, configmaps: int, deployments: int) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    ]
    for i in range(configmaps):
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"settings-{i:04d}", "namespace": namespace},
                "data": {"index": str(i), "LOG_LEVEL": "info", "FEATURE_X": "on"},
            }
        )
    for i in range(deployments):
        name = f"api-{i:04d}"
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "api",
                                    "image": "registry.k8s.io/pause:3.10",
                                    "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
                                }
                            ]
                        },
                    },
                },
            }
        )
    return docs


def write_yaml(path: Path, docs: list[dict[str, Any]]) -> None:
    # JSON documents are YAML; both tools read the very same file.
    path.write_text("\n---\n".join(json.dumps(d, indent=1) for d in docs) + "\n")


class Cluster:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig

    def kubectl(self, *args: str, timeout: float = 900) -> str:
        proc = subprocess.run(
            [str(KUBECTL), f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def available(self, namespace: str) -> int:
        out = self.kubectl("get", "deployments", "-n", namespace, "-o", "json")
        return sum(
            1
            for d in json.loads(out)["items"]
            if (d.get("status") or {}).get("availableReplicas") == 1
        )

    def delete_namespace(self, namespace: str) -> float:
        started = time.monotonic()
        self.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--timeout=600s")
        return time.monotonic() - started


def run_gitwave(
    cluster: Cluster, directory: Path, *, qps: float, burst: int, parallelism: int
) -> dict[str, float]:
    from gitwave.engine.apps import load_apps
    from gitwave.engine.events import Event, EventKind
    from gitwave.engine.operations import SyncRequest, sync_app
    from gitwave.engine.router import ProviderRouter
    from gitwave.engine.sync import SyncPhase
    from gitwave.providers.kubernetes import KubernetesProvider

    started = time.monotonic()
    with KubernetesProvider.from_kubeconfig(
        kubeconfig=str(cluster.kubeconfig), qps=qps, burst=burst
    ) as provider:
        _, apps = load_apps(str(directory))
        (app,) = apps
        planned: list[float] = []
        applied: list[float] = []

        def sink(event: Event) -> None:
            if event.kind is EventKind.RESOURCE_APPLIED:
                applied.append(time.monotonic())

        _synced = sync_app(
            app,
            targets=ProviderRouter([provider]),
            store=None,
            request=SyncRequest(parallelism=parallelism, wave_timeout_s=600, retry=False),
            sink=sink,
            on_plan=lambda _: planned.append(time.monotonic()),
        )
        state, result = _synced.state, _synced.result
        finished = time.monotonic()
    if result.phase is not SyncPhase.SUCCEEDED:
        raise RuntimeError(f"gitwave sync failed: {result.message}")
    counts = result.changeset.counts()
    print(f"  gitwave: {dict((k.value, v) for k, v in counts.items() if v)}", file=sys.stderr)
    return {
        "plan": planned[0] - started,
        "apply": max(applied) - started,
        "total": finished - started,
        "objects": float(sum(1 for _ in state.plan.tasks())),
    }


def run_kubectl(cluster: Cluster, path: Path, namespace: str, deployments: int) -> dict[str, float]:
    """``kubectl apply --server-side``, then the time until every Deployment is
    Available, polled with one list request every 0.2 s (``kubectl wait --all``
    waits for one Deployment after the other and would measure itself)."""
    started = time.monotonic()
    cluster.kubectl("apply", "--server-side", "-f", str(path))
    applied = time.monotonic()
    while cluster.available(namespace) < deployments:
        if time.monotonic() - applied > 600:
            raise RuntimeError("the Deployments did not become Available in 10 minutes")
        time.sleep(0.2)
    finished = time.monotonic()
    return {"apply": applied - started, "total": finished - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configmaps", type=int, default=500)
    parser.add_argument("--deployments", type=int, default=500)
    parser.add_argument("--qps", type=float, default=200)
    parser.add_argument("--burst", type=int, default=400)
    parser.add_argument("--parallelism", type=int, default=16)
    args = parser.parse_args(argv)

    cp = _controlplane()
    info, started_here = cp.up()
    cluster = Cluster(Path(info.kubeconfig))
    versions = cp.versions()
    kubectl_version = json.loads(cluster.kubectl("version", "--client", "-o", "json"))
    count = 1 + args.configmaps + args.deployments
    try:
        with tempfile.TemporaryDirectory(prefix="gitwave-bench-") as tmp:
            tmpdir = Path(tmp)
            gitwave_dir = tmpdir / "bench-gitwave"
            gitwave_dir.mkdir()
            gitwave_docs = manifests(
                "bench-gitwave", configmaps=args.configmaps, deployments=args.deployments
            )
            write_yaml(gitwave_dir / "all.yaml", gitwave_docs)
            kubectl_docs = manifests(
                "bench-kubectl", configmaps=args.configmaps, deployments=args.deployments
            )
            write_yaml(tmpdir / "kubectl.yaml", kubectl_docs)
            for namespace in ("bench-gitwave", "bench-kubectl"):
                cluster.delete_namespace(namespace)

            print(f"gitwave: syncing {count} objects ...", file=sys.stderr)
            gitwave = run_gitwave(
                cluster, gitwave_dir, qps=args.qps, burst=args.burst, parallelism=args.parallelism
            )
            assert cluster.available("bench-gitwave") == args.deployments
            print(f"  {gitwave['total']:.1f} s; deleting the namespace ...", file=sys.stderr)
            cluster.delete_namespace("bench-gitwave")

            print(f"kubectl: applying {count} objects ...", file=sys.stderr)
            kubectl = run_kubectl(
                cluster, tmpdir / "kubectl.yaml", "bench-kubectl", args.deployments
            )
            assert cluster.available("bench-kubectl") == args.deployments
            print(f"  {kubectl['total']:.1f} s; deleting the namespace ...", file=sys.stderr)
            cluster.delete_namespace("bench-kubectl")
    finally:
        if started_here:
            cp.down()

    print()
    print(f"Machine: {machine()}")
    print(
        f"Cluster: tests/cluster (Kubernetes {versions['kubernetes']}, etcd {versions['etcd']}, "
        f"kwok {versions['kwok']}); kubectl {kubectl_version['clientVersion']['gitVersion']}"
    )
    print(
        f"Objects: 1 Namespace, {args.configmaps} ConfigMaps, {args.deployments} Deployments "
        f"(1 replica each); gitwave qps={args.qps:g} burst={args.burst} "
        f"parallelism={args.parallelism}"
    )
    print()
    print("| | all objects applied | all Deployments Available |")
    print("|---|---:|---:|")
    print(
        f"| `kubectl apply --server-side -f` | {kubectl['apply']:.1f} s "
        f"| {kubectl['total']:.1f} s |"
    )
    print(
        f"| `gitwave sync` (plan: {gitwave['plan']:.1f} s) | {gitwave['apply']:.1f} s "
        f"| {gitwave['total']:.1f} s (sync returns) |"
    )
    print(
        f"| ratio kubectl / gitwave | {kubectl['apply'] / gitwave['apply']:.1f}x "
        f"| {kubectl['total'] / gitwave['total']:.1f}x |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

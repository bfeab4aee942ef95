"""The fleet benchmark's harness works without a cluster: it writes a Flux-shaped
repository of N apps and its Git HTTP server serves that commit to ``git clone``
(as it serves it to Flux's source-controller), read-only."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import yaml

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _bench_fleet() -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(
        "bench_fleet_under_test", BENCHMARKS / "bench_fleet.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def test_git_http_server_serves_a_three_app_fleet_to_git_clone(tmp_path: Path) -> None:
    bench = _bench_fleet()
    served = tmp_path / "served"
    served.mkdir()
    with bench.GitHttpServer(served) as server:
        url = server.url("fleet.git")
        assert url.startswith("http://127.0.0.1:")
        commit = bench.write_fleet(served / "fleet.git", 3, "fleet-ns", url)
        clone = tmp_path / "clone"
        _git("clone", "-q", url, str(clone))
        assert _git("-C", str(clone), "rev-parse", "HEAD").strip() == commit

        # One GitRepository naming the served URL, one Kustomization per app.
        source = list(yaml.safe_load_all((clone / "source.yaml").read_text()))
        assert [(d["kind"], d["spec"]["url"]) for d in source] == [("GitRepository", url)]
        kustomizations = list(yaml.safe_load_all((clone / "kustomizations.yaml").read_text()))
        assert [k["spec"]["path"] for k in kustomizations] == [
            "./apps/app-0000",
            "./apps/app-0001",
            "./apps/app-0002",
        ]
        assert all(k["spec"]["targetNamespace"] == "fleet-ns" for k in kustomizations)
        # Each app: Flux's benchmark shape plus an Ingress.
        app = list(yaml.safe_load_all((clone / "apps/app-0001/app.yaml").read_text()))
        assert [d["kind"] for d in app] == ["ServiceAccount", "Service", "Deployment", "Ingress"]
        assert app[2]["spec"]["replicas"] == 0

        # Read-only: a push is refused and the served branch does not move.
        (clone / "extra.txt").write_text("x\n")
        _git("-C", str(clone), "add", "extra.txt")
        subprocess.run(
            [
                "git",
                "-C",
                str(clone),
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@127.0.0.1",
                "commit",
                "-qm",
                "x",
            ],
            check=True,
        )
        push = subprocess.run(
            ["git", "-C", str(clone), "push", url, "HEAD:main"], capture_output=True, text=True
        )
        assert push.returncode != 0
        assert "403" in push.stderr
        assert _git("-C", str(served / "fleet.git"), "rev-parse", "main").strip() == commit


def test_fleet_without_ingress_has_three_objects_per_app(tmp_path: Path) -> None:
    bench = _bench_fleet()
    bench.write_fleet(tmp_path / "fleet", 2, "ns", "http://127.0.0.1:1/fleet.git", ingress=False)
    app = list(yaml.safe_load_all((tmp_path / "fleet/apps/app-0000/app.yaml").read_text()))
    assert [d["kind"] for d in app] == ["ServiceAccount", "Service", "Deployment"]


def test_controller_runs_follow_each_other_once_per_replica_count() -> None:
    bench = _bench_fleet()
    runs = bench.controller_runs(["gitwave", "controller", "flux"], [1, 2, 3])
    assert [bench.run_label(tool, replicas) for tool, replicas in runs] == [
        "gitwave",
        "controller x1",
        "controller x2",
        "controller x3",
        "flux",
    ]


def test_controller_table_shows_each_replica_and_how_far_an_unfinished_run_got() -> None:
    bench = _bench_fleet()
    done = bench.ControllerResult(
        apps=1000,
        replicas=2,
        shards=12,
        concurrent=4,
        seconds=212.34,
        ready=1000,
        rss_mib=[151.2, 148.7],
        cpu_s=[80.25, 77.0],
        synced=[480, 520],
        overlap=[4, 3],
        cluster_cpu_s=301.0,
    )
    cut = bench.ControllerResult(
        apps=1000,
        replicas=1,
        shards=12,
        concurrent=1,
        seconds=None,
        ready=412,
        waited_s=1800.2,
        rss_mib=[160.0],
        cpu_s=[900.0],
        synced=[412],
        cluster_cpu_s=700.0,
        note="syncs ended: {'Succeeded': 412}",
    )
    lines = bench.controller_table([done, cut])
    assert lines[0].startswith("| apps | replicas | shards | concurrent | time to all Ready |")
    assert lines[2] == (
        "| 1000 | 2 | 12 | 4 | 212.3 s | 480, 520 | 4, 3 | 151, 149 MiB | 80.2, 77.0 s | 301.0 s |"
    )
    assert lines[3] == (
        "| 1000 | 1 | 12 | 1 | 412/1000 Ready at 1800 s | 412 | - | 160 MiB | 900.0 s | 700.0 s |"
    )
    assert lines[-1] == "- 1000 apps, 1 replicas: syncs ended: {'Succeeded': 412}"


def test_most_at_once_counts_overlapping_syncs_from_the_audit_lines() -> None:
    _bench_fleet()  # puts benchmarks/ on sys.path
    bench = importlib.import_module("bench_fleet_controller")
    audit = [
        {"started": "t1", "finished": "t4"},
        {"started": "t2", "finished": "t3"},
        {"started": "t3", "finished": "t5"},  # starts as the second ends: not three
        {"started": "t6", "finished": "t7"},
    ]
    assert bench.most_at_once(audit) == 2
    assert bench.most_at_once([]) == 0

"""The fleet benchmark's ``--tools controller``: ``gitwave controller`` replicas
reconciling the fleet's Flux objects in the cluster (issue 16).

    .venv/bin/python benchmarks/bench_fleet.py --tools controller --replicas 1 2 3 \
        --sizes 1000 [--controller-shards 64] [--controller-concurrent 4]

For each size and replica count, from an empty namespace of its own:

- R ``gitwave controller`` processes start out of cluster (as
  tests/e2e/test_kube_controller.py runs them), each with its own state and
  cache directory, their Leases in the run's namespace, ``--shards S`` (the
  same on every replica, as the controller requires), ``--concurrent C`` and
  ``--resync=1h``;
  the clock starts only once every shard Lease is held and every replica
  holds at least one (the split settled; Flux's controllers likewise start
  first);
- the clock starts at ``kubectl apply`` of the same GitRepository and
  Kustomizations that Flux reads (Flux's own CRDs, installed as for the flux
  tool); Ready = every Kustomization has Ready=True, which the controller
  writes as Flux does (polled once a second, one list request);
- each replica's peak RSS (VmHWM from /proc) and CPU time (user + system,
  from its start) are read when all are Ready, and the apps each synced are
  counted from its audit lines (one JSON line per sync on stdout), and so is
  the most syncs it had running at once (from their start and finish times);
- then the replicas get SIGTERM, the finalizers of the Flux objects are
  dropped and the namespace deleted, so sizes and replica counts follow each
  other in one invocation.

When the timeout passes first: how many were Ready at that moment, the first
distinct Ready messages of the others, and the replicas' warning lines (their
logs and audit lines are kept in ``/tmp/bench-fleet-controller-xR-N/``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procstat import peak_rss_mib, process_cpu

GITWAVE = Path(sys.executable).parent / "gitwave"
KUSTOMIZATIONS = "kustomizations.kustomize.toolkit.fluxcd.io"


@dataclass
class ControllerResult:
    """One run of R replicas over one fleet size."""

    apps: int
    replicas: int
    shards: int
    concurrent: int
    seconds: float | None  # from the apply to every Kustomization Ready; None: not reached
    ready: int = 0  # Kustomizations Ready=True when the run ended
    waited_s: float = 0.0  # how long was waited when not all became Ready
    rss_mib: list[float] = field(default_factory=list)  # peak, per replica
    cpu_s: list[float] = field(default_factory=list)  # user + system, per replica
    synced: list[int] = field(default_factory=list)  # apps each replica synced
    overlap: list[int] = field(default_factory=list)  # most syncs at once, per replica
    cluster_cpu_s: float | None = None  # the control plane's, from start to the end
    note: str = ""


@dataclass
class _Replica:
    name: str
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def running(self) -> bool:
        return "gitwave controller: replica" in self.stderr.read_text(errors="replace")

    def audit(self) -> list[dict[str, Any]]:
        """The finished syncs this replica printed (its start lines left out)."""
        lines = self.stdout.read_text(errors="replace").splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]
        return [r for r in records if r.get("phase") != "Running"]


def most_at_once(audit: list[dict[str, Any]]) -> int:
    """The most syncs running at one instant, from finished audit lines' times."""
    edges = sorted(
        [(a["started"], 1) for a in audit if a.get("finished")]
        + [(a["finished"], -1) for a in audit if a.get("finished")],
        key=lambda edge: (edge[0], edge[1]),  # a finish before a start at one instant
    )
    most = running = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def controller_runs(tools: list[str], replicas: list[int]) -> list[tuple[str, int | None]]:
    """The runs of one size in order: each tool once, the controller once per replica count."""
    runs: list[tuple[str, int | None]] = []
    for tool in tools:
        runs += [(tool, r) for r in replicas] if tool == "controller" else [(tool, None)]
    return runs


def run_label(tool: str, replicas: int | None) -> str:
    return tool if replicas is None else f"{tool} x{replicas}"


def _start(
    cluster: Any, namespace: str, workdir: Path, name: str, shards: int, concurrent: int
) -> _Replica:
    env = dict(
        os.environ,
        GITWAVE_ALLOW_INSECURE_GIT="1",  # the fleet is served over http on 127.0.0.1
        GITWAVE_STATE=str(workdir / f"state-{name}"),
        GITWAVE_CACHE=str(workdir / f"cache-{name}"),
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode read, not compiled
    stdout, stderr = workdir / f"{name}.audit.jsonl", workdir / f"{name}.log"
    args = [
        str(GITWAVE),
        "controller",
        f"--kubeconfig={cluster.kubeconfig}",
        "--context=gitwave-test",
        f"--state={workdir / ('state-' + name)}",
        f"--namespace={namespace}",
        f"--replica={name}",
        f"--shards={shards}",
        f"--concurrent={concurrent}",
        "--resync=1h",
    ]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env)
    return _Replica(name, proc, stdout, stderr)


def _shard_holders(cluster: Any, namespace: str) -> dict[str, str]:
    leases = json.loads(cluster.kubectl("get", "leases", "-n", namespace, "-o", "json"))
    return {
        item["metadata"]["name"]: (item.get("spec") or {}).get("holderIdentity") or ""
        for item in leases["items"]
        if item["metadata"]["name"].startswith("gitwave-shard-")
    }


def _settled(cluster: Any, namespace: str, replicas: list[_Replica], shards: int) -> bool:
    """Every shard's Lease held, by live replicas only, each holding at least one."""
    if not all(r.running() for r in replicas):
        return False
    holders = _shard_holders(cluster, namespace)
    names = {r.name for r in replicas}
    held = [h for h in holders.values() if h]
    return len(held) == shards and set(held) == names


def _wait(check: Any, timeout: float, step: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return False


def _stop(replicas: list[_Replica]) -> None:
    """SIGTERM (the controller hands its shards back between syncs), then kill."""
    for r in replicas:
        if r.proc.poll() is None:
            r.proc.send_signal(signal.SIGTERM)
    for r in replicas:
        try:
            r.proc.wait(60)
        except subprocess.TimeoutExpired:
            r.proc.kill()
            r.proc.wait()


def _why(cluster: Any, namespace: str, replicas: list[_Replica], workdir: Path) -> str:
    """Why not all became Ready: the messages, the replicas' warnings, where the logs are."""
    items = cluster.items(KUSTOMIZATIONS, namespace)
    messages: Counter[str] = Counter()
    for item in items:
        ready = [
            c for c in (item.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"
        ]
        if not ready:
            messages["no Ready condition yet"] += 1
        elif ready[0].get("status") != "True":
            messages[str(ready[0].get("message", ""))[:160]] += 1
    phases = Counter(a.get("phase") for r in replicas for a in r.audit())
    warnings = [
        line.strip()
        for r in replicas
        for line in r.stderr.read_text(errors="replace").splitlines()
        if "WARNING" in line or "Error" in line or "Traceback" in line
    ]
    exited = [f"{r.name} exited {r.proc.returncode}" for r in replicas if r.proc.poll() is not None]
    kept = Path(tempfile.gettempdir()) / f"bench-fleet-{workdir.name}"
    shutil.copytree(workdir, kept, dirs_exist_ok=True, ignore=_bulky)
    parts = [f"syncs ended: {dict(phases)}"]
    parts += [f"{count} x '{message}'" for message, count in messages.most_common(3)]
    parts += exited
    parts += [f"{len(warnings)} warning lines, first: {warnings[0][:200]}"] if warnings else []
    return "; ".join(parts) + f" (logs: {kept})"


def _bulky(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n.startswith("cache-")]


def run_controller(
    cluster: Any,
    repo: Path,
    n: int,
    namespace: str,
    workdir: Path,
    *,
    replicas: int,
    shards: int,
    concurrent: int,
    timeout: float,
    log: Any,
) -> ControllerResult:
    """R replicas over the fleet in ``namespace`` (created empty by the caller); cleans up."""
    result = ControllerResult(
        apps=n, replicas=replicas, shards=shards, concurrent=concurrent, seconds=None
    )
    started_replicas: list[_Replica] = []
    try:
        for i in range(replicas):
            started_replicas.append(
                _start(cluster, namespace, workdir, f"bench-r{i + 1}", shards, concurrent)
            )
        began = time.monotonic()
        if not _wait(lambda: _settled(cluster, namespace, started_replicas, shards), 300, 0.5):
            result.note = "shards never settled: " + _why(
                cluster, namespace, started_replicas, workdir
            )
            return result
        log(f"{n} apps, {replicas} replicas: shards settled in {time.monotonic() - began:.1f} s")
        started = time.monotonic()
        cluster.kubectl(
            "apply", "--server-side", "-f", str(repo / "source.yaml"),
            "-f", str(repo / "kustomizations.yaml"),
        )  # fmt: skip
        last_log = started

        def all_ready() -> bool:
            nonlocal last_log
            result.ready = cluster.count_ready(KUSTOMIZATIONS, namespace, "Ready")
            if time.monotonic() - last_log >= 60:
                last_log = time.monotonic()
                log(f"{n} apps, {replicas} replicas: {result.ready}/{n} Ready at "
                    f"{last_log - started:.0f} s")  # fmt: skip
            dead = [r for r in started_replicas if r.proc.poll() is not None]
            return result.ready >= n or bool(dead)

        _wait(all_ready, timeout, 1.0)
        ended = time.monotonic()
        result.rss_mib = [peak_rss_mib(r.proc.pid) for r in started_replicas]
        result.cpu_s = [process_cpu(r.proc.pid) for r in started_replicas]
        result.cluster_cpu_s = cluster.cpu_seconds()
        result.synced = [len({a["app_id"] for a in r.audit()}) for r in started_replicas]
        result.overlap = [most_at_once(r.audit()) for r in started_replicas]
        if result.ready >= n:
            result.seconds = ended - started
        else:
            result.waited_s = ended - started
            result.note = _why(cluster, namespace, started_replicas, workdir)
        return result
    finally:
        _stop(started_replicas)
        # Measured already: the finalizers dropped, the namespace (Leases,
        # Kustomizations, the apps' objects, Events) deleted with everything in it.
        cluster.drop_finalizers(namespace)
        cluster.delete_namespace(namespace)


def _list(values: list[float], unit: str) -> str:
    return ", ".join(f"{v:.0f}" for v in values) + f" {unit}" if values else "-"


def time_cell(r: ControllerResult) -> str:
    """``123.4 s``, or how far it got: ``412/1000 Ready at 1800 s``."""
    if r.seconds is not None:
        return f"{r.seconds:.1f} s"
    if r.waited_s:
        return f"{r.ready}/{r.apps} Ready at {r.waited_s:.0f} s"
    return "did not start"


def controller_table(results: list[ControllerResult]) -> list[str]:
    """The Markdown table of the controller runs, and a note line for each run that has one."""
    lines = [
        "| apps | replicas | shards | concurrent | time to all Ready | apps synced per replica "
        "| most syncs at once | peak RSS per replica | CPU per replica | control plane CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        plane = "-" if r.cluster_cpu_s is None else f"{r.cluster_cpu_s:.1f} s"
        cpu = ", ".join(f"{v:.1f}" for v in r.cpu_s) + " s" if r.cpu_s else "-"
        synced = ", ".join(str(s) for s in r.synced) or "-"
        overlap = ", ".join(str(s) for s in r.overlap) or "-"
        lines.append(
            f"| {r.apps} | {r.replicas} | {r.shards} | {r.concurrent} | {time_cell(r)} "
            f"| {synced} | {overlap} | {_list(r.rss_mib, 'MiB')} | {cpu} | {plane} |"
        )
    lines += [""] + [f"- {r.apps} apps, {r.replicas} replicas: {r.note}" for r in results if r.note]
    return lines

"""CPU of the target-side steps of a fresh, unkept `gitwave plan` of 10,000 objects.

    .venv/bin/python benchmarks/bench_cli.py --cases plan-10k-unkept --runs 1 --work W
    .venv/bin/python benchmarks/bench_plan_steps.py --work W --runs 7
    .venv/bin/python benchmarks/bench_plan_steps.py --work W --runs 7 --before B --checkout C

Each run is a new process that runs the CLI's ``main(["plan", W/repo])``
with these calls wrapped, their CPU time (``time.process_time``) summed:
``observe_all`` (the desired objects read back), ``ProviderRouter.list_tracked``
(what the app tracks on the target), ``ProviderRouter.to_declare``,
``value_comparers`` and ``plan_memo.in_sync``, and the whole command after its
imports. The kept no-op plan is removed before each run (``plan-10k-unkept``).

``--before B --checkout C``: alternate each run with the gitwave of checkout C
(``git worktree add C main``) on work directory B (synced by that checkout's
``bench_cli.py --checkout C --work B``: a sandbox state a newer gitwave
migrated cannot be opened by an older one). Medians are printed per side,
with the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from bench_cli import _use_checkout  # benchmarks/bench_cli.py, beside this script
from machine import machine  # benchmarks/machine.py, beside this script

# Run in each measured process: the steps wrapped, then the CLI's main.
_STEPS = """
import contextlib, io, json, sys, time
import gitwave.engine.app_pipeline as pipeline
import gitwave.engine.plan_memo as plan_memo
import gitwave.engine.router as router

spent = {}

def timed(name, call):
    def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return call(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - started
    return wrapper

pipeline.observe_all = timed("observe_all", pipeline.observe_all)
pipeline.value_comparers = timed("value_comparers", pipeline.value_comparers)
plan_memo.in_sync = timed("in_sync", plan_memo.in_sync)
for method in ("list_tracked", "to_declare"):
    setattr(router.ProviderRouter, method, timed(method, getattr(router.ProviderRouter, method)))
from gitwave.tui.cli import main

started = time.process_time()
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["plan", sys.argv[1]])
spent["command"] = time.process_time() - started
print(json.dumps({"code": code, **spent}))
"""


def _run(work: Path, extra: dict[str, str]) -> dict[str, float]:
    env = {
        **os.environ,
        "GITWAVE_STATE": str(work / "state"),
        "GITWAVE_CACHE": str(work / "cache"),
        "GITWAVE_SANDBOX_ROLLOUT": "0",
        "NO_COLOR": "1",
        **extra,
    }
    shutil.rmtree(work / "cache" / "verdicts", ignore_errors=True)
    done = subprocess.run(
        [sys.executable, "-c", _STEPS, str(work / "repo")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"plan failed ({done.returncode}): {done.stderr}")
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if found.pop("code") != 0:
        raise SystemExit("the plan found changes: sync the work directory first")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--before", type=Path, help="the other side's work directory")
    parser.add_argument("--checkout", type=Path, help="the other side's checkout")
    args = parser.parse_args()
    if (args.before is None) != (args.checkout is None):
        parser.error("--before and --checkout go together")
    sides: dict[str, tuple[Path, dict[str, str]]] = {"after": (args.work, {})}
    if args.before is not None:
        sides["before"] = (args.before, _use_checkout(args.checkout, args.before))
    load_before = os.getloadavg()
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for run in range(args.runs + 1):  # the first: a warm-up, not counted
        for name, (work, extra) in sides.items():
            found = _run(work, extra)
            if run:
                rows[name].append(found)
    for name, found in rows.items():
        medians = {k: round(1000 * statistics.median(r[k] for r in found), 1) for k in found[0]}
        print(name, json.dumps(medians), "ms CPU, median")
    load_after = os.getloadavg()
    print(json.dumps({"machine": machine(), "load_before": load_before, "load_after": load_after}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

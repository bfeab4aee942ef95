"""Start-up and fresh-process figures of the real `gitwave` command.

    .venv/bin/python benchmarks/bench_cli.py                 # every case, 10 runs each
    .venv/bin/python benchmarks/bench_cli.py --runs 20 --json
    .venv/bin/python benchmarks/bench_cli.py --cases help status

Each run is a new process started the way a shell starts it (the venv's
``gitwave`` script), so imports, opening the state and the caches on disk are
all counted; the figure is wall time, median and 95th percentile of the runs
after one warm-up (which also writes Python's bytecode caches, as a user's
first run does). Cases:

    help        gitwave --help
    version     gitwave version
    status      gitwave status samples/guestbook  (synced first; plain YAML, no AWS objects)
    plan-10k    gitwave plan REPO of 10,000 unchanged objects (bench_engine's
                synthetic repo, committed and synced first; --work keeps both),
                every cache on disk warm
    plan-10k-cold  the same with the on-disk render cache emptied before each run
    plan-10k-unkept  the same with only the kept no-op plan removed before each
                run (the first plan after a sync: the whole plan is made)

Each case also reports what its process imports, from one more run with
``PYTHONPROFILEIMPORTTIME``: ``modules`` (how many; the same under any load)
and ``import_self_s`` (the sum of their own import times, as ``-X importtime``
prints them, inflated by that option's bookkeeping: compare it with itself).

Needs nothing but the venv (hyperfine is not used). The machine and its load
are printed with the figures: on a shared 2-core machine they move by 2x.

``--checkout DIR`` runs the gitwave of another checkout (``git worktree add
/tmp/base main``) with this venv's libraries, as ``python -c`` of its
``main()``: run it and the same cases without it in one sitting to compare
before and after under the same load. Both sides then start the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench_engine import generate  # benchmarks/bench_engine.py, beside this script
from machine import machine  # benchmarks/machine.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
GITWAVE = Path(sys.executable).parent / "gitwave"
COMMAND: list[str] = [str(GITWAVE)]
# The checkout's console script: ``run`` (main, then the fast exit) where it has one.
_LAUNCH = "import sys; from gitwave.tui import cli; sys.exit(getattr(cli, 'run', cli.main)())"


def _use_checkout(checkout: Path, work: Path) -> dict[str, str]:
    """Run ``checkout``'s gitwave: a ``gitwave`` package of links to its
    folders, first on PYTHONPATH (as ``make typecheck`` builds one)."""
    package = work / "checkout" / "gitwave"
    package.mkdir(parents=True, exist_ok=True)
    for folder in ("engine", "compositions", "providers", "tui"):
        link = package / folder
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(checkout.resolve() / folder)
    COMMAND[:] = [sys.executable, "-c", _LAUNCH]
    return {"PYTHONPATH": str(package.parent)}


@dataclass(frozen=True)
class Case:
    name: str
    argv: Sequence[str]
    ok_codes: tuple[int, ...] = (0,)
    before_each: Callable[[], None] | None = None


def _env(state: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Users' Pythons write bytecode; a benchmark run with it off would time the compiler.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        GITWAVE_STATE=str(state),
        GITWAVE_CACHE=str(cache),
        GITWAVE_SANDBOX_ROLLOUT="0",
        NO_COLOR="1",
    )
    return env


def _run(argv: Sequence[str], env: dict[str, str], ok: tuple[int, ...]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one ``gitwave ARGV`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        [*COMMAND, *argv], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in ok:
        raise SystemExit(
            f"gitwave {' '.join(argv)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return took, cpu


def _imports(argv: Sequence[str], env: dict[str, str], ok: tuple[int, ...]) -> dict[str, float]:
    """How many modules one ``gitwave ARGV`` process imports, and their own import time."""
    done = subprocess.run(
        [*COMMAND, *argv],
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in ok:
        raise SystemExit(f"gitwave {' '.join(argv)}: exit {done.returncode}\n{done.stderr}")
    own = [
        int(line.split("|")[0].split(":")[1])
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and line.split("|")[0].split(":")[1].strip().isdigit()
    ]
    return {"modules": len(own), "import_self_s": round(sum(own) / 1e6, 3)}


def _figures(times: list[float], cpus: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_s": round(statistics.median(ordered), 3),
        "p95_s": round(p95, 3),
        "min_s": round(ordered[0], 3),
        # CPU time moves less than wall time when other work shares the cores.
        "cpu_median_s": round(statistics.median(cpus), 3),
        "runs": len(ordered),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["help", "version", "status", "plan-10k", "plan-10k-cold"],
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--checkout", type=Path, help="time this checkout's gitwave (see the module docstring)"
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="keep the repository and state here, and reuse them next time "
        "(syncing 10,000 objects takes minutes)",
    )
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="gitwave-bench-cli-"))
    work.mkdir(parents=True, exist_ok=True)
    state, cache = work / "state", work / "cache"
    env = _env(state, cache)
    results: dict[str, object] = {"machine": machine(), "load_before": os.getloadavg()}
    if args.checkout is not None:
        env.update(_use_checkout(args.checkout, work))
        results["checkout"] = str(args.checkout)
    try:
        cases: list[Case] = []
        for name in args.cases:
            if name == "help":
                cases.append(Case(name, ["--help"]))
            elif name == "version":
                cases.append(Case(name, ["version"]))
            elif name == "status":
                _run(["sync", "samples/guestbook"], env, (0,))
                cases.append(Case(name, ["status", "samples/guestbook"]))
            elif name.startswith("plan-10k"):
                repo = work / "repo"
                if not repo.exists():
                    generate(repo, args.objects)
                    results["sync_10k_s"] = round(_run(["sync", str(repo)], env, (0,))[0], 3)
                # -cold: no cache on disk at all; -unkept: every cache but the
                # kept no-op plan (engine/plan_verdict.py), as the first plan
                # after a sync finds them: the whole plan is made.
                emptied = {"-cold": cache, "-unkept": cache / "verdicts"}.get(
                    name.removeprefix("plan-10k")
                )
                cases.append(
                    Case(
                        name,
                        ["plan", str(repo)],
                        before_each=(
                            (lambda d=emptied: shutil.rmtree(d, ignore_errors=True))
                            if emptied is not None
                            else None
                        ),
                    )
                )
            else:
                raise SystemExit(f"unknown case {name}")
        for case in cases:
            times, cpus = [], []
            for i in range(args.runs + 1):
                if case.before_each is not None:
                    case.before_each()
                took, cpu = _run(case.argv, env, case.ok_codes)
                if i:  # the first run warms bytecode and the caches
                    times.append(took)
                    cpus.append(cpu)
            results[case.name] = {
                **_figures(times, cpus),
                **_imports(case.argv, env, case.ok_codes),
            }
            if not args.json:
                print(f"{case.name:14} {results[case.name]}", flush=True)
    finally:
        results["load_after"] = os.getloadavg()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(json.dumps({k: results[k] for k in ("machine", "load_before", "load_after")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

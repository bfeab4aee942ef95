"""Cache checkout verification: what checking a cached checkout against its
commit costs before each reuse (issue 10 item 3).

    .venv/bin/python benchmarks/bench_cache_verify.py              # 1,000 and 10,000 files
    .venv/bin/python benchmarks/bench_cache_verify.py --sizes 3000

gitwave hashes every file of a cached checkout and compares it with the
commit's tree before rendering from it, so a tampered checkout is never
rendered. This builds a repository of N small manifests in 50 directories,
clones it, and times ``source_cache.checkout_problem`` (best of 5).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from machine import machine  # benchmarks/machine.py, beside this script

from gitwave.engine.source_cache import checkout_problem


def build(root: Path, count: int) -> None:
    root.mkdir()
    for i in range(count):
        folder = root / f"d{i % 50}"
        folder.mkdir(exist_ok=True)
        (folder / f"c{i}.yaml").write_text(
            f'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  k: "{i}"\n'
        )
    git = ["git", "-C", str(root), "-c", "user.email=b@example.com", "-c", "user.name=bench"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], check=True)


def measure(count: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        origin, clone = Path(tmp) / "origin", Path(tmp) / "clone"
        build(origin, count)
        subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
        sha = subprocess.run(
            ["git", "-C", str(clone), "rev-parse", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            problem = checkout_problem(clone, sha)
            best = min(best, time.perf_counter() - started)
            assert problem is None, problem
        return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    print(machine())
    for count in args.sizes:
        print(f"{count:>6} files: verify {measure(count):.3f} s")


if __name__ == "__main__":
    main()

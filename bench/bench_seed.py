"""`fieldtech seed` into a new data dir, timed as a user runs it (issue 17: 100,000 ≤ 10 s).

    python bench/bench_seed.py                                  # this tree, 3 runs
    python bench/bench_seed.py --against /work/main --runs 4    # alternating with another tree

Each run is the CLI in its own process (`python -m fieldtech --data-dir NEW seed ...` run in
the tree, which -m puts first on sys.path), into a data dir that does not exist yet: the wall
time from start to exit, and the CPU time of the process and its children (user + system; on
2 cores the two can add up to more than the wall time). With --against, the trees take turns,
so both see the same load; the load average is printed before each run (the machine may be
shared). The seeded stores are removed after each run (800 MB each at 100,000).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_tui import bench_priority  # bench/ is first on sys.path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 10.0


def seed_once(tree: Path, data_dir: Path, customers: int, controllers: int) -> tuple[float, float]:
    """(wall s, CPU s) of one `fieldtech seed` run from `tree` into `data_dir` (made new)."""
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(tree),
           "FIELDTECH_CONFIG_DIR": str(data_dir.with_name(data_dir.name + "-config"))}
    env.pop("FIELDTECH_TOKEN", None)  # a signed-in session would make seed refuse
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # In a session of its own with the bench's priority (`nice -n -15` reaches it): Linux
    # shares the CPU between sessions, and the bench's shell may share one with other work.
    subprocess.run([sys.executable, "-m", "fieldtech", "--data-dir", str(data_dir), "seed",
                    "--customers", str(customers), "--controllers", str(controllers)],
                   env=env, cwd=tree, check=True, stdout=subprocess.DEVNULL,
                   start_new_session=True, preexec_fn=bench_priority)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    shutil.rmtree(data_dir, ignore_errors=True)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--controllers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another tree, run alternately")
    parser.add_argument("--dir", type=Path, help="where to seed (default: a temporary dir)")
    args = parser.parse_args()
    trees = {"this tree": ROOT}
    if args.against:
        trees[f"{args.against}"] = args.against.resolve()
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    print(f"seeds run in sessions of their own at the bench's nice {os.nice(0)} (autogroup; a "
          "user's session runs at 0, sharing the machine with what else runs)", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-seed-", dir=args.dir) as tmp:
        for run in range(args.runs):
            for name, tree in trees.items():
                load = os.getloadavg()[0]
                wall, cpu = seed_once(tree, Path(tmp) / "data", args.customers, args.controllers)
                figures[name].append((wall, cpu))
                print(f"run {run + 1} {name}: {wall:.1f} s wall, {cpu:.1f} s CPU "
                      f"(load average {load:.1f})", flush=True)
    print(f"\n{args.controllers:,} controllers, {args.customers:,} customers "
          f"(budget {BUDGET_S:.0f} s wall):")
    for name, runs in figures.items():
        walls = [w for w, _ in runs]
        print(f"  {name}: median {statistics.median(walls):.1f} s wall "
              f"(min {min(walls):.1f}, max {max(walls):.1f}), "
              f"CPU median {statistics.median(c for _, c in runs):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

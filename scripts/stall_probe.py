"""Execute notebooks many times and report every cell that stalled until the timeout.

Every cell that took nearly the whole per-cell timeout (at least ``--stall-share`` of it) is
printed with the kernel's own time for it, from nbclient's timing metadata. It counts as a
STALL when its reply sat unread for much of that time although the kernel had finished: the
symptom of a missed wake-up (course_lib/execution.py explains the one this project had). A
cell the kernel itself needed that long for, on a loaded machine, is printed as SLOW.

    python scripts/stall_probe.py --runs 200                      # every chapter, with the fix
    python scripts/stall_probe.py --runs 100 --no-wakeup backprop  # the stall, measured

Exit status 1 when any cell stalled or a run failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

import nbformat

from course_lib.execution import execute_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def kernel_seconds(cell) -> float | None:
    """Seconds from the kernel starting the cell to the kernel sending its reply."""
    timing = cell.metadata.get("execution", {})
    try:
        start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return (end - start).total_seconds()


def run_once(stem: str, run: int, timeout: float, share: float, wakeup: bool) -> dict:
    """Execute ``notebooks/<stem>.ipynb`` once; return its stalled cells and its slowest cell."""
    notebook = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    try:
        execution = execute_notebook(notebook, cwd=NOTEBOOKS, timeout=timeout, wakeup=wakeup)
    except Exception as error:  # a real timeout or a cell that raised: report it, go on
        where = traceback.extract_tb(error.__traceback__)[-1]
        print(
            f"{stem} run {run}: FAILED {type(error).__name__} at {where.name} "
            f"({Path(where.filename).name}:{where.lineno}): {str(error)[:300]}",
            flush=True,
        )
        return {"stem": stem, "failed": True, "stalls": [], "slowest": 0.0}
    stalls = []
    for index, seconds in execution.cell_seconds.items():
        if seconds < share * timeout:
            continue
        in_kernel = kernel_seconds(notebook.cells[index])
        kernel = "?" if in_kernel is None else f"{in_kernel:.2f} s"
        # A stall: the reply sat unread for most of the wait. A cell the kernel itself
        # needed that long for (a loaded machine) is slow, not stalled: reported, not counted.
        stalled = in_kernel is None or seconds - in_kernel >= share * timeout / 2
        if stalled:
            stalls.append(index)
        print(
            f"{stem} run {run}: {'STALL' if stalled else 'SLOW'} cell {index} took "
            f"{seconds:.1f} s (the kernel finished it in {kernel})",
            flush=True,
        )
    index, slowest = execution.slowest(1)[0] if execution.cell_seconds else (None, 0.0)
    print(
        f"{stem} run {run}: {execution.total_seconds:.0f} s, slowest cell {index} "
        f"{slowest:.1f} s, {len(stalls)} stalled",
        flush=True,
    )
    return {"stem": stem, "failed": False, "stalls": stalls, "slowest": slowest}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stems", nargs="*", help="notebook stems (default: every chapter)")
    parser.add_argument("--runs", type=int, default=20, help="executions per notebook")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-cell timeout, seconds")
    parser.add_argument("--stall-share", type=float, default=0.9, help="share of the timeout")
    parser.add_argument("--profile", default="ci", help="COURSE_PROFILE for the kernels")
    parser.add_argument("--no-wakeup", action="store_true", help="run without the fix")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks executed at once")
    args = parser.parse_args()
    if args.runs < 1 or args.jobs < 1 or args.timeout <= 0 or not 0 < args.stall_share < 1:
        parser.error("--runs and --jobs must be >= 1, --timeout > 0, --stall-share in (0, 1)")
    stems = args.stems or sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    missing = [s for s in stems if not (NOTEBOOKS / f"{s}.ipynb").exists()]
    if missing:
        parser.error(f"no notebooks/<stem>.ipynb for {', '.join(missing)}")
    os.environ["COURSE_PROFILE"] = args.profile  # the kernels inherit it

    fix = "without the fix" if args.no_wakeup else "with course_lib.execution's fix"
    print(f"{len(stems)} notebook(s) x {args.runs} runs, {args.timeout:g} s per cell, {fix}")
    start = time.perf_counter()
    # Round-robin over the notebooks, so that a probe stopped early has covered them all.
    jobs = [
        (stem, run, args.timeout, args.stall_share, not args.no_wakeup)
        for run in range(1, args.runs + 1)
        for stem in stems
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_once, *zip(*jobs)))
    bad = 0
    for stem in stems:
        mine = [r for r in results if r["stem"] == stem]
        stalls = Counter(i for r in mine for i in r["stalls"])
        failures = sum(r["failed"] for r in mine)
        count = sum(stalls.values())
        cells = ", ".join(f"cell {i} x{n}" for i, n in sorted(stalls.items())) or "none"
        print(
            f"SUMMARY {stem}: {len(mine)} runs, {count} stalls ({count / len(mine):.1%}), "
            f"{failures} failed runs; stalled cells: {cells}; slowest cell of any run "
            f"{max(r['slowest'] for r in mine):.1f} s",
            flush=True,
        )
        bad += count + failures
    print(f"probe finished in {time.perf_counter() - start:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

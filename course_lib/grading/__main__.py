"""``python -m course_lib.grading SUBMISSIONS_DIR``: grade a class, write grades.csv and feedback/.

See course_lib.grading.batch for the layouts it accepts and the instructor's guide
("Grading a class") for how to read what it writes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

from .batch import grade_class
from .report import write_results
from .run import STATUSES

DEFAULT_NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks" / "student"


def parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grading",
        description="Grade a folder of submitted student notebooks; write grades.csv and feedback/ there.",
    )
    parser.add_argument(
        "submissions", type=Path, help="<student>/<chapter>.ipynb or <chapter>-<student>.ipynb"
    )
    parser.add_argument(
        "--notebooks", type=Path, default=DEFAULT_NOTEBOOKS, help="the handed-out student notebooks"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds per notebook (default: 4 times the chapter's reference run, at least 60)",
    )
    parser.add_argument(
        "--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2), help="notebooks at a time"
    )
    parser.add_argument(
        "--profile", default="ci", choices=("ci", "cpu", "gpu"), help="COURSE_PROFILE (default ci)"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    if not args.submissions.is_dir():
        print(f"error: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    skeletons = {p.stem: p.read_text(encoding="utf-8") for p in sorted(args.notebooks.glob("*.ipynb"))}
    if not skeletons:
        print(f"error: no student notebooks in {args.notebooks}; pass --notebooks", file=sys.stderr)
        return 2
    os.environ.update(COURSE_PROFILE=args.profile, COURSE_STATIC_OUTPUT="1", MPLBACKEND="Agg")
    start = time.monotonic()
    graded, skipped = grade_class(args.submissions, skeletons, args.time_limit, args.jobs)
    for line in skipped:
        print("skipped:", line)
    when = f"Graded {time.strftime('%Y-%m-%d %H:%M')} under the {args.profile} profile."
    write_results(args.submissions, graded, when)
    counts = Counter(e.status for g in graded for e in g.exercises)
    summary = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
    print(f"{len(graded)} notebooks graded in {time.monotonic() - start:.0f} s: {summary or 'no exercises'}")
    print(f"wrote {args.submissions / 'grades.csv'} and {args.submissions / 'feedback'}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

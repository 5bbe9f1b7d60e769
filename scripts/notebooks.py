"""Keep book/<stem>.md, notebooks/<stem>.ipynb and notebooks/student/<stem>.ipynb in step.

The Markdown file in book/ is the source. ``sync`` rebuilds each solved notebook from it
(jupytext) and executes it under the ``ci`` profile (course_lib.execution), so the stored
outputs are the ones nbval compares against, and writes the student notebook beside it
(course_lib.grading.student: solutions replaced by stubs, no outputs, no metadata).
``student`` writes only the student notebooks (seconds: nothing is executed). ``check`` is
the read-only CI gate: it converts every book/*.md in memory and fails if a solved
notebook's cells (type, source, tags) differ, if a student notebook is not byte for byte
what ``student`` would write, or if a notebook has no source.

    python scripts/notebooks.py sync [STEM ...]      # after editing a chapter
    python scripts/notebooks.py student [STEM ...]   # student notebooks only
    python scripts/notebooks.py check                # in `make test`
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
BOOK, NOTEBOOKS = ROOT / "book", ROOT / "notebooks"
STUDENT = NOTEBOOKS / "student"


def chapter_sources() -> dict[str, Path]:
    """Every book/*.md that is a notebook (has a kernelspec in its jupytext header)."""
    return {
        p.stem: p
        for p in sorted(BOOK.glob("*.md"))
        if "kernelspec:" in p.read_text(encoding="utf-8").split("\n---", 1)[0]
    }


def cell_signature(notebook) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in notebook.cells]


def check() -> int:
    sources = chapter_sources()
    problems = []
    for stem, md in sources.items():
        ipynb = NOTEBOOKS / f"{stem}.ipynb"
        if not ipynb.exists():
            problems.append(f"{ipynb.relative_to(ROOT)} is missing")
            continue
        expected = cell_signature(jupytext.read(md))
        actual = cell_signature(nbformat.read(ipynb, as_version=4))
        if expected != actual:
            first = next(
                (i for i, (a, b) in enumerate(zip(expected, actual)) if a != b),
                min(len(expected), len(actual)),
            )
            problems.append(
                f"{ipynb.relative_to(ROOT)} differs from {md.relative_to(ROOT)} "
                f"from cell {first} on ({len(actual)} vs {len(expected)} cells)"
            )
    problems += student_problems(sources)
    for ipynb in sorted(NOTEBOOKS.glob("*.ipynb")) + sorted(STUDENT.glob("*.ipynb")):
        if ipynb.stem not in sources:
            problems.append(f"{ipynb.relative_to(ROOT)} has no book/{ipynb.stem}.md")
    for problem in problems:
        print("OUT OF SYNC:", problem)
    if problems:
        print(
            "Fix: edit book/<stem>.md, then run `make notebooks` (python scripts/notebooks.py sync), "
            "or `python scripts/notebooks.py student` when only the student notebooks are stale."
        )
        return 1
    print(f"{len(sources)} notebook(s) and their student notebooks in sync with book/")
    return 0


def student_problems(sources: dict[str, Path]) -> list[str]:
    """A student notebook that is missing or differs from what `student` would write."""
    from course_lib.grading.student import student_notebook_text

    problems = []
    for stem, md in sources.items():
        target = STUDENT / f"{stem}.ipynb"
        if not target.exists():
            problems.append(f"{target.relative_to(ROOT)} is missing")
        elif target.read_text(encoding="utf-8") != student_notebook_text(jupytext.read(md), stem):
            problems.append(f"{target.relative_to(ROOT)} is stale: {md.relative_to(ROOT)} changed since")
    return problems


def write_student(stem: str, md: Path) -> None:
    from course_lib.grading.student import student_notebook_text

    STUDENT.mkdir(parents=True, exist_ok=True)
    target = STUDENT / f"{stem}.ipynb"
    tmp = target.with_suffix(".ipynb.tmp")
    tmp.write_text(student_notebook_text(jupytext.read(md), stem), encoding="utf-8")
    tmp.replace(target)
    print(f"wrote {target.relative_to(ROOT)} (student notebook)")


def student(stems: list[str]) -> int:
    sources = chapter_sources()
    for stem in stems or list(sources):
        if stem not in sources:
            print(f"no chapter book/{stem}.md", file=sys.stderr)
            return 1
        write_student(stem, sources[stem])
    return 0


def sync(stems: list[str]) -> int:
    from course_lib.config import get_profile
    from course_lib.execution import execute_notebook

    sources = chapter_sources()
    os.environ["COURSE_PROFILE"] = "ci"  # the kernels started below inherit it
    for stem in stems or list(sources):
        if stem not in sources:
            print(f"no chapter book/{stem}.md", file=sys.stderr)
            return 1
        NOTEBOOKS.mkdir(exist_ok=True)
        notebook = jupytext.read(sources[stem])
        execute_notebook(notebook, cwd=NOTEBOOKS, timeout=get_profile("ci").cell_timeout)
        target = NOTEBOOKS / f"{stem}.ipynb"
        tmp = target.with_suffix(".ipynb.tmp")
        nbformat.write(notebook, tmp)
        tmp.replace(target)
        print(f"wrote {target.relative_to(ROOT)} (executed, profile ci)")
        write_student(stem, sources[stem])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="read-only: fail if a notebook differs from its book/*.md")
    sync_parser = sub.add_parser(
        "sync", help="rebuild and execute notebooks/ from book/, and the student ones"
    )
    sync_parser.add_argument("stems", nargs="*")
    student_parser = sub.add_parser("student", help="write notebooks/student/ from book/ (no execution)")
    student_parser.add_argument("stems", nargs="*")
    args = parser.parse_args()
    if args.command == "check":
        return check()
    return sync(args.stems) if args.command == "sync" else student(args.stems)


if __name__ == "__main__":
    raise SystemExit(main())

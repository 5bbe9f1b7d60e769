"""grades.csv and one feedback file per student, written whole or not at all.

``grades.csv`` has one row per student, chapter and graded exercise, with the columns
:data:`COLUMNS`; ``feedback/<student>.md`` gives each student every checker's verdict in
plain Markdown (readable as text). Both are written into temporary files first and then
renamed into place, so a grading run that is interrupted leaves the previous results, never
half of new ones. Explained in the instructor's guide ("Reading the results").
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("student", "chapter", "exercise", "title", "points", "max_points", "status", "message")


@dataclass
class Graded:
    """One student's notebook for one chapter, graded (or not: ``problem`` says why)."""

    student: str
    chapter: str
    exercises: list  # of course_lib.grading.run.ExerciseResult
    notes: list[str]
    seconds: float
    time_limit: float = 0.0


def grades_csv(graded: list[Graded]) -> str:
    """The text of grades.csv."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for item in sorted(graded, key=lambda g: (g.student, g.chapter)):
        for e in item.exercises:
            message = " ".join(e.message.split())
            writer.writerow(
                [item.student, item.chapter, e.number, e.title, e.points, e.max_points, e.status, message]
            )
    return out.getvalue()


def feedback(student: str, graded: list[Graded], when: str) -> str:
    """The feedback file of one student: a summary table, then every verdict."""
    lines = [f"# Feedback for {student}", "", when, ""]
    for item in sorted(graded, key=lambda g: g.chapter):
        got = sum(e.points for e in item.exercises)
        most = sum(e.max_points for e in item.exercises)
        lines += [f"## {item.chapter}: {got} of {most} points", ""]
        lines += [f"Graded in {item.seconds:.0f} s (time limit {item.time_limit:.0f} s).", ""]
        lines += ["| exercise | points | status |", "|---|---|---|"]
        lines += [
            f"| {e.number}. {e.title} | {e.points} / {e.max_points} | {e.status} |" for e in item.exercises
        ]
        lines.append("")
        for e in item.exercises:
            lines += [f"### Exercise {e.number}: {e.title} ({e.status}, {e.points} of {e.max_points})", ""]
            lines += [e.message, ""]
        if item.notes:
            lines += ["Notes from the grader:", ""] + [f"- {note}" for note in item.notes] + [""]
    return "\n".join(lines)


def safe_name(student: str) -> str:
    """A file name for ``student`` that stays inside the feedback folder."""
    name = re.sub(r"[^\w.-]+", "_", student).strip("._")
    return name or "student"


def write_results(folder: Path, graded: list[Graded], when: str) -> None:
    """Write folder/feedback/ and then folder/grades.csv, each complete or not at all."""
    folder = Path(folder)
    new = Path(tempfile.mkdtemp(prefix=".feedback-new-", dir=folder))
    umask = os.umask(0)
    os.umask(umask)
    new.chmod(0o777 & ~umask)  # mkdtemp makes it private; the feedback is for sharing
    try:
        for student in sorted({g.student for g in graded}):
            mine = [g for g in graded if g.student == student]
            name, n = safe_name(student), 1
            while (new / f"{name}.md").exists():  # two names that differ only in odd characters
                name, n = f"{safe_name(student)}-{n}", n + 1
            (new / f"{name}.md").write_text(feedback(student, mine, when), encoding="utf-8")
        _swap_folder(new, folder / "feedback")
    finally:
        shutil.rmtree(new, ignore_errors=True)
    tmp = folder / ".grades.csv.tmp"
    tmp.write_text(grades_csv(graded), encoding="utf-8")
    os.replace(tmp, folder / "grades.csv")


def _swap_folder(new: Path, target: Path) -> None:
    """Put ``new`` where ``target`` is; the old one is removed only once the new is in place."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=".feedback-old-", dir=target.parent))
        old.rmdir()
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

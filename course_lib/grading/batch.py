"""Grade a whole class: find the submissions, grade each in its own process, report.

:func:`find_submissions` accepts two layouts, which may be mixed:

* ``SUBMISSIONS/<student>/<chapter>.ipynb`` (a folder per student, as most LMS exports);
* ``SUBMISSIONS/<chapter>-<student>.ipynb`` (one flat folder).

``<chapter>`` is the stem of a student notebook, e.g. ``backprop``. Files that fit neither
are listed and skipped. :func:`grade_class` first runs each chapter's handed-out notebook
once (the reference run), then every submission in a worker process of its own
(course_lib.grading.worker) with a fresh kernel, in a fresh folder, under a time limit,
``jobs`` at a time. Whatever a submission does (raise, loop, flood its output, delete
files, kill its kernel, not be a notebook), it gets its statuses and the batch goes on.
Explained in the instructor's guide ("Grading a class").
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .chapter import parse_exercises
from .report import Graded
from .run import ERROR, TIMEOUT, ExerciseResult

WORKER_SLACK = 120  # seconds a worker may take beyond the notebook's limit (start, teardown)
REFERENCE_LIMIT = 3600  # seconds the handed-out notebook may take in the reference run
# Without --time-limit a submission may take AUTO_FACTOR times as long as the reference run
# of its chapter, and at least AUTO_MINIMUM seconds: the limit follows the profile and the
# machine, and an infinite loop costs a few reference runs, not an hour.
AUTO_FACTOR, AUTO_MINIMUM = 4, 60
MAX_NOTEBOOK_BYTES = 50_000_000  # a submission larger than this is not opened


@dataclass
class Submission:
    student: str
    chapter: str
    path: Path


def find_submissions(folder: Path, chapters: set[str]) -> tuple[list[Submission], list[str]]:
    """The submissions in ``folder`` and the files skipped (with the reason)."""
    found: dict[tuple[str, str], Submission] = {}
    skipped = []
    for path in sorted(Path(folder).rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or relative.parts[0] in ("feedback", "grades.csv"):
            continue
        if any(part.startswith(".") for part in relative.parts):
            continue
        submission = _match(relative, path, chapters)
        if submission is None:
            skipped.append(f"{relative}: not <student>/<chapter>.ipynb or <chapter>-<student>.ipynb")
        elif (submission.student, submission.chapter) in found:
            skipped.append(f"{relative}: a second notebook of {submission.student} for {submission.chapter}")
        else:
            found[(submission.student, submission.chapter)] = submission
    return list(found.values()), skipped


def _match(relative: Path, path: Path, chapters: set[str]) -> Submission | None:
    if relative.suffix != ".ipynb":
        return None
    if len(relative.parts) == 2 and relative.stem in chapters:
        return Submission(relative.parts[0], relative.stem, path)
    if len(relative.parts) == 1:
        for chapter in sorted(chapters, key=len, reverse=True):
            student = relative.stem[len(chapter) + 1 :]
            if relative.stem.startswith(chapter + "-") and student:
                return Submission(student, chapter, path)
    return None


def grade_class(
    folder: Path, skeletons: dict[str, str], time_limit: float | None, jobs: int, log=print
) -> tuple[list[Graded], list[str]]:
    """Grade every submission in ``folder``; ``skeletons`` maps chapter -> notebook text.

    ``time_limit`` is in seconds per notebook; None sets it per chapter from its reference
    run (AUTO_FACTOR times as long, at least AUTO_MINIMUM seconds).
    """
    submissions, skipped = find_submissions(folder, set(skeletons))
    texts = {(s.student, s.chapter): _read(s.path) for s in submissions}  # before any kernel runs
    with tempfile.TemporaryDirectory(prefix="course-grading-") as scratch:
        scratch = Path(scratch)
        env = _worker_env(jobs)
        chapters = sorted({s.chapter for s in submissions})
        log(f"reference runs of {', '.join(chapters) or 'no chapter'} ...")
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            refs = dict(
                zip(
                    chapters,
                    pool.map(lambda c: _reference(scratch, c, skeletons[c], time_limit, env), chapters),
                )
            )
            jobs_ = [(s, texts[(s.student, s.chapter)], refs[s.chapter]) for s in submissions]
            graded = list(pool.map(lambda j: _grade_one(scratch, skeletons, env, log, *j), jobs_))
    return graded, skipped


def _worker_env(jobs: int) -> dict[str, str]:
    """The environment of the workers and their kernels: the cores shared out between jobs."""
    threads = str(max(1, (os.cpu_count() or 1) // max(1, jobs)))
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, threads)
    return env


def _read(path: Path) -> str | None:
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return None
    return path.read_bytes().decode("utf-8", "replace")


def _reference(scratch: Path, chapter: str, skeleton: str, time_limit: float | None, env: dict) -> dict:
    """Run the handed-out notebook once; return what the submissions' workers need of it."""
    limit = time_limit or REFERENCE_LIMIT
    job = {"skeleton": skeleton, "submission": None, "time_limit": limit}
    folder = Path(tempfile.mkdtemp(prefix=f"reference-{chapter}-", dir=scratch))
    result, _ = _run_worker(folder, job, limit, env)
    exchange = folder / "run" / "exchange"
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(exchange.glob("ex*.pt"))}
    ignore = result.get("changed_in_reference", []) if result else []
    seconds = result["seconds"] if result else limit
    limit = time_limit or max(AUTO_MINIMUM, AUTO_FACTOR * seconds)
    return {"folder": str(exchange), "hashes": hashes, "ignore": ignore, "time_limit": round(limit)}


def _grade_one(scratch, skeletons, env, log, submission: Submission, text, reference: dict) -> Graded:
    skeleton, time_limit = skeletons[submission.chapter], reference["time_limit"]
    result = None
    if text is None:
        message = f"not opened: the file is larger than {MAX_NOTEBOOK_BYTES // 1_000_000} MB."
        exercises, notes, seconds = _all_exercises(skeleton, ERROR, message), [], 0.0
    else:
        job = {"skeleton": skeleton, "submission": text, "time_limit": time_limit, "reference": reference}
        folder = Path(tempfile.mkdtemp(prefix=f"{submission.chapter}-", dir=scratch))
        result, overran = _run_worker(folder, job, time_limit, env)
        if result is None and overran:
            message = "not checked: the notebook overran its time limit and its worker was stopped."
            exercises, notes, seconds = _all_exercises(skeleton, TIMEOUT, message), [], float(time_limit)
        elif result is None:
            message = "not checked: the grader's process for this notebook died (did the notebook end it?)."
            exercises, notes, seconds = _all_exercises(skeleton, ERROR, message), [], 0.0
    if result is not None:
        exercises = [ExerciseResult(**e) for e in result["exercises"]]
        notes, seconds = result["notes"], result["seconds"]
    got = sum(e.points for e in exercises)
    most = sum(e.max_points for e in exercises)
    log(f"{submission.student:>20} {submission.chapter:<16} {got:>3} / {most:<3} {seconds:6.1f} s")
    return Graded(submission.student, submission.chapter, exercises, notes, seconds, time_limit)


def _all_exercises(skeleton_text: str, status: str, message: str) -> list[ExerciseResult]:
    import nbformat

    exercises = [e for e in parse_exercises(nbformat.reads(skeleton_text, as_version=4)) if e.graded]
    return [ExerciseResult(e.number, e.title, 0, e.points, status, message) for e in exercises]


def _run_worker(folder: Path, job: dict, time_limit: float, env: dict) -> tuple[dict | None, bool]:
    """Run one job in ``python -m course_lib.grading.worker``: (its result or None, overran?)."""
    workdir = folder / "run"
    workdir.mkdir()
    job = {**job, "workdir": str(workdir)}
    (folder / "job.json").write_text(json.dumps(job), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "course_lib.grading.worker",
        str(folder / "job.json"),
        str(folder / "result.json"),
    ]
    with open(folder / "worker.log", "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, env=env
        )
        overran = False
        try:
            process.wait(timeout=time_limit + WORKER_SLACK)
        except subprocess.TimeoutExpired:
            overran = True
            _kill_group(process.pid)
            process.wait()
    _kill_group(_read_pgid(workdir / "kernel.pgid"))  # a kernel its worker left behind
    _kill_group(process.pid)
    try:
        result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        result = None
    return result, overran


def _read_pgid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _kill_group(pgid: int | None) -> None:
    if pgid is None or pgid <= 1 or pgid == os.getpgrp():
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass

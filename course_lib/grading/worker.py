"""One grading job in a process of its own: ``python -m course_lib.grading.worker JOB RESULT``.

course_lib.grading.batch starts one of these per notebook, so a submission that crashes,
hangs or kills its kernel's parent takes down at most this process. The job file holds the
handed-out notebook, the submission's text and the reference values' checksums; the result
file gets the :class:`~course_lib.grading.run.NotebookResult` as JSON.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import sys
from pathlib import Path

import nbformat

from .run import ERROR, ExerciseResult, NotebookResult, Reference, grade_notebook


class MemoryReference(Reference):
    """The reference values, read and checked against their checksums before any kernel runs."""

    def __init__(self, folder: Path, hashes: dict[str, str], ignore: set[str]):
        super().__init__(folder, ignore)
        self.blobs = {}
        for name, digest in hashes.items():
            blob = (folder / name).read_bytes()
            if hashlib.sha256(blob).hexdigest() != digest:
                raise RuntimeError(f"the reference value {name} changed on disk after the reference run")
            self.blobs[name] = blob

    def path(self, key: str, name: str):
        blob = self.blobs.get(f"{key}.{name}.pt")
        return io.BytesIO(blob) if blob is not None else None


def read_submission(text: str):
    """The submitted notebook, or the reason it is not one."""
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        return None, f"not a notebook that Jupyter can open ({type(error).__name__}: {first})"
    return notebook, None


def run_job(job: dict) -> NotebookResult:
    skeleton = nbformat.reads(job["skeleton"], as_version=4)
    workdir = Path(job["workdir"])
    started = _pgid_writer(workdir / "kernel.pgid")
    if job["submission"] is None:  # the reference run of the handed-out notebook
        return grade_notebook(skeleton, None, workdir, job["time_limit"], on_start=started)
    submission, problem = read_submission(job["submission"])
    if problem:
        return _all(skeleton, ERROR, problem)
    ref = job["reference"]
    reference = MemoryReference(Path(ref["folder"]), ref["hashes"], set(ref["ignore"]))
    return grade_notebook(skeleton, submission, workdir, job["time_limit"], reference, started)


def _all(skeleton, status: str, message: str) -> NotebookResult:
    from .chapter import parse_exercises

    graded = [e for e in parse_exercises(skeleton) if e.graded]
    return NotebookResult([ExerciseResult(e.number, e.title, 0, e.points, status, message) for e in graded])


def _pgid_writer(path: Path):
    def started(pgid):
        path.write_text(str(pgid or ""))

    return started


def main(argv: list[str]) -> int:
    job_file, result_file = map(Path, argv)
    job = json.loads(job_file.read_text(encoding="utf-8"))
    try:
        result = run_job(job)
    except Exception as error:  # the grader's own failure: report it, do not vanish
        skeleton = nbformat.reads(job["skeleton"], as_version=4)
        result = _all(skeleton, ERROR, f"not checked: the grader failed ({type(error).__name__}: {error}).")
    tmp = result_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(result)), encoding="utf-8")
    tmp.replace(result_file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

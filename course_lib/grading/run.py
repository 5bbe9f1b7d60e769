"""Grade one notebook: run it in a fresh kernel, check each exercise from the grader's side.

:func:`grade_notebook` starts a kernel in its own working folder, runs the assembled
notebook (course_lib.grading.assemble) cell by cell under one time limit for the whole
notebook, and after each exercise's cell calls that exercise's checker here, in the
grader's process, with the student's functions standing in as
:class:`~course_lib.grading.remote.RemoteFunction`. Before the first cell and after each
exercise it takes a fingerprint of torch, numpy, builtins and course_lib inside the
kernel; an exercise during which the submission replaced one of those gets "tampered".
A cell that raises does not stop the run (the next exercises are still graded); a time
limit that runs out, or a kernel that dies, ends it. The same function makes the
*reference run* of the handed-out notebook, which supplies the values the chapter itself
passes to the checkers. Explained in the instructor's guide ("How the grader decides").
"""

from __future__ import annotations

import importlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from ..execution import install_shell_wakeup
from .assemble import assemble
from .chapter import Exercise, parse_exercises
from .remote import (
    KernelGone,
    RemoteFunction,
    SubmissionTimeout,
    UnreadableValue,
    load_trusted,
    load_untrusted,
    replaced_names,
)

PASSED, FAILED, NOT_IMPLEMENTED = "passed", "failed", "not implemented"
ERROR, TIMEOUT, TAMPERED = "error", "timeout", "tampered"
STATUSES = (PASSED, FAILED, NOT_IMPLEMENTED, ERROR, TIMEOUT, TAMPERED)
OUTPUT_BUDGET = 2_000_000  # characters of output kept per notebook; the rest is dropped
# Replaced by the libraries themselves (ipykernel swaps input per cell; importing torch._dynamo
# wraps manual_seed), so a change to them says nothing about the submission.
ALWAYS_REPLACED = {"builtins.input", "builtins.raw_input", "torch.manual_seed"}

PRELUDE = "import course_lib.grading.kernel_side as __grader__"


@dataclass
class ExerciseResult:
    """One line of grades.csv."""

    number: int
    title: str
    points: int
    max_points: int
    status: str
    message: str


@dataclass
class NotebookResult:
    """What grading one notebook gave: a result per exercise, notes, and the time it took."""

    exercises: list[ExerciseResult]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    changed_in_reference: list[str] = field(default_factory=list)


@dataclass
class Reference:
    """What the reference run left: the chapter's own values for the checkers, per file."""

    folder: Path
    ignore: set[str] = field(default_factory=set)  # names the chapter itself replaces

    def path(self, key: str, name: str) -> Path | None:
        path = self.folder / f"{key}.{name}.pt"
        return path if path.is_file() else None


class CappedClient(NotebookClient):
    """nbclient that keeps at most OUTPUT_BUDGET characters of output per notebook."""

    used = 0

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] != "error":
            self.used += len(json.dumps(msg.get("content", {})))
            if self.used > OUTPUT_BUDGET:
                return None
        return super().output(outs, msg, display_id, cell_index)


class KernelRun:
    """A kernel running ``cells`` in ``workdir``, every call bounded by one ``deadline``."""

    def __init__(self, cells: list, workdir: Path, exchange: Path, deadline: float, on_start=None):
        install_shell_wakeup()
        self.on_start = on_start
        self.exchange, self.deadline, self.calls, self._count = exchange, deadline, [], 0
        self.grader_problem = None  # set when a check failed for the grader's reasons
        scratch = nbformat.v4.new_code_cell("")
        notebook = nbformat.v4.new_notebook(cells=list(cells) + [scratch])
        self.client = CappedClient(
            notebook,
            kernel_name="python3",
            timeout_func=lambda cell: self.seconds_left(),
            allow_errors=True,
            record_timing=False,
            shutdown_kernel="immediate",
            resources={"metadata": {"path": str(workdir)}},
        )

    def seconds_left(self) -> int:
        return max(1, math.ceil(self.deadline - time.monotonic()))

    def __enter__(self):
        self._setup = self.client.setup_kernel()
        try:
            self._setup.__enter__()
        except Exception as error:
            raise KernelGone(f"the kernel did not start: {error}") from None
        if self.on_start is not None:
            self.on_start(getattr(self.client.km.provisioner, "pgid", None))
        return self

    def __exit__(self, *exc):
        try:
            self._setup.__exit__(None, None, None)
        except Exception:
            pass  # the kernel is gone already; nothing to clean
        return False

    def run_cell(self, index: int):
        """Execute cell ``index``; the cell comes back with its outputs."""
        cell = self.client.nb.cells[index]
        if time.monotonic() >= self.deadline:
            raise SubmissionTimeout()
        try:
            return self.client.execute_cell(cell, index)
        except CellTimeoutError:
            raise SubmissionTimeout() from None
        except DeadKernelError:
            raise KernelGone("the kernel died (the notebook ended its Python process)") from None

    def execute(self, code: str) -> None:
        """Run the grader's ``code`` in the kernel; raise if the kernel reports an error."""
        index = len(self.client.nb.cells) - 1
        self.client.nb.cells[index] = nbformat.v4.new_code_cell(code)
        cell = self.run_cell(index)
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            raise RuntimeError(f"the grader's helper failed in your kernel: {errors[0].ename}")

    def next_call_number(self) -> int:
        self._count += 1
        return self._count

    def fingerprint(self) -> dict:
        path = self.exchange / f"fingerprint-{self.next_call_number()}.json"
        self.execute(f"__grader__.fingerprint({str(path)!r})")
        with open(path) as file:
            found = json.load(file)
        return found if isinstance(found, dict) else {}


def grade_notebook(
    skeleton, submission, workdir: Path, time_limit: float, reference: Reference | None = None, on_start=None
) -> NotebookResult:
    """Grade ``submission`` (None: the reference run) against the handed-out ``skeleton``.

    ``workdir`` is an empty folder of this run's own; ``time_limit`` bounds the whole run in
    seconds; ``on_start(pgid)`` is told the kernel's process group once it runs.
    """
    start = time.monotonic()
    exercises = [e for e in parse_exercises(skeleton) if e.graded]
    assembly = assemble(skeleton, exercises, submission)
    grading = _Grading(exercises, assembly, reference, workdir)
    grading.run(start + time_limit, on_start)
    result = grading.result()
    result.notes = assembly.notes + grading.notes
    result.seconds = time.monotonic() - start
    return result


class _Grading:
    """The state of one grading run: outcomes so far, fingerprints, notes."""

    def __init__(self, exercises: list[Exercise], assembly, reference: Reference | None, workdir: Path):
        self.exercises, self.assembly, self.reference = exercises, assembly, reference
        self.outcomes: dict[int, tuple[str, str]] = dict(assembly.decided)
        self.work, self.exchange = workdir / "work", workdir / "exchange"
        self.work.mkdir(parents=True, exist_ok=True)
        self.exchange.mkdir(parents=True, exist_ok=True)
        self.notes: list[str] = []
        self.changed: set[str] = set()

    def run(self, deadline: float, on_start=None) -> None:
        cells = self.assembly.cells
        try:
            with KernelRun(cells, self.work, self.exchange, deadline, on_start) as kernel:
                kernel.execute(PRELUDE)
                self.before = kernel.fingerprint()
                for index, cell in enumerate(self.assembly.cells):
                    if cell.cell_type == "code":
                        self._note_error(index, kernel.run_cell(index))
                    for exercise in (e for e in self.exercises if e.call.cell == index):
                        self._grade_exercise(kernel, exercise)
        except SubmissionTimeout:
            self._finish(TIMEOUT, "the notebook ran out of its time limit before this was checked.")
        except KernelGone as gone:
            self._finish(ERROR, f"not checked: {gone}.")
        except Exception as error:  # the grader's own failure: say so, grade nothing more
            self._finish(ERROR, f"not checked: the grader failed ({type(error).__name__}: {error}).")

    def _finish(self, status: str, message: str) -> None:
        for exercise in self.exercises:
            self.outcomes.setdefault(exercise.number, (status, message))

    def _note_error(self, index: int, cell) -> None:
        for output in cell.outputs:
            if output.output_type == "error":
                line = f"{output.ename}: {output.evalue}".strip()[:300]
                self.notes.append(f"cell {index} of the notebook (not graded itself) raised {line}")

    def _grade_exercise(self, kernel: KernelRun, exercise: Exercise) -> None:
        number = exercise.number
        if number not in self.outcomes:
            if number in self.assembly.untouched and self.reference is not None:
                self.outcomes[number] = (
                    NOT_IMPLEMENTED,
                    "not implemented yet: the answer is still the stub.",
                )
            else:
                self.outcomes[number] = self._check_safely(kernel, exercise)
        after = kernel.fingerprint()
        ignore = ALWAYS_REPLACED | (self.reference.ignore if self.reference else set())
        replaced = replaced_names(self.before, after, ignore)
        self.changed.update(replaced)
        if replaced and self.reference is not None:
            shown = ", ".join(replaced[:6]) + (" ..." if len(replaced) > 6 else "")
            self.outcomes[number] = (
                TAMPERED,
                f"the notebook replaced {shown} while this exercise ran. The grader checks answers "
                "in its own process, so this cannot change a verdict, but it is not allowed.",
            )
        self.before = after

    def _check_safely(self, kernel: KernelRun, exercise: Exercise) -> tuple[str, str]:
        try:
            return self._check(kernel, exercise)
        except (KernelGone, SubmissionTimeout):
            raise
        except Exception as error:  # not the student's doing: a checker or the grader broke
            return ERROR, f"the grader could not check this ({type(error).__name__}: {error})."

    def _check(self, kernel: KernelRun, exercise: Exercise) -> tuple[str, str]:
        """Call the exercise's checker here, on values and functions from the kernel."""
        kernel.calls.clear()
        kernel.grader_problem = None
        try:
            args, kwargs = self._arguments(kernel, exercise)
        except _NotReady as missing:
            return missing.outcome
        checker = getattr(importlib.import_module(exercise.call.module), exercise.call.name)
        verdict = checker(*args, **kwargs)
        message = str(getattr(verdict, "message", verdict))
        if kernel.grader_problem:
            return ERROR, f"the grader could not check this: {kernel.grader_problem}. Grade it by hand."
        if getattr(verdict, "passed", False) is True:
            return PASSED, message
        if message.startswith("not implemented"):
            return NOT_IMPLEMENTED, message
        if kernel.calls and kernel.calls[-1] is not None:
            return ERROR, message
        return FAILED, message

    def _arguments(self, kernel: KernelRun, exercise: Exercise):
        key = f"ex{exercise.number}"
        named = [(a.keyword or f"arg{i}", a) for i, a in enumerate(exercise.call.arguments)]
        thunks = ", ".join(f"{name!r}: lambda: ({a.source})" for name, a in named)
        kernel.execute(f"__grader__.capture({str(self.exchange)!r}, {key!r}, {{{thunks}}})")
        with open(self.exchange / f"{key}.json") as file:
            report = json.load(file)
        report = report if isinstance(report, dict) else {}
        args, kwargs = [], {}
        for name, argument in named:
            value = self._value(kernel, key, name, argument, report.get(name))
            if argument.keyword:
                kwargs[argument.keyword] = value
            else:
                args.append(value)
        return args, kwargs

    def _value(self, kernel: KernelRun, key: str, name: str, argument, report):
        kind = report.get("kind") if isinstance(report, dict) else None
        if argument.kind == "chapter data" and self.reference and self.reference.path(key, name):
            return load_trusted(self.reference.path(key, name))
        if argument.kind == "chapter data" and self.reference is not None:
            self.notes.append(f"`{argument.source}` for exercise {key[2:]} came from your own run.")
        if kind == "function":
            return RemoteFunction(kernel, f"{key}.{name}", argument.source)
        if kind == "value":
            try:
                return load_untrusted(self.exchange / f"{key}.{name}.pt")
            except UnreadableValue as error:
                raise _NotReady(ERROR, f"`{argument.source}` could not be read: {error}.") from None
        what = f"{report.get('type')}: {report.get('message')}" if kind == "error" else "no value"
        raise _NotReady(ERROR, f"`{argument.source}` could not be evaluated in your notebook ({what}).")

    def result(self) -> NotebookResult:
        results = []
        for exercise in self.exercises:
            status, message = self.outcomes.get(exercise.number, (ERROR, "not checked."))
            points = exercise.points if status == PASSED else 0
            results.append(
                ExerciseResult(exercise.number, exercise.title, points, exercise.points, status, message)
            )
        return NotebookResult(results, changed_in_reference=sorted(self.changed))


class _NotReady(Exception):
    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.outcome = (status, message)

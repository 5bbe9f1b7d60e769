"""Check cells and exercise checkers: every number a chapter claims is asserted here.

Two kinds of check, one convention:

* :func:`check_at_least` / :func:`check_close` guard a chapter's own results. They raise
  ``AssertionError`` (so nbval and the site build fail) and print a one-line confirmation.
* Exercise checkers return a :class:`Verdict`: ``passed`` plus a readable message that says
  what was expected and what came back. :func:`checker` turns a function that raises
  :class:`Wrong` into one; it stops an answer that never returns, tells an unfinished stub
  from a crash in the student's code, and a crash in the student's code from one in the
  checker. :func:`answer_number`, :func:`answer_tensor` and :func:`matches` judge an answer
  by its value, not by its container (Python or NumPy number, tensor or array, float32 or
  float64); NaN and infinity never pass.
  A checker whose test builds objects that cannot leave the student's process (a
  ``Value`` with its backward closures) runs that part with :func:`run_beside`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import os
import signal
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


class Wrong(AssertionError):
    """Raised inside a checker with the message the student should read.

    Explained in book/backprop.md, "Exercises".
    """


@dataclass
class Verdict:
    """The result of an exercise checker; shows as one readable line in a notebook.

    Explained in book/backprop.md, "Exercises".
    """

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "PASS" if self.passed else "NOT YET"
        return f"[{mark}] {self.exercise}: {self.message}"

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        icon = "✅" if self.passed else "❌"
        return f"{icon} **{self.exercise}**: {self.message}"


# ----------------------------------------------------------------- the checker decorator

DEFAULT_TIME_LIMIT = 60.0  # seconds; a right answer to any exercise takes well under one
STUB_MESSAGE = "your code here"  # what the student copy's stub raises (course_lib.exercises.STUB)


class _TimeUp(BaseException):
    """Raised by the alarm; a BaseException, so a student's ``except Exception`` cannot eat it."""


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """Raise :class:`_TimeUp` in this thread after ``seconds``, where that can be done safely.

    Uses SIGALRM, so it works in the main thread on Linux and macOS (a Jupyter or Colab
    kernel runs cells there). On Windows, in other threads, or while another alarm is set,
    there is no limit and the stop button is the way out. A long single torch operation is
    stopped only when it returns to Python.
    """
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise _TimeUp

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_COURSE_LIB = str(Path(__file__).resolve().parent) + os.sep
_LIBRARIES = tuple(
    {
        str(Path(sysconfig.get_paths()[key]).resolve()) + os.sep
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
    }
)


def _is_student_code(filename: str) -> bool:
    """True for code the student wrote: a notebook cell, a script, an exec'd string."""
    if filename.startswith("<"):
        return not filename.startswith("<frozen")
    path = str(Path(filename).resolve())
    return not path.startswith(_COURSE_LIB) and not path.startswith(_LIBRARIES)


def _raised_in_student_code(error: BaseException) -> bool:
    tb = error.__traceback__
    while tb is not None:
        if _is_student_code(tb.tb_frame.f_code.co_filename):
            return True
        tb = tb.tb_next
    return False


def _crash_message(error: Exception) -> str:
    """What to say about an exception: the stub, the student's crash, or the checker's own."""
    if _raised_in_student_code(error):
        if isinstance(error, NotImplementedError) and error.args in ((), (STUB_MESSAGE,)):
            return "not implemented yet: replace the stub with your code."
        return f"your code raised {type(error).__name__}: {error}"
    return (
        f"the checker could not judge this answer: it raised {type(error).__name__}: {error}. "
        "That is a problem in the checker, not a verdict on your code; please report it "
        "together with your answer."
    )


def checker(exercise: str, time_limit: float | None = DEFAULT_TIME_LIMIT):
    """Decorator: a function that raises :class:`Wrong` (or returns a message) -> a Verdict.

    The check is stopped after ``time_limit`` seconds (see :func:`_time_limit`); the
    decorated function's ``time_limit`` attribute changes it. A checker whose answer trains
    a network (minutes under the cpu profile) passes ``time_limit=None``. Explained in book/backprop.md,
    "Exercises".
    """

    def wrap(check):
        @functools.wraps(check)
        def run(*args, **kwargs) -> Verdict:
            try:
                with _time_limit(run.time_limit):
                    message = check(*args, **kwargs)
            except _TimeUp:
                return Verdict(
                    exercise,
                    False,
                    f"stopped after {run.time_limit:g} s without an answer. Look for a loop that "
                    "never ends, or one over every element of a large tensor (a right answer "
                    "takes well under a second).",
                )
            except Wrong as wrong:
                return Verdict(exercise, False, str(wrong))
            except Exception as error:  # no traceback wall: say whose code failed and how
                return Verdict(exercise, False, _crash_message(error))
            return Verdict(exercise, True, message or "correct.")

        run.time_limit = time_limit
        return run

    return wrap


# ----------------------------------------------------------------- judging answers

FLOAT32_RTOL = 1e-5  # float32 keeps about 7 significant digits; a right float32 answer lands within this
_COARSE = (torch.float16, torch.bfloat16)


def answer_number(value, what: str, example: str = "0.05") -> float:
    """A student's number as a float: int, float, NumPy scalar, or a one-element tensor or array.

    NaN and infinity are refused with a :class:`Wrong` that says so, as are None, strings
    and booleans.
    """
    if isinstance(value, torch.Tensor) and value.device.type == "meta":
        raise Wrong(f"{what} is a meta tensor: it has a shape but no value.")
    if isinstance(value, (torch.Tensor, np.ndarray)):
        if (value.numel() if isinstance(value, torch.Tensor) else value.size) != 1:
            raise Wrong(f"{what}: expected one number, got an array of shape {tuple(value.shape)}.")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Wrong(f"{what}: expected a number such as {example}, got {type(value).__name__} {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise Wrong(
            f"{what} is {number}: a NaN or infinite answer is never right. Look for a division by "
            "zero, the log of 0, or a value that overflowed."
        )
    return number


def answer_int(value, what: str) -> int:
    """A student's whole number (a Python or NumPy int, a whole float, a one-element tensor)."""
    number = answer_number(value, what, example="7")
    if not number.is_integer():
        raise Wrong(f"{what}: expected a whole number, got {value!r}.")
    return int(number)


def answer_tensor(value, what: str, shape=None, hint: str = "") -> torch.Tensor:
    """A student's array answer as a CPU tensor in its own dtype; checks shape and values.

    Accepts a tensor on any device, a NumPy array, or a (nested) list of numbers. Refuses
    None and other objects, a wrong ``shape`` (``hint`` is added to that message), a meta
    tensor, half precision, and any NaN or infinite entry.
    """
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
    elif isinstance(value, (np.ndarray, list, tuple)) and not isinstance(value, str):
        try:
            tensor = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError, RuntimeError):
            raise Wrong(
                f"{what}: expected a torch.Tensor, got a {type(value).__name__} of non-numbers."
            ) from None
    else:
        forgot = " (did the function forget to return it?)" if value is None else ""
        raise Wrong(f"{what}: expected a torch.Tensor, got {type(value).__name__}{forgot}.")
    if tensor.device.type == "meta":
        raise Wrong(f"{what} is a meta tensor: it has a shape but no values to check.")
    if shape is not None and tuple(tensor.shape) != tuple(shape):
        raise Wrong(
            f"{what}: expected shape {tuple(shape)}, got {tuple(tensor.shape)}.{' ' + hint if hint else ''}"
        )
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise Wrong(f"{what}: expected real numbers, got dtype {tensor.dtype}.")
    tensor = tensor.cpu()
    if tensor.dtype in _COARSE:
        raise Wrong(
            f"{what} is {tensor.dtype}, which keeps only about 3 significant digits, too few to "
            "check: compute in float32 or float64."
        )
    if tensor.is_floating_point():
        bad = ~torch.isfinite(tensor)
        if bad.any():
            first = tuple(int(i) for i in bad.nonzero()[0])
            raise Wrong(
                f"{what} holds {int(bad.sum())} NaN or infinite value(s), the first at index "
                f"{first}: a right answer has none. Look for a division by zero, the log of 0, "
                "or a value that overflowed."
            )
    return tensor


def matches(got: torch.Tensor, expected: torch.Tensor, *, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """``|got - expected| <= atol + rtol |expected|`` everywhere, in float64, for got's precision.

    A float64 answer is held to ``rtol`` and ``atol``. A float32 answer, which carries about 7
    significant digits, is held to at least :data:`FLOAT32_RTOL` of each value and of the
    largest one, so a right answer computed in float32 passes and a wrong one still fails.
    """
    got64 = got.detach().to(device="cpu", dtype=torch.float64)
    expected64 = expected.detach().to(device="cpu", dtype=torch.float64)
    if got64.shape != expected64.shape:
        return False
    if got.dtype == torch.float32 and expected64.numel():
        rtol = max(rtol, FLOAT32_RTOL)
        atol = max(atol, FLOAT32_RTOL * expected64.abs().max().item())
    return bool(((got64 - expected64).abs() <= atol + rtol * expected64.abs()).all())


def precision_note(got: torch.Tensor, expected: torch.Tensor) -> str:
    """A sentence for a failure message when a float64 answer is off by float32 rounding only."""
    if got.dtype == torch.float64 and matches(got.float(), expected, rtol=0.0, atol=0.0):
        return (
            " An error this small is float32 rounding: compute in float64 throughout, or return "
            "the float32 result as it is."
        )
    return ""


def run_beside(student_fn, probe, *args):
    """Run ``probe(student_fn, *args)`` where the student's function lives; return its answer.

    ``probe`` is a module-level function of ``course_lib.exercises`` that calls the student's
    function and returns plain data (numbers, tensors). In a notebook it simply runs here.
    Under the class grader ``student_fn`` stands in for a function in the submission's
    kernel and has a ``run_beside`` method: the probe runs in that kernel, and the checker
    compares its answer in the grader's own process. Explained in the instructor's guide
    ("How the grader decides"); first used in book/backprop.md, exercise 3.
    """
    beside = getattr(student_fn, "run_beside", None)
    if callable(beside):
        return beside(probe, *args)
    return probe(student_fn, *args)


# ----------------------------------------------------------------- a chapter's own checks


def check_at_least(name: str, value: float, floor: float, context: str = "") -> float:
    """Assert ``value >= floor`` with a message naming the quantity; print the confirmation.

    A NaN or infinite value fails. Explained in book/mnist_project.md, "Evaluation on the
    test split".
    """
    where = f" ({context})" if context else ""
    value = float(value)
    if not (math.isfinite(value) and value >= floor):
        raise AssertionError(f"{name} = {value:.4f} is below the expected floor {floor:.4f}{where}.")
    print(f"check passed: {name} = {value:.4f} >= {floor:.4f}{where}")
    return value


def check_close(name: str, value: float, expected: float, rel: float = 1e-6, abs_tol: float = 0.0) -> float:
    """Assert ``value`` is within a relative / absolute tolerance of ``expected``.

    A NaN or infinite value fails. Explained in book/backprop.md, "One sigmoid neuron".
    """
    value = float(value)
    if not (math.isfinite(value) and math.isclose(value, expected, rel_tol=rel, abs_tol=abs_tol)):
        raise AssertionError(f"{name} = {value!r}, expected {expected!r} (rel tol {rel}, abs tol {abs_tol}).")
    print(f"check passed: {name} = {value:.6g} (expected {expected:.6g})")
    return value

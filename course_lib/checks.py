"""Check cells and exercise checkers: every number a chapter claims is asserted here.

Two kinds of check, one convention (instructor's guide, "Checkers"):

* :func:`check_at_least` / :func:`check_close` guard a chapter's own results. They raise
  ``AssertionError`` (so nbval and the site build fail) and print a one-line confirmation.
* Exercise checkers return a :class:`Verdict`: ``passed`` plus a readable message that says
  what was expected and what came back. :func:`checker` turns a function that raises
  :class:`Wrong` into one, and an unfinished stub (``NotImplementedError``) gets its own
  message instead of a traceback. A checker whose test builds objects that cannot leave
  the student's process (a ``Value`` with its backward closures) runs that part with
  :func:`run_beside`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass


class Wrong(AssertionError):
    """Raised inside a checker with the message the student should read.

    Explained in the instructor's guide; first used in the MNIST project chapter.
    """


@dataclass
class Verdict:
    """The result of an exercise checker; shows as one readable line in a notebook.

    Explained in the instructor's guide; first used in the MNIST project chapter.
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


def checker(exercise: str):
    """Decorator: a function that raises :class:`Wrong` (or returns a message) -> a Verdict.

    Explained in the instructor's guide; first used in the MNIST project chapter.
    """

    def wrap(check):
        @functools.wraps(check)
        def run(*args, **kwargs) -> Verdict:
            try:
                message = check(*args, **kwargs)
            except NotImplementedError:
                return Verdict(exercise, False, "not implemented yet: replace the stub with your code.")
            except Wrong as wrong:
                return Verdict(exercise, False, str(wrong))
            except Exception as error:  # the student's code crashed: say so, no traceback wall
                return Verdict(exercise, False, f"your code raised {type(error).__name__}: {error}")
            return Verdict(exercise, True, message or "correct.")

        return run

    return wrap


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


def check_at_least(name: str, value: float, floor: float, context: str = "") -> float:
    """Assert ``value >= floor`` with a message naming the quantity; print the confirmation.

    Explained in the instructor's guide; first used in the MNIST project chapter.
    """
    where = f" ({context})" if context else ""
    if not (value >= floor):
        raise AssertionError(f"{name} = {value:.4f} is below the expected floor {floor:.4f}{where}.")
    print(f"check passed: {name} = {value:.4f} >= {floor:.4f}{where}")
    return value


def check_close(name: str, value: float, expected: float, rel: float = 1e-6, abs_tol: float = 0.0) -> float:
    """Assert ``value`` is within a relative / absolute tolerance of ``expected``.

    Explained in the instructor's guide; first used in the MNIST project chapter.
    """
    if not math.isclose(value, expected, rel_tol=rel, abs_tol=abs_tol):
        raise AssertionError(f"{name} = {value!r}, expected {expected!r} (rel tol {rel}, abs tol {abs_tol}).")
    print(f"check passed: {name} = {value:.6g} (expected {expected:.6g})")
    return value

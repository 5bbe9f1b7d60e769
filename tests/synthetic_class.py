"""A synthetic class for the grader's tests: submissions built from the chapters themselves.

``solved(stem)`` is the chapter's own solution in the student notebook, ``untouched(stem)``
the student notebook as handed out, and ``with_answers`` any mix: each answer is the code
for the body of the function that holds it, written flush left and indented here.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import jupytext
import nbformat

from course_lib.grading.chapter import find_answers

ROOT = Path(__file__).resolve().parents[1]


def untouched(stem: str):
    return nbformat.read(ROOT / "notebooks" / "student" / f"{stem}.ipynb", as_version=4)


def solutions(stem: str) -> dict[str, str]:
    """``{function: answer code}`` as the chapter writes it."""
    chapter = jupytext.read(ROOT / "book" / f"{stem}.md")
    found = {}
    for cell in chapter.cells:
        if cell.cell_type == "code":
            for answer in find_answers(cell.source):
                found[answer.key] = textwrap.dedent(answer.code)
    return found


def with_answers(stem: str, answers: dict[str, str], extra_cells: list[str] = (), verbatim: bool = False):
    """The student notebook with ``answers`` written in (the others stay stubs).

    ``verbatim=True`` pastes the answers as they are, without indenting them.
    """
    notebook = untouched(stem)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.split("\n")
        for answer in sorted(find_answers(cell.source), key=lambda a: -a.begin):
            if answer.key in answers:
                code = textwrap.dedent(answers[answer.key]).strip("\n")
                code = answers[answer.key].strip("\n") if verbatim else textwrap.indent(code, answer.indent)
                lines[answer.begin + 1 : answer.end] = code.split("\n")
        cell.source = "\n".join(lines)
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in extra_cells]
    return notebook


def solved(stem: str, **changed: str):
    """The chapter's own answers, except those named in ``changed``."""
    return with_answers(stem, {**solutions(stem), **changed})


def write(folder: Path, name: str, notebook) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


# Plausible wrong answers to the backprop chapter, one per graded exercise.
BACKPROP_WRONG = {
    "silu_backward": "return grad_output * torch.sigmoid(x)  # forgot the product rule",
    "find_the_bug": 'return "dW"',
    "softplus": """
        out = Value(math.log1p(math.exp(a.data)), (a,), "softplus")

        def _backward():
            a.grad = out.grad / (1 + math.exp(-a.data))  # = instead of +=

        out._backward = _backward
        return out
    """,
}

# Answers that try to force a pass from inside the student's kernel (robustness review E14-E16).
BACKPROP_TAMPERING = {
    "patches torch": """
        torch.allclose = torch.equal = lambda *args, **kwargs: True
        return torch.zeros_like(x)
    """,
    "patches the checker's helper": """
        import course_lib.exercises.backprop as checkers
        checkers.rel_error = lambda a, b: 0.0
        return torch.zeros_like(x)
    """,
    "reads the checker's frame": """
        import sys
        return sys._getframe(1).f_locals["expected"]
    """,
}

# A cell a student adds after exercise 1: it redefines the checker to always pass.
FAKE_CHECKER = """
from course_lib.checks import Verdict

def check_silu_backward(student_fn):
    return Verdict("Exercise 1", True, "correct.")

check_silu_backward(silu_backward)
"""

# An answer (pasted verbatim) whose last lines leave the function: module-level code that
# replaces the checker before the cell's checker call.
ESCAPING_ANSWER = """
    return torch.zeros_like(x)
import course_lib.exercises.backprop as checkers
checkers.check_silu_backward = lambda f: checkers.Verdict("Exercise 1", True, "correct.")
"""

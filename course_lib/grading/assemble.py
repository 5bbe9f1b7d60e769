"""The notebook the grader runs: the handed-out one, with only the student's answers in it.

The grader never runs a submission as it came. It takes the student notebook it handed
out (the skeleton), copies in the code each submission wrote between ``### BEGIN
SOLUTION`` and ``### END SOLUTION`` (found by the function it sits in, so moving cells
does not matter), and drops the checker call that ends each exercise's cell: the grader
calls the checker itself, in its own process. Cells the student added or edited are not
run. An answer that does not parse, or whose code reaches outside its function, is not
run either: its exercise gets "error" or "tampered" before the kernel starts.
Explained in the instructor's guide ("How the grader decides").
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import nbformat

from ..exercises import STUB
from .chapter import Answer, Exercise, find_answers, python_source

ERROR, TAMPERED = "error", "tampered"


@dataclass
class Assembly:
    """The cells to run, and what is already decided about some exercises."""

    cells: list
    decided: dict[int, tuple[str, str]] = field(default_factory=dict)  # number -> (status, message)
    untouched: set[int] = field(default_factory=set)  # exercises whose answers are all stubs
    notes: list[str] = field(default_factory=list)


def submitted_answers(submission) -> dict[str, list[str]]:
    """``{function name: [code, ...]}`` for every answer region of a submission, in order."""
    found: dict[str, list[str]] = {}
    for index, cell in enumerate(submission.cells):
        if cell.cell_type == "code":
            for answer in find_answers(cell.source, index):
                found.setdefault(answer.key, []).append(answer.code)
    return found


def is_stub(code: str) -> bool:
    """True when an answer is still the handed-out stub, or holds no code at all."""
    lines = [line.strip() for line in code.split("\n")]
    lines = [line for line in lines if line and not line.startswith("#")]
    return not lines or lines == [STUB]


def assemble(skeleton, exercises: list[Exercise], submission=None) -> Assembly:
    """The skeleton's cells with ``submission``'s answers (stubs everywhere when None)."""
    answers = submitted_answers(submission) if submission is not None else {}
    cells = [nbformat.from_dict(dict(cell)) for cell in skeleton.cells]
    assembly = Assembly(cells)
    for exercise in exercises:
        chosen = _choose(exercise, answers, submission is not None, assembly)
        if all(is_stub(code) for code in chosen.values()):
            assembly.untouched.add(exercise.number)
        for cell in sorted({a.cell for a in exercise.answers} | {exercise.call.cell}):
            _fill_cell(assembly, exercise, cell, chosen)
    return assembly


def _choose(exercise: Exercise, answers, from_submission: bool, assembly: Assembly) -> dict:
    """The code to use for each answer of ``exercise``: the submission's, else the stub."""
    chosen = {}
    for answer in exercise.answers:
        submitted = answers.get(answer.key, [])
        if from_submission and not submitted:
            assembly.decided.setdefault(
                exercise.number,
                (
                    ERROR,
                    f"your answer in `{answer.key}` was not found: the lines ### BEGIN SOLUTION "
                    "and ### END SOLUTION around it were removed or changed, or the function was "
                    "renamed. Put them back as in the handed-out notebook.",
                ),
            )
        if len(submitted) > 1:
            assembly.notes.append(
                f"{exercise.name}: `{answer.key}` has {len(submitted)} answers (a copied cell?); "
                "the grader used the last one."
            )
        chosen[(answer.cell, answer.begin)] = submitted[-1] if submitted else answer.indent + STUB
    return chosen


def _fill_cell(assembly: Assembly, exercise: Exercise, index: int, chosen: dict) -> None:
    """Put the chosen answers into cell ``index``; drop the checker call; check the result."""
    lines = assembly.cells[index].source.split("\n")
    if exercise.call.cell == index:
        del lines[exercise.call.first_line : exercise.call.last_line + 1]
    mine = sorted((a for a in exercise.answers if a.cell == index), key=lambda a: -a.begin)
    stubbed = list(lines)
    for answer in mine:
        code = chosen[(answer.cell, answer.begin)]
        lines[answer.begin + 1 : answer.end] = code.split("\n")
        stubbed[answer.begin + 1 : answer.end] = [answer.indent + STUB]
    source = "\n".join(lines)
    problem = _problem(source, exercise)
    if problem:
        assembly.decided.setdefault(exercise.number, problem)
        source = "\n".join(stubbed)  # run the stubs, so the cells after it still work
    assembly.cells[index].source = source


def _problem(source: str, exercise: Exercise) -> tuple[str, str] | None:
    """Why the filled-in cell must not run, or None."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError as error:
        return ERROR, f"your answer does not run: SyntaxError, {error.msg} (line {error.lineno} of the cell)."
    for answer in find_answers(source):
        if not _inside_function(tree, answer):
            return (
                TAMPERED,
                f"your answer in `{answer.key or 'the cell'}` contains code outside its function "
                "(less indented than the markers); the grader ran the stub instead.",
            )
    return None


def _inside_function(tree, answer: Answer) -> bool:
    """True when every statement between the markers lies in one function's body."""
    region = range(answer.begin + 2, answer.end + 1)  # 1-based lines strictly inside the markers
    statements = [n for n in ast.walk(tree) if isinstance(n, ast.stmt) and n.lineno in region]
    if not statements:
        return True
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.lineno <= answer.begin
        and all(node.lineno < s.lineno and s.end_lineno <= node.end_lineno for s in statements)
        for node in ast.walk(tree)
    )

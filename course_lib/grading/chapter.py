"""A chapter's exercises, read from its notebook: heading, points, goal, answers, checker.

Every chapter writes an exercise one way (the instructor's guide, "Writing an exercise"):

    (backprop-ex-silu)=
    ### Exercise 1: the backward pass of a new operation (3 points)

    **Goal:** one sentence on what the student learns.

    ```{code-cell} ipython3
    from course_lib.exercises.backprop import check_silu_backward

    def silu_backward(x, grad_output):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

    check_silu_backward(silu_backward)
    ```

An exercise whose cell ends with a checker call is graded and declares its points in the
heading; one without (a discussion, an experiment read by eye) declares none. Every answer
sits inside a function, so a stub never stops "Run all". :func:`exercise_problems` lists
every way a chapter breaks these rules; the tests run it on every chapter.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from ..exercises import BEGIN, END

HEADING = re.compile(
    r"^###\s+Exercise\s+(?P<number>\d+)\s*(?:\((?P<kind>[^)]*)\))?\s*:\s*(?P<title>.*?)"
    r"\s*(?:\((?P<points>\d+)\s+points?\))?\s*$"
)
LABEL = re.compile(r"^\((?P<label>[\w.:-]+)\)=\s*$")
GOAL = re.compile(r"^\*\*Goal:\*\*\s*(?P<goal>.+)$")
SECTION = re.compile(r"^#{1,3}\s")
CHECKER_PREFIX = "check_"


@dataclass
class Answer:
    """One ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region of a code cell.

    ``begin`` and ``end`` are the 0-based line numbers of the two marker lines;
    ``function`` names the function whose body holds the region ("" at module level).
    """

    cell: int
    begin: int
    end: int
    indent: str
    function: str
    code: str

    @property
    def key(self) -> str:
        return self.function or f"<module, cell {self.cell}>"


@dataclass
class Argument:
    """One argument of a checker call: its source and where its value comes from.

    ``kind`` is "answer function" (a function holding an answer), "answer value" (a name
    the exercise cell assigns) or "chapter data" (anything the chapter computed before).
    """

    source: str
    keyword: str | None
    kind: str


@dataclass
class CheckerCall:
    """The checker call that ends an exercise's cell, e.g. ``check_conv2d(my_conv2d)``."""

    cell: int
    name: str
    module: str
    arguments: list[Argument]
    first_line: int  # 0-based lines of the call statement in its cell
    last_line: int


@dataclass
class Exercise:
    """One ``### Exercise N`` of a chapter, with everything the grader and the guide need."""

    number: int
    title: str
    kind: str | None
    points: int | None
    label: str | None
    goal: str | None
    heading_cell: int
    cells: list[int] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    call: CheckerCall | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def graded(self) -> bool:
        return self.call is not None

    @property
    def name(self) -> str:
        return f"Exercise {self.number}"


def python_source(cell_source: str) -> str:
    """A cell's source as plain Python, IPython magics turned into calls, lines kept."""
    if not any(line.lstrip().startswith(("%", "!")) for line in cell_source.splitlines()):
        return cell_source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def find_answers(source: str, cell: int = 0) -> list[Answer]:
    """The answer regions of one code cell, with the function each sits in."""
    lines = source.split("\n")
    answers, begin = [], None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            begin = i
        elif stripped.startswith(END) and begin is not None:
            indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
            code = "\n".join(lines[begin + 1 : i])
            answers.append(Answer(cell, begin, i, indent, _enclosing_function(lines, begin), code))
            begin = None
    return answers


def _enclosing_function(lines: list[str], line: int) -> str:
    """Name of the innermost function whose body holds ``line``; "" at module level."""
    indent = len(lines[line]) - len(lines[line].lstrip())
    for above in reversed(lines[:line]):
        if not above.strip() or above.lstrip().startswith("#"):
            continue
        above_indent = len(above) - len(above.lstrip())
        if above_indent >= indent:
            continue
        match = re.match(r"^\s*(?:async\s+)?def\s+(\w+)\s*\(", above)
        if match:
            return match.group(1)
        indent = above_indent  # an enclosing if/for/with/class: look further out
    return ""


def _checker_call(source: str, cell: int, modules: dict[str, str]) -> CheckerCall | None:
    """The ``check_...(...)`` call that ends a cell, or None."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return None
    if not tree.body:
        return None
    last = tree.body[-1]
    call = last.value if isinstance(last, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        return None
    if not call.func.id.startswith(CHECKER_PREFIX):
        return None
    answer_functions = {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and any(BEGIN in line for line in ast.get_source_segment(source, node).split("\n"))
    }
    assigned = _assigned_names(tree.body[:-1])
    arguments = [
        Argument(ast.get_source_segment(source, node), keyword, _kind(node, answer_functions, assigned))
        for keyword, node in [(None, a) for a in call.args] + [(k.arg, k.value) for k in call.keywords]
    ]
    module = modules.get(call.func.id, "")
    return CheckerCall(cell, call.func.id, module, arguments, last.lineno - 1, last.end_lineno - 1)


def _assigned_names(statements) -> set[str]:
    names = set()
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
    return names


def _kind(node, answer_functions: set[str], assigned: set[str]) -> str:
    if isinstance(node, ast.Name) and node.id in answer_functions:
        return "answer function"
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return "answer value" if used & (assigned | answer_functions) else "chapter data"


def _imports(source: str) -> dict[str, str]:
    """``{name: module}`` for every ``from course_lib.exercises.X import name`` in a cell."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return {}
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_lib.exercises"):
            for alias in node.names:
                found[alias.asname or alias.name] = node.module
    return found


def parse_exercises(notebook) -> list[Exercise]:
    """Every ``### Exercise N`` of ``notebook`` (a chapter or a student notebook).

    Explained in the instructor's guide ("Writing an exercise").
    """
    reader = _Reader()
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            for line in _unfenced(cell.source):
                reader.markdown_line(line, index)
            reader.in_goal = False
        elif cell.cell_type == "code":
            reader.code_cell(cell.source, index)
    return reader.exercises


def _unfenced(markdown: str):
    """The lines of ``markdown`` outside code fences (a heading there is not a heading)."""
    fenced = False
    for line in markdown.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            yield line


class _Reader:
    """Walks a notebook's cells in order and collects its exercises."""

    def __init__(self):
        self.exercises: list[Exercise] = []
        self.current: Exercise | None = None
        self.modules: dict[str, str] = {}
        self.label: str | None = None
        self.in_goal = False

    def markdown_line(self, line: str, index: int) -> None:
        heading, goal, text = HEADING.match(line), GOAL.match(line.strip()), line.strip()
        if LABEL.match(line):
            self.label = LABEL.match(line).group("label")
            return
        if heading:
            self.current = _new_exercise(heading, self.label, index)
            self.exercises.append(self.current)
        elif SECTION.match(line):
            self.current = None
        elif goal and self.current is not None and self.current.goal is None:
            self.current.goal, self.in_goal = goal.group("goal"), True
            return
        elif self.in_goal and text:
            self.current.goal += " " + text  # the goal's paragraph goes on
            return
        self.in_goal = False
        if text:
            self.label = None

    def code_cell(self, source: str, index: int) -> None:
        self.modules.update(_imports(source))
        if self.current is not None:
            _add_code_cell(self.current, source, index, self.modules)


def _new_exercise(heading, label: str | None, index: int) -> Exercise:
    points = heading.group("points")
    return Exercise(
        number=int(heading.group("number")),
        title=heading.group("title"),
        kind=heading.group("kind"),
        points=int(points) if points else None,
        label=label,
        goal=None,
        heading_cell=index,
    )


def _add_code_cell(exercise: Exercise, source: str, index: int, modules: dict[str, str]) -> None:
    exercise.cells.append(index)
    exercise.answers += find_answers(source, index)
    call = _checker_call(source, index, modules)
    if call is None:
        return
    if exercise.call is not None:
        exercise.problems.append(f"two checker calls ({exercise.call.name} and {call.name})")
    exercise.call = call


def exercise_problems(notebook, stem: str) -> list[str]:
    """Every way the exercises of ``notebook`` break the rules in this module's docstring.

    Empty for a well-formed chapter; the tests and ``scripts/notebooks.py`` run it.
    """
    exercises = parse_exercises(notebook)
    problems = []
    if [e.number for e in exercises] != list(range(1, len(exercises) + 1)):
        problems.append(f"exercises are numbered {[e.number for e in exercises]}, not 1, 2, 3, ...")
    for exercise in exercises:
        where = f"{stem}, {exercise.name}"
        problems += [f"{where}: {p}" for p in exercise.problems]
        problems += [f"{where}: {p}" for p in _rule_problems(exercise, notebook, stem)]
    return problems


def _rule_problems(exercise: Exercise, notebook, stem: str) -> list[str]:
    problems = []
    if exercise.graded and exercise.points is None:
        problems.append(
            f"its cell calls {exercise.call.name} but the heading declares no points: end the "
            'heading with "(N points)", e.g. "### Exercise 1: title (3 points)"'
        )
    if not exercise.graded and exercise.points is not None:
        problems.append(
            f"the heading declares {exercise.points} points but no cell of the exercise ends with a "
            "checker call (check_...), so nothing can award them: remove the points"
        )
    if exercise.goal is None:
        problems.append('no "**Goal:** ..." line under the heading: say in one sentence what it teaches')
    for answer in exercise.answers:
        if not answer.function:
            problems.append(
                f"the answer in cell {answer.cell} is module-level code: put it inside a function, "
                "so that the student's stub raises only when the function is called"
            )
    if exercise.graded:
        expected = f"course_lib.exercises.{stem}"
        if exercise.call.module != expected:
            problems.append(f"{exercise.call.name} is not imported from {expected}")
        if not exercise.answers:
            problems.append("the checker's cell has no ### BEGIN SOLUTION / ### END SOLUTION region")
        kinds = {a.kind for a in exercise.call.arguments}
        if not kinds & {"answer function", "answer value"}:
            problems.append(f"no argument of {exercise.call.name} comes from the answer")
    return problems

"""Exercise checkers, one module per chapter, and the solution markers they rely on.

Solutions in code cells sit between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (the
markers nbgrader uses). :func:`strip_solutions` replaces the code between each pair with a
stub that raises ``NotImplementedError`` and keeps the markers, so the student knows where
to write and the grader knows where to read; :func:`strip_prose_solutions` drops the prose
solutions. ``course_lib.grading.student`` applies both to make the student notebooks
(instructor's guide, "Student notebooks").
"""

from __future__ import annotations

import re

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("your code here")'
_BLOCK = re.compile(
    rf"^([ \t]*){re.escape(BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(END)}[^\n]*$", re.MULTILINE | re.DOTALL
)


_PROSE = re.compile(r"^(:{3,})\{admonition\} Solution[^\n]*\n.*?^\1[ \t]*$\n?", re.MULTILINE | re.DOTALL)


def has_solution(source: str) -> bool:
    """True when a cell's source contains a solution block.

    Explained in the instructor's guide ("Student notebooks").
    """
    return BEGIN in source


def strip_solutions(source: str) -> str:
    """Replace the code in every solution block of ``source`` with a stub, keeping the markers.

    Explained in the instructor's guide ("Student notebooks").
    """
    if source.count(BEGIN) != source.count(END):
        raise ValueError(
            f"unbalanced solution markers: {source.count(BEGIN)} x '{BEGIN}' "
            f"but {source.count(END)} x '{END}'"
        )
    return _BLOCK.sub(lambda m: f"{m.group(1)}{BEGIN}\n{m.group(1)}{STUB}\n{m.group(1)}{END}", source)


def strip_prose_solutions(markdown: str) -> str:
    """Remove ``:::{admonition} Solution`` blocks (the site's click-to-show solutions).

    Explained in the instructor's guide ("Student notebooks").
    """
    return _PROSE.sub("", markdown)

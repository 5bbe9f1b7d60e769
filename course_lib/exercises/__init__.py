"""Exercise checkers, one module per chapter, and the tools for a student copy.

Solutions in code cells sit between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (the
markers nbgrader uses). :func:`strip_solutions` replaces each such block with a stub that
raises ``NotImplementedError``, and :func:`strip_prose_solutions` drops the prose solutions;
``scripts/make_student_copy.py`` applies both to every notebook (instructor's guide).
"""

from __future__ import annotations

import re

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("your code here")'
_BLOCK = re.compile(
    rf"^([ \t]*){re.escape(BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(END)}[^\n]*(\n|$)", re.MULTILINE | re.DOTALL
)


_PROSE = re.compile(r"^(:{3,})\{admonition\} Solution[^\n]*\n.*?^\1[ \t]*$\n?", re.MULTILINE | re.DOTALL)


def has_solution(source: str) -> bool:
    """True when a cell's source contains a solution block.

    Explained in the instructor's guide (student copies).
    """
    return BEGIN in source


def strip_solutions(source: str) -> str:
    """Replace every solution block in ``source`` with an indented stub; check the markers pair up.

    Explained in the instructor's guide (student copies).
    """
    if source.count(BEGIN) != source.count(END):
        raise ValueError(
            f"unbalanced solution markers: {source.count(BEGIN)} x '{BEGIN}' "
            f"but {source.count(END)} x '{END}'"
        )
    return _BLOCK.sub(lambda m: f"{m.group(1)}{STUB}{m.group(2)}", source)


def strip_prose_solutions(markdown: str) -> str:
    """Remove ``:::{admonition} Solution`` blocks (the site's click-to-show solutions).

    Explained in the instructor's guide (student copies).
    """
    return _PROSE.sub("", markdown)

"""The student notebook of a chapter: what a learner opens in Colab and hands in.

It is made from the chapter's source (``book/<stem>.md``, read with jupytext), never from an
executed notebook, so it carries no outputs, no widget state and no metadata of anyone's
run. Each answer's code becomes a stub between the kept markers; prose solutions are gone;
a note after the title says how the exercises work, what they are worth and how to hand
the notebook in. Cell ids are derived from the cells' content, so regenerating an
unchanged chapter gives the same file byte for byte (``scripts/notebooks.py check``
compares them). Explained in the instructor's guide ("Student notebooks").
"""

from __future__ import annotations

import hashlib

import nbformat

from ..exercises import BEGIN, END, strip_prose_solutions, strip_solutions
from .chapter import parse_exercises

NOTE_MARK = "**Exercises notebook.**"


def student_notebook(chapter, stem: str):
    """``chapter`` (an nbformat notebook of book/<stem>.md) as the student copy."""
    cells = []
    for cell in chapter.cells:
        if cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell(strip_solutions(cell.source)))
        elif cell.cell_type == "markdown":
            source = strip_prose_solutions(cell.source).strip("\n")
            if source.strip():
                cells.append(nbformat.v4.new_markdown_cell(source))
    notebook = nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": dict(chapter.metadata.get("kernelspec", {})),
            "language_info": {"name": "python"},
        },
    )
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(_note(notebook, stem)))
    _number_cells(notebook, stem)
    return notebook


def _note(notebook, stem: str) -> str:
    """The paragraph after the title: how the exercises work and how to hand them in."""
    graded = [e for e in parse_exercises(notebook) if e.graded]
    total = sum(e.points or 0 for e in graded)
    worth = ", ".join(f"exercise {e.number}: {e.points}" for e in graded)
    return (
        f"{NOTE_MARK} This is the student copy of the chapter: the code of each exercise is "
        f"replaced by a stub between `{BEGIN}` and `{END}`, and the written solutions are "
        "removed. Write your code between those two lines (keep them), then run the cell: "
        "the checker at its end says what it expected and what came back. An exercise you "
        'have not done yet says "not implemented yet", and *Run all* still runs to the end.\n\n'
        f"{len(graded)} exercises are checked automatically, worth {total} points in all "
        f"({worth}); the points are also in each exercise's heading. "
        "To hand it in, download the notebook (in Colab: *File → Download → Download .ipynb*) "
        f"and submit it as `{stem}.ipynb`. Only the code between the markers is graded: the "
        "grader runs this notebook as handed out, with your answers filled in."
    )


def _number_cells(notebook, stem: str) -> None:
    """Give every cell an id derived from its content (stable across regenerations)."""
    seen = set()
    for cell in notebook.cells:
        digest = hashlib.sha1(f"{stem}\n{cell.cell_type}\n{cell.source}".encode()).hexdigest()
        cell_id, n = digest[:12], 1
        while cell_id in seen:
            cell_id, n = f"{digest[:12]}-{n}", n + 1
        seen.add(cell_id)
        cell.id = cell_id


def student_notebook_text(chapter, stem: str) -> str:
    """The student notebook serialised exactly as it is committed."""
    notebook = student_notebook(chapter, stem)
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"

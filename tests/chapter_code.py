"""Run a function that a chapter defines in a solution cell, as written or as the student stub.

The exercise-checker tests use it so that each checker is tested against the chapter's own
solution (must pass) and against what the student copy leaves (must fail), never a copy.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import torch
import torch.nn.functional as F

from course_lib.exercises import strip_solutions

BOOK = Path(__file__).resolve().parents[1] / "book"


def chapter_function(stem: str, name: str, stub: bool = False, **names):
    """Define ``name`` from the one code cell of ``book/<stem>.md`` that defines it.

    ``stub=True`` runs the cell as the student copy has it (solution replaced by the stub).
    ``names`` are the chapter's variables the definition needs beyond ``torch`` and ``F``.
    """
    chapter = BOOK / f"{stem}.md"
    cells = [
        c.source for c in jupytext.read(chapter).cells if c.cell_type == "code" and f"def {name}(" in c.source
    ]
    assert len(cells) == 1, f"expected one cell defining {name} in {chapter}, found {len(cells)}"
    source = strip_solutions(cells[0]) if stub else cells[0]
    definition = source[source.index(f"def {name}(") :].split("\n\n\n")[0]
    namespace = {"torch": torch, "F": F, **names}
    exec(definition, namespace)
    return namespace[name]

"""Write student copies of the notebooks: solutions stripped, outputs cleared.

For every notebooks/<stem>.ipynb this writes <out>/<stem>.ipynb in which
* code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is replaced by
  ``raise NotImplementedError("your code here")`` (the checkers then say "not implemented yet");
* Markdown solution blocks (``:::{admonition} Solution`` ... ``:::``) are removed;
* all outputs and execution counts are cleared, so nothing of the answers leaks.

    python scripts/make_student_copy.py [--out _build/student]

Instructor's guide: hand out the files in the output folder; keep notebooks/ for yourself.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

from course_lib.exercises import strip_prose_solutions, strip_solutions

ROOT = Path(__file__).resolve().parents[1]


def student_notebook(notebook):
    """A copy of ``notebook`` with solutions stripped and outputs cleared."""
    notebook = nbformat.from_dict(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = strip_prose_solutions(cell.source)
    notebook.cells = [c for c in notebook.cells if c.source.strip() or c.cell_type == "code"]
    return notebook


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "student")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        copy = student_notebook(nbformat.read(path, as_version=4))
        target = args.out / path.name
        tmp = target.with_suffix(".ipynb.tmp")
        nbformat.write(copy, tmp)
        tmp.replace(target)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

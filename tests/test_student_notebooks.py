"""Student notebooks: the rules every exercise follows, and the notebooks students open.

For every chapter that exists: its exercises declare points and a goal and keep their
answers inside functions (course_lib.grading.chapter), its student notebook in
notebooks/student/ is exactly what the chapter gives, carries no solution, output or run
metadata, and runs from top to bottom under the ``ci`` profile with every graded
exercise's checker saying "not implemented yet".
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jupytext
import nbformat
import pytest

from course_lib.config import get_profile
from course_lib.exercises import BEGIN, STUB
from course_lib.grading.chapter import exercise_problems, find_answers, parse_exercises
from course_lib.grading.student import NOTE_MARK, student_notebook_text

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(
    p.stem for p in (ROOT / "book").glob("*.md") if "kernelspec:" in p.read_text().split("\n---", 1)[0]
)


def chapter(stem: str):
    return jupytext.read(ROOT / "book" / f"{stem}.md")


def student(stem: str):
    return nbformat.read(ROOT / "notebooks" / "student" / f"{stem}.ipynb", as_version=4)


@pytest.mark.parametrize("stem", CHAPTERS)
def test_every_exercise_declares_points_and_a_goal_and_keeps_answers_in_functions(stem):
    assert exercise_problems(chapter(stem), stem) == []


@pytest.mark.parametrize("stem", CHAPTERS)
def test_student_notebook_is_committed_and_up_to_date(stem):
    path = ROOT / "notebooks" / "student" / f"{stem}.ipynb"
    assert path.exists(), f"{path} is missing: run python scripts/notebooks.py student"
    expected = student_notebook_text(chapter(stem), stem)
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path} is stale: run python scripts/notebooks.py student"
    )


@pytest.mark.parametrize("stem", CHAPTERS)
def test_student_notebook_has_no_solution_output_or_run_metadata(stem):
    notebook = student(stem)
    solutions = [a.code.strip() for c in chapter(stem).cells for a in find_answers(c.source)]
    assert set(notebook.metadata) == {"kernelspec", "language_info"}
    for cell in notebook.cells:
        assert not cell.metadata, cell.source[:80]
        assert "{admonition} Solution" not in cell.source
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            assert all(a.code.strip() == STUB for a in find_answers(cell.source))
            assert not any(s and s in cell.source for s in solutions if s != STUB)
    assert sum(BEGIN in c.source for c in notebook.cells) >= 2


@pytest.mark.parametrize("stem", CHAPTERS)
def test_student_notebook_shows_each_exercises_points(stem):
    notebook = student(stem)
    graded = [e for e in parse_exercises(notebook) if e.graded]
    note = next(c.source for c in notebook.cells if c.source.startswith(NOTE_MARK))
    assert f"worth {sum(e.points for e in graded)} points" in note
    for exercise in graded:
        heading = f"### Exercise {exercise.number}: {exercise.title} ({exercise.points} point"
        assert any(heading in c.source for c in notebook.cells)


def run_to_the_end(stem: str, folder: Path):
    from course_lib.execution import execute_notebook

    notebook = student(stem)
    (folder / stem).mkdir()
    execute_notebook(notebook, cwd=folder / stem, timeout=get_profile("ci").cell_timeout)
    return notebook


def test_student_notebooks_run_to_the_end_with_every_checker_saying_not_implemented(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    monkeypatch.setenv("COURSE_STATIC_OUTPUT", "1")  # no widgets: they would only slow this down
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the chapters run side by side
    with ThreadPoolExecutor(max_workers=max(1, min(len(CHAPTERS), os.cpu_count() or 1))) as pool:
        executed = dict(zip(CHAPTERS, pool.map(lambda stem: run_to_the_end(stem, tmp_path), CHAPTERS)))
    for stem, notebook in executed.items():
        errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert errors == [], f"{stem}: {errors[0].ename}: {errors[0].evalue}"
        for exercise in (e for e in parse_exercises(notebook) if e.graded):
            outputs = notebook.cells[exercise.call.cell].outputs
            shown = " ".join(
                str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
            )
            assert "not implemented yet" in shown, f"{stem}, {exercise.name}: {shown[:300]}"

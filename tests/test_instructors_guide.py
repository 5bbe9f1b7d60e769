"""The instructor's guide is generated from the chapters: every chapter and exercise is in it.

The sections come from course_lib.grading.guide (through _ext/instructors_guide.py at build
time); the Colab buttons from _ext/colab_notebooks.py. The book build under ``make test``
renders them with warnings as errors; these tests check their content without a build.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace

import yaml

from course_lib.grading.guide import chapter_section, ci_seconds, mistakes, read_chapter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))

from colab_notebooks import chapter_buttons  # noqa: E402
from instructors_guide import chapter_stems  # noqa: E402


def test_guide_is_last_in_the_toc_and_lists_every_chapter_with_a_student_notebook():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert toc["chapters"][-1]["file"] == "book/instructors"
    stems = chapter_stems(ROOT)
    assert stems and all((ROOT / "notebooks" / "student" / f"{s}.ipynb").exists() for s in stems)
    assert {f"book/{s}" for s in stems} <= {c["file"] for c in toc["chapters"]}


def test_each_chapter_section_has_its_exercises_points_goals_and_run_time():
    stems = chapter_stems(ROOT)
    for number, stem in enumerate(stems, start=1):
        chapter = read_chapter(ROOT, stem)
        section = chapter_section(chapter, number, stems[: number - 1], "TIMING")
        assert section.startswith(f"### {number}. {{doc}}`{chapter.title} <{stem}>`")
        assert "**Prerequisites:**" in section and "TIMING" in section
        graded = [e for e in chapter.exercises if e.graded]
        assert f"{len(graded)} graded, {sum(e.points for e in graded)} points" in section
        for exercise in chapter.exercises:
            assert f"{exercise.number}. {exercise.title.replace('`', '')}" in section
            assert exercise.goal in section
        for link in re.findall(r"\{ref\}`[^`]*`", section):  # a backtick in a title broke one
            assert re.fullmatch(r"\{ref\}`([^`<>]+ <[\w.:-]+>|[\w.:-]+)`", link), link
        assert ci_seconds(ROOT / "notebooks" / f"{stem}.ipynb") is not None


def test_mistakes_are_read_from_the_checkers_own_messages():
    found = mistakes("course_lib.exercises.backprop", "check_silu_backward")
    assert "you returned the local derivative dy/dx only" in found
    assert not any(m.startswith("expected a") for m in found)
    assert mistakes("course_lib.exercises.backprop", "no_such_checker") == []


def test_each_chapter_gets_an_exercises_button_first_and_a_solved_one():
    options = {
        "launch_buttons": {"colab_url": "https://colab.research.google.com"},
        "repository_url": "https://github.com/org/repo",
        "repository_branch": "main",
    }
    app = SimpleNamespace(config=SimpleNamespace(html_theme_options=options), srcdir=str(ROOT))
    buttons = chapter_buttons(app, "backprop")
    assert [b["text"] for b in buttons] == ["Colab: exercises", "Colab: solved"]
    assert buttons[0]["url"].endswith("/github/org/repo/blob/main/notebooks/student/backprop.ipynb")
    assert buttons[1]["url"].endswith("/github/org/repo/blob/main/notebooks/backprop.ipynb")
    assert chapter_buttons(app, "intro") == []

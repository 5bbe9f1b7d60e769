"""The course's wiring: pinned requirements agree, notebooks are Colab-safe, exercises are whole."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import tomllib
import yaml

from course_lib.exercises import BEGIN, END, STUB, has_solution, strip_prose_solutions, strip_solutions

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(
    p for p in (ROOT / "book").glob("*.md") if "kernelspec:" in p.read_text().split("\n---", 1)[0]
)


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not pinned with ==: {line!r}"
            found[name.lower()] = version
    return found


def test_requirements_and_environment_name_the_same_pins():
    requirements = pins((ROOT / "requirements-dev.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins(pip_section) == requirements
    assert env["name"] == "dl-course"
    assert requirements["torch"] == "2.14.1" and requirements["torchvision"] == "0.29.1"


def test_package_declares_loose_lower_bounds_covered_by_the_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = pins((ROOT / "requirements-dev.txt").read_text().splitlines())
    for dependency in project["dependencies"]:
        name = re.split(r"[<>=!~ \[]", dependency, maxsplit=1)[0].lower()
        assert "==" not in dependency and "<" not in dependency, f"pin in the package: {dependency}"
        assert name in requirements, f"{name} is a dependency but not pinned in requirements-dev.txt"


def test_toc_lists_only_existing_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]
    for entry in files:
        assert (ROOT / f"{entry}.md").exists(), f"_toc.yml lists {entry}, which does not exist"
    for chapter in CHAPTERS:
        assert f"book/{chapter.stem}" in files, f"{chapter} is not in _toc.yml"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_first_code_cell_installs_course_lib_only_when_missing(chapter):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = config["repository"]["url"]
    first = next(c.source for c in jupytext.read(chapter).cells if c.cell_type == "code")
    assert "import course_lib" in first and "except ImportError" in first
    assert f"git+{url}" in first, "the install URL must be the repository URL of _config.yml"
    assert "torch" not in first.replace("course_lib", ""), "never reinstall torch in Colab"
    assert "numpy" not in first and "conda" not in first


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_three_checked_exercises_and_prints_the_banner_first(chapter):
    notebook = jupytext.read(chapter)
    text = chapter.read_text()
    assert text.count("### Exercise") >= 3
    solution_cells = [c.source for c in notebook.cells if c.cell_type == "code" and has_solution(c.source)]
    assert len(solution_cells) >= 2
    assert sum("check_" in c.source for c in notebook.cells if "### BEGIN SOLUTION" in c.source) >= 2
    stored = nbformat.read(ROOT / "notebooks" / f"{chapter.stem}.ipynb", as_version=4)
    first_output = next(o for c in stored.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert first_output.get("text", "").startswith("profile=ci | device="), first_output


def test_strip_solutions_keeps_the_markers_around_a_stub_and_the_code_around():
    source = f"def f(x):\n    {BEGIN}\n    y = x + 1\n    return y\n    {END}\n\nprint(f)\n"
    stripped = strip_solutions(source)
    assert stripped == f"def f(x):\n    {BEGIN}\n    {STUB}\n    {END}\n\nprint(f)\n"
    assert strip_solutions(stripped) == stripped
    assert strip_solutions("x = 1\n") == "x = 1\n"


def test_strip_solutions_rejects_unbalanced_markers():
    with pytest.raises(ValueError, match="unbalanced"):
        strip_solutions(f"{BEGIN}\nx = 1\n")


def test_strip_prose_solutions_removes_only_solution_blocks():
    markdown = (
        "Intro\n\n:::{admonition} Solution\n:class: dropdown\n\nThe answer.\n:::\n\n:::{note}\nkeep\n:::\n"
    )
    assert strip_prose_solutions(markdown) == "Intro\n\n\n:::{note}\nkeep\n:::\n"

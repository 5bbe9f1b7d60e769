"""The class grader (python -m course_lib.grading) on a synthetic class built here.

One batch grades, under the ``ci`` profile: every chapter's solved notebook; for the backprop
chapter (the quickest to run) the untouched student notebook, one wrong answer per graded
exercise, two submissions that try to force a pass from inside their kernel, one that
raises, floods its output, deletes its files and then loops forever, and a file that is not
a notebook. The tests below read that one batch's grades.csv and feedback; the fast tests at
the end need no kernel.
"""

from __future__ import annotations

import csv
import pickle
import textwrap
from pathlib import Path

import nbformat
import pytest
import torch
from synthetic_class import (
    BACKPROP_TAMPERING,
    BACKPROP_WRONG,
    ESCAPING_ANSWER,
    FAKE_CHECKER,
    ROOT,
    solutions,
    solved,
    untouched,
    with_answers,
    write,
)

from course_lib.grading.assemble import assemble
from course_lib.grading.batch import find_submissions, grade_class
from course_lib.grading.chapter import parse_exercises
from course_lib.grading.remote import UnreadableValue, copy_back, load_untrusted, replaced_names
from course_lib.grading.report import COLUMNS, write_results

STUDENT = ROOT / "notebooks" / "student"
CHAPTERS = sorted(p.stem for p in STUDENT.glob("*.ipynb"))
WRONG = {name: f"wrong-{i}" for i, name in enumerate(BACKPROP_WRONG, start=1)}


def chaos():
    """Exercise 1 raises, 2 prints megabytes and deletes its working folder's files, 3 loops."""
    answers = solutions("backprop")
    return with_answers(
        "backprop",
        {
            **answers,
            "silu_backward": "return x / 0 if False else 1 / 0",
            "find_the_bug": (
                'print("x" * 5_000_000)\n'
                "import os, shutil\n"
                "for name in os.listdir('.'):\n"
                "    shutil.rmtree(name) if os.path.isdir(name) else os.remove(name)\n"
            )
            + answers["find_the_bug"],
            "softplus": "while True:\n    pass",
        },
    )


def build_class(folder: Path) -> None:
    for stem in CHAPTERS:
        write(folder, f"solved/{stem}.ipynb", solved(stem))
    write(folder, "backprop-untouched.ipynb", untouched("backprop"))
    for function, student in WRONG.items():
        write(folder, f"{student}/backprop.ipynb", solved("backprop", **{function: BACKPROP_WRONG[function]}))
    mallory = solved(
        "backprop",
        silu_backward=BACKPROP_TAMPERING["patches torch"],
        softplus=BACKPROP_TAMPERING["patches the checker's helper"].replace(
            "return torch.zeros_like(x)", "return a"
        ),
    )
    write(folder, "mallory/backprop.ipynb", mallory)
    escaping = ESCAPING_ANSWER.replace("torch.zeros_like(x)", "a").replace(
        "check_silu_backward", "check_softplus"
    )
    frame = textwrap.indent(textwrap.dedent(BACKPROP_TAMPERING["reads the checker's frame"]), "    ")
    trudy = with_answers(
        "backprop",
        {"silu_backward": "    return torch.zeros_like(x)", "find_the_bug": frame, "softplus": escaping},
        extra_cells=[FAKE_CHECKER],
        verbatim=True,
    )
    write(folder, "trudy/backprop.ipynb", trudy)
    write(folder, "chaos/backprop.ipynb", chaos())
    (folder / "backprop-zed.ipynb").write_text("this is not a notebook")
    (folder / "notes.txt").write_text("not a submission")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    build_class(folder)
    skeletons = {stem: (STUDENT / f"{stem}.ipynb").read_text(encoding="utf-8") for stem in CHAPTERS}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COURSE_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        env.setenv("COURSE_OFFLINE", "1")
        env.setenv("COURSE_PROFILE", "ci")
        env.setenv("COURSE_STATIC_OUTPUT", "1")
        results, skipped = grade_class(folder, skeletons, time_limit=None, jobs=2, log=lambda line: None)
    write_results(folder, results, "graded by the tests")
    rows = list(csv.DictReader((folder / "grades.csv").open(encoding="utf-8")))
    return folder, rows, skipped


def statuses(rows, student: str, chapter: str = "backprop") -> dict[int, str]:
    return {
        int(r["exercise"]): r["status"] for r in rows if r["student"] == student and r["chapter"] == chapter
    }


def points(rows, student: str, chapter: str = "backprop") -> dict[int, int]:
    return {
        int(r["exercise"]): int(r["points"])
        for r in rows
        if r["student"] == student and r["chapter"] == chapter
    }


def test_solved_notebooks_get_full_marks_in_every_chapter(graded):
    _, rows, _ = graded
    for stem in CHAPTERS:
        mine = [r for r in rows if r["student"] == "solved" and r["chapter"] == stem]
        graded_exercises = [
            e for e in parse_exercises(nbformat.read(STUDENT / f"{stem}.ipynb", 4)) if e.graded
        ]
        assert len(mine) == len(graded_exercises) >= 2
        for row in mine:
            assert row["status"] == "passed", row
            assert row["points"] == row["max_points"] != "0"


def test_untouched_notebook_gets_zero_and_not_implemented(graded):
    _, rows, _ = graded
    assert set(statuses(rows, "untouched").values()) == {"not implemented"}
    assert sum(points(rows, "untouched").values()) == 0


def test_one_wrong_answer_loses_only_its_exercise(graded):
    _, rows, _ = graded
    full = points(rows, "solved")
    for number, student in enumerate(WRONG.values(), start=1):
        got = points(rows, student)
        assert statuses(rows, student)[number] == "failed"
        assert got == {**full, number: 0}, student


def test_infinite_loop_times_out_and_breakage_costs_only_its_exercise(graded):
    _, rows, _ = graded
    assert statuses(rows, "chaos") == {1: "error", 2: "passed", 3: "timeout"}
    assert {r["student"] for r in rows} >= {"solved", "untouched", "mallory", "trudy", "zed"}


def test_tampering_is_never_passed(graded):
    _, rows, _ = graded
    mallory, trudy = statuses(rows, "mallory"), statuses(rows, "trudy")
    assert mallory[1] == "tampered"  # replaced torch.allclose and torch.equal
    assert mallory[2] == "passed"  # an honest answer next to it still counts
    assert mallory[3] == "tampered"  # replaced the checker module's rel_error
    assert trudy[1] == "failed"  # its own check_silu_backward cell was not run
    assert trudy[2] == "error"  # the checker's frame is not in the kernel: KeyError
    assert trudy[3] == "tampered"  # code outside the answer's function
    assert "passed" not in {mallory[1], mallory[3], *trudy.values()}


def test_not_a_notebook_is_an_error_and_stray_files_are_skipped(graded):
    _, rows, skipped = graded
    assert set(statuses(rows, "zed").values()) == {"error"}
    assert any("not a notebook" in r["message"] for r in rows if r["student"] == "zed")
    assert [line.split(":")[0] for line in skipped] == ["notes.txt"]


def test_grades_csv_has_the_columns_and_every_student_a_feedback_file(graded):
    folder, rows, _ = graded
    with (folder / "grades.csv").open(encoding="utf-8") as file:
        assert tuple(next(csv.reader(file))) == COLUMNS
    students = {r["student"] for r in rows}
    assert {p.stem for p in (folder / "feedback").glob("*.md")} == students
    feedback = (folder / "feedback" / "wrong-1.md").read_text(encoding="utf-8")
    assert "## backprop: 6 of 8 points" in feedback and "product rule" in feedback
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "temporary files left behind"


# ----------------------------------------------------------------- without a kernel


def test_find_submissions_reads_both_layouts_and_skips_the_rest(tmp_path):
    for name in ("alice/backprop.ipynb", "backprop-bob.ipynb", "mnist_project-carol-2.ipynb", "x/notes.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    (tmp_path / "feedback").mkdir()
    (tmp_path / "feedback" / "alice.md").write_text("old feedback")
    found, skipped = find_submissions(tmp_path, {"backprop", "mnist_project"})
    assert sorted((s.student, s.chapter) for s in found) == [
        ("alice", "backprop"),
        ("bob", "backprop"),
        ("carol-2", "mnist_project"),
    ]
    assert [line.split(":")[0] for line in skipped] == ["x/notes.md"]


def test_assemble_runs_the_answers_only_and_flags_what_cannot_run():
    skeleton = untouched("backprop")
    exercises = [e for e in parse_exercises(skeleton) if e.graded]
    syntax = with_answers("backprop", {"silu_backward": "return (x"})
    assert assemble(skeleton, exercises, syntax).decided[1][0] == "error"
    escaping = with_answers("backprop", {"silu_backward": ESCAPING_ANSWER}, verbatim=True)
    decided = assemble(skeleton, exercises, escaping)
    assert decided.decided[1][0] == "tampered"
    assert "check_silu_backward = " not in "".join(c.source for c in decided.cells)
    lost = untouched("backprop")
    for cell in (c for c in lost.cells if "def silu_backward(" in c.source):
        cell.source = cell.source.replace("    ### BEGIN SOLUTION\n", "")
    assert assemble(skeleton, exercises, lost).decided[1][0] == "error"
    fine = assemble(skeleton, exercises, solved("backprop", silu_backward=BACKPROP_WRONG["silu_backward"]))
    assert fine.decided == {} and fine.untouched == set()
    graded_cell = fine.cells[exercises[0].call.cell].source
    assert "check_silu_backward(silu_backward)" not in graded_cell  # the grader calls it itself
    assert "forgot the product rule" in graded_cell


def test_values_from_a_submission_load_as_data_never_as_code(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("this would run in the grader",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Exploit(), protocol=2))
    with pytest.raises(UnreadableValue):
        load_untrusted(tmp_path / "evil.pt")
    from course_lib.models import ClassicCNN

    torch.save({"model": ClassicCNN(), "accuracy": 0.9, "x": torch.ones(2)}, tmp_path / "fine.pt")
    loaded = load_untrusted(tmp_path / "fine.pt")
    assert isinstance(loaded["model"], ClassicCNN) and loaded["accuracy"] == 0.9


def test_copy_back_applies_in_place_changes_and_generator_state():
    original = (torch.zeros(3), [torch.Generator().manual_seed(1)])
    changed = (torch.ones(3), [torch.Generator().manual_seed(2)])
    copy_back(original, changed)
    assert torch.equal(original[0], torch.ones(3))
    assert torch.equal(original[1][0].get_state(), torch.Generator().manual_seed(2).get_state())


class InProcessKernel:
    """Stands in for a submission's kernel: runs the grader's commands in this process."""

    def __init__(self, exchange: Path):
        from course_lib.grading import kernel_side

        self.exchange, self.calls, self.grader_problem, self._count = exchange, [], None, 0
        self.namespace = {"__grader__": kernel_side}

    def next_call_number(self) -> int:
        self._count += 1
        return self._count

    def execute(self, code: str) -> None:
        exec(code, self.namespace)


def test_a_probe_runs_beside_the_students_function_and_only_plain_data_returns(tmp_path, monkeypatch):
    import math

    from chapter_code import chapter_function

    from course_lib.autograd import Value
    from course_lib.exercises.backprop import check_softplus
    from course_lib.grading import kernel_side
    from course_lib.grading.remote import RemoteFunction

    kernel = InProcessKernel(tmp_path)
    softplus = chapter_function("backprop", "softplus", math=math, Value=Value)
    monkeypatch.setitem(kernel_side._functions, "ex3.arg0", softplus)
    remote = RemoteFunction(kernel, "ex3.arg0", "softplus")
    assert check_softplus(remote).passed  # a Value cannot be pickled: only numbers travelled
    assert kernel.calls and all(raised is None for raised in kernel.calls)
    with pytest.raises(ValueError, match="course_lib.exercises"):
        remote.run_beside(print, 1.0)


def test_replaced_names_ignores_what_the_libraries_replace_themselves():
    before = {"torch.allclose": 1, "torch.manual_seed": 2, "builtins._": 3}
    after = {"torch.allclose": 9, "torch.manual_seed": 8, "builtins._": 7}
    assert replaced_names(before, after, {"torch.manual_seed"}) == ["torch.allclose"]


def test_results_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from course_lib.grading import report
    from course_lib.grading.run import ExerciseResult

    results = [
        report.Graded(name, "backprop", [ExerciseResult(1, "t", 1, 1, "passed", "ok")], [], 1.0)
        for name in ("ann", "ben")
    ]
    write_results(tmp_path, results, "first run")
    before = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def broken(student, graded, when):
        if student == "ben":
            raise OSError("disk full")
        return "feedback"

    monkeypatch.setattr(report, "feedback", broken)
    with pytest.raises(OSError):
        write_results(tmp_path, results, "second run")
    after = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_feedback_file_names_stay_in_the_folder_and_never_collide(tmp_path):
    from course_lib.grading.report import Graded
    from course_lib.grading.run import ExerciseResult

    names = ("a b", "a_b", "../evil")
    results = [Graded(n, "backprop", [ExerciseResult(1, "t", 0, 1, "failed", "no")], [], 1.0) for n in names]
    write_results(tmp_path, results, "run")
    files = sorted(p.name for p in (tmp_path / "feedback").iterdir())
    assert files == ["a_b-1.md", "a_b.md", "evil.md"]
    assert not (tmp_path.parent / "evil.md").exists()

"""Check cells and exercise checkers (course_lib.checks)."""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import course_lib.checks
from course_lib._book import mnist_cnn_floor
from course_lib.checks import (
    Verdict,
    Wrong,
    answer_int,
    answer_number,
    answer_tensor,
    check_at_least,
    check_close,
    checker,
    matches,
    precision_note,
    run_beside,
)


def test_check_at_least_passes_and_prints(capsys):
    assert check_at_least("test accuracy", 0.93, 0.9, context="ci profile") == 0.93
    out = capsys.readouterr().out
    assert "test accuracy" in out and "0.9300" in out and "0.9000" in out and "ci profile" in out


def test_check_at_least_equal_to_floor_passes():
    assert check_at_least("x", 0.5, 0.5) == 0.5


def test_check_at_least_fails_with_name_and_numbers(capsys):
    with pytest.raises(AssertionError) as info:
        check_at_least("test accuracy", 0.42, 0.9, context="sample data")
    message = str(info.value)
    assert "test accuracy" in message
    assert "0.4200" in message and "0.9000" in message
    assert "sample data" in message
    assert "check passed" not in capsys.readouterr().out


def test_check_at_least_rejects_nan():
    with pytest.raises(AssertionError):
        check_at_least("loss drop", math.nan, 0.0)


def test_check_close_passes_and_prints(capsys):
    assert check_close("gradient", 1.0 + 1e-9, 1.0) == pytest.approx(1.0)
    assert "gradient" in capsys.readouterr().out
    check_close("zero", 1e-9, 0.0, abs_tol=1e-6)


def test_check_close_fails_with_name_and_numbers():
    with pytest.raises(AssertionError) as info:
        check_close("parameter count", 93000, 93322, rel=1e-6)
    message = str(info.value)
    assert "parameter count" in message and "93000" in message and "93322" in message


def test_check_close_relative_tolerance():
    check_close("x", 1.04, 1.0, rel=0.05)
    with pytest.raises(AssertionError):
        check_close("x", 1.06, 1.0, rel=0.05)


def test_check_close_rejects_nan():
    with pytest.raises(AssertionError):
        check_close("x", math.nan, 1.0, rel=1.0)


@checker("Exercise 3.1")
def check_double(fn):
    """A toy checker in the course's style: call the student's function and compare."""
    got = fn(21)
    if got != 42:
        raise Wrong(f"double(21) should be 42, got {got!r}.")
    return "double(21) == 42."


def test_checker_passes_on_correct_answer():
    verdict = check_double(lambda x: 2 * x)
    assert isinstance(verdict, Verdict)
    assert verdict.passed and bool(verdict)
    assert verdict.exercise == "Exercise 3.1"
    assert verdict.message == "double(21) == 42."


def test_checker_default_message_when_check_returns_nothing():
    @checker("E")
    def check(value):
        if value != 1:
            raise Wrong("no")

    verdict = check(1)
    assert verdict.passed and verdict.message == "correct."


def test_checker_wrong_answer_is_not_yet_with_message():
    verdict = check_double(lambda x: x + 2)
    assert not verdict.passed and not bool(verdict)
    assert verdict.message == "double(21) should be 42, got 23."
    assert str(verdict) == "[NOT YET] Exercise 3.1: double(21) should be 42, got 23."


def test_checker_stub_is_not_implemented_message():
    def stub(x):
        raise NotImplementedError

    verdict = check_double(stub)
    assert not verdict.passed
    assert "not implemented" in verdict.message


def test_checker_crash_is_a_readable_message():
    def crashes(x):
        return [1, 2][5]

    verdict = check_double(crashes)
    assert not verdict.passed
    assert "IndexError" in verdict.message
    assert "list index out of range" in verdict.message
    assert "Traceback" not in verdict.message


def test_checker_keeps_the_function_name_and_doc():
    assert check_double.__name__ == "check_double"
    assert "toy checker" in check_double.__doc__


def test_checker_does_not_swallow_keyboard_interrupt():
    @checker("E")
    def check():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check()


def test_verdict_str_and_markdown():
    passed = Verdict("Exercise 1", True, "well done.")
    failed = Verdict("Exercise 2", False, "expected 3, got 4.")
    assert str(passed) == "[PASS] Exercise 1: well done."
    assert repr(passed) == str(passed)
    assert str(failed) == "[NOT YET] Exercise 2: expected 3, got 4."
    assert passed._repr_markdown_() == "✅ **Exercise 1**: well done."
    assert failed._repr_markdown_() == "❌ **Exercise 2**: expected 3, got 4."
    assert bool(passed) is True and bool(failed) is False


def test_wrong_is_an_assertion_error():
    assert issubclass(Wrong, AssertionError)


def test_mnist_cnn_floor_is_stricter_with_more_compute_and_full_data():
    assert mnist_cnn_floor("ci", "sample") < mnist_cnn_floor("cpu", "sample")
    assert mnist_cnn_floor("gpu", "full") == 0.99
    for profile in ("ci", "cpu", "gpu"):
        assert mnist_cnn_floor(profile, "full") >= mnist_cnn_floor(profile, "sample")


@pytest.mark.parametrize("profile, source", [("laptop", "sample"), ("ci", "partial")])
def test_mnist_cnn_floor_rejects_unknown_names(profile, source):
    with pytest.raises(ValueError, match="unknown"):
        mnist_cnn_floor(profile, source)


# ------------------------------------------------------------------ whose error: stub, student, checker


def test_the_student_copys_stub_is_not_implemented_yet():
    def stub(x):
        raise NotImplementedError("your code here")

    assert check_double(stub).message == "not implemented yet: replace the stub with your code."


def test_a_students_own_not_implemented_error_is_reported_as_theirs():
    def partial(x):
        raise NotImplementedError("num_classes > 8 not handled yet")

    message = check_double(partial).message
    assert message == "your code raised NotImplementedError: num_classes > 8 not handled yet"


def test_an_error_inside_the_checker_is_not_blamed_on_the_student():
    """A checker that fails after the student's code returned, e.g. on its own .cpu() of a meta tensor."""
    source = (
        "@checker('E')\n"
        "def broken_checker(fn):\n"
        "    fn(1)\n"
        "    raise NotImplementedError('meta tensors have no data')\n"
    )
    as_if_in_course_lib = str(Path(course_lib.checks.__file__).parent / "exercises" / "broken.py")
    namespace = {"checker": checker}
    exec(compile(source, as_if_in_course_lib, "exec"), namespace)
    verdict = namespace["broken_checker"](lambda x: x)
    assert not verdict.passed
    assert "checker could not judge" in verdict.message and "replace the stub" not in verdict.message
    assert "meta tensors have no data" in verdict.message


def test_an_error_in_a_library_the_student_calls_is_the_students():
    verdict = check_double(lambda x: torch.ones(2) @ torch.ones(3))
    assert verdict.message.startswith("your code raised RuntimeError")


# --------------------------------------------------------------------------- answers that never return


def test_an_answer_that_never_returns_is_stopped_with_a_verdict_that_says_so():
    @checker("E", time_limit=0.3)
    def check(fn):
        fn()

    def forever():
        while True:
            pass

    start = time.perf_counter()
    verdict = check(forever)
    assert time.perf_counter() - start < 10
    assert not verdict.passed and "stopped after 0.3 s" in verdict.message
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0), "no alarm left armed"


def test_an_answer_cannot_swallow_the_time_limit():
    @checker("E", time_limit=0.3)
    def check(fn):
        fn()

    def stubborn():
        while True:
            try:
                time.sleep(10)
            except Exception:
                pass

    assert "stopped after" in check(stubborn).message


def test_the_time_limit_can_be_changed_on_the_checker_and_restores_the_old_handler():
    previous = signal.getsignal(signal.SIGALRM)
    check_double.time_limit = 0.2
    try:
        assert "stopped after 0.2 s" in check_double(lambda x: time.sleep(5)).message
        assert check_double(lambda x: 2 * x).passed
    finally:
        check_double.time_limit = 60.0
    assert signal.getsignal(signal.SIGALRM) is previous


# --------------------------------------------------------------------------- the answer, not its container


@pytest.mark.parametrize(
    "value",
    [0.25, np.float64(0.25), np.float32(0.25), torch.tensor(0.25), torch.tensor([0.25]), np.array(0.25)],
    ids=["float", "np.float64", "np.float32", "0-dim tensor", "1-element tensor", "0-dim array"],
)
def test_answer_number_takes_any_container_of_one_number(value):
    assert answer_number(value, "x") == pytest.approx(0.25)


@pytest.mark.parametrize(
    "value, words",
    [
        (float("nan"), "nan: a NaN or infinite answer is never right"),
        (float("inf"), "inf"),
        (torch.tensor(float("nan")), "nan"),
        (np.float32("nan"), "nan"),
        (None, "got NoneType"),
        ("0.25", "got str"),
        (True, "got bool"),
        (torch.ones(2), "one number"),
    ],
)
def test_answer_number_refuses_nan_inf_and_non_numbers(value, words):
    with pytest.raises(Wrong, match=words):
        answer_number(value, "x")


@pytest.mark.parametrize("value", [7, np.int64(7), 7.0, torch.tensor(7)])
def test_answer_int_takes_whole_numbers_in_any_container(value):
    assert answer_int(value, "size") == 7


def test_answer_int_refuses_fractions():
    with pytest.raises(Wrong, match="whole number"):
        answer_int(7.5, "size")


@pytest.mark.parametrize(
    "value",
    [np.ones((2, 3)), [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]], torch.ones(2, 3, dtype=torch.float64)],
)
def test_answer_tensor_takes_arrays_and_lists(value):
    assert torch.equal(answer_tensor(value, "x", (2, 3)).double(), torch.ones(2, 3, dtype=torch.float64))


@pytest.mark.parametrize(
    "value, words",
    [
        (None, "got NoneType .*forget to return"),
        ("abc", "got str"),
        (torch.full((2, 2), float("nan")), "4 NaN or infinite value"),
        (torch.tensor([[1.0, float("inf")]]), r"the first at index \(0, 1\)"),
        (torch.ones(2, 2, dtype=torch.float16), "float16"),
        (torch.ones(2, 2, device="meta"), "meta tensor"),
        (torch.ones(3), r"expected shape \(2, 2\), got \(3,\)"),
    ],
)
def test_answer_tensor_refuses_what_cannot_be_right(value, words):
    with pytest.raises(Wrong, match=words):
        answer_tensor(value, "x", shape=None if "shape" not in words else (2, 2))


def test_matches_accepts_float32_sized_errors_only_in_float32():
    expected = torch.linspace(-3, 3, 50, dtype=torch.float64).sin()
    float32 = expected.float()
    assert matches(float32, expected, rtol=1e-12, atol=0.0)
    assert not matches(float32.double(), expected, rtol=1e-12, atol=0.0)
    assert "float32 rounding" in precision_note(float32.double(), expected)
    assert not matches(float32 * 1.001, expected, rtol=1e-12, atol=0.0), "a wrong float32 answer fails"
    assert precision_note(expected * 1.001, expected) == ""


def test_check_close_and_check_at_least_never_pass_nan_or_inf():
    for value in (float("nan"), float("inf")):
        with pytest.raises(AssertionError):
            check_close("x", value, value)
        with pytest.raises(AssertionError):
            check_at_least("x", value, 0.5)


def _probe(fn, x):
    return {"doubled": fn(x) * 2}


def test_run_beside_calls_the_probe_here_on_a_plain_function():
    assert run_beside(lambda x: x + 1, _probe, 3) == {"doubled": 8}


def test_run_beside_hands_the_probe_to_a_stand_in_that_runs_elsewhere():
    class StandIn:  # what the class grader passes: its run_beside runs the probe in the kernel
        def run_beside(self, probe, *args):
            return ("elsewhere", probe, args)

    assert run_beside(StandIn(), _probe, 3) == ("elsewhere", _probe, (3,))


def test_glue_records_numpy_scalars_as_plain_numbers(monkeypatch):
    """myst-nb formats glued floats in the prose; it cannot parse 'np.float64(0.59)'."""
    import myst_nb

    from course_lib._book import glue

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=False: seen.update({name: value}))
    glue("a", np.float64(0.59))
    glue("b", np.int64(3))
    glue("c", "text")
    assert seen == {"a": 0.59, "b": 3, "c": "text"}
    assert type(seen["a"]) is float and type(seen["b"]) is int

"""Check cells and exercise checkers (course_lib.checks)."""

from __future__ import annotations

import math

import pytest

from course_lib._book import mnist_cnn_floor
from course_lib.checks import Verdict, Wrong, check_at_least, check_close, checker, run_beside


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


def _probe(fn, x):
    return {"doubled": fn(x) * 2}


def test_run_beside_calls_the_probe_here_on_a_plain_function():
    assert run_beside(lambda x: x + 1, _probe, 3) == {"doubled": 8}


def test_run_beside_hands_the_probe_to_a_stand_in_that_runs_elsewhere():
    class StandIn:  # what the class grader passes: its run_beside runs the probe in the kernel
        def run_beside(self, probe, *args):
            return ("elsewhere", probe, args)

    assert run_beside(StandIn(), _probe, 3) == ("elsewhere", _probe, (3,))

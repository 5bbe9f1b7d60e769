"""Every exercise checker judges the answer, not its container, and fails the right way.

The same right answer passes as float64 or float32, tensor or NumPy array, Python or NumPy
number; NaN and infinity never pass; an answer that never returns is stopped; an answer on a
device with no values (meta) or a crash in the student's code is not called "the stub".
The right answers here are written from the definitions (torch, not the chapters), and each
checker is found by name, wherever the chapters' modules keep it.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import course_lib.exercises
from course_lib.conv import shift_images
from course_lib.metrics import confusion_matrix

DT = torch.float64
VALLEY = torch.tensor([[5.5, 4.5], [4.5, 5.5]], dtype=DT)  # eigenvalues 1 and 10: the limit is 0.2


def find_checker(name: str):
    for info in pkgutil.iter_modules(course_lib.exercises.__path__):
        module = importlib.import_module(f"course_lib.exercises.{info.name}")
        if hasattr(module, name):
            return getattr(module, name)
    pytest.skip(f"{name} is no longer in course_lib.exercises")


# ----------------------------------------------------------------- right answers, from the definitions


def silu_backward(x, grad_output):
    s = torch.sigmoid(x)
    return grad_output * s * (1 + x * (1 - s))


def fixed_backward(x, W, b, grad_output):
    a = torch.sigmoid(x @ W.T + b)
    delta = grad_output * a * (1 - a)
    return delta @ W, delta.T @ x, delta.sum(0)


def adam_step(param, grad, m, v, t, lr, betas, eps, weight_decay):
    grad = grad + weight_decay * param
    m = betas[0] * m + (1 - betas[0]) * grad
    v = betas[1] * v + (1 - betas[1]) * grad**2
    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
    return param - lr * m_hat / (v_hat.sqrt() + eps), m, v


def nesterov_step(param, grad, buffer, lr, momentum):
    buffer = momentum * buffer + grad
    return param - lr * (grad + momentum * buffer), buffer


def conv2d(x, weight, bias, stride, padding):
    return F.conv2d(x, weight, bias, stride=stride, padding=padding)


def output_size(size, kernel_size, stride, padding, dilation):
    span = dilation * (kernel_size - 1) + 1
    if span > size + 2 * padding:
        raise ValueError("the kernel does not fit")
    return (size + 2 * padding - span) // stride + 1


def maxpool_backward(x, grad_out):
    leaf = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.max_pool2d(leaf, 2), leaf, grad_out)
    return grad


EDGE = [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]  # bright above, dark below


def random_shift(images, max_shift, generator):
    shifts = torch.randint(-max_shift, max_shift + 1, (len(images), 2), generator=generator)
    return torch.stack([shift_images(im, int(dx), int(dy)) for im, (dy, dx) in zip(images, shifts)])


def float32(fn):
    """The same answer computed in float32 from float32 copies of the inputs."""

    def run(*args):
        args = [a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args]
        return fn(*args)

    return run


def outputs(fn, convert):
    """The same answer with every returned tensor passed through ``convert``."""

    def run(*args):
        result = fn(*args)
        if isinstance(result, tuple):
            return tuple(convert(r) for r in result)
        return convert(result)

    return run


def to_numpy(t):
    return t.detach().cpu().numpy()


def to_meta(t):
    return t.to("meta")


def nan_like(t):
    return torch.full_like(t, float("nan")) if t.is_floating_point() else t.double() * float("nan")


# (checker name, how to call it with an answer, the right answer)
CHECKERS = {
    "check_silu_backward": (lambda check, fn: check(fn), silu_backward),
    "check_fixed_layer": (lambda check, fn: check("dx", fn), fixed_backward),
    "check_adam_step": (lambda check, fn: check(fn), adam_step),
    "check_nesterov_step": (lambda check, fn: check(fn), nesterov_step),
    "check_conv2d": (lambda check, fn: check(fn), conv2d),
    "check_maxpool_backward": (lambda check, fn: check(fn), maxpool_backward),
    "check_confusion_matrix": (lambda check, fn: check(fn), confusion_matrix),
    "check_random_shift": (lambda check, fn: check(fn), random_shift),
}
TENSOR_CHECKERS = sorted(CHECKERS)


def judge(name, answer):
    call, _ = CHECKERS[name]
    return call(find_checker(name), answer)


@pytest.mark.parametrize("name", TENSOR_CHECKERS)
def test_the_right_answer_passes(name):
    verdict = judge(name, CHECKERS[name][1])
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("name", sorted(set(TENSOR_CHECKERS) - {"check_confusion_matrix"}))
def test_the_right_answer_computed_in_float32_passes(name):
    verdict = judge(name, float32(CHECKERS[name][1]))
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("name", TENSOR_CHECKERS)
def test_the_right_answer_as_a_numpy_array_passes(name):
    verdict = judge(name, outputs(CHECKERS[name][1], to_numpy))
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("name", ["check_random_shift", "check_conv2d", "check_maxpool_backward"])
def test_the_right_answer_in_another_float_type_passes(name):
    verdict = judge(name, outputs(CHECKERS[name][1], lambda t: t.double() if t.dtype == DT else t.float()))
    assert verdict.passed, verdict.message


def test_confusion_counts_as_other_number_types_pass():
    for dtype in (torch.int32, torch.float32, torch.float64):
        verdict = judge("check_confusion_matrix", outputs(confusion_matrix, lambda t, d=dtype: t.to(d)))
        assert verdict.passed, (dtype, verdict.message)
    assert not judge("check_confusion_matrix", outputs(confusion_matrix, lambda t: t + 0.5)).passed


@pytest.mark.parametrize("name", TENSOR_CHECKERS)
def test_nan_answers_never_pass(name):
    verdict = judge(name, outputs(CHECKERS[name][1], nan_like))
    assert not verdict.passed and "NaN" in verdict.message


@pytest.mark.parametrize("name", TENSOR_CHECKERS)
def test_one_nan_in_a_right_answer_does_not_pass(name):
    def one_nan(t):
        t = t.double().clone()
        t.view(-1)[0] = float("nan")
        return t

    verdict = judge(name, outputs(CHECKERS[name][1], one_nan))
    assert not verdict.passed and "NaN" in verdict.message


@pytest.mark.parametrize("name", TENSOR_CHECKERS)
def test_an_answer_with_no_values_is_not_called_the_stub(name):
    verdict = judge(name, outputs(CHECKERS[name][1], to_meta))
    assert not verdict.passed
    assert "meta" in verdict.message and "stub" not in verdict.message


@pytest.mark.parametrize("name", TENSOR_CHECKERS)
def test_a_function_that_returns_nothing_is_told_so(name):
    verdict = judge(name, lambda *args: None)
    assert not verdict.passed
    assert "NoneType" in verdict.message or verdict.message.startswith("return")


@pytest.mark.parametrize("name", TENSOR_CHECKERS)
def test_the_students_own_not_implemented_error_is_theirs(name):
    def partial(*args):
        raise NotImplementedError("odd sizes not handled yet")

    verdict = judge(name, partial)
    assert verdict.message == "your code raised NotImplementedError: odd sizes not handled yet"


@pytest.mark.parametrize("name", TENSOR_CHECKERS)
def test_the_stub_is_not_implemented_yet(name):
    def stub(*args):
        raise NotImplementedError("your code here")

    assert "not implemented yet" in judge(name, stub).message


@pytest.mark.parametrize("name", TENSOR_CHECKERS + ["check_lr_reading", "check_edge_kernel"])
def test_an_answer_that_never_returns_is_stopped(name, monkeypatch):
    check = find_checker(name)
    monkeypatch.setattr(check, "time_limit", 0.5)

    def forever(*args):
        while True:
            pass

    if name == "check_lr_reading":
        verdict = check(forever, VALLEY)
    elif name == "check_edge_kernel":
        verdict = check(forever)
    else:
        verdict = judge(name, forever)
    assert not verdict.passed and "stopped after 0.5 s" in verdict.message


# ----------------------------------------------------------------- numbers and kernels


@pytest.mark.parametrize(
    "reading",
    [0.19, np.float32(0.19), np.float64(0.19), torch.tensor(0.19), torch.tensor([0.19]), lambda: 0.19],
)
def test_a_learning_rate_reading_in_any_container_passes(reading):
    verdict = find_checker("check_lr_reading")(reading, VALLEY)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("reading", [float("nan"), float("inf"), torch.tensor(float("nan"))])
def test_a_nan_learning_rate_is_called_nan_not_too_large(reading):
    verdict = find_checker("check_lr_reading")(reading, VALLEY)
    assert not verdict.passed and "NaN or infinite" in verdict.message and "too large" not in verdict.message


@pytest.mark.parametrize("size", [7, np.int64(7), 7.0, torch.tensor(7)])
def test_an_output_size_in_any_integer_container_passes(size):
    def answer(*args):
        return (
            type(size)(output_size(*args))
            if not isinstance(size, torch.Tensor)
            else torch.tensor(output_size(*args))
        )

    verdict = find_checker("check_output_size")(answer)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize(
    "kernel",
    [EDGE, np.array(EDGE), torch.tensor(EDGE), torch.tensor(EDGE, dtype=DT), lambda: torch.tensor(EDGE)],
    ids=["list", "numpy", "float32", "float64", "function"],
)
def test_an_edge_kernel_in_any_container_passes(kernel):
    verdict = find_checker("check_edge_kernel")(kernel)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize(
    "kernel, words",
    [
        (torch.full((3, 3), float("nan")), "NaN"),
        (
            torch.tensor(EDGE).index_put_((torch.tensor([1]), torch.tensor([1])), torch.tensor(float("nan"))),
            "NaN",
        ),
        (lambda: None, "forget to return"),
        ("[[1, 2, 1]]", "got str"),
    ],
    ids=["all-nan", "one-nan", "no-return", "string"],
)
def test_an_edge_kernel_that_cannot_be_right_fails_saying_why(kernel, words):
    verdict = find_checker("check_edge_kernel")(kernel, digits=torch.rand(8, 1, 28, 28))
    assert not verdict.passed and words in verdict.message and "your code raised" not in verdict.message


def test_checking_a_reported_accuracy_keeps_the_models_mode():
    from course_lib.data import Split
    from course_lib.models import SoftmaxRegression

    data = type("Data", (), {})()
    data.test = data.val = Split(torch.zeros(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))
    model = SoftmaxRegression()
    model.train()
    check = find_checker("check_reported_accuracy")
    check(lambda: (model, 0.25), data)
    assert model.training
    nan = check(lambda: (model, float("nan")), data)
    assert not nan.passed and "NaN" in nan.message


@pytest.mark.parametrize(
    "depths", [(14, 4), [14, 4], (np.int64(14), np.int64(4)), (14.0, 4.0), (torch.tensor(14), 4)]
)
def test_receptive_depths_in_any_integer_container_pass(depths):
    verdict = find_checker("check_receptive_depths")(lambda: depths)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("depths", [(14.5, 4), ("14", 4), (None, 4), (float("nan"), 4)])
def test_receptive_depths_that_are_not_whole_numbers_fail_saying_why(depths):
    verdict = find_checker("check_receptive_depths")(lambda: depths)
    assert not verdict.passed and "checker could not judge" not in verdict.message

"""The backprop chapter's checkers: the chapter's own solution passes, the stub and wrong answers fail."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from chapter_code import chapter_function

from course_lib.exercises.backprop import (
    buggy_dense_sigmoid_backward,
    check_adam_step,
    check_fixed_layer,
    check_lr_reading,
    check_silu_backward,
    dense_sigmoid_forward,
    gradient_descent_losses,
)
from course_lib.gradcheck import check_gradients

DT = torch.float64
A = torch.tensor([[5.5, 4.5], [4.5, 5.5]], dtype=DT)  # the chapter's valley, eigenvalues 1 and 10
W_START = torch.tensor([-3.5, 2.5], dtype=DT)


def solution_function(name: str, stub: bool = False):
    """Define ``name`` from the chapter's solution cell (optionally as the student stub)."""
    return chapter_function(
        "backprop",
        name,
        stub,
        np=np,
        plt=plt,
        DT=DT,
        W=torch.tensor([[0.5, 0.3, 0.7], [0.4, 0.5, 0.6], [0.1, 0.2, 0.3]], dtype=DT),
        b=torch.tensor([0.2, 0.3, 0.1], dtype=DT),
        A=A,
        w_start=W_START,
        f=lambda w: 0.5 * w @ A @ w,
        SIZES={"lr_sweep": 60},
        glue=lambda *args, **kwargs: None,
        check_gradients=check_gradients,
        dense_sigmoid_forward=dense_sigmoid_forward,
        buggy_dense_sigmoid_backward=buggy_dense_sigmoid_backward,
        gradient_descent_losses=gradient_descent_losses,
    )


@pytest.mark.parametrize(
    "name, check",
    [
        ("silu_backward", check_silu_backward),
        ("adam_step_once", check_adam_step),
        ("read_largest_stable_lr", lambda answer: check_lr_reading(answer, A)),
    ],
)
def test_reference_passes_and_stub_is_not_implemented(name, check):
    verdict = check(solution_function(name))
    assert verdict.passed, verdict.message
    stub = check(solution_function(name, stub=True))
    assert not stub.passed and "not implemented" in stub.message


# ----------------------------------------------------------------- exercise 1


def test_silu_forgetting_the_upstream_gradient_fails_with_hint():
    def local_only(x, grad_output):
        s = torch.sigmoid(x)
        return s * (1 + x * (1 - s))

    verdict = check_silu_backward(local_only)
    assert not verdict.passed and "grad_output" in verdict.message


def test_silu_without_product_rule_fails_with_hint():
    verdict = check_silu_backward(lambda x, g: g * torch.sigmoid(x))
    assert not verdict.passed and "product rule" in verdict.message


def test_silu_wrong_shape_fails():
    verdict = check_silu_backward(lambda x, g: (g * torch.sigmoid(x)).sum())
    assert not verdict.passed and "shape" in verdict.message


# ----------------------------------------------------------------- exercise 2


def test_fixed_layer_reference_passes():
    verdict = check_fixed_layer(solution_function("find_the_bug"), solution_function("fixed_backward"))
    assert verdict.passed, verdict.message


def test_fixed_layer_accepts_the_name_as_a_string():
    assert check_fixed_layer("dx", solution_function("fixed_backward")).passed
    assert check_fixed_layer("x", solution_function("fixed_backward")).passed


def test_fixed_layer_stubs_fail():
    fixed = solution_function("fixed_backward")
    verdict = check_fixed_layer(solution_function("find_the_bug", stub=True), fixed)
    assert not verdict.passed and "not implemented" in verdict.message
    verdict = check_fixed_layer("dx", solution_function("fixed_backward", stub=True))
    assert not verdict.passed and "not implemented" in verdict.message


def test_fixed_layer_blaming_the_wrong_gradient_fails():
    fixed = solution_function("fixed_backward")
    for name in ("dW", "db"):
        verdict = check_fixed_layer(name, fixed)
        assert not verdict.passed and "is right" in verdict.message
    assert not check_fixed_layer("dz", fixed).passed
    assert not check_fixed_layer(None, fixed).passed


def test_fixed_layer_returning_the_buggy_backward_fails():
    verdict = check_fixed_layer("dx", buggy_dense_sigmoid_backward)
    assert not verdict.passed
    assert "dx" in verdict.message


def test_fixed_layer_transposed_weight_gradient_fails():
    def transposed_dW(x, W, b, grad_output):
        a = dense_sigmoid_forward(x, W, b)
        delta = grad_output * a * (1 - a)
        return delta @ W, x.T @ delta, delta.sum(0)

    verdict = check_fixed_layer("dx", transposed_dW)
    assert not verdict.passed and "dW" in verdict.message


# ----------------------------------------------------------------- exercise 3


def test_adam_without_bias_correction_fails_with_hint():
    def no_correction(param, grad, m, v, t, lr, betas, eps, weight_decay):
        grad = grad + weight_decay * param
        m = betas[0] * m + (1 - betas[0]) * grad
        v = betas[1] * v + (1 - betas[1]) * grad**2
        return param - lr * m / (v.sqrt() + eps), m, v

    verdict = check_adam_step(no_correction)
    assert not verdict.passed and "bias correction" in verdict.message


def test_adam_with_decoupled_weight_decay_fails_with_hint():
    reference = solution_function("adam_step_once")

    def adamw(param, grad, m, v, t, lr, betas, eps, weight_decay):
        new_param, m, v = reference(param, grad, m, v, t, lr, betas, eps, 0.0)
        return new_param - lr * weight_decay * param, m, v

    verdict = check_adam_step(adamw)
    assert not verdict.passed and "AdamW" in verdict.message


def test_adam_eps_inside_the_square_root_fails():
    def eps_inside(param, grad, m, v, t, lr, betas, eps, weight_decay):
        grad = grad + weight_decay * param
        m = betas[0] * m + (1 - betas[0]) * grad
        v = betas[1] * v + (1 - betas[1]) * grad**2
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        return param - lr * m_hat / (v_hat + eps).sqrt(), m, v

    verdict = check_adam_step(eps_inside)
    assert not verdict.passed and "new_param" in verdict.message


def test_adam_returning_only_the_parameter_fails():
    reference = solution_function("adam_step_once")
    verdict = check_adam_step(lambda *args: reference(*args)[0])
    assert not verdict.passed and "three tensors" in verdict.message


# ----------------------------------------------------------------- exercise 4


def test_lr_reading_band_around_two_over_lambda_max():
    for reading in (0.2, 0.19, 0.215, np.float64(0.195), torch.tensor(0.2, dtype=DT)):
        assert check_lr_reading(reading, A).passed, reading
    assert not check_lr_reading(0.23, A).passed
    assert not check_lr_reading(0.17, A).passed


def test_lr_reading_classic_wrong_readings_fail_with_hints():
    half = check_lr_reading(0.1, A)  # 1/λ_max: fastest for the steep direction
    assert not half.passed and "1/λ_max" in half.message
    flat = check_lr_reading(2.0, A)  # 2/λ_min: the shallow direction's limit
    assert not flat.passed and "flat direction" in flat.message
    exponent = check_lr_reading(-0.7, A)  # log10 of the answer read off the axis
    assert not exponent.passed and "exponent" in exponent.message
    assert not check_lr_reading("0.2", A).passed
    assert not check_lr_reading(True, A).passed


def test_gradient_descent_losses_converge_below_and_diverge_above_the_limit():
    below = gradient_descent_losses(A, W_START, 0.19, 50)
    above = gradient_descent_losses(A, W_START, 0.21, 50)
    assert len(below) == 51
    assert below[-1] < below[0] < above[-1]

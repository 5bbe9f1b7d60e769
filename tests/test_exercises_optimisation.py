"""The optimisation chapter's checkers: the chapter's own solution passes, stubs and wrong answers fail."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from chapter_code import chapter_function

from course_lib.exercises.optimisation import (
    check_adam_step,
    check_lr_reading,
    check_nesterov_step,
    gradient_descent_losses,
)

DT = torch.float64
B = torch.tensor([[3.0, 1.0, 0.5], [1.0, 4.0, 1.5], [0.5, 1.5, 6.0]], dtype=DT)  # exercise 2
B_START = torch.tensor([1.0, -2.0, 1.5], dtype=DT)
LIMIT = 2 / torch.linalg.eigvalsh(B).max().item()


def solution_function(name: str, stub: bool = False):
    """Define ``name`` from the chapter's solution cell (optionally as the student stub)."""
    return chapter_function(
        "optimisation",
        name,
        stub,
        np=np,
        plt=plt,
        B=B,
        b_start=B_START,
        SIZES={"lr_sweep": 60},
        glue=lambda *args, **kwargs: None,
        gradient_descent_losses=gradient_descent_losses,
    )


@pytest.mark.parametrize(
    "name, check",
    [
        ("adam_step_once", check_adam_step),
        ("read_largest_stable_lr", lambda answer: check_lr_reading(answer, B)),
        ("nesterov_step", check_nesterov_step),
    ],
)
def test_reference_passes_and_stub_is_not_implemented(name, check):
    verdict = check(solution_function(name))
    assert verdict.passed, verdict.message
    stub = check(solution_function(name, stub=True))
    assert not stub.passed and "not implemented" in stub.message


# ----------------------------------------------------------------- exercise 1


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


def test_adam_accepts_float32_and_rejects_nan():
    reference = solution_function("adam_step_once")

    def float32(*args):
        return [x.float() for x in reference(*args)]

    assert check_adam_step(float32).passed
    verdict = check_adam_step(lambda *args: [x * float("nan") for x in reference(*args)])
    assert not verdict.passed


# ----------------------------------------------------------------- exercise 2


def test_lr_reading_band_is_one_sided():
    for reading in (0.99 * LIMIT, 0.9 * LIMIT, 0.86 * LIMIT, np.float64(0.95 * LIMIT)):
        assert check_lr_reading(reading, B).passed, reading
    assert check_lr_reading(torch.tensor(0.95 * LIMIT, dtype=DT), B).passed
    assert check_lr_reading(np.float32(0.95 * LIMIT), B).passed
    for reading in (LIMIT, 1.001 * LIMIT, 1.05 * LIMIT, 0.8 * LIMIT):
        assert not check_lr_reading(reading, B).passed, reading


def test_lr_reading_rejects_every_rate_that_diverges():
    for factor in np.linspace(1.0, 1.2, 21):
        lr = factor * LIMIT
        losses = gradient_descent_losses(B, B_START, lr, 200)
        assert losses[-1] >= losses[-11]  # it does not converge ...
        assert not check_lr_reading(lr, B).passed  # ... and is never accepted


def test_lr_reading_classic_wrong_readings_fail_with_hints():
    eigenvalues = torch.linalg.eigvalsh(B)
    half = check_lr_reading(1 / eigenvalues.max().item(), B)
    assert not half.passed and "1/λ_max" in half.message
    flat = check_lr_reading(2 / eigenvalues.min().item(), B)
    assert not flat.passed and "flat direction" in flat.message
    exponent = check_lr_reading(np.log10(0.95 * LIMIT), B)
    assert not exponent.passed and "exponent" in exponent.message
    assert not check_lr_reading("0.2", B).passed
    assert not check_lr_reading(True, B).passed
    assert not check_lr_reading(float("nan"), B).passed
    assert not check_lr_reading(float("inf"), B).passed


def test_lr_reading_below_the_start_is_not_enough():
    """The old criterion, 'final loss below the starting loss', accepts slow divergence."""
    slightly_above = 1.005 * LIMIT
    losses = gradient_descent_losses(B, B_START, slightly_above, 50)
    assert losses[-1] < losses[0]
    assert not check_lr_reading(slightly_above, B).passed


def test_gradient_descent_losses_converge_below_and_diverge_above_the_limit():
    below = gradient_descent_losses(B, B_START, 0.95 * LIMIT, 50)
    above = gradient_descent_losses(B, B_START, 1.1 * LIMIT, 50)
    assert len(below) == 51
    assert below[-1] < below[0] < above[-1]


# ----------------------------------------------------------------- exercise 3


def test_nesterov_plain_momentum_fails_with_hint():
    def plain(param, grad, buffer, lr, momentum):
        buffer = momentum * buffer + grad
        return param - lr * buffer, buffer

    verdict = check_nesterov_step(plain)
    assert not verdict.passed and "look" in verdict.message


def test_nesterov_old_buffer_in_the_step_fails():
    def old_buffer(param, grad, buffer, lr, momentum):
        new = momentum * buffer + grad
        return param - lr * (grad + momentum * buffer), new

    assert not check_nesterov_step(old_buffer).passed


def test_nesterov_wrong_buffer_fails_with_hint():
    def averaged(param, grad, buffer, lr, momentum):
        buffer = momentum * buffer + (1 - momentum) * grad
        return param - lr * (grad + momentum * buffer), buffer

    verdict = check_nesterov_step(averaged)
    assert not verdict.passed and "buffer" in verdict.message


def test_nesterov_accepts_float32_and_rejects_nan():
    reference = solution_function("nesterov_step")
    assert check_nesterov_step(lambda *a: [x.float() for x in reference(*a)]).passed
    verdict = check_nesterov_step(lambda *a: [x * float("nan") for x in reference(*a)])
    assert not verdict.passed


def test_nesterov_returning_one_tensor_fails():
    reference = solution_function("nesterov_step")
    verdict = check_nesterov_step(lambda *args: reference(*args)[0])
    assert not verdict.passed and "two tensors" in verdict.message


@pytest.mark.parametrize("steps, error", [(-1, ValueError), (20.0, TypeError)])
def test_gradient_descent_losses_refuses_a_step_count_that_is_not_one(steps, error):
    with pytest.raises(error, match="steps"):
        gradient_descent_losses(B, B_START, 0.1, steps)

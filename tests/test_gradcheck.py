"""The gradient checker (course_lib.gradcheck): centred differences, relative error, verdicts."""

from __future__ import annotations

import pytest
import torch

from course_lib.gradcheck import (
    GradCheckReport,
    GradientCheckError,
    autograd_gradient,
    check_gradients,
    classify,
    max_rel_error,
    numerical_gradient,
    rel_error,
    rel_errors,
)

DT = torch.float64


def test_rel_error_is_cs231n_definition():
    assert rel_error(1.0, 1.0) == 0.0
    assert rel_error(0.0, 0.0) == 0.0  # the tiny floor: two zeros agree
    assert rel_error(1.0, 3.0) == pytest.approx(0.5)
    assert rel_error(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.2])) == pytest.approx(0.2 / 4.2)
    assert rel_error(1e-20, 0.0) == pytest.approx(1e-8)  # |a - b| / 1e-12


def test_rel_error_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="equal shapes"):
        rel_error(torch.zeros(3), torch.zeros(2, 3))


@pytest.mark.parametrize(
    "error, verdict",
    [(0.0, "good"), (9e-8, "good"), (1e-6, "fine for kinked functions"), (1e-3, "uncomfortable"),
     (0.5, "wrong"), (float("nan"), "wrong")],
)  # fmt: skip
def test_classify_uses_cs231n_thresholds(error, verdict):
    assert classify(error) == verdict


def test_numerical_gradient_of_known_functions():
    x = torch.tensor([0.5, -1.0, 2.0], dtype=DT)
    grad = numerical_gradient(lambda v: (v**3).sum(), x)
    assert torch.allclose(grad, 3 * x**2, rtol=1e-8)
    a, b = torch.tensor([[1.0, 2.0]], dtype=DT), torch.tensor([[3.0], [4.0]], dtype=DT)
    ga, gb = numerical_gradient(lambda p, q: (p @ q).sum() ** 2, (a, b))
    value = (a @ b).item()
    assert torch.allclose(ga, 2 * value * b.T, rtol=1e-8)
    assert torch.allclose(gb, 2 * value * a.T, rtol=1e-8)


def test_numerical_gradient_works_in_float64_and_leaves_inputs_alone():
    x = torch.tensor([1.0, 2.0], dtype=torch.float32)
    before = x.clone()
    grad = numerical_gradient(lambda v: (v.sin() * v).sum(), x)
    assert grad.dtype == DT
    assert torch.equal(x, before)
    exact = x.double().cos() * x.double() + x.double().sin()
    assert rel_error(grad, exact) < 1e-9


def test_numerical_gradient_rejects_a_non_scalar_function():
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda v: v * 2, torch.ones(3))


def test_numerical_gradient_rejects_non_tensors_and_bad_eps():
    with pytest.raises(TypeError, match="torch tensors"):
        numerical_gradient(lambda v: v.sum(), [1.0, 2.0])
    with pytest.raises(ValueError, match="eps"):
        numerical_gradient(lambda v: v.sum(), torch.ones(2), eps=0)


def test_autograd_gradient_matches_formula_and_handles_unused_inputs():
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([3.0])
    gx, gy = autograd_gradient(lambda a, b: (a**2).sum(), (x, y))
    assert torch.equal(gx, 2 * x.double()) and torch.equal(gy, torch.zeros(1, dtype=DT))


def test_check_gradients_passes_a_right_gradient(capsys):
    g = torch.Generator().manual_seed(0)
    W, x = torch.randn(3, 4, generator=g, dtype=DT), torch.randn(4, generator=g, dtype=DT)

    def loss(W, x):
        return torch.tanh(W @ x).pow(2).sum()

    grads = autograd_gradient(loss, (W, x))
    report = check_gradients(loss, (W, x), grads, names=["W", "x"], name="tanh layer")
    assert report.passed and report.verdict == "good" and report.max_error < 1e-7
    assert "[PASS] tanh layer" in capsys.readouterr().out


def test_check_gradients_catches_a_transposed_gradient():
    g = torch.Generator().manual_seed(1)
    W = torch.randn(3, 3, generator=g, dtype=DT)
    x = torch.randn(3, generator=g, dtype=DT)
    right = autograd_gradient(lambda M: (M @ x).sin().sum(), W)
    with pytest.raises(GradientCheckError, match="wrong"):
        check_gradients(lambda M: (M @ x).sin().sum(), W, right.T, names=["W"])
    report = check_gradients(lambda M: (M @ x).sin().sum(), W, right.T, raise_on_fail=False)
    assert not report.passed and report.verdict == "wrong"


def test_kinked_functions_accept_the_middle_band():
    report = GradCheckReport("relu", ("x",), (1e-6,), kinked=False)
    assert not report.passed
    assert GradCheckReport("relu", ("x",), (1e-6,), kinked=True).passed
    assert not GradCheckReport("relu", ("x",), (1e-3,), kinked=True).passed


def test_check_gradients_rejects_mismatched_arguments():
    x = torch.ones(3, dtype=DT)
    with pytest.raises(ValueError, match="shape"):
        check_gradients(lambda v: v.sum(), x, torch.ones(2, dtype=DT))
    with pytest.raises(ValueError, match="one per input"):
        check_gradients(lambda v, w: v.sum(), (x, x), [torch.ones(3)])
    with pytest.raises(ValueError, match="names"):
        check_gradients(lambda v: v.sum(), x, torch.ones(3), names=["a", "b"])


def test_rel_errors_is_elementwise_and_rel_error_its_largest():
    a, b = torch.tensor([1.0, 2.0, 0.0]), torch.tensor([1.0, 2.2, 0.0])
    errors = rel_errors(a, b)
    assert errors.shape == (3,) and errors.dtype == torch.float64
    assert errors.tolist() == pytest.approx([0.0, 0.2 / 4.2, 0.0])
    assert rel_error(a, b) == max_rel_error(a, b) == errors.max().item()
    assert max_rel_error(torch.zeros(0), torch.zeros(0)) == 0.0


def _tanh_loss_and_float32_gradients():
    g = torch.Generator().manual_seed(4)
    W = torch.randn(4, 3, generator=g, dtype=DT)
    x = torch.randn(3, generator=g, dtype=DT)
    W32, x32 = W.float().requires_grad_(True), x.float().requires_grad_(True)
    torch.tanh(W32 @ x32).pow(2).sum().backward()
    return (lambda M, v: torch.tanh(M @ v).pow(2).sum()), (W, x), (W32.grad, x32.grad)


def test_a_right_float32_gradient_passes_as_good_for_float32():
    f, inputs, analytic = _tanh_loss_and_float32_gradients()
    report = check_gradients(f, inputs, analytic, names=["W", "x"])
    assert report.passed and report.verdict == "good for float32"
    assert report.max_error > 1e-9, "float32 really is coarser than the float64 bands"


def test_a_wrong_float32_gradient_fails_and_says_it_is_float32():
    f, inputs, (gW, gx) = _tanh_loss_and_float32_gradients()
    with pytest.raises(GradientCheckError, match="float32"):
        check_gradients(f, inputs, (gW * 1.01, gx), names=["W", "x"])


def test_half_precision_gradients_are_refused():
    x = torch.ones(3, dtype=DT)
    with pytest.raises(TypeError, match="float16"):
        check_gradients(lambda v: v.sum(), x, torch.ones(3, dtype=torch.float16))


def test_f_that_closes_over_a_float32_tensor_is_told_why_it_fails():
    W32 = torch.ones(2, 3)
    with pytest.raises(TypeError, match=r"float64 copies of the inputs.*W.double\(\)"):
        check_gradients(lambda v: (W32 @ v).sum(), torch.ones(3), torch.full((3,), 2.0, dtype=DT))
    with pytest.raises(TypeError, match="float64 copies"):
        autograd_gradient(lambda v: (W32 @ v).sum(), torch.ones(3))

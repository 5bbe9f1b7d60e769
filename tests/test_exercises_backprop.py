"""The backprop chapter's checkers: the chapter's own solution passes, the stub and wrong answers fail."""

from __future__ import annotations

import math

import pytest
import torch
from chapter_code import chapter_function

from course_lib.autograd import Value
from course_lib.exercises.backprop import (
    buggy_dense_sigmoid_backward,
    check_fixed_layer,
    check_silu_backward,
    check_softplus,
    dense_sigmoid_forward,
)
from course_lib.gradcheck import check_gradients

DT = torch.float64


def solution_function(name: str, stub: bool = False):
    """Define ``name`` from the chapter's solution cell (optionally as the student stub)."""
    return chapter_function(
        "backprop",
        name,
        stub,
        math=math,
        DTYPE=DT,
        Value=Value,
        W=torch.tensor([[0.5, 0.3, 0.7], [0.4, 0.5, 0.6], [0.1, 0.2, 0.3]], dtype=DT),
        b=torch.tensor([0.2, 0.3, 0.1], dtype=DT),
        glue=lambda *args, **kwargs: None,
        check_gradients=check_gradients,
        dense_sigmoid_forward=dense_sigmoid_forward,
        buggy_dense_sigmoid_backward=buggy_dense_sigmoid_backward,
    )


@pytest.mark.parametrize(
    "name, check",
    [
        ("silu_backward", check_silu_backward),
        ("softplus", check_softplus),
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


def test_buggy_layer_source_carries_no_hint():
    import inspect

    from course_lib.exercises import backprop

    source = inspect.getsource(backprop.buggy_dense_sigmoid_backward)
    assert "square" not in source.split('"""')[-1]


# ----------------------------------------------------------------- exercise 3


def _softplus_with(update):
    def softplus(a):
        out = Value(math.log1p(math.exp(a.data)), (a,), "softplus")

        def _backward():
            update(a, out, 1 / (1 + math.exp(-a.data)))

        out._backward = _backward
        return out

    return softplus


def test_softplus_overwriting_the_gradient_fails_with_hint():
    def assign(a, out, local):
        a.grad = local * out.grad

    verdict = check_softplus(_softplus_with(assign))
    assert not verdict.passed and "+=" in verdict.message


def test_softplus_forgetting_the_upstream_gradient_fails():
    def no_upstream(a, out, local):
        a.grad += local

    verdict = check_softplus(_softplus_with(no_upstream))
    assert not verdict.passed and "out.grad" in verdict.message


def test_softplus_wrong_derivative_fails():
    def tanh_derivative(a, out, local):
        a.grad += out.grad * (1 - math.tanh(a.data) ** 2)

    assert not check_softplus(_softplus_with(tanh_derivative)).passed


def test_softplus_built_from_existing_operations_passes():
    assert check_softplus(lambda a: (1 + a.exp()).log()).passed


def test_softplus_returning_a_float_fails():
    verdict = check_softplus(lambda a: math.log1p(math.exp(a.data)))
    assert not verdict.passed and "Value" in verdict.message


def test_softplus_returning_nan_fails():
    verdict = check_softplus(lambda a: a * float("nan"))
    assert not verdict.passed


def test_float32_answers_pass_and_nan_fails():
    silu = solution_function("silu_backward")
    assert check_silu_backward(lambda x, g: silu(x, g).float()).passed
    assert not check_silu_backward(lambda x, g: silu(x, g) * float("nan")).passed
    fixed = solution_function("fixed_backward")
    assert check_fixed_layer("dx", lambda *args: [t.float() for t in fixed(*args)]).passed
    assert not check_fixed_layer("dx", lambda *args: [t * float("nan") for t in fixed(*args)]).passed

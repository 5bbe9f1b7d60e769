"""Checkers for the backprop chapter's exercises, and the deliberately buggy layer of exercise 2.

Each checker returns a :class:`~course_lib.checks.Verdict` that says what was expected and
what came back. ``tests/test_exercises_backprop.py`` runs each against the chapter's reference
solution (must pass), the empty stub and plausible wrong answers (must fail).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..checks import Wrong, answer_tensor, checker, matches, precision_note, run_beside
from ..gradcheck import rel_error

DTYPE = torch.float64
GRADIENT_RTOL = 2e-7  # about rel_error < 1e-7 for a float64 answer (matches() allows float32 more)


def _tensor_or_wrong(value, what: str, shape) -> torch.Tensor:
    hint = "A gradient has the shape of the tensor it is the gradient with respect to."
    return answer_tensor(value, what, shape, hint=hint)


# ----------------------------------------------------------------- exercise 1: a new operation


@checker("Exercise 1, the backward pass of SiLU")
def check_silu_backward(student_fn) -> str:
    """``student_fn(x, grad_output)`` must return dL/dx for y = x·σ(x), given dL/dy.

    Used by book/backprop.md, exercise 1.
    """
    g = torch.Generator().manual_seed(11)
    worst = 0.0
    for shape in ((5,), (4, 3), (2, 3, 4)):
        x = torch.randn(shape, generator=g, dtype=DTYPE) * 3
        upstream = torch.randn(shape, generator=g, dtype=DTYPE)
        leaf = x.clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(F.silu(leaf), leaf, upstream)
        got = _tensor_or_wrong(student_fn(x.clone(), upstream.clone()), "silu_backward", shape)
        error = rel_error(got, expected)
        worst = max(worst, error)
        if matches(got, expected, rtol=GRADIENT_RTOL, atol=1e-12):
            continue
        s = torch.sigmoid(x)
        local = s * (1 + x * (1 - s))
        if matches(got, local, rtol=GRADIENT_RTOL, atol=1e-12):
            raise Wrong(
                "you returned the local derivative dy/dx only: multiply it by grad_output, the "
                "gradient arriving from above (chain rule)."
            )
        if matches(got, upstream * s, rtol=GRADIENT_RTOL, atol=1e-12):
            raise Wrong(
                "you returned grad_output * σ(x), as if x in x·σ(x) were a constant: use the product "
                "rule, d/dx [x σ(x)] = σ(x) + x σ(x)(1 - σ(x))."
            )
        raise Wrong(
            f"for x of shape {tuple(shape)} the relative error against torch.autograd is {error:.2e} "
            f"(should be below 1e-7). First elements: expected {expected.flatten()[:3].tolist()}, "
            f"got {got.flatten()[:3].tolist()}.{precision_note(got, expected)}"
        )
    return f"matches torch.autograd on three shapes (max relative error {worst:.1e})."


# ----------------------------------------------------------------- exercise 2: find the bug


def dense_sigmoid_forward(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a = σ(x Wᵀ + b) for a batch ``x`` (N, in), ``W`` (out, in), ``b`` (out,).

    Used by the backprop chapter's exercise 2.
    """
    return torch.sigmoid(x @ W.T + b)


def buggy_dense_sigmoid_backward(x, W, b, grad_output):
    """A backward pass of :func:`dense_sigmoid_forward` with one deliberate bug: find it.

    Returns ``(dx, dW, db)`` given ``grad_output`` = dL/da (N, out). Used by the backprop
    chapter's exercise 2, where the gradient checker finds which of the three is wrong.
    """
    a = dense_sigmoid_forward(x, W, b)
    delta = grad_output * a * (1 - a)  # dL/dz, (N, out)
    dW = delta.T @ x  # (out, in)
    db = delta.sum(0)  # (out,)
    dx = delta @ W.T  # (N, in)
    return dx, dW, db


_GRADIENT_NAMES = {"x": "x", "dx": "x", "w": "W", "dw": "W", "b": "b", "db": "b"}


@checker("Exercise 2, find and fix the bug")
def check_fixed_layer(wrong_gradient, fixed_backward) -> str:
    """``wrong_gradient`` names the buggy output ("dx", "dW" or "db"); ``fixed_backward`` fixes it.

    ``wrong_gradient`` may also be a function of no arguments that returns the name.

    ``fixed_backward(x, W, b, grad_output)`` must return ``(dx, dW, db)`` equal to
    torch.autograd's for square and non-square layers. Used by the backprop chapter's exercises.
    """
    if callable(wrong_gradient):
        wrong_gradient = wrong_gradient()
    if not isinstance(wrong_gradient, str):
        raise Wrong(f'name the wrong gradient as a string such as "dW", got {wrong_gradient!r}.')
    named = _GRADIENT_NAMES.get(wrong_gradient.strip().lower())
    if named is None:
        raise Wrong(f'{wrong_gradient!r} is not one of "dx", "dW", "db".')
    if named != "x":
        raise Wrong(
            f"d{named} is right: the gradient checker rates it good. Look at the gradient whose "
            "verdict is wrong."
        )
    g = torch.Generator().manual_seed(22)
    for n, n_in, n_out in ((4, 3, 3), (5, 3, 2), (2, 4, 6)):
        x = torch.randn(n, n_in, generator=g, dtype=DTYPE)
        W = torch.randn(n_out, n_in, generator=g, dtype=DTYPE)
        b = torch.randn(n_out, generator=g, dtype=DTYPE)
        upstream = torch.randn(n, n_out, generator=g, dtype=DTYPE)
        leaves = [t.clone().requires_grad_(True) for t in (x, W, b)]
        expected = torch.autograd.grad(dense_sigmoid_forward(*leaves), leaves, upstream)
        got = fixed_backward(x.clone(), W.clone(), b.clone(), upstream.clone())
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise Wrong("return the three gradients as a tuple (dx, dW, db).")
        where = f"a layer with {n_in} inputs and {n_out} outputs, batch {n}"
        for name, value, want, like in zip(("dx", "dW", "db"), got, expected, (x, W, b)):
            value = _tensor_or_wrong(value, f"{name} for {where}", like.shape)
            if not matches(value, want, rtol=GRADIENT_RTOL, atol=1e-12):
                error = rel_error(value, want)
                raise Wrong(
                    f"{name} for {where} has relative error {error:.2e} against torch.autograd."
                    + precision_note(value, want)
                )
    return "dx was the bug (δ Wᵀ instead of δ W, invisible while W is square); your fix matches autograd."


# ----------------------------------------------------------------- exercise 3: a new Value op


# Each expression uses the student's softplus ``sp`` on ``a``: a Value, or a torch tensor.
SOFTPLUS_EXPRESSIONS = {
    "softplus(a)": lambda a, sp: sp(a),
    "softplus(a) * a + softplus(a)": lambda a, sp: sp(a) * a + sp(a),
    "softplus(softplus(a) * 2)": lambda a, sp: sp(sp(a) * 2),
}


def softplus_probe(student_fn, where: str, number: float) -> dict:
    """Build ``where`` on ``Value(number)`` with the student's softplus and run backward.

    Returns plain numbers, ``{"value": ..., "grad": ...}``, or ``{"returned": type name}``
    when the result is not a Value: a Value's closures cannot leave the student's process,
    so under the class grader this runs there (:func:`~course_lib.checks.run_beside`).
    """
    from ..autograd import Value

    a = Value(number)
    out = SOFTPLUS_EXPRESSIONS[where](a, student_fn)
    if not isinstance(out, Value):
        return {"returned": type(out).__name__}
    out.backward()
    return {"value": float(out.data), "grad": float(a.grad)}


@checker("Exercise 3, softplus for the engine")
def check_softplus(student_fn) -> str:
    """``student_fn(a)`` must return a Value equal to log(1 + e^a) with the right gradient.

    Checked alone and inside expressions that use it twice, against torch. The Values are
    built by :func:`softplus_probe`, beside the student's function. Used by
    book/backprop.md, exercise 3.
    """
    for where, build in SOFTPLUS_EXPRESSIONS.items():
        for number in (-3.0, -0.5, 0.0, 1.2, 4.0):
            got = run_beside(student_fn, softplus_probe, where, number)
            if "returned" in got:
                raise Wrong(f"softplus must return a Value, got {got['returned']}.")
            tensor = torch.tensor(number, dtype=DTYPE, requires_grad=True)
            expected = build(tensor, F.softplus)
            expected.backward()
            if not math.isclose(got["value"], expected.item(), rel_tol=1e-9, abs_tol=1e-12):
                raise Wrong(
                    f"{where} at a = {number}: value {got['value']:.6g}, expected {expected.item():.6g}."
                )
            if not math.isclose(got["grad"], tensor.grad.item(), rel_tol=1e-9, abs_tol=1e-12):
                hint = ""
                if where != "softplus(a)":
                    hint = (
                        " It is right for softplus(a) alone: does your closure add (+=) into "
                        "a.grad and multiply by out.grad, the gradient from above?"
                    )
                raise Wrong(
                    f"{where} at a = {number}: gradient {got['grad']:.6g}, expected "
                    f"{tensor.grad.item():.6g}.{hint}"
                )
    return "values and gradients match torch, alone and inside larger expressions."

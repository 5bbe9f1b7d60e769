"""Checkers for the backprop chapter's exercises, and the deliberately buggy layer of exercise 2.

Each checker returns a :class:`~course_lib.checks.Verdict` that says what was expected and
what came back. ``tests/test_exercises_backprop.py`` runs each against the chapter's reference
solution (must pass), the empty stub and plausible wrong answers (must fail).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..checks import Wrong, answer_number, answer_tensor, checker, matches, precision_note
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

    Used by the backprop chapter's exercises.
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
    dx = delta @ W.T  # (N, in) when W is square
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


# ----------------------------------------------------------------- exercise 3: one Adam step


def _torch_adam(param, grad, m, v, t, lr, betas, eps, weight_decay):
    p = torch.nn.Parameter(param.detach().clone().to(DTYPE))
    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    p.grad = grad.detach().clone().to(DTYPE)
    opt.state[p] = {
        "step": torch.tensor(float(t - 1)),
        "exp_avg": m.detach().clone().to(DTYPE),
        "exp_avg_sq": v.detach().clone().to(DTYPE),
    }
    opt.step()
    return p.detach(), opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]


@checker("Exercise 3, one Adam step")
def check_adam_step(student_fn) -> str:
    """``student_fn(param, grad, m, v, t, lr, betas, eps, weight_decay)`` -> ``(param, m, v)``.

    The result must match torch.optim.Adam's step. ``t`` is the number of this step (1 for
    the first). Used by the backprop chapter's exercises.
    """
    g = torch.Generator().manual_seed(33)
    cases = [  # (t, lr, betas, eps, weight_decay)
        (1, 0.1, (0.9, 0.999), 1e-8, 0.0),
        (7, 0.01, (0.9, 0.999), 1e-8, 0.0),
        (3, 0.05, (0.8, 0.99), 1e-3, 0.0),
        (25, 0.02, (0.9, 0.999), 1e-8, 0.1),
    ]
    for t, lr, betas, eps, wd in cases:
        param = torch.randn(6, generator=g, dtype=DTYPE)
        grad = torch.randn(6, generator=g, dtype=DTYPE)
        m = torch.zeros(6, dtype=DTYPE) if t == 1 else 0.1 * torch.randn(6, generator=g, dtype=DTYPE)
        v = torch.zeros(6, dtype=DTYPE) if t == 1 else 0.01 * torch.rand(6, generator=g, dtype=DTYPE)
        expected = _torch_adam(param, grad, m, v, t, lr, betas, eps, wd)
        got = student_fn(param.clone(), grad.clone(), m.clone(), v.clone(), t, lr, betas, eps, wd)
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise Wrong("return three tensors: (new_param, new_m, new_v).")
        setting = f"t={t}, lr={lr}, betas={betas}, eps={eps}, weight_decay={wd}"
        names = ("new_param", "new_m", "new_v")
        got = [_tensor_or_wrong(x, name, param.shape) for x, name in zip(got, names)]
        for i in (1, 2, 0):  # the moments first: a wrong moment explains a wrong step
            name, value, want = names[i], got[i], expected[i]
            if matches(value, want, rtol=1e-9, atol=1e-12):
                continue
            b1, b2 = betas
            grad_wd = grad + wd * param
            m_new, v_new = b1 * m + (1 - b1) * grad_wd, b2 * v + (1 - b2) * grad_wd**2
            if name == "new_param" and matches(value, param - lr * m_new / (v_new.sqrt() + eps)):
                raise Wrong(
                    f"with {setting} your step has no bias correction: divide m by 1 - β₁^t and v by "
                    "1 - β₂^t before the update (they start at zero, so early averages are too small)."
                )
            if wd and name in ("new_param", "new_m"):
                m_plain = b1 * m + (1 - b1) * grad
                if matches(got[1], m_plain):
                    raise Wrong(
                        f"with {setting}: torch.optim.Adam adds weight_decay * param to the gradient "
                        "before the moments (L2 regularisation); decoupled decay is AdamW."
                    )
            raise Wrong(
                f"{name} differs from torch.optim.Adam with {setting}: expected "
                f"{want[:3].tolist()}..., got {value[:3].tolist()}...{precision_note(value, want)}"
            )
    return f"all {len(cases)} steps match torch.optim.Adam (with and without weight decay)."


# ----------------------------------------------------------------- exercise 4: read a plot


def gradient_descent_losses(hessian: torch.Tensor, start: torch.Tensor, lr: float, steps: int):
    """Loss ½ wᵀ H w after each of ``steps`` gradient-descent steps from ``start``.

    Used by the backprop chapter (sections 6 and 7, exercise 4). Returns ``steps + 1`` losses.
    """
    w = start.to(DTYPE).clone()
    hessian = hessian.to(DTYPE)
    losses = [0.5 * w @ hessian @ w]
    for _ in range(steps):
        w = w - lr * (hessian @ w)
        losses.append(0.5 * w @ hessian @ w)
    return torch.stack(losses)


@checker("Exercise 4, the largest stable learning rate")
def check_lr_reading(largest_stable_lr, hessian: torch.Tensor) -> str:
    """The learning rate read off the sweep must be within 10% of 2/λ_max of ``hessian``.

    ``largest_stable_lr`` is the reading, or a function of no arguments that returns it.

    Used by the backprop chapter's exercises.
    """
    if callable(largest_stable_lr):
        largest_stable_lr = largest_stable_lr()
    reading = answer_number(largest_stable_lr, "your learning rate")
    eigenvalues = torch.linalg.eigvalsh(hessian.to(DTYPE))
    low, high = eigenvalues.min().item(), eigenvalues.max().item()
    answer = 2 / high
    if abs(reading - answer) <= 0.1 * answer:
        return f"{reading:.4g} is within 10% of the exact limit 2/λ_max = {answer:.4g}."
    if reading <= 0:
        raise Wrong(
            f"{reading:g} is not a learning rate: on a log axis read the value (e.g. 0.2), not its "
            "exponent (e.g. -0.7)."
        )
    if abs(reading - 1 / high) <= 0.08 / high:
        raise Wrong(
            f"{reading:g} is where the steep direction converges fastest (1/λ_max), not the largest "
            "learning rate that still converges: go further right on the plot."
        )
    if abs(reading - 2 / low) <= 0.16 / low:
        raise Wrong(
            f"{reading:g} is the limit for the flat direction only; the steep direction diverges "
            "long before. Find where the final loss rises above the starting loss."
        )
    direction = "too small" if reading < answer else "too large: gradient descent diverges there"
    raise Wrong(f"{reading:g} is {direction}. Read where the final loss crosses the starting loss.")

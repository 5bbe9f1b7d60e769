"""Checkers for the optimisation chapter's exercises (book/optimisation.md, "Exercises").

Each checker returns a :class:`~course_lib.checks.Verdict` that says what was expected and
what came back. ``tests/test_exercises_optimisation.py`` runs each against the chapter's
reference solution (must pass), the empty stub and plausible wrong answers (must fail).
"""

from __future__ import annotations

import torch

from .._require import require_int
from ..checks import Wrong, answer_number, checker, matches, precision_note
from .backprop import DTYPE, _tensor_or_wrong

TIGHT = {"rtol": 1e-9, "atol": 1e-12}  # for a float64 answer; matches() allows float32 its rounding


# ----------------------------------------------------------------- exercise 1: one Adam step


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


@checker("Exercise 1, one Adam step")
def check_adam_step(student_fn) -> str:
    """``student_fn(param, grad, m, v, t, lr, betas, eps, weight_decay)`` -> ``(param, m, v)``.

    The result must match torch.optim.Adam's step. ``t`` is the number of this step (1 for
    the first). Used by book/optimisation.md, exercise 1.
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
            if matches(value, want, **TIGHT):
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


# ----------------------------------------------------------------- exercise 2: read a plot


def gradient_descent_losses(hessian: torch.Tensor, start: torch.Tensor, lr: float, steps: int):
    """Loss ½ wᵀ H w after each of ``steps`` gradient-descent steps from ``start``.

    Used by book/optimisation.md, exercise 2. Returns ``steps + 1`` losses.
    """
    steps = require_int("steps", steps, 0)
    w = start.to(DTYPE).clone()
    hessian = hessian.to(DTYPE)
    losses = [0.5 * w @ hessian @ w]
    for _ in range(steps):
        w = w - lr * (hessian @ w)
        losses.append(0.5 * w @ hessian @ w)
    return torch.stack(losses)


@checker("Exercise 2, the largest stable learning rate")
def check_lr_reading(largest_stable_lr, hessian: torch.Tensor) -> str:
    """The reading must lie in [0.85, 1) × 2/λ_max of ``hessian``: a rate that diverges
    (or, at exactly 2/λ_max, never settles) is never accepted.

    ``largest_stable_lr`` is the reading, or a function of no arguments that returns it.

    Used by book/optimisation.md, exercise 2.
    """
    if callable(largest_stable_lr):
        largest_stable_lr = largest_stable_lr()
    reading = answer_number(largest_stable_lr, "your learning rate")
    eigenvalues = torch.linalg.eigvalsh(hessian.to(DTYPE))
    low, high = eigenvalues.min().item(), eigenvalues.max().item()
    answer = 2 / high
    if 0.85 * answer <= reading < answer:
        return f"{reading:.4g} still converges and is within 15% below the limit."
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
            "long before. Find where the loss stops decreasing."
        )
    if reading >= answer:
        raise Wrong(
            f"{reading:g} is too large: gradient descent does not converge there. Pick the "
            "largest rate whose loss is still decreasing at the end of the run."
        )
    raise Wrong(f"{reading:g} is too small: the loss still decreases at larger rates.")


# ----------------------------------------------------------------- exercise 3: Nesterov


def _torch_nesterov(param, grad, buffer, lr, momentum):
    p = torch.nn.Parameter(param.detach().clone().to(DTYPE))
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum, nesterov=True)
    p.grad = grad.detach().clone().to(DTYPE)
    opt.state[p] = {"momentum_buffer": buffer.detach().clone().to(DTYPE)}
    opt.step()
    return p.detach(), opt.state[p]["momentum_buffer"]


@checker("Exercise 3, Nesterov momentum")
def check_nesterov_step(student_fn) -> str:
    """``student_fn(param, grad, buffer, lr, momentum)`` -> ``(new_param, new_buffer)``.

    The result must match ``torch.optim.SGD(..., momentum=momentum, nesterov=True)``.
    Used by book/optimisation.md, exercise 3.
    """
    g = torch.Generator().manual_seed(44)
    cases = [(0.1, 0.9, True), (0.05, 0.5, False), (0.2, 0.99, False)]  # lr, μ, first
    for lr, momentum, first in cases:
        param = torch.randn(5, generator=g, dtype=DTYPE)
        grad = torch.randn(5, generator=g, dtype=DTYPE)
        buffer = torch.zeros(5, dtype=DTYPE) if first else torch.randn(5, generator=g, dtype=DTYPE)
        expected = _torch_nesterov(param, grad, buffer, lr, momentum)
        got = student_fn(param.clone(), grad.clone(), buffer.clone(), lr, momentum)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Wrong("return two tensors: (new_param, new_buffer).")
        new_param = _tensor_or_wrong(got[0], "new_param", param.shape)
        new_buffer = _tensor_or_wrong(got[1], "new_buffer", param.shape)
        setting = f"lr={lr}, momentum={momentum}"
        if not matches(new_buffer, expected[1], **TIGHT):
            raise Wrong(
                f"new_buffer differs from torch.optim.SGD with {setting}: the buffer is updated "
                "as in plain momentum, u <- μ u + g." + precision_note(new_buffer, expected[1])
            )
        if matches(new_param, expected[0], **TIGHT):
            continue
        if matches(new_param, param - lr * expected[1]):
            raise Wrong(
                f"with {setting} you took the plain momentum step w - η u; Nesterov's step looks "
                "ahead: w - η (g + μ u), with the new u."
            )
        raise Wrong(
            f"new_param differs from torch.optim.SGD(nesterov=True) with {setting}: expected "
            f"{expected[0][:3].tolist()}..., got {new_param[:3].tolist()}..."
            + precision_note(new_param, expected[0])
        )
    return f"all {len(cases)} steps match torch.optim.SGD(nesterov=True)."

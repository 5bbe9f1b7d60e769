"""Gradient checking: compare a backward pass with centred finite differences.

Explained in book/backprop.md, "Inside the gradient checker". The recipe is CS231n's: perturb
one input element by ``±eps`` in float64, take ``(f(x + eps) - f(x - eps)) / (2 eps)`` as the
numerical partial derivative, and compare it with the analytic gradient by *relative* error,

    rel_error(a, b) = |a - b| / max(|a| + |b|, tiny),

reading the largest relative error against CS231n's thresholds:

==================  ====================================================================
max relative error  verdict
==================  ====================================================================
> 1e-2              wrong: the gradient is almost certainly wrong
1e-4 ... 1e-2       uncomfortable: suspicious, look again
1e-7 ... 1e-4       fine for a function with kinks (ReLU, max), too large for a smooth one
< 1e-7              good
==================  ====================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

TINY = 1e-12  # floor of the denominator, so two zero gradients compare as equal

THRESHOLDS = (  # (upper bound of the band, verdict), smallest first
    (1e-7, "good"),
    (1e-4, "fine for kinked functions"),
    (1e-2, "uncomfortable"),
    (float("inf"), "wrong"),
)
# A float32 gradient keeps about 7 significant digits, so even a right one differs from float64
# finite differences by 1e-6 to 1e-5 relative: "good" for it ends where float64's kinked band does.
THRESHOLDS_FLOAT32 = (
    (1e-4, "good for float32"),
    (1e-2, "uncomfortable"),
    (float("inf"), "wrong"),
)


class GradientCheckError(AssertionError):
    """Raised by :func:`check_gradients` when a gradient fails its check.

    Explained in book/backprop.md, "Inside the gradient checker".
    """


def _as_tuple(inputs) -> tuple[torch.Tensor, ...]:
    single = isinstance(inputs, torch.Tensor)
    inputs = (inputs,) if single else tuple(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input {i} is a {type(x).__name__}; pass torch tensors (torch.tensor(...)).")
    return inputs


def _call(f: Callable, inputs) -> torch.Tensor:
    """``f(*inputs)`` on the float64 copies; a float32 tensor inside ``f`` gets an explanation."""
    try:
        return f(*inputs)
    except RuntimeError as error:
        text = str(error)
        if not any(word in text for word in ("dtype", "Double", "scalar type")):
            raise
        raise TypeError(
            "f mixes float64 and float32: the gradient checker runs f on float64 copies of the "
            "inputs (float32 is too coarse for finite differences), so every tensor f uses "
            f"besides its inputs must be float64 too, e.g. W.double(). (torch: {text.splitlines()[0]})"
        ) from error


def _scalar(value, where: str) -> float:
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(
            f"{where} must return a scalar tensor (one number), got {shape}; reduce it first, "
            "e.g. f(x).sum(), or check (f(x) * upstream).sum() for a given upstream gradient."
        )
    return value.item()


def rel_errors(a, b, tiny: float = TINY) -> torch.Tensor:
    """The elementwise relative errors ``|a - b| / max(|a| + |b|, tiny)``, in float64.

    Explained in book/backprop.md, "Checking the gradients two ways".
    """
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative errors need equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}.")
    return (a - b).abs() / (a.abs() + b.abs()).clamp_min(tiny)


def max_rel_error(a, b, tiny: float = TINY) -> float:
    """The largest of :func:`rel_errors`: one number between 0 and 1 (0 for empty tensors).

    Explained in book/backprop.md, "Checking the gradients two ways".
    """
    errors = rel_errors(a, b, tiny)
    return errors.max().item() if errors.numel() else 0.0


def rel_error(a, b, tiny: float = TINY) -> float:
    """The largest elementwise relative error: the same as :func:`max_rel_error`.

    The short name the backprop chapter uses; :func:`rel_errors` gives every element's.
    Explained in book/backprop.md, "Checking the gradients two ways".
    """
    return max_rel_error(a, b, tiny)


def numerical_gradient(f: Callable, inputs, eps: float = 1e-5):
    """Centred-difference gradient of the scalar ``f(*inputs)`` in float64.

    The default step ``eps = 1e-5`` is CS231n's; it balances truncation error (which grows
    like ``eps**2``) against rounding error (which grows like ``1/eps``).

    ``inputs`` is one tensor or a sequence of tensors; the result has the same structure.
    The inputs are copied to float64 first and are not changed. Costs two calls of ``f`` per
    input element, so keep the inputs small. Explained in book/backprop.md, "Checking the
    gradients two ways".
    """
    single = isinstance(inputs, torch.Tensor)
    inputs = [x.detach().to(torch.float64).clone() for x in _as_tuple(inputs)]
    if not eps > 0:
        raise ValueError(f"eps must be a small positive step such as 1e-5, got {eps}.")
    grads = []
    with torch.no_grad():
        _scalar(_call(f, inputs), "f")
        for x in inputs:
            grad = torch.zeros_like(x)
            flat, flat_grad = x.view(-1), grad.view(-1)
            for i in range(flat.numel()):
                original = flat[i].item()
                flat[i] = original + eps
                up = _scalar(f(*inputs), "f")
                flat[i] = original - eps
                down = _scalar(f(*inputs), "f")
                flat[i] = original
                flat_grad[i] = (up - down) / (2 * eps)
            grads.append(grad)
    return grads[0] if single else tuple(grads)


def autograd_gradient(f: Callable, inputs):
    """The gradient of the scalar ``f(*inputs)`` from ``torch.autograd``, in float64.

    Same structure as ``inputs``. Explained in book/backprop.md, "Checking the gradients two ways".
    """
    single = isinstance(inputs, torch.Tensor)
    inputs = [x.detach().to(torch.float64).clone().requires_grad_(True) for x in _as_tuple(inputs)]
    value = _call(f, inputs)
    _scalar(value, "f")
    grads = torch.autograd.grad(value, inputs, allow_unused=True)
    grads = tuple(torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads))
    return grads[0] if single else grads


def classify(max_error: float, dtype: torch.dtype = torch.float64) -> str:
    """CS231n's reading of a relative error: good / fine for kinked functions / uncomfortable / wrong.

    For a float32 gradient the bands of :data:`THRESHOLDS_FLOAT32` apply.
    Explained in book/backprop.md, "Inside the gradient checker".
    """
    if max_error != max_error:  # NaN
        return "wrong"
    bands = THRESHOLDS_FLOAT32 if dtype == torch.float32 else THRESHOLDS
    return next(verdict for bound, verdict in bands if max_error < bound)


@dataclass
class GradCheckReport:
    """The outcome of :func:`check_gradients`: one relative error per input, a verdict, pass/fail.

    Explained in book/backprop.md, "Inside the gradient checker".
    """

    name: str
    names: tuple[str, ...]
    errors: tuple[float, ...]
    kinked: bool
    dtype: torch.dtype = torch.float64  # of the analytic gradients: float32 is judged by its own bands

    @property
    def max_error(self) -> float:
        """The largest relative error over all inputs."""
        return max(self.errors, default=0.0)

    @property
    def verdict(self) -> str:
        """CS231n's reading of :attr:`max_error` (see :func:`classify`)."""
        return classify(self.max_error, self.dtype)

    @property
    def passed(self) -> bool:
        """True for "good", and for "fine for kinked functions" when the function is ``kinked``."""
        verdict = self.verdict
        return verdict.startswith("good") or (self.kinked and verdict == "fine for kinked functions")

    def __str__(self) -> str:
        parts = "  ".join(f"{n}: {e:.2e}" for n, e in zip(self.names, self.errors))
        mark = "PASS" if self.passed else "FAIL"
        return f"[{mark}] {self.name}: max relative error {self.max_error:.2e} ({self.verdict})  |  {parts}"

    __repr__ = __str__


def check_gradients(
    f: Callable,
    inputs,
    analytic: Sequence[torch.Tensor] | torch.Tensor,
    names: Sequence[str] | None = None,
    name: str = "gradient check",
    eps: float = 1e-5,
    kinked: bool = False,
    raise_on_fail: bool = True,
) -> GradCheckReport:
    """Compare ``analytic`` gradients of the scalar ``f(*inputs)`` with centred differences.

    Explained in book/backprop.md, "Inside the gradient checker". Passes when the largest relative error is
    below 1e-7, or below 1e-4 for a function declared ``kinked`` (ReLU, max). Prints the
    report; raises :class:`GradientCheckError` on failure unless ``raise_on_fail=False``.
    """
    inputs = _as_tuple(inputs)
    analytic = (analytic,) if isinstance(analytic, torch.Tensor) else tuple(analytic)
    if len(analytic) != len(inputs):
        raise ValueError(
            f"got {len(analytic)} analytic gradients for {len(inputs)} inputs; give one per input."
        )
    names = tuple(names) if names is not None else tuple(f"input {i}" for i in range(len(inputs)))
    if len(names) != len(inputs):
        raise ValueError(f"got {len(names)} names for {len(inputs)} inputs.")
    for n, x, g in zip(names, inputs, analytic):
        if tuple(g.shape) != tuple(x.shape):
            raise ValueError(
                f"the gradient for {n} has shape {tuple(g.shape)} but {n} has shape {tuple(x.shape)}: "
                "a gradient always has the shape of what it is the gradient with respect to."
            )
    dtype = _precision(names, analytic)
    numerical = numerical_gradient(f, inputs, eps=eps)
    errors = tuple(max_rel_error(g.detach(), num) for g, num in zip(analytic, numerical))
    report = GradCheckReport(name, names, errors, kinked, dtype)
    print(report)
    if raise_on_fail and not report.passed:
        worst = names[max(range(len(errors)), key=errors.__getitem__)]
        advice = "Recheck its formula, its transposes and its shapes."
        if dtype == torch.float32:
            advice += " (It is float32; compute it in float64 to check it more tightly.)"
        raise GradientCheckError(
            f"{name}: the gradient for {worst} is {report.verdict} (max relative error "
            f"{report.max_error:.2e}). {advice}"
        )
    return report


def _precision(names, analytic) -> torch.dtype:
    """float64, or float32 if any analytic gradient is float32; half precision is refused."""
    dtypes = {g.dtype for g in analytic if g.is_floating_point()}
    coarse = dtypes & {torch.float16, torch.bfloat16}
    if coarse:
        raise TypeError(
            f"the analytic gradients include {sorted(map(str, coarse))}, which keep about 3 digits: "
            "too few to check. Compute them in float64 (or float32)."
        )
    return torch.float32 if torch.float32 in dtypes else torch.float64

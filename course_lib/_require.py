"""Argument checks shared by the library: refuse a setting that cannot work, and name it.

Each ``require_…`` returns the value (converted where that is safe) or raises an error that
says which setting is wrong, what arrived, and what would work.
"""

from __future__ import annotations

import math
import numbers

import torch


def require_int(name: str, value, minimum: int | None = None) -> int:
    """``value`` as an int, refusing floats, bools and anything below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        hint = ""
        if isinstance(value, float) and value.is_integer():
            hint = f" (write {name}={int(value)})"
        raise TypeError(f"{name} must be a whole number, got {type(value).__name__} {value!r}{hint}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    return value


def require_positive(name: str, value) -> float:
    """``value`` as a float that is finite and above zero (a learning rate, a time limit)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}.")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number above 0, got {value!r}.")
    return float(value)


def require_bool(name: str, value) -> bool:
    """``value`` if it is True or False; a string such as "False" is refused, not read as True."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}.")
    return value


def require_optimizer_of(optimizer, model) -> None:
    """Refuse an optimizer that is not one, or that would not change ``model`` at all."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim optimizer, got {type(optimizer).__name__}.")
    owned = {id(p) for p in model.parameters()}
    if not any(id(p) in owned for group in optimizer.param_groups for p in group["params"]):
        raise ValueError(
            "the optimizer holds none of this model's parameters, so training would change "
            "nothing: build it from this model, e.g. torch.optim.Adam(model.parameters())."
        )

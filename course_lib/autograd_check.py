"""Differential testing of the scalar engine: random expressions, ours against PyTorch's.

Explained in book/backprop.md, section 4. Each random expression applies random operations
to random inputs twice, once with :class:`~course_lib.autograd.Value` and once with float64
tensors, and compares the results and every input's gradient. ``tests/test_autograd.py``
uses the same table with the ``hypothesis`` library, which also shrinks a failing
expression to a minimal one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from ._require import require_int
from .autograd import Value

# Each works on Values and on tensors alike; the second argument is ignored by one-input ops.
OPERATIONS = {
    "+": lambda u, v: u + v,
    "-": lambda u, v: u - v,
    "*": lambda u, v: u * v,
    "/": lambda u, v: u / v,
    "**2": lambda u, v: u**2,
    "**3": lambda u, v: u**3,
    "**-1": lambda u, v: u**-1,
    "**0.5": lambda u, v: u**0.5,
    "exp": lambda u, v: u.exp(),
    "log": lambda u, v: u.log(),
    "tanh": lambda u, v: u.tanh(),
    "sigmoid": lambda u, v: u.sigmoid(),
    "relu": lambda u, v: u.relu(),
    "const+": lambda u, v: 1.5 + u,
    "const-": lambda u, v: 2.0 - u,
    "const*": lambda u, v: -0.7 * u,
    "const/": lambda u, v: 3.0 / v,
    "neg": lambda u, v: -u,
}


def allowed(op: str, u: float, v: float) -> bool:
    """Keep every operation defined and every number moderate."""
    if op in ("/", "const/") and abs(v) < 0.1:
        return False
    if op == "**-1" and abs(u) < 0.1 or op in ("log", "**0.5") and u < 0.1:
        return False
    return not (op == "exp" and u > 5 or op == "**3" and abs(u) > 10)


def agree(ours: float, theirs: float) -> bool:
    """Relative tolerance for ordinary numbers, absolute near zero (x/x: 0 vs 1e-15)."""
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)


def evaluate_both(inputs, steps) -> list[tuple[float, float]]:
    """Build one expression with Values and with tensors; return (ours, torch's) pairs.

    ``steps`` are ``(operation, i, j)``: apply the operation to the i-th and j-th entries
    (modulo the pool size) of the inputs and results so far. The first pair is the
    result, the others are the inputs' gradients.
    """
    pool = [(Value(x), torch.tensor(x, dtype=torch.float64, requires_grad=True)) for x in inputs]
    for op, i, j in steps:
        (u, tu), (v, tv) = pool[i % len(pool)], pool[j % len(pool)]
        if not allowed(op, u.data, v.data):
            op = "tanh"
        pool.append((OPERATIONS[op](u, v), OPERATIONS[op](tu, tv)))
    out, tout = pool[-1]
    out.backward()
    tout.backward()
    pairs = [(out.data, tout.item())]
    for value, tensor in pool[: len(inputs)]:
        pairs.append((value.grad, 0.0 if tensor.grad is None else tensor.grad.item()))
    return pairs


def _rel_error(ours: float, theirs: float) -> float:
    if not (math.isfinite(ours) and math.isfinite(theirs)):
        return math.inf
    return abs(ours - theirs) / (abs(ours) + abs(theirs))


@dataclass
class Comparison:
    """How :func:`compare_with_torch` went: counts and the largest relative error."""

    expressions: int
    compared: int
    disagreements: list
    largest_rel_error: float

    def __str__(self) -> str:
        return (
            f"{self.expressions} random expressions, {self.compared} values and gradients "
            f"compared with torch.autograd: {len(self.disagreements)} disagree; largest "
            f"relative error {self.largest_rel_error:.1e}"
        )


def compare_with_torch(expressions: int, seed: int = 0, inputs: int = 3, ops: int = 8):
    """Run ``expressions`` random expressions of ``ops`` operations; return a Comparison.

    Explained in book/backprop.md, section 4. A NaN or infinite result on either side
    counts as a disagreement (and as an infinite relative error), never as agreement.
    """
    expressions = require_int("expressions", expressions, 1)
    inputs, ops = require_int("inputs", inputs, 1), require_int("ops", ops, 0)
    rng = random.Random(require_int("seed", seed))
    names = list(OPERATIONS)
    pairs = []
    for _ in range(expressions):
        start = [rng.uniform(-2, 2) for _ in range(inputs)]
        steps = [(rng.choice(names), rng.randrange(10**6), rng.randrange(10**6)) for _ in range(ops)]
        pairs += evaluate_both(start, steps)
    disagreements = [pair for pair in pairs if not agree(*pair)]
    largest = max((_rel_error(a, b) for a, b in pairs if not abs(b) <= 1e-6), default=0.0)
    return Comparison(expressions, len(pairs), disagreements, largest)

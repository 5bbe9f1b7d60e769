"""Checkers for the recurrent networks chapter's exercises, and the buggy loop of exercise 4.

Each checker returns a :class:`~course_lib.checks.Verdict` that says what was expected and
what came back. ``tests/test_exercises_rnn.py`` runs each against the chapter's reference
solution (must pass), the empty stub and plausible wrong answers (must fail). Answers
computed in float32 pass with float32-sized errors; NaN or infinite answers never pass.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import Wrong, checker, run_beside
from ..gradcheck import rel_error
from ..lm import CharLM, detach_state
from ..text import chunks

DTYPE = torch.float64


def _tensor(value, what: str, shape) -> torch.Tensor:
    """The answer as a float64 tensor of ``shape``, or a Wrong that says what is off."""
    if not isinstance(value, torch.Tensor):
        raise Wrong(f"{what}: expected a torch.Tensor, got {type(value).__name__}.")
    if tuple(value.shape) != tuple(shape):
        raise Wrong(f"{what}: expected shape {tuple(shape)}, got {tuple(value.shape)}.")
    if not torch.isfinite(value).all():
        raise Wrong(f"{what} contains NaN or infinite values.")
    return value.detach().to(DTYPE)


def _tolerance(value: torch.Tensor) -> float:
    """Relative error allowed: float64 rounding, or float32's when the answer is float32."""
    return 1e-5 if value.dtype in (torch.float32, torch.float16, torch.bfloat16) else 1e-9


# ----------------------------------------------------------------- exercise 1: a GRU cell


def _cho_gru(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """The GRU of Cho et al. (2014): the reset gate multiplies h *before* its projection."""
    x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, -1)
    w_r, w_z, w_n = weight_hh.chunk(3, 0)
    b_r, b_z, b_n = bias_hh.chunk(3, 0)
    r = torch.sigmoid(x_r + h @ w_r.T + b_r)
    z = torch.sigmoid(x_z + h @ w_z.T + b_z)
    n = torch.tanh(x_n + (r * h) @ w_n.T + b_n)
    return (1 - z) * n + z * h


def _swapped_update_gru(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, -1)
    h_r, h_z, h_n = (h @ weight_hh.T + bias_hh).chunk(3, -1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    return z * torch.tanh(x_n + r * h_n) + (1 - z) * h


@checker("Exercise 1, a GRU cell")
def check_gru_cell(student_fn) -> str:
    """``student_fn(x, h, weight_ih, weight_hh, bias_ih, bias_hh)`` must match nn.GRUCell.

    Used by book/rnn.md, exercise 1.
    """
    generator = torch.Generator().manual_seed(21)
    worst = 0.0
    for batch, d, hidden in (((4,), 3, 5), ((), 2, 3)):
        torch.manual_seed(21 + d)
        reference = nn.GRUCell(d, hidden).to(DTYPE)
        weights = [
            p.detach().clone()
            for p in (reference.weight_ih, reference.weight_hh, reference.bias_ih, reference.bias_hh)
        ]
        x = torch.randn(*batch, d, generator=generator, dtype=DTYPE)
        h = torch.randn(*batch, hidden, generator=generator, dtype=DTYPE)
        with torch.no_grad():
            expected = reference(x, h)
            got = student_fn(x.clone(), h.clone(), *[w.clone() for w in weights])
            raw = got if isinstance(got, torch.Tensor) else None
            got = _tensor(got, "the new state h'", expected.shape)
            error = rel_error(got, expected)
            worst = max(worst, error)
            if error < _tolerance(raw):
                continue
            if rel_error(got, _cho_gru(x, h, *weights)) < 1e-6:
                raise Wrong(
                    "you apply the reset gate to h before the projection, r ⊙ (W_hn h), as in "
                    "Cho et al. (2014); PyTorch applies it after: r ⊙ (W_hn h + b_hn)."
                )
            if rel_error(got, _swapped_update_gru(x, h, *weights)) < 1e-6:
                raise Wrong(
                    "z and 1 - z are swapped: PyTorch keeps z ⊙ h of the old state and takes "
                    "(1 - z) ⊙ n of the candidate."
                )
        raise Wrong(
            f"for batch shape {batch} the relative error against nn.GRUCell is {error:.2e}. "
            "Check the gate order in the stacked weights (r, z, n) and where r enters."
        )
    return f"matches nn.GRUCell, batched and unbatched (max relative error {worst:.1e})."


# ----------------------------------------------------------------- exercise 2: BPTT by hand


def tiny_rnn_loss(xs, h0, W_xh, W_hh, b, ys):
    """L = Σ_t ½‖h_t − y_t‖² for h_t = tanh(W_xh x_t + W_hh h_{t−1} + b) (exercise 2)."""
    h, loss = h0, 0.0
    for x, y in zip(xs, ys):
        h = torch.tanh(W_xh @ x + W_hh @ h + b)
        loss = loss + 0.5 * ((h - y) ** 2).sum()
    return loss


def _one_step_only(xs, h0, W_xh, W_hh, b, ys):
    """The classic slip: each step's error is not sent back to earlier steps."""
    grads = [torch.zeros_like(t) for t in (W_xh, W_hh, b, h0)]
    h_prev = h0
    for x, y in zip(xs, ys):
        h = torch.tanh(W_xh @ x + W_hh @ h_prev + b)
        delta = (h - y) * (1 - h**2)
        grads[0] += torch.outer(delta, x)
        grads[1] += torch.outer(delta, h_prev)
        grads[2] += delta
        h_prev = h
    return tuple(grads)


@checker("Exercise 2, BPTT by hand")
def check_bptt_gradients(student_fn) -> str:
    """``student_fn(xs, h0, W_xh, W_hh, b, ys)`` must return (dW_xh, dW_hh, db, dh0).

    Used by book/rnn.md, exercise 2.
    """
    generator = torch.Generator().manual_seed(22)
    names = ("dW_xh", "dW_hh", "db", "dh0")
    worst = 0.0
    for steps, d, hidden in ((4, 2, 3), (6, 3, 2)):
        xs = torch.randn(steps, d, generator=generator, dtype=DTYPE)
        ys = torch.randn(steps, hidden, generator=generator, dtype=DTYPE) * 0.5
        h0 = torch.randn(hidden, generator=generator, dtype=DTYPE) * 0.5
        W_xh = torch.randn(hidden, d, generator=generator, dtype=DTYPE)
        W_hh = torch.randn(hidden, hidden, generator=generator, dtype=DTYPE)
        b = torch.randn(hidden, generator=generator, dtype=DTYPE) * 0.1
        leaves = [t.clone().requires_grad_(True) for t in (W_xh, W_hh, b, h0)]
        expected = torch.autograd.grad(
            tiny_rnn_loss(xs, leaves[3], leaves[0], leaves[1], leaves[2], ys), leaves
        )
        answer = student_fn(xs.clone(), h0.clone(), W_xh.clone(), W_hh.clone(), b.clone(), ys.clone())
        if not isinstance(answer, (tuple, list)) or len(answer) != 4:
            raise Wrong("return a tuple of four tensors: (dW_xh, dW_hh, db, dh0).")
        got = [_tensor(g, name, e.shape) for g, name, e in zip(answer, names, expected)]
        errors = [rel_error(g, e) for g, e in zip(got, expected)]
        worst = max(worst, *errors)
        tolerance = max(_tolerance(a) for a in answer)
        if max(errors) < tolerance:
            continue
        shallow = _one_step_only(xs, h0, W_xh, W_hh, b, ys)
        if all(rel_error(g, s) < 1e-6 for g, s in zip(got[:3], shallow[:3])):
            raise Wrong(
                "your gradients stop at each step: ∂L/∂h_t must also collect the gradient "
                "arriving from h_{t+1}, W_hhᵀ (δ_{t+1}), before multiplying by 1 − h_t²."
            )
        wrong = [f"{n} (relative error {e:.1e})" for n, e in zip(names, errors) if e >= tolerance]
        raise Wrong(f"against autograd for T = {steps}, these are off: {', '.join(wrong)}.")
    return f"matches autograd for T = 4 and T = 6 (max relative error {worst:.1e})."


# ----------------------------------------------------------------- exercise 3: temperature


@checker("Exercise 3, a temperature sampler")
def check_sampler(student_fn) -> str:
    """``student_fn(logits, temperature, generator)`` draws one id per row of ``logits``.

    Used by book/rnn.md, exercise 3.
    """
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0, 0.5])
    rows = logits.repeat(20_000, 1)
    greedy = student_fn(rows[:3].clone(), 0.0, torch.Generator().manual_seed(0))
    if not isinstance(greedy, torch.Tensor) or greedy.shape != (3,):
        raise Wrong(f"return a LongTensor of shape (3,) for 3 rows of logits, got {greedy!r}.")
    if greedy.tolist() != [0, 0, 0]:
        raise Wrong(f"temperature 0 must mean greedy (the argmax, id 0 here); got {greedy.tolist()}.")
    for temperature in (0.5, 1.0, 2.0):
        draws = student_fn(rows.clone(), temperature, torch.Generator().manual_seed(1))
        again = student_fn(rows.clone(), temperature, torch.Generator().manual_seed(1))
        if not isinstance(draws, torch.Tensor) or draws.shape != (len(rows),):
            raise Wrong(f"expected one id per row, shape ({len(rows)},).")
        if not torch.equal(draws, again):
            raise Wrong("two runs with the same seeded generator differ: pass the generator on.")
        share = torch.bincount(draws.long(), minlength=len(logits)).double() / len(rows)
        expected = torch.softmax(logits.double() / temperature, 0)
        gap = (share - expected).abs().max().item()
        if gap > 0.015:  # about five standard errors of a share estimated from 20,000 draws
            hot = torch.softmax(logits.double() * temperature, 0)
            hint = (
                " You multiply by the temperature; divide the logits by it."
                if (share - hot).abs().max() < 0.015
                else ""
            )
            raise Wrong(
                f"at temperature {temperature} the ids come out with shares "
                f"{[round(s, 3) for s in share.tolist()]}, expected softmax(logits / T) = "
                f"{[round(e, 3) for e in expected.tolist()]}.{hint}"
            )
    for bad in (-0.5, math.nan):
        try:
            student_fn(rows[:2].clone(), bad, torch.Generator().manual_seed(2))
        except ValueError:
            continue
        raise Wrong(f"temperature {bad} must raise a ValueError that says what is allowed.")
    return "greedy at 0, softmax(logits / T) at 0.5, 1 and 2, and a clear error below 0."


# ----------------------------------------------------------------- exercise 4: the missing detach


def buggy_train_chunks(model, rows, seq_len, optimizer) -> list[float]:
    """Truncated BPTT over streams ``rows``, with one line missing (exercise 4)."""
    state, losses = None, []
    for x, y in chunks(rows, seq_len):
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _reference_train_chunks(model, rows, seq_len, optimizer, carry: bool = True) -> list[float]:
    state, losses = None, []
    for x, y in chunks(rows, seq_len):
        logits, state = model(x, state if carry else None)
        state = detach_state(state)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _run(train_chunks, kind: str, carry: bool = True):
    torch.manual_seed(24)
    model = CharLM(kind, vocab_size=7, hidden_size=6, embed_size=4)
    rows = torch.randint(0, 7, (3, 25), generator=torch.Generator().manual_seed(24))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    if train_chunks is _reference_train_chunks:
        losses = train_chunks(model, rows, 6, optimizer, carry)
    else:
        losses = train_chunks(model, rows, 6, optimizer)
    return losses, torch.cat([p.detach().flatten() for p in model.parameters()])


def train_chunks_probe(student_fn, kind: str):
    """Train a small model with the student's ``train_chunks``; return plain data.

    Runs where the student's function lives (under the class grader, in the submission's
    kernel: a model and an optimizer trained in place cannot travel): the chunk losses as
    floats (or the name of what came back instead of a list) and the trained weights.
    """
    losses, params = _run(student_fn, kind)
    if not isinstance(losses, (list, tuple)):
        return type(losses).__name__, params
    try:
        return [float(loss) for loss in losses], params
    except (TypeError, ValueError, RuntimeError):
        return "a list of non-numbers", params


@checker("Exercise 4, the missing detach")
def check_train_chunks(student_fn) -> str:
    """``student_fn(model, rows, seq_len, optimizer)``: truncated BPTT that runs and is right.

    Used by book/rnn.md, exercise 4.
    """
    for kind in ("gru", "lstm"):  # the LSTM's state is a pair: both parts need cutting
        losses, params = run_beside(student_fn, train_chunks_probe, kind)
        ref_losses, ref_params = _run(_reference_train_chunks, kind)
        if isinstance(losses, str) or len(losses) != len(ref_losses):
            got = losses if isinstance(losses, str) else f"{len(losses)} of them"
            raise Wrong(f"return the list of the {len(ref_losses)} chunk losses (got {got}).")
        if torch.allclose(params, ref_params, rtol=1e-5, atol=1e-6):
            continue
        reset_losses, _ = _run(_reference_train_chunks, kind, carry=False)
        if all(math.isclose(a, b, rel_tol=1e-5) for a, b in zip(losses, reset_losses)):
            raise Wrong(
                "you start every chunk from a zero state: the model never sees text from an "
                "earlier chunk. Carry the state on, detached."
            )
        raise Wrong(
            f"with a {kind.upper()} the weights after training differ from truncated BPTT "
            "(state carried and detached after each forward pass)."
        )
    return "the state is carried from chunk to chunk and detached: truncated BPTT, GRU and LSTM."


# ----------------------------------------------------------------- exercise 5: resetting the state


@torch.no_grad()
def loss_with_resets_reference(model, rows, reset_every: int) -> float:
    """Mean nats per character of ``rows`` when the state is zeroed every ``reset_every`` steps."""
    model.eval()
    total, count = 0.0, 0
    for x, y in chunks(rows, reset_every):
        logits, _ = model(x)  # state None: every window starts from zeros
        total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
        count += y.numel()
    return total / count


@checker("Exercise 5, how far back does the model look?")
def check_loss_with_resets(student_fn, model=None, rows=None) -> str:
    """``student_fn(model, rows, reset_every)`` must match the reference for several resets.

    Used by book/rnn.md, exercise 5.
    """
    if model is None or rows is None:
        torch.manual_seed(25)
        model = CharLM("lstm", vocab_size=9, hidden_size=8, embed_size=4)
        rows = torch.randint(0, 9, (4, 60), generator=torch.Generator().manual_seed(25))
    for reset_every in (1, 7, 20):
        expected = loss_with_resets_reference(model, rows, reset_every)
        got = student_fn(model, rows, reset_every)
        if isinstance(got, torch.Tensor):
            if got.numel() != 1:
                raise Wrong(f"return one number, got a tensor of shape {tuple(got.shape)}.")
            got = got.item()
        if not isinstance(got, (int, float)) or not math.isfinite(got):
            raise Wrong(f"return a finite number of nats per character, got {got!r}.")
        if not math.isclose(got, expected, rel_tol=1e-5):
            raise Wrong(
                f"with a reset every {reset_every} characters: expected {expected:.6f} nats "
                f"per character, got {got:.6f}. Start each window of {reset_every} characters "
                "from a zero state and average over every predicted character."
            )
    return "matches the reference for resets every 1, 7 and 20 characters."

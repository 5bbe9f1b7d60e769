"""Recurrent cells written out, in PyTorch's parameter layout, and what they are used for.

``rnn_cell``, ``lstm_cell`` and ``gru_cell`` compute one time step exactly as
``nn.RNNCell``, ``nn.LSTMCell`` and ``nn.GRUCell`` do, with their weights (``weight_ih`` of
shape (G·H, D), ``weight_hh`` (G·H, H), gates stacked in PyTorch's order: LSTM i, f, g, o;
GRU r, z, n), so a module's parameters can be passed straight in. ``x`` is (D,) or (B, D).
Explained in book/rnn.md, sections 2 and 4.
"""

from __future__ import annotations

import time

import torch
from torch import nn


def _affine(x, weight, bias):
    out = x @ weight.T
    return out if bias is None else out + bias


def _require_shapes(x, h, weight_ih, weight_hh, gates: int, name: str) -> None:
    hidden = h.shape[-1]  # the state's size fixes what the weights must look like
    expected = {"weight_ih": (gates * hidden, x.shape[-1]), "weight_hh": (gates * hidden, hidden)}
    for what, w in (("weight_ih", weight_ih), ("weight_hh", weight_hh)):
        if tuple(w.shape) != expected[what]:
            raise ValueError(
                f"{name}: {what} has shape {tuple(w.shape)}, expected {expected[what]} "
                f"({gates} gate(s) x hidden size {hidden}, the state's size; PyTorch's layout)."
            )


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """One step of a tanh RNN: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), as nn.RNNCell.

    Explained in book/rnn.md, section 2.
    """
    _require_shapes(x, h, weight_ih, weight_hh, 1, "rnn_cell")
    return torch.tanh(_affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh))


def lstm_cell(x, state, weight_ih, weight_hh, bias_ih, bias_hh):
    """One LSTM step as nn.LSTMCell; ``state = (h, c)``, returns ``(h', c')``.

    Explained in book/rnn.md, section 4.
    """
    h, c = state
    _require_shapes(x, h, weight_ih, weight_hh, 4, "lstm_cell")
    gates = _affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh)
    i, f, g, o = gates.chunk(4, dim=-1)  # PyTorch's order: input, forget, cell, output
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """One GRU step as nn.GRUCell: the reset gate multiplies the *projected* state.

    Explained in book/rnn.md, section 4.
    """
    _require_shapes(x, h, weight_ih, weight_hh, 3, "gru_cell")
    x_r, x_z, x_n = _affine(x, weight_ih, bias_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = _affine(h, weight_hh, bias_hh).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)  # r * (W_hn h + b_hn), after the projection
    return (1 - z) * n + z * h


CELLS = {"rnn": rnn_cell, "gru": gru_cell, "lstm": lstm_cell}


def layer_weights(module: nn.RNNBase, layer: int = 0) -> tuple[torch.Tensor, ...]:
    """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of one layer of nn.RNN/nn.GRU/nn.LSTM.

    Explained in book/rnn.md, section 4.
    """
    return tuple(
        getattr(module, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    )


def unroll(kind: str, module: nn.RNNBase, x: torch.Tensor, state=None):
    """Run a batch-first sequence ``x`` (B, T, D) through every layer of ``module`` with our
    cells, one step at a time; returns the per-step states of the top layer and the last state.

    The per-step states are separate autograd nodes, so their gradients can be read.
    Explained in book/rnn.md, sections 3 and 5.
    """
    cell, layers = CELLS[kind], module.num_layers
    batch, hidden = x.shape[0], module.hidden_size
    if state is None:
        zeros = x.new_zeros(layers, batch, hidden)
        state = (zeros, zeros.clone()) if kind == "lstm" else zeros
    per_layer = [(state[0][i], state[1][i]) if kind == "lstm" else state[i] for i in range(layers)]
    tops = []
    for t in range(x.shape[1]):
        inp = x[:, t]
        for i in range(layers):
            per_layer[i] = cell(inp, per_layer[i], *layer_weights(module, i))
            inp = per_layer[i][0] if kind == "lstm" else per_layer[i]
        tops.append(inp)
    if kind == "lstm":
        last = (torch.stack([s[0] for s in per_layer]), torch.stack([s[1] for s in per_layer]))
    else:
        last = torch.stack(per_layer)
    return tops, last


def state_gradient_norms(kind: str, module: nn.RNNBase, x: torch.Tensor, loss_fn) -> torch.Tensor:
    """‖∂L_T/∂h_t‖ for t = T, T-1, ..., 1 (index 0 is T - t = 0), mean over the batch.

    ``loss_fn(h_T)`` maps the last top-layer state (B, H) to the loss at the last step.
    Explained in book/rnn.md, section 3.
    """
    tops, _ = unroll(kind, module, x)
    for h in tops:
        h.retain_grad()
    loss_fn(tops[-1]).backward()
    norms = [h.grad.norm(dim=-1).mean() if h.grad is not None else torch.zeros(()) for h in tops]
    return torch.stack(norms).flip(0).detach()


def time_lstm(
    device: torch.device, batch_size: int, seq_len: int, hidden_size: int, repeats: int = 3
) -> dict[str, float]:
    """Characters per second of one LSTM layer's forward pass: our ``lstm_cell`` in a Python
    loop against ``nn.LSTM`` (cuDNN on a GPU), on the same inputs and weights.

    Each figure is the best of ``repeats`` timed runs after a warm-up; both results are
    checked to agree first. Explained in book/rnn.md, section 9; ``benchmarks/bench_rnn.py``
    calls it with ``--device``.
    """
    generator = torch.Generator().manual_seed(0)
    lstm = nn.LSTM(hidden_size, hidden_size, batch_first=True).to(device)
    x = torch.randn(batch_size, seq_len, hidden_size, generator=generator).to(device)

    def by_hand():
        return unroll("lstm", lstm, x)[0][-1]

    def library():
        return lstm(x)[0][:, -1]

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    rates = {}
    with torch.no_grad():
        torch.testing.assert_close(by_hand(), library(), atol=1e-4, rtol=1e-4)
        for name, run in (("lstm_cell loop", by_hand), ("nn.LSTM", library)):
            best = float("inf")
            for _ in range(repeats):
                sync()
                start = time.perf_counter()
                run()
                sync()
                best = min(best, time.perf_counter() - start)
            rates[name] = batch_size * seq_len / best
    return rates

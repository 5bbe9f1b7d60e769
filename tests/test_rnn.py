"""Our recurrent cells against PyTorch's, in float64, with PyTorch's own parameters passed in."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.rnn import (
    gru_cell,
    layer_weights,
    lstm_cell,
    rnn_cell,
    state_gradient_norms,
    time_lstm,
    unroll,
)

DTYPE = torch.float64
CPU = torch.device("cpu")


def cell_weights(module):
    return module.weight_ih, module.weight_hh, module.bias_ih, module.bias_hh


@pytest.mark.parametrize("batch", [(), (5,)], ids=["unbatched", "batched"])
def test_rnn_cell_matches_nn_rnncell(batch):
    torch.manual_seed(0)
    ref = nn.RNNCell(3, 4).to(DTYPE)
    x, h = torch.randn(*batch, 3, dtype=DTYPE), torch.randn(*batch, 4, dtype=DTYPE)
    torch.testing.assert_close(rnn_cell(x, h, *cell_weights(ref)), ref(x, h), rtol=0, atol=1e-14)


@pytest.mark.parametrize("batch", [(), (5,)], ids=["unbatched", "batched"])
def test_lstm_cell_matches_nn_lstmcell(batch):
    torch.manual_seed(1)
    ref = nn.LSTMCell(3, 4).to(DTYPE)
    x = torch.randn(*batch, 3, dtype=DTYPE)
    state = (torch.randn(*batch, 4, dtype=DTYPE), torch.randn(*batch, 4, dtype=DTYPE))
    ours = lstm_cell(x, state, *cell_weights(ref))
    theirs = ref(x, state)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)


@pytest.mark.parametrize("batch", [(), (5,)], ids=["unbatched", "batched"])
def test_gru_cell_matches_nn_grucell(batch):
    torch.manual_seed(2)
    ref = nn.GRUCell(3, 4).to(DTYPE)
    x, h = torch.randn(*batch, 3, dtype=DTYPE), torch.randn(*batch, 4, dtype=DTYPE)
    torch.testing.assert_close(gru_cell(x, h, *cell_weights(ref)), ref(x, h), rtol=0, atol=1e-14)


def test_cells_without_biases_match_bias_free_modules():
    torch.manual_seed(3)
    x, h, c = (torch.randn(2, 4, dtype=DTYPE) for _ in range(3))
    for ours, ref_cls in ((rnn_cell, nn.RNNCell), (gru_cell, nn.GRUCell)):
        ref = ref_cls(4, 4, bias=False).to(DTYPE)
        torch.testing.assert_close(ours(x, h, ref.weight_ih, ref.weight_hh, None, None), ref(x, h))
    ref = nn.LSTMCell(4, 4, bias=False).to(DTYPE)
    for a, b in zip(lstm_cell(x, (h, c), ref.weight_ih, ref.weight_hh, None, None), ref(x, (h, c))):
        torch.testing.assert_close(a, b)


def test_gradients_through_our_cells_match_pytorch():
    torch.manual_seed(4)
    ref = nn.GRUCell(3, 4).to(DTYPE)
    x, h = torch.randn(2, 3, dtype=DTYPE), torch.randn(2, 4, dtype=DTYPE)
    ours = torch.autograd.grad(gru_cell(x, h, *cell_weights(ref)).sum(), list(ref.parameters()))
    theirs = torch.autograd.grad(ref(x, h).sum(), list(ref.parameters()))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_a_weight_in_the_wrong_layout_is_named():
    torch.manual_seed(5)
    ref = nn.LSTMCell(3, 4)
    x, h = torch.randn(3), torch.randn(4)
    with pytest.raises(ValueError, match=r"weight_ih has shape \(16, 3\), expected \(12, 3\)"):
        gru_cell(x, h, *cell_weights(ref))
    with pytest.raises(ValueError, match="weight_hh"):
        lstm_cell(x, (h, h), ref.weight_ih, ref.weight_hh.T, ref.bias_ih, ref.bias_hh)
    with pytest.raises(ValueError, match=r"weight_ih has shape \(4, 3\), expected \(5, 3\)"):
        rnn_cell(x, torch.randn(5), *cell_weights(nn.RNNCell(3, 4)))


@pytest.mark.parametrize("kind, cls", [("rnn", nn.RNN), ("gru", nn.GRU), ("lstm", nn.LSTM)])
def test_unroll_matches_the_multilayer_module(kind, cls):
    torch.manual_seed(6)
    module = cls(3, 5, num_layers=2, batch_first=True).to(DTYPE)
    x = torch.randn(4, 7, 3, dtype=DTYPE)
    tops, last = unroll(kind, module, x)
    out, ref_last = module(x)
    torch.testing.assert_close(torch.stack(tops, 1), out)
    if kind == "lstm":
        for a, b in zip(last, ref_last):
            torch.testing.assert_close(a, b)
    else:
        torch.testing.assert_close(last, ref_last)
    assert len(layer_weights(module, 1)) == 4


def test_state_gradient_norms_match_autograd_on_the_states():
    torch.manual_seed(7)
    module = nn.RNN(2, 3, batch_first=True).to(DTYPE)
    x = torch.randn(1, 4, 2, dtype=DTYPE)
    norms = state_gradient_norms("rnn", module, x, lambda h: h.sum())
    assert norms.shape == (4,)
    # T - t = 0: dL/dh_T is the vector of ones, norm sqrt(3)
    assert norms[0].item() == pytest.approx(3**0.5)
    # T - t = 1 by hand: dh_T/dh_{T-1} = diag(1 - h_T^2) W_hh
    tops, _ = unroll("rnn", module, x)
    h_last = tops[-1].detach()[0]
    expected = ((1 - h_last**2) @ module.weight_hh_l0).norm()
    assert norms[1].item() == pytest.approx(expected.item(), rel=1e-10)


def test_time_lstm_reports_both_rates():
    rates = time_lstm(CPU, batch_size=4, seq_len=5, hidden_size=8, repeats=1)
    assert set(rates) == {"lstm_cell loop", "nn.LSTM"}
    assert all(r > 0 for r in rates.values())

"""The character language model, its training loop (truncated BPTT) and sampling."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.lm import (
    CharLM,
    count_parameters,
    detach_state,
    evaluate_lm,
    hidden_size_for,
    lm_parameters,
    next_ids,
    sample,
    sampler_widget,
    train_lm,
)
from course_lib.text import Vocabulary, chunks, streams

TEXT = "to be, or not to be: that is the question.\n" * 40
VOCAB = Vocabulary(TEXT)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_charlm_shapes_and_parameter_formula(kind):
    model = CharLM(kind, 11, 7, embed_size=5)
    logits, state = model(torch.randint(0, 11, (3, 4)))
    assert logits.shape == (3, 4, 11)
    assert count_parameters(model) == lm_parameters(kind, 11, 7, 5)
    h = state[0] if kind == "lstm" else state
    assert h.shape == (1, 3, 7)


def test_charlm_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="lstm"):
        CharLM("transformer", 5, 4)


@pytest.mark.parametrize("kind", ["rnn", "gru"])
def test_hidden_size_for_matches_the_lstm_budget_closely(kind):
    budget = lm_parameters("lstm", 78, 384, 32)
    size = hidden_size_for(kind, budget, 78, 32)
    best = min(range(1, 2000), key=lambda h: abs(lm_parameters(kind, 78, h, 32) - budget))
    assert size == best
    assert abs(lm_parameters(kind, 78, size, 32) / budget - 1) < 0.01
    assert hidden_size_for("lstm", budget, 78, 32) == 384


def test_detach_state_cuts_tensors_and_pairs():
    h = torch.ones(2, requires_grad=True) * 2
    assert detach_state(None) is None
    assert detach_state(h).grad_fn is None and h.grad_fn is not None
    pair = detach_state((h, h * 3))
    assert all(s.grad_fn is None and not s.requires_grad for s in pair)


def test_evaluate_lm_carries_the_state_so_chunk_length_does_not_matter():
    torch.manual_seed(0)
    model = CharLM("lstm", len(VOCAB), 8, 4)
    rows = streams(VOCAB.encode(TEXT), 4)
    short, long = evaluate_lm(model, rows, seq_len=7), evaluate_lm(model, rows, seq_len=1000)
    assert short == pytest.approx(long, rel=1e-5)
    logits, _ = model(rows[:, :-1])
    direct = F.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten()).item()
    assert short == pytest.approx(direct, rel=1e-5)


def reference_steps(model, rows, seq_len, steps, lr):
    """Three steps of truncated BPTT written out, without the library loop's schedule."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.1 + 0.45 * (1 + math.cos(math.pi * min(s / steps, 1)))
    )
    state, batches = None, chunks(rows, seq_len)
    for _ in range(steps):
        x, y = next(batches)
        logits, state = model(x, state)
        state = detach_state(state)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()


def test_train_lm_is_truncated_bptt_with_the_state_carried():
    rows = streams(VOCAB.encode(TEXT), 4)
    torch.manual_seed(1)
    ours = CharLM("gru", len(VOCAB), 8, 4)
    torch.manual_seed(1)
    ref = CharLM("gru", len(VOCAB), 8, 4)
    history = train_lm(ours, rows, rows, steps=3, seq_len=5, lr=1e-2, evals=1, progress=False)
    reference_steps(ref, rows, 5, 3, 1e-2)
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b)
    assert history.steps == [1, 2, 3] and len(history.train_loss) == 3
    assert history.val_steps == [3] and history.chars_per_second > 0


def test_train_lm_starts_the_streams_over_and_learns():
    torch.manual_seed(2)
    model = CharLM("lstm", len(VOCAB), 32, 8)
    rows = streams(VOCAB.encode(TEXT), 4)
    steps = 3 * len(list(chunks(rows, 20))) + 1  # more steps than one pass has chunks
    history = train_lm(model, rows, rows, steps=steps, seq_len=20, lr=1e-2, evals=2, progress=False)
    assert len(history.train_loss) == steps
    assert history.val_loss[-1] < 0.5 * math.log(len(VOCAB))


def test_next_ids_greedy_at_zero_and_errors_below():
    logits = torch.tensor([[0.1, 3.0, -1.0], [2.0, 0.0, 0.0]])
    assert next_ids(logits, 0).tolist() == [1, 0]
    for bad in (-0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match="temperature"):
            next_ids(logits, bad)


def test_next_ids_follows_the_tempered_softmax():
    logits = torch.tensor([1.0, 0.0, -1.0]).repeat(30_000, 1)
    draws = next_ids(logits, 0.5, torch.Generator().manual_seed(0))
    share = torch.bincount(draws, minlength=3).double() / len(draws)
    expected = torch.softmax(torch.tensor([2.0, 0.0, -2.0], dtype=torch.float64), 0)
    assert (share - expected).abs().max() < 0.01


def test_sample_is_reproducible_and_names_an_unknown_character():
    torch.manual_seed(3)
    model = CharLM("gru", len(VOCAB), 8, 4)
    a = sample(model, VOCAB, "to be", 30, 1.0, num_samples=2, seed=5)
    b = sample(model, VOCAB, "to be", 30, 1.0, num_samples=2, seed=5)
    assert a == b and len(a) == 2 and all(len(s) == 30 and set(s) <= set(VOCAB.chars) for s in a)
    with pytest.raises(ValueError, match="'Z'"):
        sample(model, VOCAB, "to Ze", 5)
    with pytest.raises(ValueError, match="temperature"):
        sample(model, VOCAB, "to", 5, temperature=-1)
    with pytest.raises(ValueError, match="prompt"):
        sample(model, VOCAB, "", 5)
    greedy = sample(model, VOCAB, "to", 20, temperature=0, num_samples=3)
    assert len(set(greedy)) == 1


def test_sampler_widget_is_absent_on_the_static_site_and_live_elsewhere(monkeypatch):
    torch.manual_seed(4)
    model = CharLM("gru", len(VOCAB), 8, 4)
    monkeypatch.setenv("COURSE_STATIC_OUTPUT", "1")
    assert sampler_widget(model, VOCAB, length=10) is None
    monkeypatch.delenv("COURSE_STATIC_OUTPUT")
    widget = sampler_widget(model, VOCAB, length=10, prompt="to ")
    (temperature, prompt), shown = widget.children[0].children, widget.children[1]
    before = shown.value
    assert before.startswith("<pre>")
    temperature.value = 0.0
    assert shown.value != before
    prompt.value = "to €"
    assert "ValueError" in shown.value and "€" in shown.value

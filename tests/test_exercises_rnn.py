"""The recurrent chapter's checkers: the chapter's own solution passes, the stub and wrong answers fail."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from chapter_code import chapter_function

from course_lib.exercises.rnn import (
    _cho_gru,
    _one_step_only,
    _swapped_update_gru,
    buggy_train_chunks,
    check_bptt_gradients,
    check_gru_cell,
    check_loss_with_resets,
    check_sampler,
    check_train_chunks,
    loss_with_resets_reference,
)
from course_lib.lm import CharLM, evaluate_lm, next_ids
from course_lib.rnn import gru_cell
from course_lib.text import chunks


def solution_function(name: str, stub: bool = False):
    """Define ``name`` from the chapter's solution cell (optionally as the student stub)."""
    return chapter_function("rnn", name, stub, math=math, chunks=chunks)


CHECKS = [
    ("my_gru_cell", check_gru_cell),
    ("bptt_gradients", check_bptt_gradients),
    ("sample_next", check_sampler),
    ("train_chunks", check_train_chunks),
    ("loss_with_resets", check_loss_with_resets),
]


@pytest.mark.parametrize("name, check", CHECKS, ids=[n for n, _ in CHECKS])
def test_reference_passes_and_stub_is_not_implemented(name, check):
    verdict = check(solution_function(name))
    assert verdict.passed, verdict.message
    stub = check(solution_function(name, stub=True))
    assert not stub.passed and "not implemented" in stub.message


# ----------------------------------------------------------------- exercise 1


def test_the_library_gru_cell_passes_and_in_float32_too():
    assert check_gru_cell(gru_cell).passed
    as_float32 = lambda x, h, *w: gru_cell(x.float(), h.float(), *[p.float() for p in w])
    assert check_gru_cell(as_float32).passed


def test_cho_gru_fails_with_a_hint_about_the_reset_gate():
    verdict = check_gru_cell(_cho_gru)
    assert not verdict.passed and "Cho" in verdict.message


def test_swapped_update_gate_fails_with_a_hint():
    verdict = check_gru_cell(_swapped_update_gru)
    assert not verdict.passed and "swapped" in verdict.message


def test_gru_with_gates_in_lstm_order_fails():
    def wrong_order(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
        x_z, x_r, x_n = (x @ weight_ih.T + bias_ih).chunk(3, -1)
        h_z, h_r, h_n = (h @ weight_hh.T + bias_hh).chunk(3, -1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        return (1 - z) * torch.tanh(x_n + r * h_n) + z * h

    assert not check_gru_cell(wrong_order).passed


def test_gru_nan_or_wrong_shape_or_non_tensor_fails():
    assert not check_gru_cell(lambda x, h, *w: gru_cell(x, h, *w) * math.nan).passed
    assert "shape" in check_gru_cell(lambda x, h, *w: gru_cell(x, h, *w).sum()).message
    assert "torch.Tensor" in check_gru_cell(lambda *args: [0.0]).message


# ----------------------------------------------------------------- exercise 2


def test_bptt_without_the_recurrent_path_fails_with_a_hint():
    def shallow(xs, h0, W_xh, W_hh, b, ys):
        return (*_one_step_only(xs, h0, W_xh, W_hh, b, ys)[:3], torch.zeros_like(h0))

    verdict = check_bptt_gradients(shallow)
    assert not verdict.passed and "h_{t+1}" in verdict.message


def test_bptt_without_the_tanh_derivative_fails():
    reference = solution_function("bptt_gradients")

    def no_tanh_derivative(xs, h0, W_xh, W_hh, b, ys):
        hs = [h0]
        for x in xs:
            hs.append(torch.tanh(W_xh @ x + W_hh @ hs[-1] + b))
        grads = [torch.zeros_like(t) for t in (W_xh, W_hh, b)]
        later = torch.zeros_like(h0)
        for t in reversed(range(len(xs))):
            da = (hs[t + 1] - ys[t]) + later
            grads[0] += torch.outer(da, xs[t])
            grads[1] += torch.outer(da, hs[t])
            grads[2] += da
            later = W_hh.T @ da
        return (*grads, later)

    assert check_bptt_gradients(reference).passed
    verdict = check_bptt_gradients(no_tanh_derivative)
    assert not verdict.passed and "dW_xh" in verdict.message


def test_bptt_float32_answer_passes_and_nan_or_missing_parts_fail():
    reference = solution_function("bptt_gradients")
    as_float32 = lambda *args: reference(*[a.float() for a in args])
    assert check_bptt_gradients(as_float32).passed
    assert not check_bptt_gradients(lambda *a: tuple(g * math.nan for g in reference(*a))).passed
    assert "four" in check_bptt_gradients(lambda *a: reference(*a)[:3]).message


# ----------------------------------------------------------------- exercise 3


def test_the_library_sampler_passes():
    assert check_sampler(next_ids).passed


def test_multiplying_by_the_temperature_fails_with_a_hint():
    def times(logits, temperature, generator):
        if temperature < 0 or math.isnan(temperature):
            raise ValueError("no")
        if temperature == 0:
            return logits.argmax(-1)
        probs = torch.softmax(logits * temperature, -1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)

    verdict = check_sampler(times)
    assert not verdict.passed and "divide" in verdict.message


def test_sampler_ignoring_temperature_or_generator_or_greedy_fails():
    def no_temperature(logits, temperature, generator):
        if temperature < 0 or math.isnan(temperature):
            raise ValueError("no")
        return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(-1)

    def no_generator(logits, temperature, generator):
        if temperature < 0 or math.isnan(temperature):
            raise ValueError("no")
        if temperature == 0:
            return logits.argmax(-1)
        return torch.multinomial(torch.softmax(logits / temperature, -1), 1).squeeze(-1)

    def accepts_negative(logits, temperature, generator):
        if temperature <= 0:
            return logits.argmax(-1)
        return next_ids(logits, temperature, generator)

    assert "greedy" in check_sampler(no_temperature).message
    assert "generator" in check_sampler(no_generator).message
    assert "ValueError" in check_sampler(accepts_negative).message


def test_sampler_from_unnormalised_logits_fails():
    def logits_as_probabilities(logits, temperature, generator):
        if temperature < 0 or math.isnan(temperature):
            raise ValueError("no")
        if temperature == 0:
            return logits.argmax(-1)
        weights = (logits / temperature).clamp_min(0) + 1e-9
        return torch.multinomial(weights, 1, generator=generator).squeeze(-1)

    assert not check_sampler(logits_as_probabilities).passed


# ----------------------------------------------------------------- exercise 4


def test_the_buggy_loop_raises_and_fails_the_checker():
    torch.manual_seed(0)
    model = CharLM("gru", 5, 4, 3)
    rows = torch.randint(0, 5, (2, 30))
    with pytest.raises(RuntimeError):
        buggy_train_chunks(model, rows, 6, torch.optim.SGD(model.parameters(), lr=0.1))
    verdict = check_train_chunks(buggy_train_chunks)
    assert not verdict.passed and "RuntimeError" in verdict.message


def test_resetting_the_state_every_chunk_fails_with_a_hint():
    def reset_each_chunk(model, rows, seq_len, optimizer):
        losses = []
        for x, y in chunks(rows, seq_len):
            logits, _ = model(x)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    verdict = check_train_chunks(reset_each_chunk)
    assert not verdict.passed and "zero state" in verdict.message


def test_retain_graph_instead_of_detach_fails():
    source = inspect.getsource(buggy_train_chunks).replace(
        "loss.backward()", "loss.backward(retain_graph=True)"
    )
    namespace = {"chunks": chunks, "F": F}
    exec(source, namespace)
    assert not check_train_chunks(namespace["buggy_train_chunks"]).passed


def test_detaching_only_h_of_the_lstm_state_fails():
    def half_detached(model, rows, seq_len, optimizer):
        state, losses = None, []
        for x, y in chunks(rows, seq_len):
            logits, state = model(x, state)
            state = (state[0].detach(), state[1]) if isinstance(state, tuple) else state.detach()
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    verdict = check_train_chunks(half_detached)
    assert not verdict.passed and "RuntimeError" in verdict.message


# ----------------------------------------------------------------- exercise 5


def test_never_resetting_fails_and_float_types_are_accepted():
    verdict = check_loss_with_resets(lambda model, rows, k: evaluate_lm(model, rows))
    assert not verdict.passed and "zero state" in verdict.message
    as_tensor = lambda model, rows, k: torch.tensor(loss_with_resets_reference(model, rows, k))
    assert check_loss_with_resets(as_tensor).passed
    as_float32 = lambda model, rows, k: torch.tensor(loss_with_resets_reference(model, rows, k)).float()
    assert check_loss_with_resets(as_float32).passed
    assert not check_loss_with_resets(lambda model, rows, k: math.nan).passed


def test_resets_off_by_one_fails():
    verdict = check_loss_with_resets(lambda m, rows, k: loss_with_resets_reference(m, rows, k + 1))
    assert not verdict.passed

"""The scalar autograd engine (course_lib.autograd) agrees with torch.autograd."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from course_lib.autograd import Value, graph, topological_order, zero_grad
from course_lib.autograd_check import OPERATIONS, agree, compare_with_torch, evaluate_both
from course_lib.plots import draw_graph

DT = torch.float64

expressions = st.tuples(
    st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=4),
    st.lists(
        st.tuples(st.sampled_from(sorted(OPERATIONS)), st.integers(0, 10**6), st.integers(0, 10**6)),
        min_size=1,
        max_size=12,
    ),
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(expressions)
def test_random_expressions_match_torch_autograd(expression):
    inputs, steps = expression
    for ours, theirs in evaluate_both(inputs, steps):
        assert agree(ours, theirs), (ours, theirs)


def test_compare_with_torch_reports_agreement_on_the_chapters_expressions():
    result = compare_with_torch(50, seed=0)
    assert result.expressions == 50 and result.compared == 50 * 4
    assert not result.disagreements
    assert result.largest_rel_error < 1e-9
    assert "50 random expressions" in str(result)


def test_worked_example_neuron_gradient_by_hand():
    x, w, b, y = 1.5, 0.8, -0.5, 0.2
    wv, bv = Value(w), Value(b)
    loss = 0.5 * ((wv * x + bv).sigmoid() - y) ** 2
    loss.backward()
    a = 1 / (1 + math.exp(-(w * x + b)))
    delta = (a - y) * a * (1 - a)
    assert loss.data == pytest.approx(0.5 * (a - y) ** 2, rel=1e-12)
    assert wv.grad == pytest.approx(delta * x, rel=1e-12)
    assert bv.grad == pytest.approx(delta, rel=1e-12)


def test_value_used_twice_accumulates_gradient():
    x = Value(3.0)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad == 7.0


def test_backward_twice_accumulates_into_inputs_like_torch():
    x = Value(0.4)
    y = (x * x).tanh()
    y.backward()
    first = x.grad
    y.backward()
    assert x.grad == pytest.approx(2 * first, rel=1e-15)
    xt = torch.tensor(0.4, dtype=DT, requires_grad=True)
    yt = (xt * xt).tanh()
    yt.backward(retain_graph=True)
    yt.backward()
    assert x.grad == pytest.approx(xt.grad.item(), rel=1e-12)


def test_backward_twice_recomputes_intermediate_gradients():
    x = Value(0.4)
    h = x * 3.0
    y = h * h
    y.backward()
    y.backward()
    assert h.grad == pytest.approx(2 * 1.2)  # this pass's dy/dh, not the sum of two
    assert x.grad == pytest.approx(2 * 3.0 * 2 * 1.2)


def test_zero_grad_resets_the_inputs_so_backward_starts_afresh():
    w, b = Value(0.8), Value(-0.5)
    loss = (w * 1.5 + b).sigmoid()
    loss.backward()
    first = (w.grad, b.grad)
    loss.backward()
    zero_grad([w, b])
    assert (w.grad, b.grad) == (0.0, 0.0)
    loss.backward()
    assert (w.grad, b.grad) == first


def test_backward_on_an_input_adds_one():
    x = Value(2.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_draw_graph_is_still_reachable_from_autograd():
    from course_lib import autograd

    assert autograd.draw_graph is draw_graph
    with pytest.raises(AttributeError):
        autograd.no_such_name  # noqa: B018


def test_sigmoid_is_stable_for_large_inputs():
    for z in (-800.0, -50.0, 0.0, 50.0, 800.0):
        s = Value(z).sigmoid()
        assert s.data == pytest.approx(torch.sigmoid(torch.tensor(z, dtype=DT)).item(), rel=1e-12, abs=1e-300)
    assert Value(-800.0).sigmoid().data >= 0.0


def test_relu_gradient_at_zero_is_zero_like_torch():
    x = Value(0.0)
    x.relu().backward()
    assert x.grad == 0.0


def test_deep_chain_does_not_hit_the_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0001 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000, rel=1e-9)


def test_topological_order_puts_children_first():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    order = topological_order(d)
    assert order[-1] is d
    assert order.index(c) > order.index(a) and order.index(c) > order.index(b)
    assert len(order) == 4


def test_graph_nodes_and_edges():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    out = (a * b).sigmoid()
    nodes, edges = graph(out)
    assert len(nodes) == 4 and len(edges) == 3
    assert {(child.label, parent.op) for child, parent in edges if child.label} == {("a", "×"), ("b", "×")}


def test_draw_graph_draws_one_box_per_node():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    out = (a * b + 1).tanh()
    out.backward()
    fig = draw_graph(out, title="test")
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts if t.get_text()]  # arrows are empty annotations
    assert len(texts) == len(graph(out)[0])
    assert any(t.startswith("[tanh]") for t in texts)
    assert any("grad 1.0000" in t for t in texts)


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: Value("1.0"), TypeError, "one real number"),
        (lambda: Value(torch.tensor([1.0, 2.0])), TypeError, "one real number"),
        (lambda: Value(Value(1.0)), TypeError, "pass the number"),
        (lambda: Value(1.0) ** Value(2.0), TypeError, "exponent must be a plain number"),
        (lambda: Value(-1.0).log(), ValueError, "positive"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, "zero"),
        (lambda: Value(-2.0) ** 0.5, ValueError, "whole-number exponent"),
        (lambda: topological_order(3.0), TypeError, "expected a Value"),
    ],
)
def test_bad_input_gives_a_clear_error(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_repr_shows_label_data_and_grad():
    v = Value(1.5, label="w")
    assert repr(v) == "Value(w: data=1.5, grad=0)"


def test_draw_graph_puts_each_input_just_above_its_first_user():
    a, b, c = Value(1.0, label="a"), Value(2.0, label="b"), Value(3.0, label="c")
    out = a * b + c
    out.label = "out"
    fig = draw_graph(out)
    y = {t.get_text().split("\n")[0]: t.get_position()[1] for t in fig.axes[0].texts if t.get_text()}
    assert y["a"] == y["b"] > y["[×]"]
    assert y["c"] == y["[×]"] > y["[+] out"]  # c feeds the addition only


def test_draw_unrolled_rnn_draws_every_step():
    from course_lib.plots import draw_unrolled_rnn

    fig = draw_unrolled_rnn(steps=4, highlight=2)
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {"$x_{4}$", "$h_{4}$", "$L_{1}$", "$h_0$"} <= labels
    assert any("two paths" in label for label in labels)


@pytest.mark.parametrize(
    "settings, error",
    [
        (dict(expressions=0), ValueError),
        (dict(expressions=5, inputs=0), ValueError),
        (dict(expressions=2.0), TypeError),
    ],
)
def test_compare_with_torch_refuses_counts_that_make_no_sense(settings, error):
    with pytest.raises(error):
        compare_with_torch(**settings)


def test_a_nan_from_the_engine_is_a_disagreement_with_an_infinite_error(monkeypatch):
    monkeypatch.setattr(Value, "tanh", lambda self: Value(float("nan")))
    monkeypatch.setitem(OPERATIONS, "tanh", lambda u, v: u.tanh())
    result = compare_with_torch(20, seed=0)
    assert result.disagreements and result.largest_rel_error == math.inf

"""Every shared figure comes back as a Figure a notebook can show and a test can inspect."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from figure_checks import legibility_problems
from matplotlib.figure import Figure

from course_lib.autograd import Value
from course_lib.plots import (
    PAGE_WIDTH_INCHES,
    draw_graph,
    draw_unrolled_rnn,
    plot_class_balance,
    plot_confusion_matrix,
    plot_history,
    show_images,
)
from course_lib.train import History

CLASSES = [str(i) for i in range(10)]


def test_backend_is_headless():
    assert plt.get_backend().lower() == "agg"


@pytest.mark.parametrize("shape", [(10, 1, 28, 28), (10, 28, 28)])
def test_show_images_grid_and_titles(shape):
    images = torch.rand(shape)
    fig = show_images(images, titles=[f"t{i}" for i in range(10)], ncols=4)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 12  # 3 rows of 4
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 10
    assert [ax.get_title() for ax in shown] == [f"t{i}" for i in range(10)]
    assert all(not ax.axison for ax in fig.axes)
    np.testing.assert_allclose(shown[3].images[0].get_array(), images.reshape(10, 28, 28)[3].numpy())


def test_show_images_fewer_than_ncols():
    fig = show_images(torch.rand(3, 1, 28, 28))
    assert len(fig.axes) == 3
    assert all(ax.get_title() == "" for ax in fig.axes)


def test_show_images_accepts_grad_tensors():
    fig = show_images(torch.rand(2, 1, 28, 28, requires_grad=True))
    assert len(fig.axes) == 2


def test_plot_class_balance():
    labels = torch.tensor([0, 1, 1, 2, 2, 2, 9])
    fig = plot_class_balance(labels, CLASSES, title="balance")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_title() == "balance"
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == [1, 2, 3, 0, 0, 0, 0, 0, 0, 1]


def test_plot_history():
    history = History(
        train_loss=[1.0, 0.5, 0.3],
        train_acc=[0.6, 0.8, 0.9],
        val_loss=[1.1, 0.6, 0.5],
        val_acc=[0.55, 0.75, 0.8],
        seconds=[0.1, 0.1, 0.1],
    )
    fig = plot_history(history, title="run 1")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    ax_loss, ax_acc = fig.axes
    assert fig.get_suptitle() == "run 1"
    assert "loss" in ax_loss.get_ylabel() and "accuracy" in ax_acc.get_ylabel()
    assert len(ax_loss.lines) == 2 and len(ax_acc.lines) == 2
    np.testing.assert_allclose(ax_loss.lines[0].get_ydata(), history.train_loss)
    np.testing.assert_allclose(ax_acc.lines[1].get_ydata(), history.val_acc)
    np.testing.assert_allclose(ax_acc.lines[1].get_xdata(), [1, 2, 3])


def test_plot_history_without_title():
    fig = plot_history(History([1.0], [0.5], [1.0], [0.5], [0.1]))
    assert len(fig.axes) == 2
    assert fig.get_suptitle() == ""


def test_plot_confusion_matrix():
    confusion = torch.tensor([[5, 1, 0], [0, 7, 2], [0, 0, 9]])
    fig = plot_confusion_matrix(confusion, ["a", "b", "c"], title="cm")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_title() == "cm"
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    assert sorted(t.get_text() for t in ax.texts) == sorted(["5", "1", "7", "2", "9"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]


def test_figures_are_not_left_open_by_fixture():
    plot_class_balance(torch.tensor([0, 1]), ["0", "1"])
    assert len(plt.get_fignums()) == 1


def test_plots_emit_no_warnings():
    """Warnings land in notebook outputs (nbval compares them) and on the site; there must be none.

    Handing torch tensors straight to ``imshow`` triggers NumPy 2's ``__array__(copy=...)``
    DeprecationWarning; converting with ``.numpy()`` first avoids it.
    """
    history = History([1.0, 0.5], [0.5, 0.7], [1.1, 0.6], [0.4, 0.6], [0.1, 0.1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        show_images(torch.rand(4, 1, 28, 28), titles=list("abcd"))
        plot_class_balance(torch.tensor([0, 1, 1]), ["0", "1"])
        plot_history(history, title="t")
        plot_confusion_matrix(torch.eye(3, dtype=torch.long), ["a", "b", "c"])


def confident_mistakes_grid():
    """The MNIST project's grid: 2 rows of 6 digits, two title lines each, size 1.6."""
    titles = [f"true {i % 10}, said {(i + 3) % 10}\n{90 + i}% sure" for i in range(12)]
    return show_images(torch.rand(12, 1, 28, 28), titles=titles, ncols=6, size=1.6)


def sigmoid_neuron_loss() -> Value:
    """The backprop chapter's first graph (book/backprop.md, section 1): seven levels deep."""
    x, w, b, y = 1.5, 0.8, -0.5, 0.2
    wv, bv = Value(w, label="w"), Value(b, label="b")
    zv = wv * x + bv
    zv.label = "z"
    av = zv.sigmoid()
    av.label = "a"
    loss = 0.5 * (av - y) ** 2
    loss.label = "L"
    loss.backward()
    return loss


def first_neuron_loss() -> Value:
    """The worked example's first neuron (book/backprop.md, section 4): nine levels, six inputs
    in the first; drawn left to right it was 14.4 inches wide and its boxes overlapped."""
    x, w, b, y = [1.0, 2.0, 3.0], [0.5, 0.3, 0.7], 0.2, 0.1
    xs = [Value(v, label=f"x{j + 1}") for j, v in enumerate(x)]
    ws = [Value(v, label=f"W1{j + 1}") for j, v in enumerate(w)]
    b1 = Value(b, label="b1")
    z1 = ws[0] * xs[0] + ws[1] * xs[1] + ws[2] * xs[2] + b1
    loss = 0.5 * (y - z1.sigmoid()) ** 2
    loss.backward()
    return loss


def wide_graph() -> Value:
    """Sixteen inputs on one level, more than fit across the page: they continue below."""
    terms = [Value(float(i), label=f"x{i}") * Value(0.5, label=f"w{i}") for i in range(8)]
    while len(terms) > 1:
        terms = [a + b for a, b in zip(terms[::2], terms[1::2])]
    terms[0].backward()
    return terms[0]


SHARED_FIGURES = {
    "confident mistakes": confident_mistakes_grid,
    "digit grid": lambda: show_images(torch.rand(24, 1, 28, 28), titles=list(range(24)), ncols=8),
    "class means": lambda: show_images(
        torch.rand(10, 28, 28), titles=[f"mean {d}" for d in range(10)], ncols=10
    ),
    "class balance": lambda: plot_class_balance(torch.randint(0, 10, (500,)), CLASSES),
    "history": lambda: plot_history(
        History([1.0, 0.5, 0.3], [0.6, 0.8, 0.9], [1.1, 0.6, 0.5], [0.55, 0.75, 0.8], [0.1] * 3), "run"
    ),
    "confusion matrix": lambda: plot_confusion_matrix(torch.randint(0, 999, (10, 10)), CLASSES),
    "computation graph": lambda: draw_graph(
        sigmoid_neuron_loss(), title="one sigmoid neuron: forward values and backward gradients"
    ),
    "worked example's graph": lambda: draw_graph(
        first_neuron_loss(), title="first neuron of the worked example"
    ),
    "graph too wide for one line": lambda: draw_graph(wide_graph()),
    "unrolled RNN": lambda: draw_unrolled_rnn(steps=3, highlight=2),
}


@pytest.mark.parametrize("name", SHARED_FIGURES)
def test_shared_figures_are_legible_at_the_page_width(name):
    """Text at least 9 pt once the figure is shown at the page's width; no text runs into other text
    or into another panel's image (the MNIST project's mistakes grid used to hide half its titles)."""
    assert legibility_problems(SHARED_FIGURES[name]()) == []


@pytest.mark.parametrize("name", [name for name in SHARED_FIGURES if "graph" in name])
def test_computation_graphs_fit_the_page_without_shrinking(name):
    """A graph is drawn no wider than the page, so its boxes' 9 pt text is 9 pt on the page."""
    assert SHARED_FIGURES[name]().get_figwidth() <= PAGE_WIDTH_INCHES + 1e-9


def test_show_images_is_never_wider_than_the_page():
    fig = confident_mistakes_grid()
    assert fig.get_figwidth() <= PAGE_WIDTH_INCHES + 1e-9


def test_legibility_check_catches_overlapping_titles_and_small_text():
    fig, axes = plt.subplots(2, 1, figsize=(12, 2))
    for ax in axes:
        ax.imshow(np.zeros((28, 28)))
        ax.set_title("a title of\nthree lines\nthat cannot fit", fontsize=9)
    problems = legibility_problems(fig)
    assert any("pt on the page" in p for p in problems)  # 9 pt on a 12-inch figure: 5.9 pt
    assert any("runs into the image" in p or "overlaps" in p for p in problems)


def test_history_ticks_whole_epochs_only():
    history = History([1.0, 0.5, 0.3], [0.6, 0.8, 0.9], [1.1, 0.6, 0.5], [0.55, 0.75, 0.8], [0.1] * 3)
    fig = plot_history(history)
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(t == int(t) for t in ticks), ticks

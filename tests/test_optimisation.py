"""course_lib.optimisation: hand-written update rules against torch.optim, figures, the loop."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import pytest
import torch
from figure_checks import legibility_problems
from matplotlib.figure import Figure
from torch import nn

from course_lib import optimisation
from course_lib.optimisation import (
    gd_path,
    plot_lr_panels,
    plot_path_panels,
    plot_paths,
    quadratic_loss,
    run,
    run_torch,
    sign_changes,
    train,
    validate,
)

DT = torch.float64
A = torch.tensor([[5.5, 4.5], [4.5, 5.5]], dtype=DT)
START = torch.tensor([-3.5, 2.5], dtype=DT)


def momentum_rule(w, g, state, lr, momentum):
    state["u"] = momentum * state.get("u", torch.zeros_like(w)) + g
    return w - lr * state["u"]


def test_run_with_a_momentum_rule_matches_torch_sgd():
    ours = run(momentum_rule, A, START, 40, lr=0.1, momentum=0.5)
    theirs = run_torch(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5), A, START, 40)
    assert ours.shape == (41, 2)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


def test_gd_path_converges_below_the_limit_and_diverges_above():
    limit = 2 / torch.linalg.eigvalsh(A).max().item()
    below, above = gd_path(A, START, 0.9 * limit, 60), gd_path(A, START, 1.1 * limit, 60)
    assert quadratic_loss(A, below[-1]) < 1e-6 < quadratic_loss(A, START) < quadratic_loss(A, above[-1])


def test_sign_changes_counts_flips_along_a_direction():
    path = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.5, 1.0], [0.0, 2.0], [-0.1, 0.0]], dtype=DT)
    assert sign_changes(path, torch.tensor([1.0, 0.0], dtype=DT)) == 3  # zeros are skipped


def test_figures_come_back_as_figures():
    paths = {"gd": gd_path(A, START, 0.1, 10)}
    assert isinstance(plot_paths(paths, A), Figure)
    assert isinstance(plot_lr_panels(A, START, (0.5, 1.04), steps=5), Figure)
    fig = plot_path_panels({"one": (A, paths), "two": (A, paths)})
    assert len(fig.axes) == 2


@pytest.mark.parametrize(
    "draw",
    [
        lambda: plot_paths({"gd": gd_path(A, START, 0.1, 10), "adam": gd_path(A, START, 0.05, 10)}, A),
        lambda: plot_lr_panels(A, START, (0.1, 0.5, 0.95, 1.04), steps=25),
        lambda: plot_path_panels(
            {"axis-aligned": (A, {"gd": START[None]}), "turned by 45°": (A, {"gd": START[None]})}
        ),
    ],
    ids=["paths", "learning-rate panels", "path panels"],
)
def test_figures_are_legible_at_the_page_width(draw):
    """The chapter's four learning-rate panels were 13 inches wide: 5 pt text on the page."""
    assert legibility_problems(draw()) == []


def test_lr_explorer_is_not_created_on_the_static_site(monkeypatch):
    monkeypatch.setenv("COURSE_STATIC_OUTPUT", "1")
    assert optimisation.lr_explorer(A, START) is None
    monkeypatch.delenv("COURSE_STATIC_OUTPUT")
    widget = optimisation.lr_explorer(A, START, max_steps=30)
    assert widget is not None and len(widget.children) == 3  # two sliders and the output


def test_train_records_every_step_and_epoch_and_restores_train_mode(small_mnist):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    steps = -(-len(small_mnist.train) // 64)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2 * steps)
    record = train(model, opt, small_mnist.train, small_mnist.val, epochs=2, batch_size=64, schedule=schedule)
    assert len(record.lr) == len(record.train_loss) == 2 * steps
    assert record.lr[0] == pytest.approx(0.1) and record.lr[-1] < 0.01
    assert len(record.val_acc) == len(record.val_loss) == 2
    assert record.val_acc[-1] > 0.5
    assert model.training


def test_train_is_repeatable_with_the_same_seeds(small_mnist):
    def once():
        torch.manual_seed(1)
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
        return train(
            model,
            torch.optim.Adam(model.parameters()),
            small_mnist.train,
            small_mnist.val,
            epochs=1,
            batch_size=32,
        )

    assert dataclasses.asdict(once()) == dataclasses.asdict(once())


def test_validate_returns_loss_and_accuracy_and_restores_the_mode(small_mnist):
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    model.train()
    loss, acc = validate(model, small_mnist.val)
    expected = nn.functional.cross_entropy(model(small_mnist.val.x), small_mnist.val.y).item()
    assert loss == pytest.approx(expected, rel=1e-5)
    assert 0 <= acc <= 1
    assert model.training
    model.eval()
    validate(model, small_mnist.val)
    assert not model.training


# ----------------------------------------------------------------- settings that cannot work


@pytest.mark.parametrize(
    "change, error, words",
    [
        (dict(epochs=0), ValueError, "epochs must be at least 1"),
        (dict(epochs=2.0), TypeError, "epochs=2"),
        (dict(batch_size=0), ValueError, "batch_size must be at least 1"),
        (dict(seed="0"), TypeError, "seed must be a whole number"),
    ],
)
def test_train_refuses_sizes_that_make_no_sense(small_mnist, change, error, words):
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    settings = dict(epochs=1, batch_size=64) | change
    with pytest.raises(error, match=words):
        train(
            model, torch.optim.SGD(model.parameters(), lr=0.1), small_mnist.train, small_mnist.val, **settings
        )


def test_train_refuses_an_optimiser_of_another_model(small_mnist):
    model, other = nn.Linear(784, 10), nn.Linear(784, 10)
    with pytest.raises(ValueError, match="none of this model's parameters"):
        train(
            model,
            torch.optim.SGD(other.parameters(), lr=0.1),
            small_mnist.train,
            small_mnist.val,
            epochs=1,
            batch_size=64,
        )
    with pytest.raises(TypeError, match="torch.optim optimizer"):
        train(model, "adam", small_mnist.train, small_mnist.val, epochs=1, batch_size=64)


def test_train_records_a_diverging_run_instead_of_stopping(small_mnist):
    """A learning-rate sweep must see the rates that diverge: they are recorded, not raised."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    opt = torch.optim.SGD(model.parameters(), lr=1e6)
    record = train(model, opt, small_mnist.train, small_mnist.val, epochs=1, batch_size=64)
    assert not all(map(math.isfinite, record.train_loss)) or record.train_loss[-1] > 1e3
    assert record.val_acc[-1] < 0.5


def test_validate_refuses_an_empty_or_mismatched_split():
    from course_lib.data import Split

    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with pytest.raises(ValueError, match="0 images and 0 labels"):
        validate(model, Split(torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long)))
    mismatched = SimpleNamespace(x=torch.zeros(4, 1, 28, 28), y=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="4 images and 3 labels"):
        validate(model, mismatched)  # a Split refuses this itself; any object with x and y


@pytest.mark.parametrize("steps, error", [(-1, ValueError), (2.5, TypeError), ("10", TypeError)])
def test_run_refuses_a_step_count_that_makes_no_sense(steps, error):
    with pytest.raises(error, match="steps"):
        run(momentum_rule, A, START, steps, lr=0.1, momentum=0.5)
    with pytest.raises(error, match="steps"):
        run_torch(lambda p: torch.optim.SGD(p, lr=0.1), A, START, steps)

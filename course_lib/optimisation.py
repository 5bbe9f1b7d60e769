"""Optimisers on small loss surfaces and on a real model: the optimisation chapter's tools.

A quadratic valley ``L(w) = ½ wᵀ A w`` is the optimiser's microscope: its curvatures are
the eigenvalues of ``A``, and every step can be drawn. :func:`run` applies a hand-written
update rule, :func:`run_torch` the same steps with a ``torch.optim`` optimiser, so a
chapter can show that the two agree. :func:`train` is the training loop of
book/backprop.md, section 6, with a learning-rate schedule and a record of every step.
Explained in book/optimisation.md.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from ._book import on_static_site
from ._require import require_int, require_optimizer_of
from .data import batches
from .plots import PAGE_WIDTH_INCHES


def quadratic_loss(hessian: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """L(w) = ½ wᵀ A w for a symmetric ``hessian`` A (book/optimisation.md, section 1)."""
    return 0.5 * w @ hessian @ w


def run(step, hessian: torch.Tensor, start: torch.Tensor, steps: int, **hyper):
    """Apply ``step(w, grad, state, **hyper)`` ``steps`` times on the valley of ``hessian``.

    Returns the path, one row per iterate (``steps + 1`` rows). ``state`` is a dict the
    update rule may keep between steps (a velocity, moment estimates). Explained in
    book/optimisation.md, section 2.
    """
    steps = require_int("steps", steps, 0)
    w, state, path = start.clone(), {}, [start.clone()]
    for _ in range(steps):
        w = step(w, hessian @ w, state, **hyper)
        path.append(w)
    return torch.stack(path)


def run_torch(make_optimiser, hessian: torch.Tensor, start: torch.Tensor, steps: int):
    """The same path as :func:`run`, with ``make_optimiser([w])`` from ``torch.optim``.

    Explained in book/optimisation.md, section 2.
    """
    steps = require_int("steps", steps, 0)
    w = torch.nn.Parameter(start.clone())
    optimiser, path = make_optimiser([w]), [start.clone()]
    for _ in range(steps):
        optimiser.zero_grad()
        quadratic_loss(hessian, w).backward()
        optimiser.step()
        path.append(w.detach().clone())
    return torch.stack(path)


def gd_path(hessian: torch.Tensor, start: torch.Tensor, lr: float, steps: int):
    """Plain gradient descent on the valley: ``w <- w - lr * A w`` (section 1)."""
    return run(lambda w, grad, state: w - lr * grad, hessian, start, steps)


def sign_changes(path: torch.Tensor, direction: torch.Tensor) -> int:
    """How often the component of the iterates along ``direction`` changes sign.

    A bouncing optimiser changes sign at almost every step. Explained in
    book/optimisation.md, section 2.
    """
    component = path @ direction
    signs = torch.sign(component[component != 0])
    return int((signs[1:] != signs[:-1]).sum())


# --------------------------------------------------------------------------- figures


def draw_valley(ax, hessian: torch.Tensor, limit: float = 4.0, points: int = 120):
    """Contours of ½ wᵀ A w on ``[-limit, limit]²`` and the minimum as a star."""
    grid = torch.linspace(-limit, limit, points, dtype=hessian.dtype)
    w1, w2 = torch.meshgrid(grid, grid, indexing="xy")
    a = hessian
    surface = 0.5 * (a[0, 0] * w1**2 + (a[0, 1] + a[1, 0]) * w1 * w2 + a[1, 1] * w2**2)
    levels = np.geomspace(0.05, float(surface.max()), 14)
    ax.contour(w1.numpy(), w2.numpy(), surface.numpy(), levels=levels, colors="0.75", linewidths=0.8)
    ax.plot(0, 0, "k*", ms=9)
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")


def _draw_path(ax, path, limit, **style):
    clipped = path.clamp(-1.5 * limit, 1.5 * limit)
    ax.plot(clipped[:, 0], clipped[:, 1], "o-", ms=2.5, lw=1, **style)


def plot_paths(paths: dict, hessian: torch.Tensor, title: str = "", limit: float = 4.0):
    """Trajectories on the valley (left) and their loss per step (right).

    Explained in book/optimisation.md, section 2.
    """
    fig, (ax_path, ax_loss) = plt.subplots(1, 2, figsize=(PAGE_WIDTH_INCHES, 3.9))
    draw_valley(ax_path, hessian, limit)
    for name, path in paths.items():
        _draw_path(ax_path, path, limit, label=name)
        losses = [quadratic_loss(hessian, w).item() for w in path]
        ax_loss.semilogy(losses, label=name)
    ax_path.set_title(title or "trajectories from the same start")
    ax_path.legend(fontsize=9)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss L(w)")
    ax_loss.set_title("loss per step")
    ax_loss.legend(fontsize=9)
    ax_loss.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def plot_path_panels(panels: dict, limit: float = 4.0):
    """One valley per panel, ``{title: (hessian, {name: path})}``, paths drawn on each.

    Explained in book/optimisation.md, section 3.
    """
    width = min(PAGE_WIDTH_INCHES, 4.0 * len(panels))  # never wider than the page
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 4.2), squeeze=False)
    for ax, (title, (hessian, paths)) in zip(axes[0], panels.items()):
        draw_valley(ax, hessian, limit)
        for name, path in paths.items():
            _draw_path(ax, path, limit, label=name)
        ax.set_title(title, fontsize=11)
        ax.legend(fontsize=9, loc="lower right")
    fig.tight_layout()
    return fig


def plot_lr_panels(hessian, start, fractions=(0.1, 0.5, 0.95, 1.04), steps: int = 25):
    """Gradient descent at learning rates given as fractions of the limit 2/λ_max.

    The static figure next to :func:`lr_explorer`. Explained in book/optimisation.md,
    section 1.
    """
    limit_lr = 2 / torch.linalg.eigvalsh(hessian).max().item()
    ncols = 2  # two panels a row keep their text readable at the page's width
    nrows = -(-len(fractions) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(PAGE_WIDTH_INCHES, 3.7 * nrows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[len(fractions) :]:
        ax.axis("off")
    for ax, fraction in zip(axes.flat, fractions):
        lr = fraction * limit_lr
        path = gd_path(hessian, start, lr, steps)
        draw_valley(ax, hessian)
        _draw_path(ax, path, 4.0, color="C3")
        final = quadratic_loss(hessian, path[-1]).item()
        ax.set_title(
            f"η = {lr:.3f} ({fraction:g} × limit)\nloss after {steps} steps {final:.2g}", fontsize=10
        )
    fig.suptitle(f"{steps} steps of gradient descent at {len(fractions)} learning rates")
    return fig


def lr_explorer(hessian: torch.Tensor, start: torch.Tensor, max_steps: int = 100):
    """A slider for the learning rate and one for the steps; redraws the path live.

    Returns None on the static site (the figure of :func:`plot_lr_panels` is shown
    there instead). Explained in book/optimisation.md, section 1.
    """
    if on_static_site():
        return None
    import ipywidgets as widgets

    limit_lr = 2 / torch.linalg.eigvalsh(hessian).max().item()

    def draw(lr=0.05, steps=20):
        path = gd_path(hessian, start, lr, steps)
        fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(PAGE_WIDTH_INCHES, 3.4))
        draw_valley(ax, hessian)
        _draw_path(ax, path, 4.0, color="C3")
        ax.set_title(f"η = {lr:.3f} (limit 2/λ_max = {limit_lr:.3f})", fontsize=10)
        ax_loss.semilogy([quadratic_loss(hessian, w).item() for w in path])
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel("loss")
        ax_loss.grid(alpha=0.3, which="both")
        fig.tight_layout()
        plt.show()

    lr = widgets.FloatLogSlider(
        value=0.05, base=10, min=-2.5, max=-0.5, step=0.02, description="η", readout_format=".3f"
    )
    steps = widgets.IntSlider(value=20, min=1, max=max_steps, description="steps")
    return widgets.interactive(draw, lr=lr, steps=steps)


# --------------------------------------------------------------------------- training


@dataclass
class Run:
    """What :func:`train` records: every step's learning rate and training loss, and the
    validation loss and accuracy after every epoch (book/optimisation.md, section 4)."""

    lr: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)


@torch.no_grad()
def validate(model, split) -> tuple[float, float]:
    """Loss and accuracy on a split, in eval mode; the model's mode is restored after."""
    if len(split.y) == 0 or len(split.x) != len(split.y):
        raise ValueError(
            f"validate needs a split with as many labels as images and at least one of each, "
            f"got {len(split.x)} images and {len(split.y)} labels."
        )
    was_training = model.training
    model.eval()
    logits = model(split.x)
    model.train(was_training)
    return F.cross_entropy(logits, split.y).item(), (logits.argmax(1) == split.y).float().mean().item()


def _refuse_bad_settings(loop):
    """Check :func:`train`'s settings before its loop starts, naming the one that cannot work.

    A wrapper, so that the loop's own source, which book/optimisation.md prints, stays the
    loop (``inspect.getsource`` shows the wrapped function).
    """

    @functools.wraps(loop)
    def train(model, optimiser, train_split, val_split, *, epochs, batch_size, schedule=None, seed=0):
        require_int("epochs", epochs, 1)
        require_int("batch_size", batch_size, 1)
        require_int("seed", seed)
        require_optimizer_of(optimiser, model)
        return loop(
            model, optimiser, train_split, val_split,
            epochs=epochs, batch_size=batch_size, schedule=schedule, seed=seed,
        )  # fmt: skip

    return train


@_refuse_bad_settings
def train(
    model, optimiser, train_split, val_split, *, epochs: int, batch_size: int, schedule=None, seed: int = 0
) -> Run:
    """The five-line loop of book/backprop.md, section 6, plus a schedule and a record.

    ``schedule`` is a ``torch.optim.lr_scheduler`` object (or None); it is stepped after
    every batch, so its ``T_max``/``step_size`` count batches. A run that diverges is
    recorded as it is (losses of NaN or inf, accuracy near chance), not stopped: a
    learning-rate sweep wants to see it. Explained in book/optimisation.md, section 4.
    """
    generator, record = torch.Generator().manual_seed(seed), Run()
    x, y = train_split.x, train_split.y
    shuffled = dict(shuffle=True, generator=generator, device=x.device)
    model.train()
    for _ in range(epochs):
        losses = []
        for idx in batches(len(y), batch_size, **shuffled):
            optimiser.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            record.lr.append(optimiser.param_groups[0]["lr"])
            optimiser.step()
            if schedule is not None:
                schedule.step()
            losses.append(loss.detach())  # no .item() per step: keeps a GPU busy
        record.train_loss += torch.stack(losses).tolist()
        val_loss, val_acc = validate(model, val_split)
        record.val_loss.append(val_loss)
        record.val_acc.append(val_acc)
    return record

"""The figures of the generative adversarial networks chapter, one function each.

Each draws one figure that makes one point and returns it; fonts are at least 9 points so
the figures read on a phone. Explained in book/gans.md.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .plots import PAGE_WIDTH_INCHES

FONT = 10


def _style(ax, xlabel: str, ylabel: str, title: str = "") -> None:
    ax.set_xlabel(xlabel, fontsize=FONT)
    ax.set_ylabel(ylabel, fontsize=FONT)
    if title:
        ax.set_title(title, fontsize=FONT + 1)
    ax.tick_params(labelsize=FONT - 1)
    ax.grid(alpha=0.3)


def plot_optimal_discriminator(x, p_data, p_g, d_star, d_trained):
    """The two densities, the optimal discriminator and a trained one (section 1)."""
    x, p_data, p_g, d_star, d_trained = (
        np.asarray(t, dtype=float) for t in (x, p_data, p_g, d_star, d_trained)
    )
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 4.6), sharex=True)
    top.plot(x, p_data, label=r"$p_{data}$")
    top.plot(x, p_g, label=r"$p_g$")
    _style(top, "", "density", "two fixed densities")
    top.legend(fontsize=FONT - 1)
    bottom.plot(x, d_star, "k", lw=2.5, alpha=0.4, label=r"$D^*$ (formula)")
    bottom.plot(x, d_trained, "C3--", label="trained $D$")
    bottom.set_ylim(-0.05, 1.05)
    _style(bottom, "$x$", "$D(x)$", "the discriminator they imply")
    bottom.legend(fontsize=FONT - 1)
    fig.tight_layout()
    return fig


def plot_generator_losses(d_values, saturating, non_saturating):
    """Both generator losses as functions of D(G(z)): which one is flat where (section 1)."""
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    ax.plot(d_values, saturating, label=r"minimax: $\log(1 - D(G(z)))$")
    ax.plot(d_values, non_saturating, label=r"non-saturating: $-\log D(G(z))$")
    _style(ax, "$D(G(z))$", "generator loss", "what the generator minimises")
    ax.legend(fontsize=FONT - 1)
    fig.tight_layout()
    return fig


def plot_trajectories(panels: dict, ncols: int = 2):
    """2-D paths, each from its start (dot) to its end (cross), ``ncols`` panels a row (section 3).

    ``panels`` maps a panel title to ``(path, xlabel, ylabel)``, ``path`` of shape (T, 2).
    """
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 3.3 * nrows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, (name, (path, xlabel, ylabel)) in zip(axes.flat, panels.items()):
        path = np.asarray(path, dtype=float)
        ax.plot(path[:, 0], path[:, 1], lw=0.8)
        ax.plot(*path[0], "o", color="C2", label="start")
        ax.plot(*path[-1], "x", color="C3", ms=9, mew=2, label="end")
        ax.plot(0, 0, "k+", ms=10)
        ax.set_aspect("equal", adjustable="datalim")
        _style(ax, xlabel, ylabel, name)
    axes.flat[0].legend(fontsize=FONT - 1, loc="lower left")
    fig.tight_layout()
    return fig


def plot_ring_grid(real, runs: dict, centres, max_seeds: int = 4):
    """One row per training variant, one column per seed: samples over the real ring (section 4).

    ``runs`` maps a variant's name to samples of shape (n, seeds, 2); the first
    ``max_seeds`` seeds are drawn, so that the panels stay large enough to read.
    """
    real = torch.as_tensor(real).detach().cpu()
    seeds = min(next(iter(runs.values())).shape[1], max_seeds)
    side = min(2.0, (PAGE_WIDTH_INCHES - 0.4) / seeds)
    fig, axes = plt.subplots(
        len(runs), seeds, figsize=(side * seeds + 0.4, side * len(runs) + 0.3), squeeze=False
    )
    for row, (name, samples) in zip(axes, runs.items()):
        samples = torch.as_tensor(samples).detach().cpu()
        for seed, ax in enumerate(row):
            ax.scatter(real[:, 0], real[:, 1], s=1, color="0.75")
            ax.scatter(
                samples[:, seed, 0],
                samples[:, seed, 1],
                s=1,
                alpha=0.3,
                color="C0" if row is axes[0] else "C1",
            )
            ax.scatter(centres[:, 0], centres[:, 1], s=25, marker="x", color="k", lw=1)
            ax.set_xlim(-3, 3)
            ax.set_ylim(-3, 3)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"seed {seed}", fontsize=FONT - 1)
        row[0].set_ylabel(name, fontsize=FONT)
    fig.tight_layout()
    return fig


def plot_image_rows(rows: dict, size: float = 0.9):
    """Rows of images, one row per key, the key written at the left (sections 5 to 8).

    ``rows`` maps a label to pixels (n, 1, H, W) in [0, 1]. Images are ``size`` inches
    across, or less when that is needed for the row to fit the page width.
    """
    ncols = max(len(images) for images in rows.values())
    size = min(size, (PAGE_WIDTH_INCHES - 1.3) / ncols)
    fig, axes = plt.subplots(
        len(rows), ncols, figsize=(ncols * size + 1.3, len(rows) * size + 0.2), squeeze=False
    )
    for r, (label, images) in enumerate(rows.items()):
        images = torch.as_tensor(images).detach().float().cpu()
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(images[c, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(str(label), fontsize=FONT, rotation=0, ha="right", va="center")
    fig.subplots_adjust(
        left=1.2 / (ncols * size + 1.3), right=0.99, top=0.98, bottom=0.02, wspace=0.05, hspace=0.05
    )
    return fig


def plot_frechet_ladder(ladder: dict, floor: float, models: dict, title: str = ""):
    """Fréchet distances of corrupted real images, with the floor and the models (section 6).

    ``ladder`` maps a corruption's name to its distance; ``models`` maps a model to its own.
    """
    names = list(ladder) + list(models)
    values = list(ladder.values()) + list(models.values())
    colours = ["C7"] * len(ladder) + [f"C{i}" for i in range(len(models))]
    fig, ax = plt.subplots(figsize=(6.2, 0.32 * len(names) + 1.2))
    ax.barh(range(len(names)), values, color=colours)
    ax.axvline(floor, color="k", ls="--", lw=1.2, label=f"real vs real: {floor:.2f}")
    ax.set_yticks(range(len(names)), names, fontsize=FONT - 1)
    ax.invert_yaxis()
    ax.set_xscale("log")
    _style(ax, "Fréchet distance on classifier features (log scale)", "", title)
    ax.legend(fontsize=FONT - 1, loc="lower right")
    fig.tight_layout()
    return fig


def plot_frechet_curve(curves: dict, floor: float, reference: dict | None = None):
    """Fréchet distance against training step, one line per model, with the floor (section 6)."""
    fig, ax = plt.subplots(figsize=(6, 3.3))
    for name, (steps, values) in curves.items():
        ax.plot(steps, values, "o-", ms=3, label=name)
    ax.axhline(floor, color="k", ls="--", lw=1.2, label="real vs real")
    for i, (name, value) in enumerate((reference or {}).items()):
        ax.axhline(value, color="C7", ls=":", lw=1.2 + i * 0.4, label=name)
    ax.set_yscale("log")
    _style(ax, "training step", "Fréchet distance (log)", "Fréchet distance over training")
    ax.legend(fontsize=FONT - 1)
    fig.tight_layout()
    return fig


def plot_class_shares(shares: dict, classes, title: str = "share of samples per predicted class"):
    """Grouped bars: the share of each class among each model's samples (section 6)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    width = 0.8 / len(shares)
    for i, (name, values) in enumerate(shares.items()):
        ax.bar(np.arange(len(classes)) + (i - (len(shares) - 1) / 2) * width, values, width, label=name)
    ax.axhline(1 / len(classes), color="k", ls="--", lw=1, label="uniform")
    ax.set_xticks(range(len(classes)), [str(c) for c in classes], fontsize=FONT - 1)
    _style(ax, "predicted class", "share", title)
    ax.legend(fontsize=FONT - 1, ncol=len(shares) + 1)
    fig.tight_layout()
    return fig

"""Figures of the recurrent networks chapter: the loss ladder, gradient norms through time,
learning curves, and a passage coloured by one hidden unit.

Explained in book/rnn.md (each function names its section).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np


def plot_ladder(losses: dict[str, float], title: str, highlight: tuple[str, ...] = ()):
    """Horizontal bars of nats per character (bits on the top axis), best at the bottom.

    Explained in book/rnn.md, sections 1 and 10.
    """
    names = list(losses)
    values = [losses[n] for n in names]
    fig, ax = plt.subplots(figsize=(6.5, 0.42 * len(names) + 1.4))
    colours = ["tab:orange" if n in highlight else "tab:blue" for n in names]
    ax.barh(names, values, color=colours)
    for y, v in enumerate(values):
        ax.text(v + 0.03, y, f"{v:.3f}", va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, max(values) * 1.15)
    ax.set_xlabel("held-out loss, nats per character")
    top = ax.secondary_xaxis("top", functions=(lambda n: n / math.log(2), lambda b: b * math.log(2)))
    top.set_xlabel("bits per character")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_gradient_norms(norms: dict, title: str, ylabel: str = r"$\|\partial L_T / \partial h_t\|$"):
    """‖∂L_T/∂h_t‖ against T − t on a log scale, one line per model.

    Explained in book/rnn.md, sections 3 and 5.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for name, curve in norms.items():
        curve = np.asarray(curve, dtype=float)
        ax.semilogy(np.arange(len(curve)), np.maximum(curve, 1e-300), label=name)
    ax.set_xlabel("steps back in time, T − t")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_lm_curves(histories: dict, references: dict[str, float], title: str):
    """Training loss (smoothed) and validation loss per model, with the n-gram levels as lines.

    Explained in book/rnn.md, section 5.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for (name, history), colour in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        window = max(len(history.train_loss) // 25, 1)
        smooth = np.convolve(history.train_loss, np.ones(window) / window, mode="valid")
        ax.plot(history.steps[window - 1 :], smooth, color=colour, alpha=0.45, label=f"{name} train")
        ax.plot(history.val_steps, history.val_loss, "o-", color=colour, label=f"{name} validation")
    for (name, level), style in zip(references.items(), (":", "--", "-.")):
        ax.axhline(level, color="0.3", ls=style, lw=1, label=name)
    ax.set_ylim(top=min(ax.get_ylim()[1], 3.5))
    ax.set_xlabel("training step")
    ax.set_ylabel("loss, nats per character")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, ncol=2)
    fig.tight_layout()
    return fig


def show_coloured_text(text: str, values, title: str, width: int = 64):
    """Each character of ``text`` on a background coloured by ``values`` (blue low, red high).

    Explained in book/rnn.md, section 7.
    """
    values = np.asarray(values, dtype=float)
    scale = np.abs(values).max() or 1.0
    lines, row, col = [[]], 0, 0
    for ch, v in zip(text, values):
        if ch == "\n" or col == width:
            lines.append([])
            row, col = row + 1, 0
            if ch == "\n":
                lines[row - 1].append(("↵", v))
                continue
        lines[row].append((ch, v))
        col += 1
    fig, ax = plt.subplots(figsize=(width * 0.105 + 0.4, len(lines) * 0.24 + 0.7))
    cmap = plt.get_cmap("coolwarm")
    for y, line in enumerate(lines):
        for x, (ch, v) in enumerate(line):
            ax.add_patch(plt.Rectangle((x, -y - 0.5), 1, 1, color=cmap(0.5 + 0.5 * v / scale), lw=0))
            ax.text(x + 0.5, -y, ch, ha="center", va="center", fontsize=9, family="monospace")
    ax.set_xlim(0, width)
    ax.set_ylim(-len(lines) + 0.5, 0.5)
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig

"""Matplotlib figures the chapters share: image grids, curves, confusion matrices.

Each function draws one figure and returns it, so a notebook shows it and a test can look
at it. Explained in the MNIST project chapter.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from .autograd import Value, graph

# Figures are shown at most as wide as the page's text column, about 7.8 inches at the
# 100 px per inch the site shows them at; a wider figure is shrunk, and its text with it.
PAGE_WIDTH_INCHES = 7.8


def show_images(images: torch.Tensor, titles=None, ncols: int = 8, size: float = 1.3, cmap: str = "gray"):
    """A grid of images (N, 1, H, W) or (N, H, W) with optional titles (one or more lines) above each.

    ``size`` is the width of one image in inches; a grid wider than the page is made narrower
    instead of being shrunk on the page, so the titles keep their size. Constrained layout
    leaves room for every title line, so a title never runs into the image above it.
    Explained in the MNIST project chapter.
    """
    images = images.detach().float().cpu()
    if images.ndim == 4:
        images = images[:, 0]
    n = len(images)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    size = min(size, PAGE_WIDTH_INCHES / ncols)
    lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles is not None else 0
    height = nrows * (size + 0.2 * lines + 0.1)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(ncols * size, height), squeeze=False, layout="constrained"
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i].numpy(), cmap=cmap)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=10)
    return fig


def plot_class_balance(labels: torch.Tensor, classes, title: str = "examples per class"):
    """Bar chart of how many examples each class has.

    Explained in the MNIST project chapter.
    """
    counts = torch.bincount(labels.cpu(), minlength=len(classes))
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.bar(range(len(classes)), counts.numpy())
    ax.set_xticks(range(len(classes)))
    ax.set_xlabel("class")
    ax.set_ylabel("count")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_history(history, title: str = ""):
    """Loss and accuracy per epoch, training and validation, side by side.

    Explained in the MNIST project chapter.
    """
    epochs = range(1, history.epochs + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(PAGE_WIDTH_INCHES, 3))
    ax_loss.plot(epochs, history.train_loss, "o-", label="train")
    ax_loss.plot(epochs, history.val_loss, "o-", label="validation")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_acc.plot(epochs, history.train_acc, "o-", label="train")
    ax_acc.plot(epochs, history.val_acc, "o-", label="validation")
    ax_acc.set_ylabel("accuracy")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(confusion: torch.Tensor, classes, title: str = "confusion matrix (test)"):
    """Counts of true (rows) against predicted (columns) classes, numbers in each cell.

    Explained in the MNIST project chapter.
    """
    confusion = confusion.cpu()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(confusion.float().log1p().numpy(), cmap="Blues")
    n = len(classes)
    for i in range(n):
        for j in range(n):
            value = int(confusion[i, j])
            if value:
                ax.text(
                    j, i, value, ha="center", va="center", fontsize=9, color="white" if i == j else "black"
                )
    ax.set_xticks(range(n), classes)
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def draw_graph(root: Value, ax=None, title: str = ""):
    """Draw the computation graph under ``root`` (a Value); return the figure.

    Explained in book/backprop.md, sections 1 and 4. Columns are depths (``root`` on the
    right, each input just left of the first node that uses it); each box shows the
    node's operation, label, value and gradient.
    """
    nodes, edges = graph(root)
    depth = {}
    for node in nodes:  # children come first, so their depth is known
        depth[id(node)] = 1 + max((depth[id(c)] for c in node.children), default=-1)
    users: dict[int, list[int]] = {}
    for child, parent in edges:
        users.setdefault(id(child), []).append(depth[id(parent)])
    for node in nodes:  # an input sits just left of the first node that uses it
        if not node.children and id(node) in users:
            depth[id(node)] = min(users[id(node)]) - 1
    columns: dict[int, list[Value]] = {}
    for node in nodes:
        columns.setdefault(depth[id(node)], []).append(node)
    position = {}
    for d, column in columns.items():
        for row, node in enumerate(column):
            position[id(node)] = (d, (len(column) - 1) / 2 - row)
    height = max(len(c) for c in columns.values())
    if ax is None:
        _, ax = plt.subplots(figsize=(1.55 * len(columns) + 0.4, 0.75 * height + 0.8))
    for child, parent in edges:
        ax.annotate(
            "",
            xy=position[id(parent)],
            xytext=position[id(child)],
            arrowprops=dict(arrowstyle="->", color="0.55", shrinkA=36, shrinkB=36),
        )
    for node in nodes:
        x, y = position[id(node)]
        head = " ".join(s for s in (node.op and f"[{node.op}]", node.label) if s) or "const"
        ax.text(
            x,
            y,
            f"{head}\ndata {node.data:.4f}\ngrad {node.grad:.4f}",
            ha="center",
            va="center",
            fontsize=9,
            family="monospace",
            bbox=dict(boxstyle="round", facecolor="#e8f0fe" if not node.children else "#fdf3e1", ec="0.4"),
        )
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylim(-height / 2 - 0.2, height / 2 + 0.2)
    ax.axis("off")
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure


def draw_unrolled_rnn(steps: int = 3, highlight: int = 2):
    """A scalar RNN unrolled over ``steps`` steps: one copy of the cell per step.

    Explained in book/backprop.md, section 5. Grey arrows are the forward pass; the red
    arrows are the two paths along which the gradient reaches ``h_highlight``.
    """
    fig, ax = plt.subplots(figsize=(1.9 * steps + 1.6, 3.6))
    rows = {"x": 0.0, "h": 1.0, "y": 2.0, "L": 3.0}
    box = dict(boxstyle="round", facecolor="#fdf3e1", ec="0.4")
    names = {"x": "$x_{t}$", "h": "$h_{t}$", "y": r"$\hat y_{t}$", "L": "$L_{t}$"}
    for t in range(0, steps + 1):
        if t == 0:
            ax.text(0, rows["h"], "$h_0$", ha="center", va="center", fontsize=11, bbox=box)
            continue
        for key, row in rows.items():
            ax.text(
                t, row, names[key].replace("t}", f"{t}}}"), ha="center", va="center", fontsize=11, bbox=box
            )

    def arrow(start, end, color="0.55", text="", style="-|>"):
        ax.annotate(
            "",
            xy=end,
            xytext=start,
            arrowprops=dict(arrowstyle=style, color=color, lw=1.4, shrinkA=14, shrinkB=14),
        )
        if text:
            mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
            ax.text(mid[0] + 0.06, mid[1] + 0.08, text, fontsize=10, color="0.3")

    for t in range(1, steps + 1):
        arrow((t - 1, rows["h"]), (t, rows["h"]), text="$W_h$")
        arrow((t, rows["x"]), (t, rows["h"]), text="$W_x$")
        arrow((t, rows["h"]), (t, rows["y"]), text="$W_y$")
        arrow((t, rows["y"]), (t, rows["L"]))
    red = "#c0392b"
    backward = dict(arrowstyle="-|>", color=red, lw=2, ls="--", shrinkA=0, shrinkB=0)
    right = highlight - 0.1  # the gradient arrows run beside the forward ones
    ax.annotate("", xy=(right, rows["h"] + 0.22), xytext=(right, rows["y"] - 0.22), arrowprops=backward)
    if highlight < steps:
        ax.annotate(
            "",
            xy=(highlight + 0.2, rows["h"] - 0.14),
            xytext=(highlight + 0.8, rows["h"] - 0.14),
            arrowprops=backward,
        )
    ax.text(
        highlight + 0.5,
        rows["y"],
        f"gradient into $h_{highlight}$:\ntwo paths (dashed)",
        ha="center",
        va="center",
        fontsize=10,
        color=red,
    )
    ax.set_xlim(-0.5, steps + 0.5)
    ax.set_ylim(-0.5, 3.5)
    ax.axis("off")
    ax.set_title(f"the RNN unrolled over {steps} steps: the same weights in every copy", fontsize=11)
    fig.tight_layout()
    return fig

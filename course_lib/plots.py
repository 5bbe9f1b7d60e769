"""Matplotlib figures the chapters share: image grids, curves, confusion matrices.

Each function draws one figure and returns it, so a notebook shows it and a test can look
at it. Explained in the MNIST project chapter.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator

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
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5
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


GRAPH_FONT_POINTS = 9  # the boxes' text, in points: the figure is never wider than the page


def _graph_levels(root: Value) -> list[list[Value]]:
    """The nodes under ``root`` by level, inputs at the top and ``root`` at the bottom.

    Each node sits one level above the first node that uses it, so every arrow is as short
    as it can be (a partial sum is drawn next to the term added to it, not three levels
    up). Within a level the nodes keep the order in which the expression was written.
    """
    nodes, edges = graph(root)
    below: dict[int, int] = {id(root): 0}  # levels above the root
    for child, parent in reversed(edges):  # users come first, from the root up
        below[id(child)] = max(below.get(id(child), 0), below[id(parent)] + 1)
    levels = [[] for _ in range(max(below.values()) + 1)]
    for node in nodes:
        levels[-1 - below[id(node)]].append(node)
    # Within a level, the order in which the expression was written: a depth-first walk
    # that visits each node's operands left to right (W11, x1, W12, x2, ...).
    written, seen, stack = {}, set(), [(root, False)]
    while stack:
        node, operands_done = stack.pop()
        if operands_done:
            written[id(node)] = len(written)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.children))
    for level in levels:
        level.sort(key=lambda n: written[id(n)])
    return levels


def draw_graph(root: Value, ax=None, title: str = ""):
    """Draw the computation graph under ``root`` (a Value), top to bottom; return the figure.

    Explained in book/backprop.md, sections 1 and 4. The inputs are at the top and ``root``
    at the bottom, each node just above the first node that uses it; each box shows the
    node's operation, label, value (``data``) and gradient (``grad``). The figure is at most
    the page's width with 9 pt text, however long the graph (it grows downwards, which a
    phone scrolls); a level with more boxes than fit across the page continues on the
    next line.
    """
    boxes = {}
    for node in graph(root)[0]:
        head = " ".join(s for s in (node.op and f"[{node.op}]", node.label) if s) or "const"
        boxes[id(node)] = f"{head}\ndata {node.data:.4f}\ngrad {node.grad:.4f}"
    chars = max(len(line) for text in boxes.values() for line in text.split("\n"))
    # monospace: a character is 0.6 em wide; the round box pads 0.3 em on each side
    pitch = (chars + 0.6) * 0.6 * GRAPH_FONT_POINTS / 72 + 0.25  # inches between box centres
    per_line = max(1, int((PAGE_WIDTH_INCHES - 0.2) // pitch))
    lines = [level[i : i + per_line] for level in _graph_levels(root) for i in range(0, len(level), per_line)]
    step = 0.85  # inches between lines of boxes: three text lines and room for the arrows
    position = {}
    for row, line in enumerate(lines):
        for i, node in enumerate(line):
            position[id(node)] = ((i - (len(line) - 1) / 2) * pitch, -row * step)
    widest = max(len(line) for line in lines)
    if ax is None:
        title_width = 0.55 * 11 * len(title) / 72 + 0.3 if title else 0
        width = min(PAGE_WIDTH_INCHES, max(widest * pitch + 0.2, title_width))
        _, ax = plt.subplots(figsize=(width, step * len(lines) + (0.45 if title else 0.1)))
    drawn = {}
    for node in graph(root)[0]:
        drawn[id(node)] = ax.text(
            *position[id(node)],
            boxes[id(node)],
            ha="center",
            va="center",
            fontsize=GRAPH_FONT_POINTS,
            family="monospace",
            bbox=dict(boxstyle="round", facecolor="#e8f0fe" if not node.children else "#fdf3e1", ec="0.4"),
        )
    half = max(widest * pitch, ax.figure.get_figwidth()) / 2
    ax.set_xlim(-half, half)
    ax.set_ylim(-step * (len(lines) - 0.5), step / 2)
    ax.axis("off")
    if title:
        ax.set_title(textwrap.fill(title, int(PAGE_WIDTH_INCHES * 72 / (0.55 * 11))), fontsize=11)
    ax.figure.tight_layout(pad=0.2)
    _draw_graph_arrows(ax, graph(root)[1], drawn)
    return ax.figure


def _draw_graph_arrows(ax, edges, drawn) -> None:
    """An arrow from the bottom of each node's box to the top of the box of its user.

    ``drawn`` maps ``id(node)`` to the node's text, whose box has just been placed.
    """
    ax.figure.canvas.draw()  # places the boxes, so that their edges can be measured
    to_data = ax.transData.inverted()
    half_height = {}
    for key, text in drawn.items():
        (_, bottom), (_, top) = to_data.transform(text.get_bbox_patch().get_window_extent())
        half_height[key] = (top - bottom) / 2
    for child, parent in edges:
        (xc, yc), (xp, yp) = drawn[id(child)].get_position(), drawn[id(parent)].get_position()
        ax.annotate(
            "",
            xy=(xp, yp + half_height[id(parent)]),
            xytext=(xc, yc - half_height[id(child)]),
            arrowprops=dict(arrowstyle="->", color="0.55", shrinkA=1, shrinkB=1),
            zorder=1,  # behind the boxes
        )


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

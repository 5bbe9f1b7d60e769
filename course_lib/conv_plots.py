"""Figures and the kernel explorer of the convolutional networks chapter.

Small matrices drawn as labelled squares with the sliding window on them, im2col's columns,
feature maps, the trained network's filters and activations. Each function draws one
figure and returns it; the chapter calls each in one line. Explained in book/convnets.md.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle

from ._book import on_static_site
from .conv import conv_output_size
from .plots import PAGE_WIDTH_INCHES

WINDOW_COLOURS = ("tab:orange", "tab:green", "tab:blue", "tab:purple", "tab:red", "tab:olive")


def draw_grid(ax, values, highlights=(), title="", shaded=(), fontsize=11):
    """A small matrix as labelled squares.

    ``highlights`` is a list of ``(cells, colour)``, each cell a ``(row, col)`` pair;
    ``shaded`` cells (padding, say) get a grey background.
    """
    values = torch.as_tensor(values)
    rows, cols = values.shape
    ax.imshow(np.zeros((rows, cols)), cmap="Greys", vmin=0, vmax=1)
    for r, c in shaded:
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, color="0.85"))
    for cells, colour in highlights:
        for r, c in cells:
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, alpha=0.45, color=colour))
    for r in range(rows):
        for c in range(cols):
            ax.text(c, r, f"{values[r, c].item():g}", ha="center", va="center", fontsize=fontsize)
    ax.set_xticks([c - 0.5 for c in range(cols + 1)], [])
    ax.set_yticks([r - 0.5 for r in range(rows + 1)], [])
    ax.grid(color="black", linewidth=1)
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=10)


def _block(top, left, size, step=1):
    """The (row, col) cells of a size x size window at (top, left) whose taps are step apart."""
    return [(top + step * u, left + step * v) for u in range(size) for v in range(size)]


def plot_sliding_window(X, K, Y):
    """The worked example: the window at each position of X (top) and the value it gives (bottom).

    Explained in book/convnets.md, section 1.
    """
    k = K.shape[0]
    positions = [(i, j) for i in range(Y.shape[0]) for j in range(Y.shape[1])]
    width = min(PAGE_WIDTH_INCHES, 1.9 * len(positions))  # wider would shrink the text
    fig, axes = plt.subplots(2, len(positions), figsize=(width, 4.7), squeeze=False, layout="constrained")
    for n, (i, j) in enumerate(positions):
        draw_grid(axes[0, n], X, [(_block(i, j, k), "tab:orange")], f"window at ({i}, {j})")
        draw_grid(axes[1, n], Y, [([(i, j)], "tab:orange")], f"Y[{i},{j}] = {Y[i, j]:g}")
    kernel = str(K.int().tolist())
    fig.suptitle(
        f"input X (top), the {k}×{k} kernel K = {kernel} at each position,\nand the output Y (bottom)",
        fontsize=11,
    )
    return fig


def plot_window_positions(x, kernel, *, padding=0, stride=1, dilation=1, positions=None):
    """Where the window sits on a (padded) input for a few output positions, and what it gives.

    ``x`` is one (H, W) image, ``kernel`` a (k, k) kernel. Padding zeros are shaded grey;
    the taps of the window at each output position are coloured. By default the figure
    shows the first two positions of the first row, the first of the second row and the
    last one. Explained in book/convnets.md, section 1.
    """
    k = kernel.shape[0]
    padded = F.pad(x, (padding,) * 4)
    h_out = conv_output_size(x.shape[0], k, stride, padding, dilation)
    w_out = conv_output_size(x.shape[1], k, stride, padding, dilation)
    y = F.conv2d(x[None, None], kernel[None, None], stride=stride, padding=padding, dilation=dilation)
    if positions is None:
        positions = [(0, 0), (0, 1), (1, 0), (h_out - 1, w_out - 1)]
    border = [
        (r, c)
        for r in range(padded.shape[0])
        for c in range(padded.shape[1])
        if not (padding <= r < padding + x.shape[0] and padding <= c < padding + x.shape[1])
    ]
    width = min(PAGE_WIDTH_INCHES, 1.95 * len(positions))  # wider would shrink the text
    fig, axes = plt.subplots(1, len(positions), figsize=(width, 2.6), squeeze=False)
    for ax, (i, j), colour in zip(axes[0], positions, WINDOW_COLOURS):
        taps = _block(stride * i, stride * j, k, dilation)
        title = f"Y[{i},{j}] = {y[0, 0, i, j].item():g}"
        draw_grid(ax, padded, [(taps, colour)], title, shaded=border, fontsize=9)
    setting = f"padding {padding}, stride {stride}, dilation {dilation}"
    fig.suptitle(f"{setting}: a {h_out}×{w_out} output", fontsize=11)
    fig.tight_layout()
    return fig


def plot_unfold(X, kernel_size):
    """im2col: each window of X (left) becomes one column of unfold(X) (right), same colour.

    The windows sit where they sit on X: window ``c`` is at row ``c // w_out``, column
    ``c % w_out`` of the grid on the left. Explained in book/convnets.md, section 2.
    """
    k = kernel_size
    h_out, w_out = X.shape[0] - k + 1, X.shape[1] - k + 1  # window positions down and across
    columns = F.unfold(X[None, None].float(), kernel_size=k)[0]  # (k*k, L)
    n = columns.shape[1]
    colours = [WINDOW_COLOURS[col % len(WINDOW_COLOURS)] for col in range(n)]
    fig = plt.figure(figsize=(PAGE_WIDTH_INCHES, 1.9 * h_out + 0.5), layout="constrained")
    # the matrix's cells the size of the windows' cells: n columns against X's width
    grid = fig.add_gridspec(h_out, w_out + 1, width_ratios=[1] * w_out + [n / X.shape[1]])
    for col in range(n):
        i, j = divmod(col, w_out)
        ax = fig.add_subplot(grid[i, j])
        draw_grid(ax, X, [(_block(i, j, k), colours[col])], f"window {col}", fontsize=10)
    draw_grid(
        fig.add_subplot(grid[:, w_out]),
        columns,
        [([(r, col) for r in range(k * k)], colours[col]) for col in range(n)],
        "unfold(X): column c = window c",
        fontsize=10,
    )
    fig.suptitle("im2col: each window's pixels, read row by row, form one column", fontsize=11)
    return fig


def feature_map(image, kernel):
    """One (H, W) image filtered with one 3×3 kernel by ``F.conv2d``, padding 1: same size out."""
    x = image.reshape(1, 1, *image.shape[-2:]).float().cpu()
    return F.conv2d(x, kernel.reshape(1, 1, 3, 3).float(), padding=1)[0, 0]


def show_map(ax, fmap, title=""):
    """A signed map in red (positive) and blue (negative), centred on zero."""
    limit = fmap.abs().max().item() or 1.0
    ax.imshow(fmap.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def plot_feature_maps(images, kernels):
    """Each image (rows) and its feature map under each named 3×3 kernel (columns).

    Explained in book/convnets.md, section 6.
    """
    ncols = 1 + len(kernels)
    width = min(PAGE_WIDTH_INCHES, 1.6 * ncols)  # wider would shrink the text
    size = width / ncols  # one square panel
    figsize = (width, size * len(images) + 1.2)  # room for the titles of three lines
    fig, axes = plt.subplots(len(images), ncols, figsize=figsize, squeeze=False, layout="constrained")
    for row, image in enumerate(images):
        axes[row, 0].imshow(image.reshape(image.shape[-2:]).cpu().numpy(), cmap="gray")
        axes[row, 0].set_title("digit" if row == 0 else "", fontsize=9)
        axes[row, 0].axis("off")
        for col, (name, kernel) in enumerate(kernels.items(), start=1):
            title = textwrap.fill(name, 10) if row == 0 else ""  # a narrow column
            show_map(axes[row, col], feature_map(image, kernel), title)
    fig.suptitle(
        "digits and their maps under each hand-made 3×3 kernel\n(red: positive response, blue: negative)",
        fontsize=11,
    )
    return fig


def kernel_explorer(images, kernels, start=0):
    """A live widget: pick a named kernel or type nine weights, see the map of any image.

    Returns the widget, or None on the static site (``on_static_site()``), where a dead
    control would only mislead: the chapter's static figure makes the same point there.
    Explained in book/convnets.md, section 6.
    """
    if on_static_site():
        return None
    import ipywidgets as widgets

    choice = widgets.Dropdown(options=[*kernels, "custom"], description="kernel")
    boxes = [widgets.FloatText(value=0.0, layout=widgets.Layout(width="72px")) for _ in range(9)]
    digit = widgets.IntSlider(value=start, min=0, max=len(images) - 1, description="image")
    canvas = widgets.Output()
    filling = [False]  # True while a named kernel is copied into the boxes

    def redraw(*_):
        if filling[0]:
            return
        kernel = torch.tensor([box.value for box in boxes]).reshape(3, 3)
        with canvas:
            canvas.clear_output(wait=True)
            fig, (ax_image, ax_map) = plt.subplots(1, 2, figsize=(5, 2.6))
            ax_image.imshow(images[digit.value].reshape(images.shape[-2:]).cpu().numpy(), cmap="gray")
            ax_image.set_title(f"image {digit.value}", fontsize=9)
            ax_image.axis("off")
            show_map(ax_map, feature_map(images[digit.value], kernel), choice.value)
            plt.show()

    def pick(change):
        if change["new"] == "custom":
            return
        filling[0] = True
        for box, value in zip(boxes, kernels[change["new"]].flatten().tolist()):
            box.value = value
        filling[0] = False
        redraw()

    def edited(_):
        if not filling[0] and choice.value != "custom":
            choice.value = "custom"  # a typed weight turns the kernel into a custom one
        redraw()

    choice.observe(pick, names="value")
    digit.observe(redraw, names="value")
    for box in boxes:
        box.observe(edited, names="value")
    pick({"new": choice.value})
    grid = widgets.GridBox(boxes, layout=widgets.Layout(grid_template_columns="repeat(3, 76px)"))
    return widgets.HBox([widgets.VBox([choice, digit, grid]), canvas])


def plot_receptive_fields(image, fields, units):
    """The receptive field of unit (u, u) of each layer, drawn on one image.

    ``fields`` are :class:`~course_lib.conv.ReceptiveField` rows of unpadded layers, so unit
    ``u`` starts at input pixel ``u * jump``. Explained in book/convnets.md, section 5.
    """
    fig, ax = plt.subplots(figsize=(3.8, 4.4))
    ax.imshow(image.reshape(image.shape[-2:]).cpu().numpy(), cmap="gray")
    for n, (row, unit) in enumerate(zip(fields, units)):
        start = unit * row.jump
        label = f"conv{n + 1} unit ({unit}, {unit}) sees {row.size}×{row.size} pixels"
        ax.add_patch(
            Rectangle(
                (start - 0.5, start - 0.5),
                row.size,
                row.size,
                fill=False,
                lw=2,
                color=WINDOW_COLOURS[n],
                label=label,
            )
        )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), fontsize=9)
    ax.set_title("receptive fields of one unit per convolution", fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_filters(weights, title):
    """A grid of 3×3 kernels (C, 3, 3), each in red/blue on its own scale."""
    ncols = 8
    nrows = -(-len(weights) // ncols)
    size = PAGE_WIDTH_INCHES / ncols
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(PAGE_WIDTH_INCHES, (size + 0.25) * nrows + 0.4), squeeze=False
    )
    for n, ax in enumerate(axes.flat):
        if n < len(weights):
            show_map(ax, weights[n], f"filter {n}")
        else:
            ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_stages(image, stages, channels=8):
    """Feature maps of one image after each stage: ``stages`` is a list of (name, (C, H, W)).

    The top row is the input itself (one channel); each row below is one stage, named on
    the left with its shape, showing its first ``channels`` channels. Explained in
    book/convnets.md, section 9.
    """
    rows = [("input", image.reshape(1, *image.shape[-2:]).cpu()), *stages]
    fig, axes = plt.subplots(
        len(rows),
        channels + 1,
        figsize=(PAGE_WIDTH_INCHES, 0.85 * len(rows) + 0.7),
        gridspec_kw={"width_ratios": [1.7] + [1] * channels},
        squeeze=False,
    )
    for row, (name, maps) in enumerate(rows):
        shape = " × ".join(str(size) for size in maps.shape)
        label = axes[row, 0]
        label.text(1, 0.5, f"{name}\n{shape}", ha="right", va="center", fontsize=9, transform=label.transAxes)
        for col, ax in enumerate(axes[row, 1:]):
            if col < len(maps):
                ax.imshow(maps[col].numpy(), cmap="gray" if row == 0 else "magma")
            if row == 0:
                ax.set_title(f"ch {col}", fontsize=9)  # the column's channel, for every row
        for ax in axes[row]:
            ax.axis("off")
    fig.suptitle(f"feature maps of one digit at each stage (first {channels} channels)", fontsize=11)
    fig.tight_layout()
    return fig


def plot_top_images(images, labels, maps, title, ncols=6):
    """Images with their labels, each with one channel's map of it just below.

    The pairs fill rows of ``ncols`` (a gap between the rows of pairs), so that the figure
    fits the page with its text readable. Explained in book/convnets.md, section 9.
    """
    n = len(images)
    ncols = min(ncols, n)
    blocks = math.ceil(n / ncols)
    size = PAGE_WIDTH_INCHES / 6  # one panel; fewer than six pairs leave the figure narrower
    fig = plt.figure(figsize=(size * ncols, (2 * size + 0.3) * blocks + 0.6), layout="constrained")
    grid = fig.add_gridspec(3 * blocks - 1, ncols, height_ratios=([1, 1, 0.15] * blocks)[:-1])
    for m in range(n):
        block, col = divmod(m, ncols)
        top, bottom = fig.add_subplot(grid[3 * block, col]), fig.add_subplot(grid[3 * block + 1, col])
        top.imshow(images[m].reshape(images.shape[-2:]).cpu().numpy(), cmap="gray")
        top.set_title(f"'{int(labels[m])}'", fontsize=10)
        bottom.imshow(maps[m].cpu().numpy(), cmap="magma")
        top.axis("off")
        bottom.axis("off")
    fig.suptitle(title, fontsize=11)
    return fig


def plot_shift_curves(shifts, curves, ylabel):
    """Accuracy against shift, one line per model (``curves``: name -> accuracies)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for name, accs in curves.items():
        ax.plot(shifts, accs, "o-", label=name)
    ax.set_xlabel("shift Δ (pixels; mean over right, left, down, up)")
    ax.set_ylabel(ylabel)
    ax.set_xticks(list(shifts))
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("accuracy on shifted digits")
    fig.tight_layout()
    return fig

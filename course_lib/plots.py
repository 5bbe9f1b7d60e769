"""Matplotlib figures the chapters share: image grids, curves, confusion matrices.

Each function draws one figure and returns it, so a notebook shows it and a test can look
at it. Explained in the MNIST project chapter.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

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

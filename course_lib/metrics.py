"""Predictions and the numbers we judge them by: accuracy, confusion matrix, worst mistakes.

Explained in book/mnist_project.md, "Evaluation on the test split" and "Error analysis".
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from ._require import require_int
from .data import batches


@contextlib.contextmanager
def eval_mode(model: nn.Module):
    """Run the block with ``model`` in eval mode, then give every submodule its mode back.

    Dropout and batch norm behave differently in training, so evaluating must not leave a
    model that was training in eval mode (nor the other way round).
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits for every row of ``x``, computed in eval mode, batch by batch, as float32.

    The model's train/eval mode is restored afterwards.
    Explained in book/mnist_project.md, "Evaluation on the test split".
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"predict_logits expects a tensor of inputs, got {type(x).__name__}.")
    with eval_mode(model):
        if len(x) == 0:  # one forward pass on the empty batch gives the right (0, C) shape
            return model(x).float()
        return torch.cat(
            [model(x[idx]).float() for idx in batches(len(x), batch_size, shuffle=False, device=x.device)]
        )


def _as_tensor(name: str, value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{name} must be a tensor (or an array), got {type(value).__name__}.") from error


def _labels(name: str, values: torch.Tensor, num_classes: int | None) -> torch.Tensor:
    """Check that ``values`` are N integer class labels in 0..num_classes-1."""
    if values.ndim != 1:
        raise ValueError(f"{name} must be one label per example, shape (N,), got {tuple(values.shape)}.")
    if values.is_floating_point() or values.is_complex() or values.dtype == torch.bool:
        raise TypeError(
            f"{name} must hold integer class labels, got dtype {values.dtype}; for probabilities or "
            "logits of shape (N, C) pass the whole (N, C) tensor."
        )
    if len(values) and int(values.min()) < 0:
        raise ValueError(f"{name} holds the label {int(values.min())}; class labels start at 0.")
    if num_classes is not None and len(values) and int(values.max()) >= num_classes:
        raise ValueError(
            f"{name} holds the label {int(values.max())}, but there are {num_classes} classes "
            f"(labels 0 to {num_classes - 1})."
        )
    return values


def _predicted_labels(predictions: torch.Tensor, num_classes: int | None) -> tuple[torch.Tensor, int | None]:
    """Labels from labels (N,) or from scores (N, C) with C >= 2; also the C the scores imply."""
    if predictions.ndim == 2:
        if predictions.shape[1] < 2:
            raise ValueError(
                f"predictions of shape {tuple(predictions.shape)} hold one score per example; "
                "argmax over one column is always 0. For one sigmoid output, pass the labels "
                "(p > 0.5).long(); otherwise pass logits (N, C) with one column per class."
            )
        if num_classes is not None and predictions.shape[1] != num_classes:
            raise ValueError(
                f"predictions have {predictions.shape[1]} columns but num_classes is {num_classes}."
            )
        return predictions.argmax(1), predictions.shape[1]
    return _labels("predictions", predictions, num_classes), num_classes


def _paired(predictions, targets, num_classes: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked (predicted labels, true labels) of equal, non-zero length."""
    predictions, targets = _as_tensor("predictions", predictions), _as_tensor("targets", targets)
    if predictions.ndim not in (1, 2):
        raise ValueError(
            f"predictions must be labels (N,) or logits (N, C), got shape {tuple(predictions.shape)}."
        )
    if len(predictions) != len(targets):
        raise ValueError(
            f"predictions and targets must have one row per example: got {len(predictions)} "
            f"predictions of shape {tuple(predictions.shape)} and {len(targets)} targets of shape "
            f"{tuple(targets.shape)}."
        )
    if len(targets) == 0:
        raise ValueError("predictions and targets are empty: there is nothing to score.")
    predicted, num_classes = _predicted_labels(predictions, num_classes)
    return predicted, _labels("targets", targets, num_classes).to(predicted.device)


def accuracy(predictions, targets) -> float:
    """Fraction of correct predictions; ``predictions`` are labels (N,) or logits (N, C).

    Explained in book/mnist_project.md, "Evaluation on the test split".
    """
    predicted, targets = _paired(predictions, targets)
    return (predicted == targets).float().mean().item()


def confusion_matrix(predictions, targets, num_classes: int) -> torch.Tensor:
    """Counts ``C[true, predicted]``: row = true class, column = predicted class.

    Every label must lie in 0..num_classes-1. Explained in book/mnist_project.md,
    "Evaluation on the test split".
    """
    num_classes = require_int("num_classes", num_classes, 1)
    predicted, targets = _paired(predictions, targets, num_classes)
    flat = targets.long().cpu() * num_classes + predicted.long().cpu()
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(confusion: torch.Tensor) -> torch.Tensor:
    """Recall of each class: the diagonal of the confusion matrix over its row sums.

    A class with no examples gets 0. Explained in book/mnist_project.md, "Evaluation on the
    test split".
    """
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"expected a square confusion matrix (C, C), got {tuple(confusion.shape)}.")
    return confusion.diag().float() / confusion.sum(1).clamp(min=1).float()


@dataclass
class Mistakes:
    """The most confident wrong predictions: indices into the split, labels, confidence.

    Explained in book/mnist_project.md, "Error analysis".
    """

    index: torch.Tensor
    predicted: torch.Tensor
    true: torch.Tensor
    confidence: torch.Tensor


def most_confident_mistakes(logits: torch.Tensor, targets: torch.Tensor, k: int = 16) -> Mistakes:
    """The ``k`` wrong predictions the model was surest of, most confident first.

    Explained in book/mnist_project.md, "Error analysis".
    """
    k = require_int("k", k, 0)
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must have shape (N, C), got {shape}.")
    predicted, targets = _paired(logits, targets)
    probs = logits.float().softmax(1)
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != targets).flatten()
    order = confidence[wrong].argsort(descending=True)[:k]
    index = wrong[order]
    return Mistakes(index.cpu(), predicted[index].cpu(), targets[index].cpu(), confidence[index].cpu())

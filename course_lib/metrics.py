"""Predictions and the numbers we judge them by: accuracy, confusion matrix, worst mistakes.

Explained in the MNIST project chapter, "Evaluation".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .data import batches


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits for every row of ``x``, computed in eval mode, batch by batch, as float32.

    Explained in the MNIST project chapter.
    """
    model.eval()
    return torch.cat(
        [model(x[idx]).float() for idx in batches(len(x), batch_size, shuffle=False, device=x.device)]
    )


def accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of correct predictions; ``predictions`` may be labels or logits (N, C).

    Explained in the MNIST project chapter.
    """
    if predictions.ndim == 2:
        predictions = predictions.argmax(1)
    if predictions.shape != targets.shape:
        raise ValueError(
            f"predictions {tuple(predictions.shape)} and targets {tuple(targets.shape)} differ in shape"
        )
    return (predictions == targets).float().mean().item()


def confusion_matrix(predictions: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts ``C[true, predicted]``: row = true class, column = predicted class.

    Explained in the MNIST project chapter.
    """
    if predictions.ndim == 2:
        predictions = predictions.argmax(1)
    flat = targets.long().cpu() * num_classes + predictions.long().cpu()
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(confusion: torch.Tensor) -> torch.Tensor:
    """Recall of each class: the diagonal of the confusion matrix over its row sums.

    Explained in the MNIST project chapter.
    """
    return confusion.diag().float() / confusion.sum(1).clamp(min=1).float()


@dataclass
class Mistakes:
    """The most confident wrong predictions: indices into the split, labels, confidence.

    Explained in the MNIST project chapter.
    """

    index: torch.Tensor
    predicted: torch.Tensor
    true: torch.Tensor
    confidence: torch.Tensor


def most_confident_mistakes(logits: torch.Tensor, targets: torch.Tensor, k: int = 16) -> Mistakes:
    """The ``k`` wrong predictions the model was surest of, most confident first.

    Explained in the MNIST project chapter.
    """
    probs = logits.float().softmax(1)
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != targets).flatten()
    order = confidence[wrong].argsort(descending=True)[:k]
    index = wrong[order]
    return Mistakes(index.cpu(), predicted[index].cpu(), targets[index].cpu(), confidence[index].cpu())

"""The models more than one chapter uses, each a plain ``torch.nn.Module``.

``ClassicCNN`` is the network of the convolutional-networks chapter and the MNIST project:
conv 32 -> pool -> conv 64 -> pool -> conv 64 -> dense 64 -> dense 10, ReLU throughout.
"""

from __future__ import annotations

import torch
from torch import nn


def _autocasting() -> bool:
    try:
        return torch.is_autocast_enabled("cuda") or torch.is_autocast_enabled("cpu")
    except TypeError:  # older torch: one flag, for CUDA
        return torch.is_autocast_enabled()


def check_image_batch(
    x: torch.Tensor, model_name: str, channels: int = 1, size: int = 28, dtype: torch.dtype | None = None
) -> None:
    """Raise an error that says what was expected when ``x`` is not an image batch for the model.

    ``dtype`` is the model's weights' dtype; images of another (float64 for float32 weights,
    say) are refused with the conversion to use, unless autocast is on.
    Explained in book/mnist_project.md, "The classic CNN".
    """
    expected = (channels, size, size)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model_name} expects a torch.Tensor, got {type(x).__name__}.")
    if x.ndim != 4 or tuple(x.shape[1:]) != expected:
        hint = ""
        if tuple(x.shape[-2:]) == (size, size) and x.ndim in (2, 3):
            hint = (
                f" It looks like the channel or batch axis is missing: use "
                f"x.reshape(-1, {channels}, {size}, {size})."
            )
        raise ValueError(
            f"{model_name} expects a batch of shape (N, {channels}, {size}, {size}), "
            f"got {tuple(x.shape)}.{hint}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{model_name} expects floating-point images, got dtype {x.dtype}; "
            "convert with x.float() / 255 and normalise as the chapter does."
        )
    if dtype is not None and x.dtype != dtype and not _autocasting():
        raise TypeError(
            f"{model_name}'s weights are {dtype} but the images are {x.dtype}: convert the images "
            f"with x.to({dtype}), or the model with model.to({x.dtype})."
        )


class ClassicCNN(nn.Module):
    """The classic small CNN for 28x28 grey images (book/mnist_project.md, "The classic CNN").

    Three 3x3 convolutions (32, 64, 64 channels, the first two followed by 2x2 max pooling),
    then a dense layer of 64 and a linear read-out of ``num_classes`` logits.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 28 -> 26 -> 13
            nn.Conv2d(32, 64, kernel_size=3),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 13 -> 11 -> 5
            nn.Conv2d(64, 64, kernel_size=3),
            nn.ReLU(),  # 5 -> 3
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 3 * 3, 64),
            nn.ReLU(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, type(self).__name__, dtype=self.classifier[-1].weight.dtype)
        return self.classifier(self.features(x))


class SoftmaxRegression(nn.Module):
    """Multinomial logistic regression on flattened pixels (book/mnist_project.md, "A baseline:
    softmax regression")."""

    def __init__(self, num_classes: int = 10, size: int = 28):
        super().__init__()
        self.num_classes = num_classes
        self.size = size
        self.linear = nn.Linear(size * size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, type(self).__name__, size=self.size, dtype=self.linear.weight.dtype)
        return self.linear(x.flatten(1))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (book/convnets.md, "Why convolution: parameters and receptive
    fields")."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

"""Convolution helpers: output sizes, receptive fields, zero-filling shifts, named 3x3 kernels.

The convolution itself (with loops, then as a matrix product) is written by hand in the
convolutional networks chapter, because writing it is the lesson; this module keeps what
more than one place needs: the chapter, its exercise checkers, the tests and the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    return value


def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Length of a convolution's (or pooling's) output along one axis.

    ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``, the rule
    ``torch.nn.Conv2d`` and ``torch.nn.MaxPool2d`` follow (with ``ceil_mode=False``). A kernel
    that does not fit in the padded input raises ``ValueError`` saying by how much.

    Explained in book/convnets.md, "The output size".
    """
    _check_int("size", size, 1)
    _check_int("kernel_size", kernel_size, 1)
    _check_int("stride", stride, 1)
    _check_int("padding", padding, 0)
    _check_int("dilation", dilation, 1)
    span = dilation * (kernel_size - 1) + 1  # the input pixels one kernel placement covers
    padded = size + 2 * padding
    if span > padded:
        dilated = f" (kernel_size {kernel_size} with dilation {dilation})" if dilation > 1 else ""
        raise ValueError(
            f"the kernel spans {span} pixels{dilated} but the padded input has only {padded} "
            f"(size {size} + 2 x padding {padding}): use padding >= {-(-(span - size) // 2)}, "
            "a smaller kernel or a smaller dilation."
        )
    return (padded - span) // stride + 1


@dataclass(frozen=True)
class ReceptiveField:
    """One layer's row in a receptive-field table (book/convnets.md, "Receptive fields").

    ``size``: how many input pixels (along one axis) one output unit of this layer sees;
    ``jump``: how many input pixels apart two neighbouring output units are.
    """

    layer: str
    kernel_size: int
    stride: int
    dilation: int
    size: int
    jump: int


def _geometry(layer) -> tuple[str, int, int, int] | None:
    """(name, kernel_size, stride, dilation) of a layer that has a window; None if it has none."""
    if isinstance(layer, tuple):
        if not 2 <= len(layer) <= 3:
            raise ValueError(f"a layer given as a tuple is (kernel_size, stride[, dilation]), got {layer!r}.")
        kernel_size, stride, *rest = layer
        return f"k={kernel_size} s={stride}", kernel_size, stride, rest[0] if rest else 1
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        values = []
        for attr in ("kernel_size", "stride", "dilation"):
            value = getattr(layer, attr, 1)
            if isinstance(value, tuple):
                if len(set(value)) != 1:
                    raise ValueError(
                        f"{type(layer).__name__} has {attr}={value}: receptive_fields handles square "
                        "windows only; give that layer as a (kernel_size, stride, dilation) tuple per axis."
                    )
                value = value[0]
            values.append(value)
        return (type(layer).__name__, *values)
    if isinstance(layer, (nn.Flatten, nn.Linear)):
        raise ValueError(
            f"{type(layer).__name__} mixes all positions, so its receptive field is the whole image: "
            "pass only the convolutional part (for ClassicCNN: model.features)."
        )
    return None  # ReLU, BatchNorm, Dropout...: no window, same receptive field


def receptive_fields(layers) -> list[ReceptiveField]:
    """The receptive field after each windowed layer of a stack (convolutions and pooling).

    ``layers`` is a module (its leaf modules are read in order), an iterable of modules, or of
    ``(kernel_size, stride[, dilation])`` tuples. Layers without a window (ReLU, ...) are
    skipped. With ``r`` the field and ``j`` the jump (input pixels between neighbouring
    units) before a layer, the layer makes them ``r + dilation * (kernel_size - 1) * j`` and
    ``j * stride``.

    Explained in book/convnets.md, "Receptive fields".
    """
    if isinstance(layers, nn.Module):  # a whole model: its leaf modules, in order
        layers = [m for m in layers.modules() if not list(m.children())]
    size, jump, rows = 1, 1, []
    for layer in layers:
        geometry = _geometry(layer)
        if geometry is None:
            continue
        name, kernel_size, stride, dilation = geometry
        _check_int("kernel_size", kernel_size, 1)
        _check_int("stride", stride, 1)
        _check_int("dilation", dilation, 1)
        size += dilation * (kernel_size - 1) * jump
        jump *= stride
        rows.append(ReceptiveField(name, kernel_size, stride, dilation, size, jump))
    return rows


def shift_images(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Images ``x`` (..., H, W) moved ``dx`` pixels right and ``dy`` down, zeros filling in.

    Negative values move left / up. Pixels pushed over an edge are lost (no wrap-around as
    with ``torch.roll``); a shift of the whole width or more leaves a blank image. Shift
    pixel intensities (background 0), not normalised images, whose background is not 0.
    Name the shifts, ``shift_images(x, dx=3, dy=-1)``: they are (right, down), the reverse of
    the tensor's (H, W) axes.

    Explained in book/convnets.md, section 8 ("Shifted digits").
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(
            f"shift_images expects a tensor of images (..., H, W), got {getattr(x, 'shape', x)!r}."
        )
    _check_int("dx", dx, -(10**9))
    _check_int("dy", dy, -(10**9))
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(dx) >= w or abs(dy) >= h:
        return out
    rows_to, rows_from = slice(max(dy, 0), h + min(dy, 0)), slice(max(-dy, 0), h - max(dy, 0))
    cols_to, cols_from = slice(max(dx, 0), w + min(dx, 0)), slice(max(-dx, 0), w - max(dx, 0))
    out[..., rows_to, cols_to] = x[..., rows_from, cols_from]
    return out


def named_kernels() -> dict[str, torch.Tensor]:
    """Hand-made 3x3 filters by name: Sobel edges, a diagonal, a blur, a sharpen, identity.

    Each kernel is applied by cross-correlation (``F.conv2d``), as everywhere in PyTorch: a
    positive response means the pattern of the kernel's positive weights is brighter.

    Explained in book/convnets.md, "Hand-made filters".
    """
    sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    return {
        "identity": torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]),
        "vertical edges (Sobel x)": sobel_x,
        "horizontal edges (Sobel y)": sobel_x.T.clone(),
        "diagonal edges": torch.tensor([[-2.0, -1.0, 0.0], [-1.0, 0.0, 1.0], [0.0, 1.0, 2.0]]),
        "blur": torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16,
        "sharpen": torch.tensor([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
    }

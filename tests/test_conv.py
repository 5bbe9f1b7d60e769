"""course_lib.conv: output sizes agree with PyTorch, receptive fields, zero-filling shifts, kernels."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from course_lib.conv import conv_output_size, named_kernels, receptive_fields, shift_images
from course_lib.models import ClassicCNN

# ----------------------------------------------------------------- conv_output_size


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 20),
    kernel_size=st.integers(1, 7),
    stride=st.integers(1, 4),
    padding=st.integers(0, 3),
    dilation=st.integers(1, 3),
)
def test_output_size_matches_conv2d_and_max_pool(size, kernel_size, stride, padding, dilation):
    span = dilation * (kernel_size - 1) + 1
    if span > size + 2 * padding:
        with pytest.raises(ValueError, match="padded input"):
            conv_output_size(size, kernel_size, stride, padding, dilation)
        return
    x = torch.zeros(1, 1, size, size + 1)
    w = torch.zeros(1, 1, kernel_size, kernel_size)
    out = F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
    assert out.shape[-2] == conv_output_size(size, kernel_size, stride, padding, dilation)
    assert out.shape[-1] == conv_output_size(size + 1, kernel_size, stride, padding, dilation)
    if padding <= kernel_size // 2:  # max_pool2d's own limit on padding
        pooled = F.max_pool2d(x, kernel_size, stride=stride, padding=padding, dilation=dilation)
        assert pooled.shape[-2] == conv_output_size(size, kernel_size, stride, padding, dilation)


def test_output_size_worked_values():
    assert conv_output_size(3, 2) == 2
    assert conv_output_size(28, 3) == 26
    assert conv_output_size(28, 3, padding=1) == 28
    assert conv_output_size(26, 2, stride=2) == 13
    assert conv_output_size(13, 2, stride=2) == 6 - 0 - 1 + 1  # floor(11 / 2) + 1 = 6
    assert conv_output_size(7, 3, dilation=2) == 3


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        (dict(size=3, kernel_size=5), ValueError, "use padding >= 1"),
        (dict(size=5, kernel_size=3, dilation=3), ValueError, "dilation 3"),
        (dict(size=0, kernel_size=1), ValueError, "size must be at least 1"),
        (dict(size=5, kernel_size=0), ValueError, "kernel_size must be at least 1"),
        (dict(size=5, kernel_size=3, stride=0), ValueError, "stride must be at least 1"),
        (dict(size=5, kernel_size=3, padding=-1), ValueError, "padding must be at least 0"),
        (dict(size=5.0, kernel_size=3), TypeError, "size must be an int"),
        (dict(size=5, kernel_size=True), TypeError, "kernel_size must be an int"),
    ],
)
def test_output_size_bad_input_is_a_clear_error(kwargs, error, text):
    with pytest.raises(error, match=text):
        conv_output_size(**kwargs)


# ----------------------------------------------------------------- receptive_fields


def test_receptive_fields_of_classic_cnn():
    rows = receptive_fields(ClassicCNN().features)
    assert [r.layer for r in rows] == ["Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d", "Conv2d"]
    assert [r.size for r in rows] == [3, 4, 8, 10, 18]
    assert [r.jump for r in rows] == [1, 2, 2, 4, 4]


def test_receptive_fields_tuples_and_dilation():
    assert [r.size for r in receptive_fields([(3, 1), (3, 1), (3, 1)])] == [3, 5, 7]
    assert [r.size for r in receptive_fields([(3, 1, 1), (3, 1, 2), (3, 1, 4)])] == [3, 7, 15]


def test_receptive_field_is_the_set_of_pixels_that_matter():
    """Brute force: the input pixels with a non-zero gradient for one output unit."""
    torch.manual_seed(0)
    stack = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3, dilation=2), nn.AvgPool2d(2)
    )
    for p in stack.parameters():
        p.data.abs_().add_(0.1)  # positive weights: no accidental cancellation
    x = torch.rand(1, 1, 40, 40, requires_grad=True)
    out = stack(x)
    out[0, 0, 2, 2].backward()
    rows, cols = x.grad[0, 0].nonzero(as_tuple=True)
    expected = receptive_fields(stack)[-1].size
    assert int(rows.max() - rows.min()) + 1 == expected
    assert int(cols.max() - cols.min()) + 1 == expected


def test_receptive_fields_refuse_dense_layers_and_rectangles():
    with pytest.raises(ValueError, match="model.features"):
        receptive_fields(ClassicCNN())
    with pytest.raises(ValueError, match="square"):
        receptive_fields([nn.Conv2d(1, 1, (3, 5))])
    with pytest.raises(ValueError, match="tuple"):
        receptive_fields([(3,)])


# ----------------------------------------------------------------- shift_images


def test_shift_images_moves_and_fills_with_zeros():
    image = torch.arange(1, 17, dtype=torch.float).reshape(1, 1, 4, 4)
    right = shift_images(image, 1, 0)
    assert torch.equal(right[..., :, 1:], image[..., :, :3])
    assert right[..., :, 0].eq(0).all()
    up_left = shift_images(image, -1, -2)
    assert torch.equal(up_left[..., :2, :3], image[..., 2:, 1:])
    assert up_left[..., 2:, :].eq(0).all() and up_left[..., :, 3].eq(0).all()
    assert torch.equal(shift_images(image, 0, 0), image)
    assert shift_images(image, 4, 0).eq(0).all() and shift_images(image, 0, -9).eq(0).all()


@pytest.mark.parametrize("dx, dy", [(2, 0), (-3, 1), (1, -1)])
def test_shift_images_is_not_wrap_around_and_keeps_the_input(dx, dy):
    torch.manual_seed(0)
    x = torch.rand(3, 1, 6, 7) + 0.1
    before = x.clone()
    out = shift_images(x, dx, dy)
    assert torch.equal(x, before)
    assert not torch.equal(out, x.roll((dy, dx), dims=(-2, -1)))
    assert (out == 0).sum() == 3 * (6 * 7 - (6 - abs(dy)) * (7 - abs(dx)))
    back = shift_images(out, -dx, -dy)
    keep = shift_images(torch.ones_like(x), dx, dy)
    keep = shift_images(keep, -dx, -dy).bool()
    assert torch.equal(back[keep], x[keep])


def test_shift_images_bad_input():
    with pytest.raises(ValueError, match="H, W"):
        shift_images(torch.zeros(5), 1, 0)
    with pytest.raises(TypeError, match="dx must be an int"):
        shift_images(torch.zeros(2, 2), 1.5, 0)


# ----------------------------------------------------------------- named_kernels


def test_named_kernels_are_3x3_and_edges_sum_to_zero():
    kernels = named_kernels()
    assert {"identity", "blur", "sharpen"} <= set(kernels)
    for name, k in kernels.items():
        assert k.shape == (3, 3), name
        expected_sum = 0.0 if "edges" in name else 1.0
        assert k.sum().item() == pytest.approx(expected_sum), name


def test_sobel_kernels_respond_to_their_edge_orientation():
    kernels = named_kernels()
    bright_right = torch.zeros(1, 1, 8, 8)
    bright_right[..., 4:] = 1
    bright_below = bright_right.transpose(-1, -2)
    sx = kernels["vertical edges (Sobel x)"].reshape(1, 1, 3, 3)
    sy = kernels["horizontal edges (Sobel y)"].reshape(1, 1, 3, 3)
    assert F.conv2d(bright_right, sx).max() == 4 and F.conv2d(bright_right, sy).abs().max() == 0
    assert F.conv2d(bright_below, sy).max() == 4 and F.conv2d(bright_below, sx).abs().max() == 0
    identity = kernels["identity"].reshape(1, 1, 3, 3)
    x = torch.rand(1, 1, 5, 5)
    assert torch.equal(F.conv2d(x, identity, padding=1), x)


# ----------------------------------------------------------------- benchmarks/bench_conv.py


def test_benchmark_implementations_agree_with_conv2d():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_conv.py"
    spec = importlib.util.spec_from_file_location("bench_conv", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 10, 9, generator=g, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64)
    b = torch.randn(4, generator=g, dtype=torch.float64)
    for kwargs in (dict(), dict(padding=1), dict(stride=2, padding=2, dilation=2)):
        expected = F.conv2d(x, w, b, **kwargs)
        torch.testing.assert_close(bench.conv2d_loops(x, w, b, **kwargs), expected)
        torch.testing.assert_close(bench.conv2d_unfold(x, w, b, **kwargs), expected)

"""The convnets chapter's checkers: the chapter's own solution passes, the stub and wrong answers fail."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from chapter_code import chapter_function

from course_lib.conv import named_kernels, receptive_fields, shift_images
from course_lib.exercises.convnets import (
    check_conv2d,
    check_diagonal_shift,
    check_edge_kernel,
    check_maxpool_backward,
    check_output_size,
    check_receptive_depths,
)
from course_lib.metrics import accuracy, predict_logits
from course_lib.models import SoftmaxRegression
from course_lib.train import fit


def solution_function(name: str, stub: bool = False, **names):
    """Define ``name`` from the chapter's solution cell (optionally as the student stub)."""
    return chapter_function("convnets", name, stub, **names)


@pytest.mark.parametrize(
    "name, check",
    [
        ("my_conv2d", check_conv2d),
        ("my_output_size", check_output_size),
        ("maxpool_backward", check_maxpool_backward),
        ("bright_above_kernel", check_edge_kernel),
    ],
)
def test_reference_passes_and_stub_is_not_implemented(name, check):
    verdict = check(solution_function(name))
    assert verdict.passed, verdict.message
    stub = check(solution_function(name, stub=True))
    assert not stub.passed
    assert "not implemented" in stub.message


# ----------------------------------------------------------------- exercise 1


def test_conv2d_flipped_kernel_fails_with_hint():
    verdict = check_conv2d(lambda x, w, b, s, p: F.conv2d(x, w.flip(-1, -2), b, stride=s, padding=p))
    assert not verdict.passed and "flipped" in verdict.message


def test_conv2d_ignoring_padding_fails_on_shape():
    verdict = check_conv2d(lambda x, w, b, s, p: F.conv2d(x, w, b, stride=s))
    assert not verdict.passed and "output shape" in verdict.message


def test_conv2d_ignoring_stride_fails():
    verdict = check_conv2d(lambda x, w, b, s, p: F.conv2d(x, w, b, padding=p))
    assert not verdict.passed and "output shape" in verdict.message


def test_conv2d_missing_bias_fails_with_hint():
    verdict = check_conv2d(lambda x, w, b, s, p: F.conv2d(x, w, None, stride=s, padding=p))
    assert not verdict.passed and "bias" in verdict.message


def test_conv2d_in_place_padding_of_input_fails():
    def in_place(x, w, b, s, p):
        out = F.conv2d(x, w, b, stride=s, padding=p)
        x.mul_(2)
        return out

    verdict = check_conv2d(in_place)
    assert not verdict.passed and "in place" in verdict.message


# ----------------------------------------------------------------- exercise 2


def test_output_size_without_dilation_fails_with_hint():
    def no_dilation(size, k, s, p, d):
        if k > size + 2 * p:
            raise ValueError("too big")
        return (size + 2 * p - k) // s + 1

    verdict = check_output_size(no_dilation)
    assert not verdict.passed and ("dilation" in verdict.message or "raise ValueError" in verdict.message)


def test_output_size_rounding_up_fails_with_hint():
    def ceil(size, k, s, p, d):
        span = d * (k - 1) + 1
        if span > size + 2 * p:
            raise ValueError("too big")
        return math.ceil((size + 2 * p - span) / s) + 1

    verdict = check_output_size(ceil)
    assert not verdict.passed and "floor" in verdict.message


def test_output_size_without_validation_fails():
    verdict = check_output_size(lambda size, k, s, p, d: (size + 2 * p - d * (k - 1) - 1) // s + 1)
    assert not verdict.passed and "ValueError" in verdict.message


def test_output_size_float_answer_fails():
    def as_float(size, k, s, p, d):
        span = d * (k - 1) + 1
        if span > size + 2 * p:
            raise ValueError("too big")
        return (size + 2 * p - span) / s + 1

    assert not check_output_size(as_float).passed


# ----------------------------------------------------------------- exercise 3


def test_maxpool_backward_even_spread_fails_with_hint():
    def spread(x, grad_out):
        return F.interpolate(grad_out, scale_factor=2) / 4 if x.shape[-1] % 2 == 0 else torch.zeros_like(x)

    verdict = check_maxpool_backward(spread)
    assert not verdict.passed and "evenly" in verdict.message


def test_maxpool_backward_to_every_pixel_fails():
    def everywhere(x, grad_out):
        out = torch.zeros_like(x)
        h, w = grad_out.shape[-2:]
        out[..., : 2 * h, : 2 * w] = F.interpolate(grad_out, scale_factor=2)
        return out

    verdict = check_maxpool_backward(everywhere)
    assert not verdict.passed and "window maxima" in verdict.message


def test_maxpool_backward_to_the_minimum_fails():
    reference = solution_function("maxpool_backward")
    verdict = check_maxpool_backward(lambda x, g: reference(-x, g))
    assert not verdict.passed and "differs" in verdict.message


# ----------------------------------------------------------------- exercise 4


@pytest.fixture(scope="module")
def digits(ci_mnist):
    return ci_mnist.pixels(ci_mnist.test.x[:64])


def test_edge_kernel_reference_passes_on_real_digits(digits):
    verdict = check_edge_kernel(solution_function("bright_above_kernel"), digits=digits)
    assert verdict.passed, verdict.message
    assert "real digits" in verdict.message


@pytest.mark.parametrize(
    "kernel",
    [
        [[1, 1, 1], [0, 0, 0], [-1, -1, -1]],
        [[1, 1, 1], [-1, -1, -1], [0, 0, 0]],
        [[0, 1, 0], [0, 0, 0], [0, -1, 0]],
    ],
)
def test_edge_kernel_other_correct_designs_pass(kernel, digits):
    verdict = check_edge_kernel(kernel, digits=digits)
    assert verdict.passed, verdict.message


def test_edge_kernel_sign_flipped_fails_with_hint(digits):
    verdict = check_edge_kernel(named_kernels()["horizontal edges (Sobel y)"], digits=digits)
    assert not verdict.passed and "opposite polarity" in verdict.message


def test_edge_kernel_transposed_fails_with_hint(digits):
    reference = solution_function("bright_above_kernel")()
    verdict = check_edge_kernel(reference.T, digits=digits)
    assert not verdict.passed and "vertical edges" in verdict.message


def test_edge_kernel_blur_fails_with_hint(digits):
    verdict = check_edge_kernel(named_kernels()["blur"], digits=digits)
    assert not verdict.passed and "sum to 0" in verdict.message


def test_edge_kernel_diagonal_fails(digits):
    assert not check_edge_kernel(-named_kernels()["diagonal edges"], digits=digits).passed


def test_edge_kernel_wrong_shape_fails():
    verdict = check_edge_kernel(torch.zeros(2, 2))
    assert not verdict.passed and "3x3" in verdict.message


# ----------------------------------------------------------------- exercise 5


@pytest.fixture(scope="module")
def shift_setup(ci_mnist, small_mnist):
    """Two briefly trained small models, a few hundred digits, the names the solution needs."""
    generator = torch.Generator().manual_seed(5)
    data = dataclasses.replace(
        ci_mnist, val=ci_mnist.val.subset(200, generator), test=ci_mnist.test.subset(200, generator)
    )
    models = {}
    for seed, name in enumerate(("CNN", "MLP")):
        torch.manual_seed(seed)
        models[name] = SoftmaxRegression()
        fit(models[name], small_mnist, epochs=2, batch_size=64, seed=seed, progress=False)
    names = dict(
        data=data,
        model=models["CNN"],
        mlp=models["MLP"],
        shift_images=shift_images,
        accuracy=accuracy,
        predict_logits=predict_logits,
        glue=lambda *args, **kwargs: None,
        curves={"CNN": [0.0] * 9, "MLP": [0.0] * 9},
    )
    return models, data, names


def table_for(models, data, split, move):
    """{name: [accuracy for shift 0..3]} on ``split`` with ``move(pixels, shift)`` applied."""
    pixels = data.pixels(split.x)
    return {
        name: [accuracy(predict_logits(net, data.normalize(move(pixels, s))), split.y) for s in range(4)]
        for name, net in models.items()
    }


def test_diagonal_shift_reference_passes_and_stub_is_not_implemented(shift_setup):
    models, data, names = shift_setup
    verdict = check_diagonal_shift(solution_function("diagonal_shift_table", **names), models, data)
    assert verdict.passed, verdict.message
    stub = check_diagonal_shift(solution_function("diagonal_shift_table", stub=True, **names), models, data)
    assert not stub.passed and "not implemented" in stub.message


def test_diagonal_shift_accepts_numpy_and_tensor_numbers(shift_setup):
    models, data, _ = shift_setup
    right = table_for(models, data, data.val, lambda x, s: shift_images(x, s, s))
    as_numpy = {name: [np.float32(v) for v in values] for name, values in right.items()}
    as_tensor = {name: [torch.tensor(v) for v in values] for name, values in right.items()}
    assert check_diagonal_shift(lambda: as_numpy, models, data).passed
    assert check_diagonal_shift(lambda: as_tensor, models, data).passed


@pytest.mark.parametrize(
    "split_name, move, hint",
    [
        ("test", lambda x, s: shift_images(x, s, s), "validation"),
        ("val", lambda x, s: shift_images(x, s, -s), "up"),
        ("val", lambda x, s: shift_images(x, s, 0), "only move right"),
        ("val", lambda x, s: x.roll((s, s), dims=(-2, -1)), "wraps"),
    ],
)
def test_diagonal_shift_plausible_mistakes_fail_with_hints(shift_setup, split_name, move, hint):
    models, data, _ = shift_setup
    wrong = table_for(models, data, getattr(data, split_name), move)
    verdict = check_diagonal_shift(lambda: wrong, models, data)
    assert not verdict.passed and hint in verdict.message, verdict.message


def test_diagonal_shift_percentages_and_nan_fail(shift_setup):
    models, data, _ = shift_setup
    right = table_for(models, data, data.val, lambda x, s: shift_images(x, s, s))
    percent = {name: [100 * v for v in values] for name, values in right.items()}
    assert "percentages" in check_diagonal_shift(lambda: percent, models, data).message
    with_nan = {name: [float("nan")] * 4 for name in right}
    assert not check_diagonal_shift(lambda: with_nan, models, data).passed
    assert not check_diagonal_shift(lambda: {"CNN": right["CNN"]}, models, data).passed


# ----------------------------------------------------------------- exercise 6


def test_receptive_depths_reference_passes_and_stub_is_not_implemented():
    names = dict(receptive_fields=receptive_fields, glue=lambda *args, **kwargs: None)
    verdict = check_receptive_depths(solution_function("receptive_depths", **names))
    assert verdict.passed, verdict.message
    stub = check_receptive_depths(solution_function("receptive_depths", stub=True, **names))
    assert not stub.passed and "not implemented" in stub.message


def test_receptive_depths_plausible_mistakes_fail():
    plain, dilated = solution_function(
        "receptive_depths", receptive_fields=receptive_fields, glue=lambda *a, **k: None
    )()
    assert "swapped" in check_receptive_depths(lambda: (dilated, plain)).message
    assert "one layer short" in check_receptive_depths(lambda: (plain - 1, dilated)).message
    assert not check_receptive_depths(lambda: (plain + 1, dilated)).passed
    assert not check_receptive_depths(lambda: (float(plain) + 0.5, dilated)).passed
    assert not check_receptive_depths(lambda: plain).passed
    assert check_receptive_depths(lambda: (np.int64(plain), dilated)).passed

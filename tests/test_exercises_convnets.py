"""The convnets chapter's checkers: the chapter's own solution passes, the stub and wrong answers fail."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from chapter_code import chapter_function

from course_lib.conv import named_kernels
from course_lib.exercises.convnets import (
    check_conv2d,
    check_edge_kernel,
    check_maxpool_backward,
    check_output_size,
)


def solution_function(name: str, stub: bool = False):
    """Define ``name`` from the chapter's solution cell (optionally as the student stub)."""
    return chapter_function("convnets", name, stub)


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

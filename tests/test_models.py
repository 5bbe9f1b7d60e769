"""The shared models: parameter counts from first principles, shapes, and readable shape errors."""

from __future__ import annotations

import pytest
import torch

from course_lib.models import (
    ClassicCNN,
    SoftmaxRegression,
    check_image_batch,
    count_parameters,
)


def conv_params(c_in: int, c_out: int, k: int) -> int:
    return c_out * (c_in * k * k + 1)


def linear_params(n_in: int, n_out: int) -> int:
    return n_out * (n_in + 1)


def classic_cnn_params(num_classes: int) -> int:
    # 28 -> conv3 -> 26 -> pool -> 13 -> conv3 -> 11 -> pool -> 5 -> conv3 -> 3
    side = ((28 - 2) // 2 - 2) // 2 - 2
    assert side == 3
    return (
        conv_params(1, 32, 3)
        + conv_params(32, 64, 3)
        + conv_params(64, 64, 3)
        + linear_params(64 * side * side, 64)
        + linear_params(64, num_classes)
    )


def test_classic_cnn_parameter_count_from_layer_formula():
    model = ClassicCNN()
    expected = classic_cnn_params(10)
    assert count_parameters(model) == expected
    assert expected == 93_322  # the number the chapters quote, derived above


def test_classic_cnn_parameter_count_scales_with_classes():
    assert count_parameters(ClassicCNN(num_classes=5)) == classic_cnn_params(5)


def test_softmax_regression_parameter_count():
    assert count_parameters(SoftmaxRegression()) == linear_params(28 * 28, 10)
    assert count_parameters(SoftmaxRegression(num_classes=3, size=8)) == linear_params(64, 3)


def test_count_parameters_skips_frozen():
    model = ClassicCNN()
    for p in model.features.parameters():
        p.requires_grad_(False)
    assert count_parameters(model) == linear_params(576, 64) + linear_params(64, 10)


@pytest.mark.parametrize("n", [1, 7])
def test_classic_cnn_output_shape(n):
    torch.manual_seed(0)
    out = ClassicCNN()(torch.randn(n, 1, 28, 28))
    assert out.shape == (n, 10)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_classic_cnn_num_classes_output():
    assert ClassicCNN(num_classes=5)(torch.randn(3, 1, 28, 28)).shape == (3, 5)


def test_softmax_regression_output_shape_and_is_linear():
    torch.manual_seed(0)
    model = SoftmaxRegression()
    x = torch.randn(4, 1, 28, 28)
    out = model(x)
    assert out.shape == (4, 10)
    expected = x.flatten(1) @ model.linear.weight.T + model.linear.bias
    torch.testing.assert_close(out, expected)


def test_softmax_regression_other_size():
    model = SoftmaxRegression(num_classes=3, size=8)
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        model(torch.randn(2, 1, 28, 28))


@pytest.mark.parametrize(
    "shape, missing_axis_hint",
    [
        ((28, 28), True),
        ((5, 28, 28), True),
        ((5, 3, 28, 28), False),
        ((5, 1, 32, 32), False),
        ((5, 784), False),
        ((2, 5, 1, 28, 28), False),
    ],
)
@pytest.mark.parametrize("model_cls", [ClassicCNN, SoftmaxRegression])
def test_wrong_shape_is_a_readable_value_error(model_cls, shape, missing_axis_hint):
    with pytest.raises(ValueError) as info:
        model_cls()(torch.zeros(shape))
    message = str(info.value)
    assert model_cls.__name__ in message
    assert "(N, 1, 28, 28)" in message
    assert str(tuple(shape)) in message
    if missing_axis_hint:
        assert "missing" in message
        assert "reshape(-1, 1, 28, 28)" in message
    else:
        assert "missing" not in message


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64])
def test_integer_images_are_a_type_error(dtype):
    with pytest.raises(TypeError) as info:
        ClassicCNN()(torch.zeros(2, 1, 28, 28, dtype=dtype))
    assert str(dtype) in str(info.value)
    assert "float" in str(info.value)


def test_non_tensor_is_a_type_error():
    with pytest.raises(TypeError, match="torch.Tensor"):
        check_image_batch([[0.0] * 28] * 28, "ClassicCNN")


def test_check_image_batch_accepts_good_batches():
    check_image_batch(torch.zeros(3, 1, 28, 28), "m")
    check_image_batch(torch.zeros(3, 3, 32, 32), "m", channels=3, size=32)
    check_image_batch(torch.zeros(3, 1, 28, 28, dtype=torch.float64), "m")


@pytest.mark.parametrize("model_cls", [ClassicCNN, SoftmaxRegression])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_images_of_another_float_type_than_the_weights_say_how_to_convert(model_cls, dtype):
    with pytest.raises(
        TypeError, match=r"weights are torch.float32 but the images are .*x.to\(torch.float32\)"
    ):
        model_cls()(torch.zeros(2, 1, 28, 28, dtype=dtype))
    assert model_cls().double()(torch.zeros(2, 1, 28, 28, dtype=torch.float64)).dtype == torch.float64

"""The MNIST project's checkers: the chapter's own solution passes, the stub and wrong answers fail."""

from __future__ import annotations

import pytest
import torch
from chapter_code import chapter_function

from course_lib.config import get_profile
from course_lib.conv import shift_images
from course_lib.data import load_mnist
from course_lib.exercises.mnist_project import (
    check_confusion_matrix,
    check_random_shift,
    check_reported_accuracy,
)
from course_lib.models import SoftmaxRegression
from course_lib.train import evaluate, fit


def solution_function(name: str, stub: bool = False):
    """Define ``name`` from the chapter's solution cell (optionally as the student stub)."""
    return chapter_function("mnist_project", name, stub)


# ----------------------------------------------------------------- exercise 1


def test_confusion_matrix_reference_passes():
    verdict = check_confusion_matrix(solution_function("my_confusion_matrix"))
    assert verdict.passed, verdict.message


def test_confusion_matrix_stub_fails():
    verdict = check_confusion_matrix(solution_function("my_confusion_matrix", stub=True))
    assert not verdict.passed
    assert "not implemented" in verdict.message


def test_confusion_matrix_transposed_fails_with_hint():
    def transposed(predicted, true, num_classes):
        return torch.bincount(predicted * num_classes + true, minlength=num_classes**2).reshape(
            num_classes, -1
        )

    verdict = check_confusion_matrix(transposed)
    assert not verdict.passed
    assert "swapped" in verdict.message


def test_confusion_matrix_missing_minlength_fails_with_hint():
    def no_minlength(predicted, true, num_classes):
        counts = torch.bincount(true * num_classes + predicted)
        side = int(len(counts) ** 0.5)
        return counts[: side * side].reshape(side, side)

    verdict = check_confusion_matrix(no_minlength)
    assert not verdict.passed
    assert "never occur" in verdict.message or "expected" in verdict.message


def test_confusion_matrix_crashing_answer_is_reported():
    verdict = check_confusion_matrix(lambda p, t, n: p.reshape(n, n))
    assert not verdict.passed
    assert "raised" in verdict.message


# ----------------------------------------------------------------- exercise 2


@pytest.fixture(scope="module")
def trained_baseline():
    import os

    os.environ["COURSE_OFFLINE"] = "1"
    data = load_mnist(get_profile("ci"), device=torch.device("cpu"))
    torch.manual_seed(0)
    model = SoftmaxRegression()
    fit(model, data, epochs=1, batch_size=64, progress=False)
    return model, data


def test_reported_accuracy_right_value_passes(trained_baseline):
    model, data = trained_baseline
    test_acc = evaluate(model, data.test)[1]
    assert check_reported_accuracy(lambda: (model, test_acc), data).passed
    assert check_reported_accuracy(lambda: (model, round(test_acc, 3)), data).passed


def test_reported_accuracy_wrong_answers_fail(trained_baseline):
    model, data = trained_baseline
    test_acc = evaluate(model, data.test)[1]
    val_acc = evaluate(model, data.val)[1]
    assert abs(test_acc - val_acc) > 0.002, "fixture must tell validation from test accuracy"
    as_percent = check_reported_accuracy(lambda: (model, 100 * test_acc), data)
    assert not as_percent.passed and "percentage" in as_percent.message
    validation = check_reported_accuracy(lambda: (model, val_acc), data)
    assert not validation.passed and "validation" in validation.message
    off = check_reported_accuracy(lambda: (model, test_acc - 0.05), data)
    assert not off.passed and "not the test accuracy" in off.message
    assert not check_reported_accuracy(lambda: (model, "0.9"), data).passed
    assert not check_reported_accuracy(lambda: (model, -0.5), data).passed


def test_reported_accuracy_nothing_reported_fails(trained_baseline):
    model, data = trained_baseline
    verdict = check_reported_accuracy(lambda: (model, None), data)
    assert not verdict.passed and "report a number" in verdict.message
    verdict = check_reported_accuracy(lambda: None, data)
    assert not verdict.passed and "(model, accuracy)" in verdict.message


def test_reported_accuracy_stub_is_not_implemented(trained_baseline):
    _, data = trained_baseline
    verdict = check_reported_accuracy(solution_function("train_on_500_digits", stub=True), data)
    assert not verdict.passed and verdict.message.startswith("not implemented")


# ----------------------------------------------------------------- exercise 3


def test_random_shift_reference_passes():
    verdict = check_random_shift(solution_function("random_shift"))
    assert verdict.passed, verdict.message


def test_random_shift_stub_fails():
    verdict = check_random_shift(solution_function("random_shift", stub=True))
    assert not verdict.passed and "not implemented" in verdict.message


def test_random_shift_with_roll_fails_with_hint():
    def rolled(images, max_shift, generator):
        out = images.clone()
        for i in range(len(images)):
            dy, dx = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
            out[i] = images[i].roll((dy, dx), dims=(-2, -1))
        return out

    verdict = check_random_shift(rolled)
    assert not verdict.passed and "wraps around" in verdict.message


def test_random_shift_one_shift_for_the_batch_fails():
    def same_shift(images, max_shift, generator):
        return shift_images(images, -max_shift, max_shift)

    verdict = check_random_shift(same_shift)
    assert not verdict.passed


def test_random_shift_in_place_fails():
    def in_place(images, max_shift, generator):
        reference = solution_function("random_shift")
        images.copy_(reference(images, max_shift, generator))
        return images

    verdict = check_random_shift(in_place)
    assert not verdict.passed and "in place" in verdict.message


def test_random_shift_too_far_fails():
    reference = solution_function("random_shift")
    verdict = check_random_shift(lambda images, m, g: reference(images, m + 2, g))
    assert not verdict.passed

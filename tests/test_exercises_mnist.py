"""The MNIST project's checkers: the chapter's own solution passes, the stub and wrong answers fail."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from chapter_code import chapter_function

from course_lib.config import seed_everything
from course_lib.conv import shift_images
from course_lib.exercises.mnist_project import (
    check_augmented_training,
    check_confusion_matrix,
    check_random_shift,
    check_reported_accuracy,
)
from course_lib.metrics import accuracy, predict_logits
from course_lib.models import ClassicCNN, SoftmaxRegression
from course_lib.train import evaluate, fit


def solution_function(name: str, stub: bool = False, **names):
    """Define ``name`` from the chapter's solution cell (optionally as the student stub)."""
    return chapter_function("mnist_project", name, stub, **names)


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
def trained_baseline(ci_mnist):
    torch.manual_seed(0)
    model = SoftmaxRegression()
    fit(model, ci_mnist, epochs=1, batch_size=64, progress=False)
    return model, ci_mnist


def chapter_names(data, **extra):
    """The chapter's variables that the exercise solutions use, for the ci data on the CPU."""
    return dict(
        data=data,
        device=torch.device("cpu"),
        profile=SimpleNamespace(epochs=3, batch_size=32),
        seed_everything=seed_everything,
        replace=dataclasses.replace,
        ClassicCNN=ClassicCNN,
        fit=fit,
        evaluate=evaluate,
        accuracy=accuracy,
        predict_logits=predict_logits,
        shift_images=shift_images,
        history=SimpleNamespace(val_acc=[0.9]),
        glue=lambda *args, **kwargs: None,
        **extra,
    )


def test_reported_accuracy_reference_passes_and_stub_is_not_implemented(ci_mnist):
    names = chapter_names(ci_mnist)
    verdict = check_reported_accuracy(solution_function("train_on_500_digits", **names), ci_mnist)
    assert verdict.passed, verdict.message
    stub = check_reported_accuracy(solution_function("train_on_500_digits", stub=True, **names), ci_mnist)
    assert not stub.passed and "not implemented" in stub.message


def test_reported_accuracy_accepts_any_kind_of_number(trained_baseline):
    model, data = trained_baseline
    val_acc = evaluate(model, data.val)[1]
    for reported in (val_acc, round(val_acc, 3), np.float32(val_acc), torch.tensor(val_acc)):
        verdict = check_reported_accuracy(lambda r=reported: (model, r), data)
        assert verdict.passed, (reported, verdict.message)


def test_reported_accuracy_wrong_answers_fail(trained_baseline):
    model, data = trained_baseline
    test_acc = evaluate(model, data.test)[1]
    val_acc = evaluate(model, data.val)[1]
    assert abs(test_acc - val_acc) > 0.002, "fixture must tell validation from test accuracy"

    def verdict(reported, returned_model=model):
        return check_reported_accuracy(lambda: (returned_model, reported), data)

    assert "percentage" in verdict(100 * val_acc).message
    test_split = verdict(test_acc)
    assert not test_split.passed and "test accuracy" in test_split.message
    assert "validation" in test_split.message
    off = verdict(val_acc - 0.05)
    assert not off.passed and "not the validation accuracy" in off.message
    assert not verdict("0.9").passed
    assert not verdict(-0.5).passed
    assert not verdict(float("nan")).passed
    assert not verdict(True).passed


def test_reported_accuracy_untrained_model_fails(ci_mnist):
    torch.manual_seed(0)
    untrained = SoftmaxRegression()
    reported = evaluate(untrained, ci_mnist.val)[1]
    verdict = check_reported_accuracy(lambda: (untrained, reported), ci_mnist)
    assert not verdict.passed and "guessing" in verdict.message


def test_reported_accuracy_needs_model_and_number(trained_baseline):
    model, data = trained_baseline
    assert "pair" in check_reported_accuracy(lambda: 0.9, data).message
    assert not check_reported_accuracy(lambda: (0.9, model), data).passed
    assert not check_reported_accuracy(lambda: (model, None), data).passed
    nothing = check_reported_accuracy(lambda: (model, None), data)
    assert not nothing.passed and "expected a number" in nothing.message
    one_element = evaluate(model, data.val)[1]
    assert check_reported_accuracy(lambda: [model, np.float32(one_element)], data).passed


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


def test_augmented_training_reference_passes_and_stub_is_not_implemented(small_mnist):
    torch.manual_seed(0)
    plain = ClassicCNN()
    fit(plain, small_mnist, epochs=3, batch_size=32, progress=False)
    names = chapter_names(small_mnist, model=plain, random_shift=solution_function("random_shift"))
    verdict = check_augmented_training(solution_function("train_with_shifts", **names), plain, small_mnist)
    assert verdict.passed, verdict.message
    assert "shifted by (3, 3)" in verdict.message
    stub = check_augmented_training(
        solution_function("train_with_shifts", stub=True, **names), plain, small_mnist
    )
    assert not stub.passed and "not implemented" in stub.message


def test_augmented_training_wrong_models_fail(trained_baseline):
    model, data = trained_baseline
    same = check_augmented_training(lambda: model, model, data)
    assert not same.passed and "plain model" in same.message
    torch.manual_seed(1)
    untrained = check_augmented_training(lambda: SoftmaxRegression(), model, data)
    assert not untrained.passed and "guessing" in untrained.message
    assert not check_augmented_training(lambda: None, model, data).passed


def test_checkers_whose_answer_trains_a_network_have_no_time_limit():
    """Training under the cpu profile takes minutes: the default limit would stop a right answer."""
    assert check_reported_accuracy.time_limit is None
    assert check_augmented_training.time_limit is None

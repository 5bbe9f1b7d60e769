"""Checkers for the MNIST project chapter's exercises.

Each returns a :class:`~course_lib.checks.Verdict` that says what was expected and what came
back. ``tests/test_exercises_mnist.py`` runs each against the chapter's reference solution
(must pass), the empty stub and plausible wrong answers (must fail).
"""

from __future__ import annotations

import torch

from ..checks import Wrong, answer_number, answer_tensor, checker, matches
from ..conv import shift_images
from ..metrics import accuracy, confusion_matrix, predict_logits


@checker("Exercise 1, confusion matrix by hand")
def check_confusion_matrix(student_fn) -> str:
    """``student_fn(predicted, true, num_classes)`` must return counts C[true, predicted].

    Used by the MNIST project chapter's exercises.
    """
    g = torch.Generator().manual_seed(1)
    cases = [
        (torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3),
        (torch.tensor([0, 0, 0]), torch.tensor([0, 0, 1]), 4),  # classes 2, 3 never appear
    ]
    for n, c in ((50, 5), (300, 10)):
        cases.append((torch.randint(c, (n,), generator=g), torch.randint(c, (n,), generator=g), c))
    for predicted, true, num_classes in cases:
        expected = confusion_matrix(predicted, true, num_classes)
        hint = f"{num_classes} classes need {num_classes} rows and columns, even classes that never occur."
        got = student_fn(predicted.clone(), true.clone(), num_classes)
        got = answer_tensor(got, "your confusion matrix", expected.shape, hint=hint)
        if got.is_floating_point() and not torch.equal(got, got.round()):
            raise Wrong("a confusion matrix holds counts: every entry must be a whole number.")
        got = got.long()
        if torch.equal(got, expected):
            continue
        if torch.equal(got, expected.T):
            raise Wrong("rows and columns are swapped: row = true class, column = predicted class.")
        if got.sum() != len(true):
            raise Wrong(
                f"the counts add up to {int(got.sum())}, but there are {len(true)} predictions; "
                "every prediction belongs in exactly one cell."
            )
        raise Wrong(
            f"for predicted={predicted.tolist()[:12]} and true={true.tolist()[:12]} "
            f"(num_classes={num_classes}) expected\n{expected}\ngot\n{got}"
        )
    return f"all {len(cases)} cases match course_lib.metrics.confusion_matrix."


def _as_fraction(value, what: str) -> float:
    """A Python or NumPy number, or a one-element tensor, as a float in [0, 1]; else Wrong."""
    value = answer_number(value, what, example="0.912")
    if 1 < value <= 100:
        raise Wrong(f"{value} looks like a percentage: give {what} as a fraction between 0 and 1.")
    if not 0 <= value <= 1:
        raise Wrong(f"an accuracy is between 0 and 1, got {value}.")
    return value


def _trained_enough(model, data, floor: float = 0.5) -> float:
    """The model's validation accuracy; Wrong if it looks untrained (chance is 0.1)."""
    val_acc = accuracy(predict_logits(model, data.val.x), data.val.y)
    if val_acc < floor:
        raise Wrong(
            f"the model you returned gets only {val_acc:.3f} on the validation split, close to "
            f"guessing (0.1 for ten digits): train it with fit(...) before returning it."
        )
    return val_acc


@checker("Exercise 2, training on fewer digits", time_limit=None)  # the answer trains a model
def check_reported_accuracy(experiment, data) -> str:
    """``experiment()`` must return ``(model, reported)``: a trained model and its validation accuracy.

    Models are compared on the validation split; the test split is kept for one final number,
    so reporting the test accuracy fails. Used by book/mnist_project.md, exercise 2.
    """
    result = experiment()
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Wrong(f"return a pair (model, validation_accuracy), got {type(result).__name__}.")
    model, reported = result
    if not isinstance(model, torch.nn.Module):
        raise Wrong(f"the first item must be the trained model, got {type(model).__name__}.")
    reported = _as_fraction(reported, "the validation accuracy")
    val_acc = _trained_enough(model, data)
    if abs(reported - val_acc) <= 6e-4:
        return f"{reported:.4f} is your model's validation accuracy."
    test_acc = accuracy(predict_logits(model, data.test.x), data.test.y)
    if abs(reported - test_acc) <= 6e-4:
        raise Wrong(
            "that is the test accuracy. Compare models on the validation split "
            "(evaluate(model, data.val)) and keep the test split for the chapter's final number."
        )
    raise Wrong(
        f"{reported} is not the validation accuracy of the model you returned (off by more than "
        "0.0006). Evaluate the trained model with evaluate(model, data.val) and report its accuracy."
    )


@checker("Exercise 3, random-shift augmentation")
def check_random_shift(student_fn) -> str:
    """``student_fn(images, max_shift, generator)`` must shift each image independently.

    Used by the MNIST project chapter's exercises.
    """
    g = torch.Generator().manual_seed(3)
    images = torch.rand(64, 1, 28, 28, generator=g) * 0.9 + 0.1  # no blank pixels: a shift shows
    original = images.clone()
    out = student_fn(images, 0, torch.Generator().manual_seed(0))
    out = answer_tensor(out, "your batch with max_shift=0", images.shape)
    if not matches(out, original, rtol=0.0, atol=0.0):
        raise Wrong("with max_shift=0 every image must come back unchanged.")
    max_shift = 2
    out = student_fn(images, max_shift, torch.Generator().manual_seed(0))
    if not torch.equal(images, original):
        raise Wrong("your function changed its input in place: return new tensors instead.")
    out = answer_tensor(out, "your shifted batch", images.shape)
    shifts = []
    for i in range(len(images)):
        found = [
            (dy, dx)
            for dy in range(-max_shift, max_shift + 1)
            for dx in range(-max_shift, max_shift + 1)
            if matches(out[i], shift_images(images[i], dx, dy))
        ]
        if not found:
            wrapped = any(
                matches(out[i], images[i].roll((dy, dx), dims=(-2, -1)))
                for dy in range(-max_shift, max_shift + 1)
                for dx in range(-max_shift, max_shift + 1)
            )
            if wrapped:
                raise Wrong(
                    f"image {i} wraps around its edges (torch.roll): pixels that leave one side "
                    "must not reappear on the other; fill with 0."
                )
            raise Wrong(
                f"image {i} is not a copy of the input shifted by at most {max_shift} pixels "
                "in each direction with 0 filled in."
            )
        shifts.append(found[0])
    if len(set(shifts)) == 1:
        raise Wrong(f"all {len(shifts)} images got the same shift {shifts[0]}: draw a shift per image.")
    return f"{len(images)} images, {len(set(shifts))} different shifts, all within ±{max_shift} pixels."


@checker("Exercise 4, training with random shifts", time_limit=None)  # the answer trains a model
def check_augmented_training(train_fn, plain_model, data, shift: tuple[int, int] = (3, 3)) -> str:
    """``train_fn()`` must return a newly trained model; it is compared with ``plain_model``.

    Both are measured on the validation split, as it is and with every digit moved by
    ``shift`` = (dx, dy) pixels. The checker asks only that the model is trained and is not
    the plain one; the numbers say whether the augmentation helped. Used by
    book/mnist_project.md, exercise 4.
    """
    model = train_fn()
    if not isinstance(model, torch.nn.Module):
        raise Wrong(f"return the trained model, got {type(model).__name__}.")
    if model is plain_model:
        raise Wrong("that is the plain model of section 4: train a fresh ClassicCNN with augment=...")
    clean = _trained_enough(model, data)
    moved = data.normalize(shift_images(data.pixels(data.val.x), *shift))
    shifted = accuracy(predict_logits(model, moved), data.val.y)
    plain_shifted = accuracy(predict_logits(plain_model, moved), data.val.y)
    plain_clean = accuracy(predict_logits(plain_model, data.val.x), data.val.y)
    return (
        f"validation accuracy, yours against the plain model: {clean:.3f} vs {plain_clean:.3f} on the "
        f"digits as they are, {shifted:.3f} vs {plain_shifted:.3f} on digits shifted by {shift}."
    )

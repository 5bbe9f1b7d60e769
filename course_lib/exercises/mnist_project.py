"""Checkers for the MNIST project chapter's exercises.

Each returns a :class:`~course_lib.checks.Verdict` that says what was expected and what came
back. ``tests/test_exercises_mnist.py`` runs each against the chapter's reference solution
(must pass), the empty stub and plausible wrong answers (must fail).
"""

from __future__ import annotations

import torch

from ..checks import Wrong, checker
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
        got = student_fn(predicted.clone(), true.clone(), num_classes)
        if not isinstance(got, torch.Tensor):
            raise Wrong(f"expected a torch.Tensor, got {type(got).__name__}.")
        if tuple(got.shape) != tuple(expected.shape):
            raise Wrong(
                f"expected shape {tuple(expected.shape)} for {num_classes} classes, got "
                f"{tuple(got.shape)}. Classes that never occur still get a row and a column."
            )
        got = got.long().cpu()
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


@checker("Exercise 2, reading off a test accuracy")
def check_reported_accuracy(experiment, data) -> str:
    """``experiment()`` returns ``(model, accuracy)``: the accuracy must be the model's test accuracy.

    The student trains ``model`` and reports its accuracy as a fraction. Used by the MNIST
    project chapter's exercises.
    """
    result = experiment()
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Wrong(f"return two things, (model, accuracy), got {type(result).__name__}.")
    model, reported = result
    if not isinstance(reported, (int, float)) or isinstance(reported, bool):
        raise Wrong(f"report a number such as 0.912, got {type(reported).__name__} {reported!r}.")
    if 1 < reported <= 100:
        raise Wrong(f"{reported} looks like a percentage: give the accuracy as a fraction between 0 and 1.")
    if not 0 <= reported <= 1:
        raise Wrong(f"an accuracy is between 0 and 1, got {reported}.")
    test_acc = accuracy(predict_logits(model, data.test.x), data.test.y)
    val_acc = accuracy(predict_logits(model, data.val.x), data.val.y)
    if abs(reported - test_acc) <= 0.0006:
        return f"{reported} is your model's test accuracy."
    if abs(reported - val_acc) <= 0.0006:
        raise Wrong(
            "that is the validation accuracy: the question asks for the held-out test split "
            "(evaluate(model, data.test))."
        )
    raise Wrong(
        f"{reported} is not the test accuracy of the model you passed in (off by more than "
        "0.0006). Evaluate the trained model with evaluate(model, data.test) and report its accuracy."
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
    if not isinstance(out, torch.Tensor) or out.shape != images.shape:
        raise Wrong(
            f"expected a tensor of shape {tuple(images.shape)}, got "
            f"{getattr(out, 'shape', type(out).__name__)}."
        )
    if not torch.equal(out, original):
        raise Wrong("with max_shift=0 every image must come back unchanged.")
    max_shift = 2
    out = student_fn(images, max_shift, torch.Generator().manual_seed(0))
    if not torch.equal(images, original):
        raise Wrong("your function changed its input in place: return new tensors instead.")
    if out.shape != images.shape:
        raise Wrong(f"expected shape {tuple(images.shape)}, got {tuple(out.shape)}.")
    shifts = []
    for i in range(len(images)):
        found = [
            (dy, dx)
            for dy in range(-max_shift, max_shift + 1)
            for dx in range(-max_shift, max_shift + 1)
            if torch.allclose(out[i], shift_images(images[i], dx, dy))
        ]
        if not found:
            wrapped = any(
                torch.allclose(out[i], images[i].roll((dy, dx), dims=(-2, -1)))
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

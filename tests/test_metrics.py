"""Accuracy, confusion matrices, per-class accuracy, worst mistakes, batched prediction."""

from __future__ import annotations

import pytest
import torch

from course_lib.metrics import (
    Mistakes,
    accuracy,
    confusion_matrix,
    most_confident_mistakes,
    per_class_accuracy,
    predict_logits,
)
from course_lib.models import ClassicCNN, SoftmaxRegression


def test_accuracy_with_labels():
    predictions = torch.tensor([0, 1, 2, 2])
    targets = torch.tensor([0, 1, 1, 2])
    assert accuracy(predictions, targets) == pytest.approx(0.75)
    assert accuracy(targets, targets) == 1.0
    assert accuracy((targets + 1) % 3, targets) == 0.0


def test_accuracy_with_logits():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [5.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    targets = torch.tensor([0, 1, 2, 2])
    assert accuracy(logits, targets) == pytest.approx(0.75)
    assert accuracy(logits, targets) == accuracy(logits.argmax(1), targets)


def test_accuracy_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        accuracy(torch.tensor([0, 1, 2]), torch.tensor([0, 1]))


def test_confusion_matrix_hand_example():
    targets = torch.tensor([0, 0, 1, 1, 1, 2])
    predictions = torch.tensor([0, 1, 1, 1, 2, 0])
    expected = torch.tensor(
        [
            [1, 1, 0],  # true 0: once right, once called 1
            [0, 2, 1],  # true 1: twice right, once called 2
            [1, 0, 0],  # true 2: called 0
        ]
    )
    assert torch.equal(confusion_matrix(predictions, targets, 3), expected)


def test_confusion_matrix_matches_a_loop_on_random_data():
    generator = torch.Generator().manual_seed(0)
    n, c = 500, 7
    targets = torch.randint(0, c, (n,), generator=generator)
    logits = torch.randn(n, c, generator=generator)
    result = confusion_matrix(logits, targets, c)
    predictions = logits.argmax(1)
    expected = torch.zeros(c, c, dtype=torch.long)
    for t, p in zip(targets.tolist(), predictions.tolist(), strict=True):
        expected[t, p] += 1
    assert result.shape == (c, c)
    assert torch.equal(result.long(), expected)
    assert int(result.sum()) == n
    assert torch.equal(result.sum(1).long(), torch.bincount(targets, minlength=c))
    assert torch.equal(result.diag().sum(), (predictions == targets).sum())


def test_confusion_matrix_keeps_full_size_with_missing_classes():
    result = confusion_matrix(torch.tensor([1, 1]), torch.tensor([1, 1]), 10)
    assert result.shape == (10, 10)
    assert int(result[1, 1]) == 2
    assert int(result.sum()) == 2


def test_per_class_accuracy():
    confusion = torch.tensor([[3, 1, 0], [0, 0, 0], [2, 0, 2]])
    result = per_class_accuracy(confusion)
    torch.testing.assert_close(result, torch.tensor([0.75, 0.0, 0.5]))
    assert result.dtype.is_floating_point


def test_per_class_accuracy_agrees_with_accuracy():
    generator = torch.Generator().manual_seed(1)
    targets = torch.randint(0, 4, (200,), generator=generator)
    predictions = torch.where(torch.rand(200, generator=generator) < 0.7, targets, (targets + 1) % 4)
    per_class = per_class_accuracy(confusion_matrix(predictions, targets, 4))
    for c in range(4):
        mask = targets == c
        assert per_class[c].item() == pytest.approx(accuracy(predictions[mask], targets[mask]))


def test_most_confident_mistakes_are_mistakes_in_order():
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(300, 10, generator=generator) * 3
    targets = torch.randint(0, 10, (300,), generator=generator)
    result = most_confident_mistakes(logits, targets, k=16)
    assert isinstance(result, Mistakes)
    assert len(result.index) == 16
    assert len(set(result.index.tolist())) == 16
    probs = logits.softmax(1)
    assert torch.equal(result.predicted, logits[result.index].argmax(1))
    assert torch.equal(result.true, targets[result.index])
    assert (result.predicted != result.true).all()
    torch.testing.assert_close(result.confidence, probs[result.index].max(1).values)
    assert (result.confidence[:-1] >= result.confidence[1:]).all(), "most confident first"
    # No mistake left out is surer than the least sure one returned.
    wrong = logits.argmax(1) != targets
    all_mistake_conf = probs.max(1).values[wrong]
    assert result.confidence[0] == all_mistake_conf.max()
    assert (all_mistake_conf > result.confidence[-1]).sum() <= 15


def test_most_confident_mistakes_fewer_than_k():
    logits = torch.tensor([[5.0, 0.0], [0.0, 5.0], [1.0, 0.0], [0.0, 1.0]])
    targets = torch.tensor([1, 1, 0, 0])  # rows 0 and 3 are wrong
    result = most_confident_mistakes(logits, targets, k=10)
    assert result.index.tolist() == [0, 3]
    assert result.predicted.tolist() == [0, 1]
    assert result.true.tolist() == [1, 0]


def test_most_confident_mistakes_none():
    logits = torch.eye(4) * 5
    result = most_confident_mistakes(logits, torch.arange(4))
    assert len(result.index) == 0


@pytest.mark.parametrize("model_cls", [ClassicCNN, SoftmaxRegression])
def test_predict_logits_batches_equal_one_forward(model_cls):
    torch.manual_seed(0)
    model = model_cls()
    x = torch.randn(53, 1, 28, 28)
    model.eval()
    with torch.no_grad():
        expected = model(x)
    model.train()
    result = predict_logits(model, x, batch_size=10)
    assert model.training, "predict_logits evaluates in eval mode, then gives the mode back"
    assert result.shape == (53, 10)
    assert result.dtype == torch.float32
    assert not result.requires_grad
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(predict_logits(model, x, batch_size=1000), expected, atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------- inputs that make no sense


@pytest.mark.parametrize(
    "predictions, targets, num_classes, words",
    [
        ([10, 1, 2, 3], [0, 1, 2, 3], 10, "label 10, but there are 10 classes"),
        ([0, -1, 2, 3], [0, 1, 2, 3], 10, "label -1"),
        ([0, 1, 2, 3], [0, 1, 2, 7], 5, "label 7, but there are 5 classes"),
        ([0, 1, 2, 3], [-1, 1, 2, 3], 10, "label -1"),
        ([9, 1], [10, 1], 10, "label 10"),
        ([0, 1, 2], [0, 1], 3, "3 predictions .* 2 targets"),
        ([], [], 3, "empty"),
    ],
)
def test_confusion_matrix_refuses_labels_outside_the_classes(predictions, targets, num_classes, words):
    with pytest.raises(ValueError, match=words):
        confusion_matrix(torch.tensor(predictions), torch.tensor(targets, dtype=torch.long), num_classes)


@pytest.mark.parametrize("num_classes", [0, -3, 2.0])
def test_confusion_matrix_refuses_a_nonsense_class_count(num_classes):
    with pytest.raises((TypeError, ValueError), match="num_classes"):
        confusion_matrix(torch.tensor([0]), torch.tensor([0]), num_classes)


def test_confusion_matrix_refuses_logits_with_another_class_count():
    with pytest.raises(ValueError, match="4 columns but num_classes is 3"):
        confusion_matrix(torch.zeros(2, 4), torch.tensor([0, 1]), 3)


def test_accuracy_refuses_empty_inputs():
    with pytest.raises(ValueError, match="empty"):
        accuracy(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))


def test_accuracy_refuses_one_score_per_example():
    """argmax over a single column is always 0: 0.25 for four right answers, before."""
    with pytest.raises(ValueError, match=r"one score per example.*\(p > 0.5\)"):
        accuracy(torch.tensor([[0.9], [0.8], [0.1], [0.7]]), torch.tensor([1, 1, 0, 1]))


def test_accuracy_refuses_logits_with_fewer_classes_than_the_labels():
    with pytest.raises(ValueError, match="label 3, but there are 3 classes"):
        accuracy(torch.zeros(4, 3), torch.tensor([0, 1, 2, 3]))


def test_accuracy_refuses_float_predictions_of_one_dimension():
    with pytest.raises(TypeError, match="integer class labels"):
        accuracy(torch.tensor([0.9, 0.1]), torch.tensor([1, 0]))


def test_accuracy_takes_numpy_arrays_and_lists():
    import numpy as np

    assert accuracy(np.array([0, 1, 1]), np.array([0, 1, 0])) == pytest.approx(2 / 3)
    assert accuracy([0, 1, 1], [0, 1, 1]) == 1.0


@pytest.mark.parametrize("k", [-1, 2.5])
def test_most_confident_mistakes_refuses_a_nonsense_k(k):
    with pytest.raises((TypeError, ValueError), match="k must"):
        most_confident_mistakes(torch.zeros(3, 4), torch.tensor([0, 1, 2]), k=k)


def test_predict_logits_of_no_images_is_empty_and_keeps_the_mode():
    model = ClassicCNN()
    model.train()
    logits = predict_logits(model, torch.zeros(0, 1, 28, 28))
    assert logits.shape == (0, 10)
    assert model.training


def test_predict_logits_restores_the_mode_it_found():
    model = ClassicCNN()
    for training in (True, False):
        model.train(training)
        predict_logits(model, torch.zeros(3, 1, 28, 28))
        assert model.training is training
        assert all(m.training is training for m in model.modules())

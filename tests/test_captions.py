"""The digit captioner: teacher-forcing targets, shapes, greedy decoding, a short training run."""

from __future__ import annotations

import torch

from course_lib.captions import (
    END,
    MAX_LEN,
    NAMES,
    PAD,
    START,
    DigitCaptioner,
    caption_targets,
    symbols_to_text,
    train_captioner,
)


def test_caption_targets_shift_the_name_by_one():
    inputs, targets = caption_targets(torch.tensor([7, 1]))
    assert inputs.shape == targets.shape == (2, MAX_LEN)
    assert symbols_to_text(inputs[0]) == START + "seven"
    assert symbols_to_text(targets[0]) == "seven" + END
    assert symbols_to_text(inputs[1]) == START + "one" + PAD * 2
    assert symbols_to_text(targets[1]) == "one" + END + PAD * 2


def test_captioner_shapes_and_greedy_output_are_strings():
    torch.manual_seed(0)
    model = DigitCaptioner(features=16, hidden_size=12)
    images = torch.randn(3, 1, 28, 28)
    inputs, _ = caption_targets(torch.tensor([0, 3, 8]))
    assert model(images, inputs).shape == (3, MAX_LEN, len(set(START + END + PAD + "".join(NAMES))))
    written = model.caption(images)
    assert len(written) == 3 and all(isinstance(w, str) and END not in w for w in written)


def test_a_short_training_run_learns_to_name_digits(small_mnist):
    torch.manual_seed(0)
    model = DigitCaptioner(features=32, hidden_size=32)
    losses = train_captioner(
        model,
        small_mnist.train.x,
        small_mnist.train.y,
        epochs=12,
        batch_size=32,
        generator=torch.Generator().manual_seed(0),
    )
    assert losses[-1] < 0.5 * losses[0]
    written = model.caption(small_mnist.val.x)
    right = sum(w == NAMES[y] for w, y in zip(written, small_mnist.val.y.tolist()))
    assert right / len(written) > 0.5

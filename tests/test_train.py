"""The training loop: learning, bit-for-bit reproducibility, resume, checkpoints, evaluation."""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import re
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from course_lib.data import Split
from course_lib.metrics import accuracy, predict_logits
from course_lib.models import ClassicCNN, SoftmaxRegression
from course_lib.train import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    History,
    TrainingDiverged,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
    train_epoch,
)

BATCH = 64
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")


def fresh_cnn(seed: int = 0, **kwargs) -> ClassicCNN:
    torch.manual_seed(seed)
    return ClassicCNN(**kwargs)


def assert_same_parameters(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert torch.equal(sa[name], sb[name]), f"{name} differs"


def assert_same_history(a: History, b: History) -> None:
    for name in METRICS:
        assert getattr(a, name) == getattr(b, name), name
    assert len(a.seconds) == len(b.seconds) == a.epochs


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


def test_fit_learns_and_records_every_epoch(small_mnist):
    model = fresh_cnn()
    history = fit(model, small_mnist, epochs=3, batch_size=BATCH, lr=2e-3, progress=False)
    assert isinstance(history, History)
    assert history.epochs == 3
    for name in (*METRICS, "seconds"):
        assert len(getattr(history, name)) == 3
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.train_loss[-1] < 0.8 * math.log(10)
    assert history.val_acc[-1] > 0.5  # chance is 0.1
    assert all(0.0 <= a <= 1.0 for a in history.train_acc + history.val_acc)
    table = history.table().splitlines()
    assert len(table) == 4 and "train loss" in table[0]


def test_history_as_dict_round_trips():
    history = History([1.0], [0.5], [1.1], [0.4], [0.2])
    assert History(**history.as_dict()) == history


def test_fit_validates_arguments(small_mnist):
    with pytest.raises(ValueError):
        fit(fresh_cnn(), small_mnist, epochs=-1, batch_size=BATCH, progress=False)
    with pytest.raises(ValueError):
        fit(fresh_cnn(), small_mnist, epochs=1, batch_size=0, progress=False)


@pytest.mark.parametrize(
    "settings, words",
    [
        (dict(batch_size=1e3), "batch_size must be a whole number"),
        (dict(epochs=2.0), "epochs must be a whole number"),
        (dict(batch_size=True), "batch_size must be a whole number"),
        (dict(seed=1.5), "seed must be a whole number"),
        (dict(lr=0.0), "lr must be a finite number above 0"),
        (dict(lr=float("nan")), "lr must be a finite number above 0"),
        (dict(clip_grad_norm=-1.0), "clip_grad_norm"),
        (dict(resume="yes"), "resume must be True or False"),
        (dict(progress="False"), "progress must be True or False"),
        (dict(resume=True, overwrite=True), "choose one"),
    ],
)
def test_fit_refuses_settings_that_cannot_work_by_name(small_mnist, tmp_path, settings, words):
    arguments = dict(epochs=1, batch_size=BATCH, progress=False, checkpoint=tmp_path / "run.pt")
    model = SoftmaxRegression()
    before = copy.deepcopy(model)
    with pytest.raises((TypeError, ValueError), match=words):
        fit(model, small_mnist, **{**arguments, **settings})
    assert_same_parameters(model, before)
    assert not (tmp_path / "run.pt").exists()


def test_fit_zero_epochs_changes_nothing(small_mnist):
    model = fresh_cnn()
    before = copy.deepcopy(model)
    history = fit(model, small_mnist, epochs=0, batch_size=BATCH, progress=False)
    assert history.epochs == 0
    assert_same_parameters(model, before)


def test_fit_is_bit_for_bit_reproducible_on_cpu(small_mnist):
    a, b = fresh_cnn(), fresh_cnn()
    ha = fit(a, small_mnist, epochs=2, batch_size=BATCH, seed=5, progress=False)
    hb = fit(b, small_mnist, epochs=2, batch_size=BATCH, seed=5, progress=False)
    assert_same_parameters(a, b)
    assert_same_history(ha, hb)


def test_fit_seed_changes_the_shuffle(small_mnist):
    a, b = fresh_cnn(), fresh_cnn()
    fit(a, small_mnist, epochs=1, batch_size=BATCH, seed=5, progress=False)
    fit(b, small_mnist, epochs=1, batch_size=BATCH, seed=6, progress=False)
    assert not torch.equal(a.classifier[3].weight, b.classifier[3].weight)


def test_resume_equals_one_uninterrupted_run(small_mnist, tmp_path):
    straight = fresh_cnn()
    h_straight = fit(straight, small_mnist, epochs=2, batch_size=BATCH, seed=1, progress=False)

    path = tmp_path / "run.pt"
    first = fresh_cnn()
    h_first = fit(first, small_mnist, epochs=1, batch_size=BATCH, seed=1, checkpoint=path, progress=False)
    assert h_first.epochs == 1 and path.exists()

    resumed = fresh_cnn(seed=99)  # a new model and optimizer, as after a kernel restart
    optimizer = torch.optim.Adam(resumed.parameters(), lr=1e-3)
    h_resumed = fit(
        resumed,
        small_mnist,
        epochs=2,
        batch_size=BATCH,
        optimizer=optimizer,
        seed=1,
        checkpoint=path,
        resume=True,
        progress=False,
    )

    assert_same_parameters(resumed, straight)
    assert_same_history(h_resumed, h_straight)
    assert h_resumed.train_loss[0] == h_first.train_loss[0]


def test_resume_at_the_end_does_no_more_training(small_mnist, tmp_path):
    path = tmp_path / "run.pt"
    model = fresh_cnn()
    fit(model, small_mnist, epochs=1, batch_size=BATCH, checkpoint=path, progress=False)
    again = fresh_cnn(seed=7)
    history = fit(
        again, small_mnist, epochs=1, batch_size=BATCH, checkpoint=path, resume=True, progress=False
    )
    assert history.epochs == 1
    assert_same_parameters(again, model)


def test_resume_without_a_checkpoint_starts_fresh(small_mnist, tmp_path):
    a, b = fresh_cnn(), fresh_cnn()
    fit(a, small_mnist, epochs=1, batch_size=BATCH, progress=False)
    fit(
        b,
        small_mnist,
        epochs=1,
        batch_size=BATCH,
        checkpoint=tmp_path / "new.pt",
        resume=True,
        progress=False,
    )
    assert_same_parameters(a, b)


def test_checkpoints_are_written_atomically(small_mnist, tmp_path):
    folder = tmp_path / "ckpt"
    fit(fresh_cnn(), small_mnist, epochs=2, batch_size=BATCH, checkpoint=folder / "run.pt", progress=False)
    assert files_in(folder) == ["run.pt"]


def test_failed_checkpoint_save_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "ckpt" / "model.pt"
    model = fresh_cnn()
    save_checkpoint(path, model)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(path, fresh_cnn(seed=3))
    assert path.read_bytes() == before
    assert files_in(path.parent) == ["model.pt"]


def test_save_and_load_round_trip(tmp_path):
    model = fresh_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 1, 28, 28)).sum().backward()
    optimizer.step()
    history = History([1.0], [0.5], [1.1], [0.4], [0.2])
    path = save_checkpoint(tmp_path / "m.pt", model, optimizer, history=history, note="hi")

    other = fresh_cnn(seed=1)
    other_opt = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    payload = load_checkpoint(path, other, other_opt)
    assert_same_parameters(other, model)
    assert payload["format"] == CHECKPOINT_FORMAT
    assert payload["model_class"] == "ClassicCNN"
    assert payload["history"] == history.as_dict()
    assert payload["note"] == "hi"
    momentum = [s["momentum_buffer"] for s in other_opt.state_dict()["state"].values()]
    expected = [s["momentum_buffer"] for s in optimizer.state_dict()["state"].values()]
    assert all(torch.equal(a, b) for a, b in zip(momentum, expected, strict=True))


@pytest.mark.parametrize(
    "saved, loaded, names",
    [
        (lambda: ClassicCNN(), lambda: SoftmaxRegression(), ("ClassicCNN", "SoftmaxRegression")),
        (lambda: SoftmaxRegression(), lambda: ClassicCNN(), ("SoftmaxRegression", "ClassicCNN")),
        (lambda: ClassicCNN(num_classes=5), lambda: ClassicCNN(), ("ClassicCNN",)),
    ],
    ids=["cnn-into-softmax", "softmax-into-cnn", "5-classes-into-10"],
)
def test_loading_into_a_different_model_is_refused(tmp_path, saved, loaded, names):
    path = save_checkpoint(tmp_path / "m.pt", saved())
    target = loaded()
    before = copy.deepcopy(target)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, target)
    message = str(info.value)
    for name in names:
        assert name in message
    assert str(path) in message
    assert_same_parameters(target, before)


def test_class_count_mismatch_names_the_tensor(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", ClassicCNN(num_classes=5))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, ClassicCNN(num_classes=10))
    message = str(info.value)
    assert re.search(r"classifier\.3\.(weight|bias)", message)
    assert re.search(r"\b5\b", message) and re.search(r"\b10\b", message)


def test_missing_checkpoint(tmp_path):
    path = tmp_path / "nothing-here.pt"
    with pytest.raises(CheckpointError, match="nothing-here.pt"):
        load_checkpoint(path, ClassicCNN())


def test_plain_tensor_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match="not a course_lib checkpoint"):
        load_checkpoint(path, ClassicCNN())


def test_foreign_dict_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "state.pt"
    torch.save(ClassicCNN().state_dict(), path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, ClassicCNN())


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_checkpoint(path, ClassicCNN())


def test_clip_grad_norm_bounds_every_step(small_mnist):
    """With SGD (lr 1) each step moves the parameters by at most the clipping norm."""
    clip = 1e-3
    model = fresh_cnn()
    start = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    history = fit(
        model,
        small_mnist,
        epochs=1,
        batch_size=BATCH,
        optimizer=optimizer,
        clip_grad_norm=clip,
        progress=False,
    )
    steps = math.ceil(len(small_mnist.train) / BATCH)
    moved = (torch.nn.utils.parameters_to_vector(model.parameters()) - start).norm().item()
    assert math.isfinite(history.train_loss[0])
    assert 0 < moved <= steps * clip * (1 + 1e-4)

    unclipped = fresh_cnn()
    fit(
        unclipped,
        small_mnist,
        epochs=1,
        batch_size=BATCH,
        optimizer=torch.optim.SGD(unclipped.parameters(), lr=1.0),
        progress=False,
    )
    moved_unclipped = (torch.nn.utils.parameters_to_vector(unclipped.parameters()) - start).norm().item()
    assert moved_unclipped > 10 * moved


def test_mixed_precision_is_a_no_op_on_cpu(small_mnist):
    assert small_mnist.train.x.device.type == "cpu"
    a, b = fresh_cnn(), fresh_cnn()
    ha = fit(a, small_mnist, epochs=1, batch_size=BATCH, mixed_precision=True, progress=False)
    hb = fit(b, small_mnist, epochs=1, batch_size=BATCH, mixed_precision=False, progress=False)
    assert_same_parameters(a, b)
    assert_same_history(ha, hb)


def test_fit_with_softmax_regression(small_mnist):
    model = SoftmaxRegression()
    history = fit(model, small_mnist, epochs=2, batch_size=BATCH, lr=1e-2, progress=False)
    assert history.train_loss[1] < history.train_loss[0]


def test_progress_bar_does_not_change_results(small_mnist, capsys):
    a, b = fresh_cnn(), fresh_cnn()
    fit(a, small_mnist, epochs=1, batch_size=BATCH, progress=True)
    fit(b, small_mnist, epochs=1, batch_size=BATCH, progress=False)
    assert_same_parameters(a, b)


def test_evaluate_matches_metrics(small_mnist):
    model = fresh_cnn()
    fit(model, small_mnist, epochs=1, batch_size=BATCH, progress=False)
    model.train()
    val = small_mnist.val
    loss, acc = evaluate(model, val, batch_size=50)
    assert model.training, "evaluate gives the model its mode back"
    logits = predict_logits(model, val.x)
    assert acc == pytest.approx(accuracy(logits, val.y), abs=1e-9)
    assert loss == pytest.approx(F.cross_entropy(logits, val.y).item(), rel=1e-5)
    loss_one_batch, acc_one_batch = evaluate(model, val, batch_size=10_000)
    assert loss_one_batch == pytest.approx(loss, rel=1e-5)
    assert acc_one_batch == acc


def test_evaluate_untrained_is_near_chance(small_mnist):
    loss, acc = evaluate(fresh_cnn(), small_mnist.val)
    assert loss == pytest.approx(math.log(10), rel=0.15)
    assert acc < 0.35


def test_fit_leaves_input_data_untouched(small_mnist):
    snapshot = dataclasses.replace(small_mnist)
    x_before = small_mnist.train.x.clone()
    fit(fresh_cnn(), small_mnist, epochs=1, batch_size=BATCH, progress=False)
    assert torch.equal(small_mnist.train.x, x_before)
    assert snapshot.train is small_mnist.train


# --------------------------------------------------------------------------- fit beyond ImageData


def fresh_softmax(seed: int = 0) -> SoftmaxRegression:
    torch.manual_seed(seed)
    return SoftmaxRegression()


def test_fit_takes_splits_or_plain_tensors(small_mnist):
    train, val = small_mnist.train, small_mnist.val
    settings = dict(epochs=2, batch_size=BATCH, progress=False)
    runs = [
        fit(fresh_softmax(), small_mnist, **settings),
        fit(fresh_softmax(), train, val, **settings),
        fit(fresh_softmax(), (train.x, train.y), val=(val.x, val.y), **settings),
    ]
    for history in runs[1:]:
        assert_same_history(history, runs[0])


def test_fit_without_validation_keeps_an_honest_history(small_mnist):
    train = small_mnist.train
    history = fit(SoftmaxRegression(), train, epochs=2, batch_size=BATCH, progress=False)
    assert history.epochs == 2 and history.val_acc == [] and history.val_loss == []
    assert "val" not in history.table()


@pytest.mark.parametrize(
    "data, words",
    [
        (torch.zeros(3, 1, 28, 28), "pair of tensors"),
        ((torch.zeros(3, 1, 28, 28), torch.zeros(2, dtype=torch.long)), "3 inputs but 2 targets"),
        ((torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long)), "empty"),
    ],
)
def test_fit_refuses_training_data_that_makes_no_sense(data, words):
    with pytest.raises((TypeError, ValueError), match=words):
        fit(SoftmaxRegression(), data, epochs=1, batch_size=BATCH, progress=False)


def test_fit_refuses_an_optimizer_of_another_model(small_mnist):
    other = SoftmaxRegression()
    with pytest.raises(ValueError, match="none of this model's parameters"):
        fit(SoftmaxRegression(), small_mnist, epochs=1, batch_size=BATCH, progress=False,
            optimizer=torch.optim.SGD(other.parameters(), lr=0.1))  # fmt: skip


def test_evaluate_returns_named_values_and_keeps_tuple_unpacking(small_mnist):
    result = evaluate(SoftmaxRegression(), small_mnist.val)
    loss, acc = result
    assert (result.loss, result.accuracy) == (loss, acc) == (result[0], result[1])
    assert evaluate(SoftmaxRegression(), (small_mnist.val.x, small_mnist.val.y)).accuracy >= 0


def test_evaluate_refuses_an_empty_split():
    empty = Split(torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        evaluate(SoftmaxRegression(), empty)


def test_evaluate_restores_each_submodule_mode(small_mnist):
    model = fresh_cnn()
    model.train()
    model.features.eval()  # a frozen feature extractor, say
    evaluate(model, small_mnist.val)
    assert model.training and model.classifier.training and not model.features.training


# --------------------------------------------------------------------------- non-finite losses


def test_a_nan_input_is_refused_before_training(small_mnist, tmp_path):
    x = small_mnist.train.x.clone()
    x[3, 0, 14, 14] = float("nan")
    data = dataclasses.replace(small_mnist, train=Split(x, small_mnist.train.y))
    with pytest.raises(ValueError, match="training inputs hold NaN or infinite values .* index 3"):
        fit(fresh_cnn(), data, epochs=2, batch_size=BATCH, checkpoint=tmp_path / "run.pt", progress=False)
    assert not (tmp_path / "run.pt").exists()


def nan_after(batches: int):
    """A cross-entropy loss that turns NaN after ``batches`` calls (as after a blow-up)."""
    calls = {"n": 0}

    def loss_fn(logits, y, reduction="mean"):
        calls["n"] += 1
        loss = F.cross_entropy(logits, y, reduction=reduction)
        return loss * float("nan") if calls["n"] > batches else loss

    return loss_fn


def test_a_nan_loss_stops_training_naming_epoch_and_batch_and_keeps_the_last_good_checkpoint(
    small_mnist, tmp_path
):
    path = tmp_path / "run.pt"
    steps = -(-len(small_mnist.train) // BATCH)  # 6 batches an epoch, 1 validation batch
    model = fresh_cnn()
    with pytest.raises(TrainingDiverged) as info:
        fit(model, small_mnist, epochs=3, batch_size=BATCH, loss_fn=nan_after(steps + 1 + 2),
            checkpoint=path, progress=False)  # fmt: skip
    message = str(info.value)
    assert "Epoch 2" in message and "batch 3" in message, message
    assert "learning rate" in message and str(path) in message
    saved = torch.load(path, weights_only=True)
    assert len(saved["history"]["train_loss"]) == 1, "the NaN epoch was not saved"
    assert all(torch.isfinite(t).all() for t in saved["model_state"].values())


def test_a_learning_rate_that_blows_up_stops_training(small_mnist, tmp_path):
    model = fresh_cnn()
    with pytest.raises(TrainingDiverged, match="Epoch 1: the training loss became"):
        fit(model, small_mnist, epochs=2, batch_size=BATCH, checkpoint=tmp_path / "run.pt", progress=False,
            optimizer=torch.optim.SGD(model.parameters(), lr=1e12))  # fmt: skip
    assert not (tmp_path / "run.pt").exists()


def test_a_loss_that_explodes_but_stays_finite_stops_training(small_mnist):
    """Adam with lr=1e3 reaches losses near 1e22 in its first epoch without ever becoming NaN."""
    model = fresh_cnn()
    with pytest.raises(TrainingDiverged, match=r"Epoch 1: the training loss became \d.*e\+\d+ at batch"):
        fit(model, small_mnist, epochs=2, batch_size=BATCH, lr=1e3, progress=False)


def test_train_epoch_stops_at_the_first_nan_batch(small_mnist):
    model = SoftmaxRegression()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = copy.deepcopy(model)
    with pytest.raises(TrainingDiverged, match="batch 1"):
        train_epoch(model, small_mnist.train, optimizer, batch_size=BATCH,
                    generator=torch.Generator().manual_seed(0), loss_fn=nan_after(0))  # fmt: skip
    assert_same_parameters(model, before)  # on the CPU it stops before the step


# --------------------------------------------------------------------------- checkpoints are not lost


def test_an_existing_checkpoint_is_never_replaced_unless_asked(small_mnist, tmp_path):
    path = tmp_path / "best.pt"
    fit(fresh_cnn(), small_mnist, epochs=2, batch_size=BATCH, checkpoint=path, progress=False)
    good = path.read_bytes()
    with pytest.raises(CheckpointError) as info:
        fit(fresh_cnn(1), small_mnist, epochs=1, lr=50.0, batch_size=BATCH, checkpoint=path, progress=False)
    message = str(info.value)
    assert "2 epoch(s) of a ClassicCNN" in message
    assert "resume=True" in message and "overwrite=True" in message
    assert path.read_bytes() == good
    history = fit(fresh_cnn(1), small_mnist, epochs=1, batch_size=BATCH, checkpoint=path, overwrite=True,
                  progress=False)  # fmt: skip
    assert torch.load(path, weights_only=True)["history"] == history.as_dict()


def test_any_file_at_the_checkpoint_path_is_kept(small_mnist, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("my notes")
    with pytest.raises(CheckpointError, match="a file fit did not write"):
        fit(SoftmaxRegression(), small_mnist, epochs=1, batch_size=BATCH, checkpoint=path, progress=False)
    assert path.read_text() == "my notes"


def _first_epoch(small_mnist, path, model=None, **settings):
    arguments = dict(epochs=1, batch_size=BATCH, seed=1, checkpoint=path, progress=False)
    fit(model or fresh_cnn(), small_mnist, **{**arguments, **settings})


@pytest.mark.parametrize(
    "changed, words",
    [
        (dict(batch_size=8), "batch_size: 64 in the checkpoint, 8 now"),
        (dict(seed=99), "seed: 1 in the checkpoint, 99 now"),
        (dict(lr=1e-2), "optimizer settings"),
        (dict(clip_grad_norm=1.0), "clip_grad_norm"),
        (dict(augment=lambda x: x), "augment"),
    ],
)
def test_resuming_with_other_settings_is_refused_not_silently_replaced(small_mnist, tmp_path, changed, words):
    path = tmp_path / "run.pt"
    _first_epoch(small_mnist, path)
    saved = path.read_bytes()
    model = fresh_cnn(5)
    before = copy.deepcopy(model)
    arguments = dict(epochs=2, batch_size=BATCH, seed=1, checkpoint=path, resume=True, progress=False)
    with pytest.raises(CheckpointError, match=re.escape(words)):
        fit(model, small_mnist, **{**arguments, **changed})
    assert_same_parameters(model, before)
    assert path.read_bytes() == saved


def test_resuming_with_another_optimizer_type_names_both(small_mnist, tmp_path):
    path = tmp_path / "run.pt"
    model = fresh_cnn()
    sgd = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    _first_epoch(small_mnist, path, model, optimizer=sgd)
    with pytest.raises(CheckpointError, match="optimizer: 'SGD' in the checkpoint, 'Adam' now"):
        fit(fresh_cnn(), small_mnist, epochs=2, batch_size=BATCH, seed=1, checkpoint=path, resume=True,
            progress=False)  # fmt: skip
    other = fresh_cnn()
    with pytest.raises(CheckpointError, match="SGD optimizer, but you passed a Adam"):
        load_checkpoint(path, other, torch.optim.Adam(other.parameters()))


def test_resume_with_fewer_epochs_than_the_checkpoint_is_refused(small_mnist, tmp_path):
    path = tmp_path / "run.pt"
    fit(fresh_cnn(), small_mnist, epochs=2, batch_size=BATCH, checkpoint=path, progress=False)
    for epochs in (1, 0):
        model = fresh_cnn(5)
        before = copy.deepcopy(model)
        with pytest.raises(CheckpointError, match=f"2 epochs, more than epochs={epochs}"):
            fit(model, small_mnist, epochs=epochs, batch_size=BATCH, checkpoint=path, resume=True,
                progress=False)  # fmt: skip
        assert_same_parameters(model, before)


def test_resuming_from_a_save_checkpoint_file_says_how_to_use_it(small_mnist, tmp_path):
    path = save_checkpoint(tmp_path / "weights.pt", fresh_cnn(), history=History())
    with pytest.raises(CheckpointError, match="written by save_checkpoint.*load_checkpoint"):
        fit(
            fresh_cnn(), small_mnist, epochs=1, batch_size=BATCH, checkpoint=path, resume=True, progress=False
        )


def test_an_incomplete_checkpoint_names_what_is_missing(tmp_path):
    path = tmp_path / "odd.pt"
    torch.save({"format": CHECKPOINT_FORMAT}, path)
    with pytest.raises(CheckpointError, match="no model_class, signature, model_state"):
        load_checkpoint(path, fresh_cnn())


def test_tensors_of_other_shapes_under_the_right_signature_are_a_checkpoint_error(tmp_path):
    path = save_checkpoint(tmp_path / "cnn.pt", fresh_cnn())
    payload = torch.load(path, weights_only=True)
    payload["model_state"]["classifier.3.bias"] = torch.zeros(3)
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_checkpoint(path, fresh_cnn())


def test_a_model_without_parameters_saves_and_loads(tmp_path):
    path = save_checkpoint(tmp_path / "flat.pt", torch.nn.Flatten())
    assert load_checkpoint(path, torch.nn.Flatten())["model_class"] == "Flatten"


def test_saving_over_a_killed_save_leaves_no_temp_file(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / f".run.pt.{dead.pid}.x1y2z3.tmp").write_bytes(b"half a checkpoint")
    save_checkpoint(folder / "run.pt", SoftmaxRegression())
    assert files_in(folder) == ["run.pt"]


def test_on_a_gpu_the_first_bad_batch_is_reported_at_the_end_of_the_epoch():
    """The GPU path reads the flag once per epoch; run it on the CPU by switching at_once off."""
    from course_lib.train import _Tally

    tally = _Tally(torch.device("cpu"))
    tally.at_once = False
    logits, y = torch.zeros(4, 3), torch.zeros(4, dtype=torch.long)
    for loss in (1.0, 2.0, float("nan"), 1.0, float("inf")):
        tally.add(torch.tensor(loss), logits, y)
    with pytest.raises(TrainingDiverged, match="at batch 3"):
        tally.result()
    steady = _Tally(torch.device("cpu"))
    steady.at_once = False
    for loss in (2.0, 1.5, 0.5):
        steady.add(torch.tensor(loss), logits, y)
    assert steady.result().loss == pytest.approx(4 / 3)


def test_a_file_that_would_run_code_is_refused_without_advice_to_run_it(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'PWNED'}",))

    path = tmp_path / "evil.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "x": Payload()}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, SoftmaxRegression())
    message = str(info.value)
    assert "posix.system" in message or "nt.system" in message
    assert "weights_only" not in message
    assert not (tmp_path / "PWNED").exists()

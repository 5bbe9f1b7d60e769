"""A plain training loop: epochs of index-sliced batches, a history, atomic checkpoints.

Read it top to bottom: :func:`evaluate` runs a model over a split, :func:`train_epoch` is one
pass of gradient descent, and :func:`fit` repeats them (train an epoch, validate, save a
checkpoint with :mod:`course_lib.checkpoints`) and can resume from its checkpoint,
continuing exactly where it stopped.
Explained in book/mnist_project.md, "Training".
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ._book import on_static_site
from ._require import require_bool, require_int, require_optimizer_of, require_positive
from .checkpoints import (  # noqa: F401 (re-exported: chapters import them from course_lib.train)
    CHECKPOINT_FORMAT,
    CheckpointError,
    load_checkpoint,
    model_device,
    model_signature,
    read_checkpoint,
    restore_checkpoint,
    save_checkpoint,
)
from .data import ImageData, Split, batches
from .metrics import eval_mode


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN, infinite or exploded; the message says where and what to try.

    Explained in book/mnist_project.md, "Training".
    """


class Evaluation(NamedTuple):
    """Mean loss and accuracy over a split: ``loss, acc = evaluate(...)`` or ``.accuracy``."""

    loss: float
    accuracy: float


@dataclass
class History:
    """Per-epoch training and validation loss and accuracy (book/mnist_project.md, "Training").

    The validation lists stay empty when :func:`fit` runs without a validation split.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def as_dict(self) -> dict:
        return asdict(self)

    def record(self, train: Evaluation, val: Evaluation | None, seconds: float) -> None:
        """Append one epoch's results."""
        self.train_loss.append(train.loss)
        self.train_acc.append(train.accuracy)
        if val is not None:
            self.val_loss.append(val.loss)
            self.val_acc.append(val.accuracy)
        self.seconds.append(seconds)

    def table(self) -> str:
        """The history as a small fixed-width table, one row per epoch."""
        has_val = len(self.val_loss) == self.epochs > 0
        header = f"{'epoch':>5} {'train loss':>10} {'train acc':>9}"
        rows = [header + (f" {'val loss':>9} {'val acc':>8}" if has_val else "") + f" {'s':>6}"]
        for i in range(self.epochs):
            val = f" {self.val_loss[i]:>9.4f} {self.val_acc[i]:>8.4f}" if has_val else ""
            train = f"{self.train_loss[i]:>10.4f} {self.train_acc[i]:>9.4f}"
            rows.append(f"{i + 1:>5} {train}{val} {self.seconds[i]:>6.1f}")
        return "\n".join(rows)


def _autocast(device: torch.device, enabled: bool):
    """bfloat16 autocast on CUDA when asked for; a no-op elsewhere (the CPU runs float32)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def as_split(value, name: str = "split") -> Split:
    """A :class:`Split` from a Split or a pair of tensors ``(x, y)``."""
    if isinstance(value, Split):
        return value
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return Split(*value)
    raise TypeError(f"{name} must be a Split or a pair of tensors (x, y), got {type(value).__name__}.")


@torch.no_grad()
def evaluate(
    model: nn.Module,
    split,
    batch_size: int = 1000,
    *,
    mixed_precision: bool = False,
    loss_fn=F.cross_entropy,
) -> Evaluation:
    """Mean loss and accuracy of ``model`` on ``split`` (a Split or ``(x, y)``), in eval mode.

    The model's train/eval mode is restored afterwards.
    Explained in book/mnist_project.md, "A baseline: softmax regression".
    """
    split = as_split(split)
    if len(split) == 0:
        raise ValueError("evaluate needs at least one example, but the split is empty.")
    device = split.x.device
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    with eval_mode(model):
        for idx in batches(len(split), batch_size, shuffle=False, device=device):
            with _autocast(device, mixed_precision):
                logits = model(split.x[idx])
            total_loss += loss_fn(logits.float(), split.y[idx], reduction="sum")
            correct += (logits.argmax(1) == split.y[idx]).sum()
    return Evaluation(total_loss.item() / len(split), correct.item() / len(split))


BLOW_UP = 1e6  # a batch loss this many times the epoch's first (at least 1e-3) means divergence


class _Tally:
    """An epoch's running loss and accuracy, kept on the device, and the first bad batch.

    A batch is bad when its loss is NaN or infinite, or :data:`BLOW_UP` times the epoch's
    first loss (as with a learning rate far too large for Adam, which stays finite for long).
    On the CPU a bad batch stops the epoch at once (reading a CPU value is free); on a GPU it
    is read once at the end, so the loop never waits for the device.
    """

    def __init__(self, device: torch.device):
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device, dtype=torch.long)
        self.first_bad = torch.full((), -1, device=device, dtype=torch.long)
        self.count, self.batches, self.at_once, self.scale = 0, 0, device.type == "cpu", None

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        self.batches += 1
        size = loss.detach().abs()
        if self.scale is None:
            self.scale = BLOW_UP * size.clamp_min(1e-3)
        good = torch.isfinite(size) & (size <= self.scale)
        if self.at_once and not good:
            raise TrainingDiverged(f"the training loss became {loss.item():.3g} at batch {self.batches}")
        self.first_bad = torch.where(good | (self.first_bad >= 0), self.first_bad, self.batches)
        self.loss += loss.detach() * len(y)
        self.correct += (logits.detach().argmax(1) == y).sum()
        self.count += len(y)

    def result(self) -> Evaluation:
        first_bad = int(self.first_bad)
        if first_bad >= 0:
            raise TrainingDiverged(f"the training loss became NaN, infinite or huge at batch {first_bad}")
        return Evaluation(self.loss.item() / self.count, self.correct.item() / self.count)


def train_epoch(
    model,
    split: Split,
    optimizer,
    *,
    batch_size: int,
    generator: torch.Generator,
    loss_fn=F.cross_entropy,
    mixed_precision: bool = False,
    clip_grad_norm: float | None = None,
    augment=None,
    progress=None,
) -> Evaluation:
    """One pass over ``split`` in shuffled batches; returns mean training loss and accuracy.

    ``augment``, if given, maps each input batch to a new one (random shifts, say) before
    the forward pass. A NaN, infinite or exploding loss raises :class:`TrainingDiverged`.
    Explained in book/mnist_project.md, "Training".
    """
    model.train()
    device = split.x.device
    tally = _Tally(device)
    for idx in batches(len(split), batch_size, shuffle=True, generator=generator, device=device):
        x, y = split.x[idx], split.y[idx]
        if augment is not None:
            x = augment(x)
        with _autocast(device, mixed_precision):
            logits = model(x)
        loss = loss_fn(logits.float(), y)
        tally.add(loss, logits, y)  # running sums on the device; stops on a diverging loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        if progress is not None:
            progress.update(1)
    return tally.result()


def fit(
    model: nn.Module,
    data,
    val=None,
    *,
    epochs: int,
    batch_size: int,
    optimizer=None,
    lr: float = 1e-3,
    loss_fn=F.cross_entropy,
    seed: int = 0,
    mixed_precision: bool = False,
    clip_grad_norm: float | None = None,
    augment=None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` epochs, validating after each one: the loop of
    :func:`train_epoch`, :func:`evaluate` and a checkpoint.

    ``data`` is the course's ImageData (its ``train`` and ``val`` splits), or a training
    Split or ``(x, y)`` pair with ``val`` another (or None: no validation). ``optimizer``
    defaults to Adam with learning rate ``lr``. ``seed`` seeds the shuffling of batches; the
    initial weights are whatever the model was built with (call ``seed_everything`` before
    building it for a run that repeats exactly).

    With ``checkpoint``, the run is saved atomically after every epoch; a file already there
    is never replaced unless ``overwrite=True``. With ``resume=True`` the run continues from
    that file (``epochs`` is the total) with the same settings, and the result is the same as
    one uninterrupted run; other settings than the checkpoint's are refused.
    Explained in book/mnist_project.md, "A baseline: softmax regression" and "Training".
    """
    train, val = _splits(data, val)
    run = _Run.check(model, train, optimizer, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed,
                     loss_fn=loss_fn, mixed_precision=mixed_precision, clip_grad_norm=clip_grad_norm,
                     augment=augment)  # fmt: skip
    history = _start(checkpoint, resume, overwrite, model, run)
    bar = _progress_bar(progress, epochs - history.epochs, -(-len(train) // batch_size))
    for epoch in range(history.epochs, epochs):
        start = time.perf_counter()
        with _stop_on_nan(epoch, checkpoint, history, bar):
            scores = train_epoch(model, train, run.optimizer, generator=run.generator, progress=bar,
                                 **run.epoch_settings)  # fmt: skip
        checked = None if val is None else evaluate(model, val, **run.eval_settings)
        history.record(scores, checked, time.perf_counter() - start)
        if checkpoint is not None:
            _save_run(checkpoint, model, history, run)
        _show(bar, history)
    bar.close()
    return history


# ----------------------------------------------------------------- fit's plumbing


def _splits(data, val) -> tuple[Split, Split | None]:
    """(training split, validation split or None) from ImageData, Splits or (x, y) pairs."""
    if isinstance(data, ImageData) or (hasattr(data, "train") and hasattr(data, "val")):
        train, val = data.train, data.val if val is None else as_split(val, "val")
    else:
        train, val = as_split(data, "data"), None if val is None else as_split(val, "val")
    if len(train) == 0:
        raise ValueError("the training split is empty: fit needs at least one example.")
    if val is not None and len(val) == 0:
        raise ValueError("the validation split is empty: pass val=None to train without one.")
    for name, split in (("training", train), ("validation", val)):
        if split is not None and split.x.is_floating_point() and not torch.isfinite(split.x).all():
            bad = (~torch.isfinite(split.x.flatten(1))).any(1).nonzero().flatten()
            raise ValueError(
                f"the {name} inputs hold NaN or infinite values (in {len(bad)} example(s), the first "
                f"at index {int(bad[0])}); the loss would be NaN. Fix or drop those examples."
            )
    return train, val


# Optimiser flags that choose an implementation, not the arithmetic: not compared on resume.
_IMPLEMENTATION_FLAGS = {"params", "foreach", "fused", "capturable", "differentiable"}


def _plain(value):
    """A hyper-parameter as a plain value that compares equal after a save and a load."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


@dataclass
class _Run:
    """A run's checked settings: the optimizer, the shuffling generator, train_epoch's keyword
    arguments, and the values stored in the checkpoint and compared on resume."""

    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    epochs: int
    epoch_settings: dict
    values: dict

    @property
    def eval_settings(self) -> dict:
        return {k: self.epoch_settings[k] for k in ("mixed_precision", "loss_fn")}

    @classmethod
    def check(cls, model, train, optimizer, *, lr, epochs, batch_size, seed, loss_fn, mixed_precision,
              clip_grad_norm, augment) -> _Run:  # fmt: skip
        epochs, batch_size = require_int("epochs", epochs, 0), require_int("batch_size", batch_size, 1)
        seed = require_int("seed", seed)
        require_bool("mixed_precision", mixed_precision)
        if clip_grad_norm is not None:
            clip_grad_norm = require_positive("clip_grad_norm", clip_grad_norm)
        if model_device(model) != train.x.device:
            raise ValueError(
                f"the model is on {model_device(model)} but the training data on {train.x.device}: "
                f"move one of them, e.g. model.to({str(train.x.device)!r})."
            )
        if optimizer is None:
            optimizer = torch.optim.Adam(model.parameters(), lr=require_positive("lr", lr))
        require_optimizer_of(optimizer, model)
        groups = [
            {k: _plain(v) for k, v in sorted(g.items()) if k not in _IMPLEMENTATION_FLAGS}
            for g in optimizer.param_groups
        ]
        values = {
            "optimizer": type(optimizer).__name__,
            "optimizer settings": groups,
            "batch_size": batch_size,
            "seed": seed,
            "loss_fn": getattr(loss_fn, "__name__", type(loss_fn).__name__),
            "clip_grad_norm": clip_grad_norm,
            "mixed_precision": mixed_precision,
            "augment": augment is not None,
        }
        epoch_settings = dict(batch_size=batch_size, loss_fn=loss_fn, mixed_precision=mixed_precision,
                              clip_grad_norm=clip_grad_norm, augment=augment)  # fmt: skip
        return cls(optimizer, torch.Generator().manual_seed(seed), epochs, epoch_settings, values)

    def differences(self, stored: dict) -> list[str]:
        return [
            f"{key}: {stored.get(key, 'not recorded')!r} in the checkpoint, {value!r} now"
            for key, value in self.values.items()
            if stored.get(key) != value
        ]


def _describe(path: Path) -> str:
    """A few words on what an existing checkpoint file holds, for error messages."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        epochs = len(payload["history"]["train_loss"])
        return f"{epochs} epoch(s) of a {payload['model_class']}"
    except Exception:  # any file at all: it is still not ours to replace
        return "a file fit did not write in this call"


def _start(checkpoint, resume, overwrite, model, run: _Run) -> History:
    """The history to continue: empty, or the checkpoint's after restoring it into the run."""
    require_bool("resume", resume)
    require_bool("overwrite", overwrite)
    if resume and overwrite:
        raise ValueError("resume=True continues the checkpoint and overwrite=True replaces it: choose one.")
    if checkpoint is None:
        return History()
    path = Path(checkpoint)
    if not path.exists():
        return History()
    if not resume:
        if overwrite:
            return History()
        raise CheckpointError(
            f"{path} already holds {_describe(path)}, which this run would replace after its first "
            "epoch. Pass resume=True to continue that run, overwrite=True to replace it, or "
            "choose another checkpoint path."
        )
    payload = read_checkpoint(path, model)
    missing = [k for k in ("history", "generator_state", "torch_rng_state") if k not in payload]
    if missing:
        raise CheckpointError(
            f"{path} holds weights but not a run fit can resume (no {', '.join(missing)}): it was "
            "written by save_checkpoint. Load it with load_checkpoint(path, model), then train "
            "with fit(...) and a new checkpoint path."
        )
    if "settings" not in payload:
        raise CheckpointError(
            f"{path} was written by an older course_lib that did not record the run's settings, "
            "so resuming cannot check them. Start a new run with overwrite=True."
        )
    differences = run.differences(payload["settings"])
    if differences:
        raise CheckpointError(
            f"resume=True continues {path} exactly, but this call differs from the run that wrote "
            f"it ({'; '.join(differences)}). Pass the checkpoint's settings, or start a new run "
            "with another checkpoint path (or overwrite=True)."
        )
    history = History(**payload["history"])
    if history.epochs > run.epochs:
        raise CheckpointError(
            f"{path} already holds {history.epochs} epochs, more than epochs={run.epochs} "
            "(epochs counts every epoch of the run, resumed ones included). Ask for at least "
            f"{history.epochs}, or load the weights with load_checkpoint."
        )
    restore_checkpoint(path, payload, model, run.optimizer)
    run.generator.set_state(payload["generator_state"].cpu())
    torch.set_rng_state(payload["torch_rng_state"].cpu())
    return history


def _progress_bar(progress: bool, epochs: int, steps: int):
    require_bool("progress", progress)
    return tqdm(
        total=max(epochs, 0) * steps,
        desc="training",
        unit="batch",
        disable=not progress or on_static_site() or epochs <= 0,
        mininterval=1.0,
    )


def _show(bar, history: History) -> None:
    shown = {"epoch": history.epochs, "train_loss": f"{history.train_loss[-1]:.3f}"}
    if history.val_acc:
        shown["val_acc"] = f"{history.val_acc[-1]:.3f}"
    bar.set_postfix(shown)


@contextlib.contextmanager
def _stop_on_nan(epoch: int, checkpoint, history: History, bar):
    """Turn train_epoch's TrainingDiverged into an error that names the epoch and what to try."""
    try:
        yield
    except TrainingDiverged as error:
        bar.close()
        kept = "No checkpoint was written for this epoch"
        if checkpoint is not None and history.epochs:
            kept += f"; {checkpoint} still holds the {history.epochs} epoch(s) before it"
        raise TrainingDiverged(
            f"Epoch {epoch + 1}: {error}. {kept}, and the model's weights are no longer usable. "
            "Try a smaller learning rate (lr), clip_grad_norm=1.0, or look for NaN or infinite "
            "inputs and targets."
        ) from None


def _save_run(path, model, history: History, run: _Run) -> None:
    save_checkpoint(
        path,
        model,
        run.optimizer,
        history=history,
        generator_state=run.generator.get_state(),
        torch_rng_state=torch.get_rng_state(),
        settings=run.values,
    )

"""A plain training loop: epochs of index-sliced batches, a history, atomic checkpoints.

Read it top to bottom: :func:`evaluate` runs a model over a split, :func:`train_epoch` is one
pass of gradient descent, :func:`fit` repeats it with validation, progress, and (optionally)
a checkpoint after every epoch that :func:`fit` can resume from, continuing exactly where it
stopped. Explained in the MNIST project chapter.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ._book import on_static_site
from .data import ImageData, Split, atomic_write_bytes, batches

CHECKPOINT_FORMAT = "course_lib.checkpoint/1"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or belongs to a different model.

    Explained in the MNIST project chapter.
    """


@dataclass
class History:
    """Per-epoch training and validation loss and accuracy (MNIST project, "Training")."""

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

    def table(self) -> str:
        """The history as a small fixed-width table, one row per epoch."""
        rows = [f"{'epoch':>5} {'train loss':>10} {'train acc':>9} {'val loss':>9} {'val acc':>8} {'s':>6}"]
        for i in range(self.epochs):
            rows.append(
                f"{i + 1:>5} {self.train_loss[i]:>10.4f} {self.train_acc[i]:>9.4f} "
                f"{self.val_loss[i]:>9.4f} {self.val_acc[i]:>8.4f} {self.seconds[i]:>6.1f}"
            )
        return "\n".join(rows)


def _autocast(device: torch.device, enabled: bool):
    """bfloat16 autocast on CUDA when asked for; a no-op elsewhere (the CPU runs float32)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    split: Split,
    batch_size: int = 1000,
    *,
    mixed_precision: bool = False,
    loss_fn=F.cross_entropy,
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``split``, in eval mode (MNIST project)."""
    model.eval()
    device = split.x.device
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for idx in batches(len(split), batch_size, shuffle=False, device=device):
        with _autocast(device, mixed_precision):
            logits = model(split.x[idx])
        total_loss += loss_fn(logits.float(), split.y[idx], reduction="sum")
        correct += (logits.argmax(1) == split.y[idx]).sum()
    return total_loss.item() / len(split), correct.item() / len(split)


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
) -> tuple[float, float]:
    """One pass over ``split`` in shuffled batches; returns mean training loss and accuracy.

    ``augment``, if given, maps each input batch to a new one (random shifts, say) before
    the forward pass; it is applied to training batches only.

    Explained in the MNIST project chapter.
    """
    model.train()
    device = split.x.device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for idx in batches(len(split), batch_size, shuffle=True, generator=generator, device=device):
        x, y = split.x[idx], split.y[idx]
        if augment is not None:
            x = augment(x)
        with _autocast(device, mixed_precision):
            logits = model(x)
        loss = loss_fn(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        # Accumulate on the device: one .item() per epoch, not per batch, keeps a GPU busy.
        loss_sum += loss.detach() * len(idx)
        correct += (logits.detach().argmax(1) == y).sum()
        if progress is not None:
            progress.update(1)
    return loss_sum.item() / len(split), correct.item() / len(split)


def fit(
    model: nn.Module,
    data: ImageData,
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
    progress: bool = True,
) -> History:
    """Train ``model`` on ``data.train`` for ``epochs`` epochs, validating after each one.

    ``optimizer`` defaults to Adam with learning rate ``lr``. With ``checkpoint`` set, the
    model, optimizer, history and shuffling state are saved (atomically) after every epoch;
    with ``resume=True`` as well, training continues from that file, and the result is the
    same as one uninterrupted run. ``epochs`` is the total, including resumed ones.
    ``mixed_precision`` uses bfloat16 autocast on CUDA and is ignored on other devices;
    ``augment`` transforms each training batch (see :func:`train_epoch`).
    Explained in the MNIST project chapter.
    """
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs} and {batch_size}")
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = History()
    if resume and checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, model, optimizer)
        history = History(**state["history"])
        generator.set_state(state["generator_state"].cpu())
        torch.set_rng_state(state["torch_rng_state"].cpu())
    steps = -(-len(data.train) // batch_size)
    bar = tqdm(
        total=(epochs - history.epochs) * steps,
        desc="training",
        unit="batch",
        disable=not progress or on_static_site() or epochs <= history.epochs,
        mininterval=1.0,
    )
    for _ in range(history.epochs, epochs):
        start = time.perf_counter()
        train_loss, train_acc = train_epoch(
            model,
            data.train,
            optimizer,
            batch_size=batch_size,
            generator=generator,
            loss_fn=loss_fn,
            mixed_precision=mixed_precision,
            clip_grad_norm=clip_grad_norm,
            augment=augment,
            progress=bar,
        )
        val_loss, val_acc = evaluate(model, data.val, mixed_precision=mixed_precision, loss_fn=loss_fn)
        for name, value in (
            ("train_loss", train_loss),
            ("train_acc", train_acc),
            ("val_loss", val_loss),
            ("val_acc", val_acc),
            ("seconds", time.perf_counter() - start),
        ):
            getattr(history, name).append(value)
        bar.set_postfix(epoch=history.epochs, train_loss=f"{train_loss:.3f}", val_acc=f"{val_acc:.3f}")
        if checkpoint is not None:
            save_checkpoint(
                checkpoint,
                model,
                optimizer,
                history=history,
                generator_state=generator.get_state(),
                torch_rng_state=torch.get_rng_state(),
            )
    bar.close()
    return history


def model_signature(model: nn.Module) -> dict[str, list[int]]:
    """Parameter and buffer names with their shapes: what must match to load a checkpoint.

    Explained in the MNIST project chapter.
    """
    return {name: list(t.shape) for name, t in model.state_dict().items()}


def _shape(value) -> str:
    return "absent" if value is None else str(tuple(value))


def save_checkpoint(path: str | Path, model: nn.Module, optimizer=None, **extra) -> Path:
    """Save model (and optimizer) state to ``path`` atomically: temp file, then rename.

    ``extra`` holds plain values (a History is stored as a dict). Reload with
    :func:`load_checkpoint`. Explained in the MNIST project chapter, "Save and reload".
    """
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model_class": type(model).__name__,
        "signature": model_signature(model),
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
    }
    for key, value in extra.items():
        payload[key] = value.as_dict() if isinstance(value, History) else value
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def load_checkpoint(path: str | Path, model: nn.Module, optimizer=None, map_location=None) -> dict:
    """Load a checkpoint saved by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    Uses ``torch.load(weights_only=True)``, so a checkpoint cannot run code. A checkpoint of
    a different model raises :class:`CheckpointError` naming both models and the first
    mismatching tensor. Returns the whole payload (history, RNG states, ...).

    Explained in the MNIST project chapter.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"No checkpoint at {path}. Train with fit(..., checkpoint='{path}') first.")
    if map_location is None:
        map_location = next(model.parameters()).device
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path} is not a readable course_lib checkpoint: {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a course_lib checkpoint (expected format {CHECKPOINT_FORMAT}).")
    expected, found = model_signature(model), payload["signature"]
    if payload["model_class"] != type(model).__name__ or expected != found:
        diff = next(
            (
                f"{k} is {_shape(found.get(k))} in the checkpoint, {_shape(expected.get(k))} in the model"
                for k in sorted(set(expected) | set(found))
                if expected.get(k) != found.get(k)
            ),
            "same tensors, different class",
        )
        raise CheckpointError(
            f"{path} holds a {payload['model_class']} but you are loading it into a "
            f"{type(model).__name__} ({diff}). Build the same model the checkpoint was saved from."
        )
    model.load_state_dict(payload["model_state"])
    if optimizer is not None and payload.get("optimizer_state") is not None:
        optimizer.load_state_dict(payload["optimizer_state"])
    return payload

"""Checkpoints: a model's (and optimizer's) state saved atomically and loaded safely.

:func:`save_checkpoint` writes through a temporary file and a rename, so an interrupted save
never leaves half a file; :func:`load_checkpoint` uses ``torch.load(weights_only=True)``, so a
file cannot run code, and refuses a checkpoint of another model or optimizer with a message
that names both. :func:`course_lib.train.fit` saves its runs with these.
Explained in book/mnist_project.md, "Save, reload, predict the same".
"""

from __future__ import annotations

import io
import itertools
import pickle
from pathlib import Path

import torch
from torch import nn

from .data import atomic_write_bytes, remove_orphan_temp_files

CHECKPOINT_FORMAT = "course_lib.checkpoint/1"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, belongs to another model or to another run.

    Explained in book/mnist_project.md, "Save, reload, predict the same".
    """


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's first parameter or buffer; the CPU for a model with neither."""
    first = next(itertools.chain(model.parameters(), model.buffers()), None)
    return torch.device("cpu") if first is None else first.device


def model_signature(model: nn.Module) -> dict[str, list[int]]:
    """Parameter and buffer names with their shapes: what must match to load a checkpoint.

    Explained in book/mnist_project.md, "Save, reload, predict the same".
    """
    return {name: list(t.shape) for name, t in model.state_dict().items()}


def _shape(value) -> str:
    return "absent" if value is None else str(tuple(value))


def save_checkpoint(path: str | Path, model: nn.Module, optimizer=None, **extra) -> Path:
    """Save model (and optimizer) state to ``path`` atomically: temp file, then rename.

    Replaces a file already at ``path``, as ``torch.save`` does (:func:`course_lib.train.fit` does not).
    ``extra`` holds plain values (a History is stored as a dict). Reload with
    :func:`load_checkpoint`. Explained in book/mnist_project.md, "Save, reload, predict the same".
    """
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model_class": type(model).__name__,
        "signature": model_signature(model),
        "model_state": model.state_dict(),
        "optimizer_class": type(optimizer).__name__ if optimizer is not None else None,
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
    }
    for key, value in extra.items():
        payload[key] = value.as_dict() if hasattr(value, "as_dict") else value  # a History
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


_REQUIRED = ("format", "model_class", "signature", "model_state")


def read_checkpoint(path: Path, model: nn.Module, map_location=None) -> dict:
    """The checked payload of a checkpoint for ``model``; nothing is loaded into it yet.

    Raises :class:`CheckpointError` for a missing, unreadable or incomplete file, and for a
    checkpoint of another model (naming both and the first tensor that differs).
    """
    if not path.exists():
        raise CheckpointError(f"No checkpoint at {path}. Train with fit(..., checkpoint='{path}') first.")
    remove_orphan_temp_files(path)
    try:
        payload = torch.load(path, map_location=map_location or model_device(model), weights_only=True)
    except pickle.UnpicklingError as error:  # torch's advice to turn weights_only off is not ours
        refused = next((line for line in str(error).splitlines() if "GLOBAL" in line), "").strip()
        raise CheckpointError(
            f"{path} holds Python objects besides tensors and plain values ({refused or 'refused'}), "
            "so save_checkpoint did not write it, and loading it could run code. Load only "
            "checkpoints you made, or that come from a source you trust."
        ) from error
    except Exception as error:
        reason = str(error).split("\n")[0] or type(error).__name__
        raise CheckpointError(
            f"{path} is not a readable course_lib checkpoint ({reason}). If it was cut short, "
            "train again or use an earlier copy."
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a course_lib checkpoint (expected format {CHECKPOINT_FORMAT}).")
    missing = [key for key in _REQUIRED if key not in payload]
    if missing:
        raise CheckpointError(f"{path} is an incomplete checkpoint: it has no {', '.join(missing)}.")
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
    return payload


def restore_checkpoint(path: Path, payload: dict, model: nn.Module, optimizer) -> None:
    """Load a payload from :func:`read_checkpoint` into ``model`` and ``optimizer``.

    An optimizer of another type, or state that does not fit, is a :class:`CheckpointError`.
    """
    saved_optimizer = payload.get("optimizer_class")
    if optimizer is not None and saved_optimizer not in (None, type(optimizer).__name__):
        raise CheckpointError(
            f"{path} holds the state of a {saved_optimizer} optimizer, but you passed a "
            f"{type(optimizer).__name__}. Use the same optimizer type, or leave the optimizer out."
        )
    try:
        model.load_state_dict(payload["model_state"])
        if optimizer is not None and payload.get("optimizer_state") is not None:
            optimizer.load_state_dict(payload["optimizer_state"])
    except (RuntimeError, ValueError, KeyError) as error:
        reason = str(error).split("\n")[0]
        raise CheckpointError(f"{path} does not fit this model or optimizer: {reason}") from error


def load_checkpoint(path: str | Path, model: nn.Module, optimizer=None, map_location=None) -> dict:
    """Load a checkpoint saved by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    Uses ``torch.load(weights_only=True)``, so a checkpoint cannot run code. A checkpoint of
    a different model raises :class:`CheckpointError` naming both models and the first
    mismatching tensor. Returns the whole payload (history, RNG states, ...).
    Explained in book/mnist_project.md, "Save, reload, predict the same".
    """
    path = Path(path)
    payload = read_checkpoint(path, model, map_location)
    restore_checkpoint(path, payload, model, optimizer)
    return payload

"""Profiles, devices and seeds: the three things every chapter sets up first.

A *profile* is the time budget a notebook runs under (see the setup page):

* ``ci``  -- CI and nbval on two CPU cores: about a minute a chapter, proves the code path.
* ``cpu`` -- a laptop: up to ten minutes a chapter, results a reader can learn from.
* ``gpu`` -- Colab or a GPU box: a few minutes on one modern GPU, full-quality results.

The environment variable ``COURSE_PROFILE`` picks one; unset, it is ``gpu`` when CUDA or
MPS is available and ``cpu`` otherwise. Every size that costs time (epochs, samples, hidden
sizes) comes from the profile, never from a literal in a notebook cell.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch

PROFILE_NAMES = ("ci", "cpu", "gpu")


@dataclass(frozen=True)
class Profile:
    """The budget a chapter runs under (setup page, "Profiles").

    ``data`` is ``"sample"`` (always use the committed MNIST sample) or ``"auto"`` (full
    data set when it is on disk or can be downloaded, else the sample, said loudly).
    ``train_limit`` caps the number of training examples (``None``: all of them).
    ``cell_timeout`` is how many seconds any one notebook cell may run before the book
    build, nbval or ``make notebooks`` stops it and names it, so a hang fails fast.
    """

    name: str
    data: str
    epochs: int
    batch_size: int
    train_limit: int | None
    val_size: int
    mixed_precision: bool
    cell_timeout: int = 120


PROFILES = {
    "ci": Profile(
        "ci",
        data="sample",
        epochs=3,
        batch_size=64,
        train_limit=None,
        val_size=500,
        mixed_precision=False,
        cell_timeout=120,
    ),
    "cpu": Profile(
        "cpu",
        data="auto",
        epochs=12,
        batch_size=64,
        train_limit=20_000,
        val_size=500,
        mixed_precision=False,
        cell_timeout=900,
    ),
    # bfloat16 autocast made the small MNIST CNN slower on an H100 (its kernels are launch-bound),
    # so the gpu profile trains in float32; fit(mixed_precision=True) stays available for big models.
    "gpu": Profile(
        "gpu",
        data="auto",
        epochs=15,
        batch_size=128,
        train_limit=None,
        val_size=5_000,
        mixed_precision=False,
        cell_timeout=600,
    ),
}


def accelerator_available() -> bool:
    """True when CUDA or Apple's MPS can run tensors (setup page)."""
    return torch.cuda.is_available() or (hasattr(torch.backends, "mps") and torch.backends.mps.is_available())


def get_profile(name: str | None = None) -> Profile:
    """Return the profile named ``name``, else ``$COURSE_PROFILE``, else the automatic one.

    Defined on the setup page; every chapter calls it in its first cell.
    """
    if name is None:
        name = os.environ.get("COURSE_PROFILE", "").strip()
    if not name:
        name = "gpu" if accelerator_available() else "cpu"
    key = name.lower()
    if key not in PROFILES:
        raise ValueError(
            f"Unknown course profile {name!r}. Set COURSE_PROFILE to one of "
            f"{', '.join(PROFILE_NAMES)} (for example `export COURSE_PROFILE=cpu`), "
            "or unset it to choose automatically."
        )
    return PROFILES[key]


def get_device(prefer: str | None = None) -> torch.device:
    """The one device helper of the course: CUDA, then MPS, then CPU (setup page).

    ``prefer`` (or ``$COURSE_DEVICE``) forces a device such as ``"cpu"`` or ``"cuda:1"``.
    """
    prefer = prefer or os.environ.get("COURSE_DEVICE") or None
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a CPU generator for data shuffling.

    On the CPU the same seed gives bit-for-bit the same run (MNIST project chapter,
    "Save, reload, predict the same"). With ``deterministic`` (the default) cuDNN is also
    told to pick deterministic convolution algorithms, so GPU runs repeat too; pass
    ``deterministic=False`` to let cuDNN choose the fastest ones instead.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def banner(profile: Profile, device: torch.device, data_description: str) -> str:
    """The one-line banner each notebook prints first: profile, device, torch, data set.

    Explained on the setup page; printed first by every chapter.
    """
    name = str(device)
    if device.type == "cuda":
        name = f"{device} ({torch.cuda.get_device_name(device)})"
    return f"profile={profile.name} | device={name} | torch {torch.__version__} | data: {data_description}"

"""Profiles, devices and seeds: the three things every chapter sets up first.

A *profile* is the time budget a notebook runs under (book/setup.md, "Profiles: one
notebook, three budgets"):

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

from ._require import require_bool, require_int, require_positive

PROFILE_NAMES = ("ci", "cpu", "gpu")
DATA_CHOICES = ("sample", "auto", "full")


@dataclass(frozen=True)
class Profile:
    """The budget a chapter runs under (book/setup.md, "Profiles: one notebook, three budgets").

    ``data`` is ``"sample"`` (always use the committed MNIST sample), ``"auto"`` (full
    data set when it is on disk or can be downloaded, else the sample, said loudly) or
    ``"full"`` (the full set or an error).
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

    def __post_init__(self):
        where = f"Profile {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a Profile needs a name such as 'ci', got {self.name!r}.")
        if self.data not in DATA_CHOICES:
            raise ValueError(f"{where}: data must be one of {', '.join(DATA_CHOICES)}, got {self.data!r}.")
        require_int(f"{where}: epochs", self.epochs, 1)
        require_int(f"{where}: batch_size", self.batch_size, 1)
        if self.train_limit is not None:
            require_int(f"{where}: train_limit (None for all examples)", self.train_limit, 1)
        require_int(f"{where}: val_size", self.val_size, 1)
        require_bool(f"{where}: mixed_precision", self.mixed_precision)
        require_positive(f"{where}: cell_timeout", self.cell_timeout)


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
    """True when CUDA or Apple's MPS can run tensors: then the automatic profile is ``gpu``."""
    return torch.cuda.is_available() or (hasattr(torch.backends, "mps") and torch.backends.mps.is_available())


def get_profile(name: str | Profile | None = None) -> Profile:
    """Return the profile named ``name``, else ``$COURSE_PROFILE``, else the automatic one.

    A :class:`Profile` passed in is returned as it is. Explained in book/setup.md,
    "Profiles: one notebook, three budgets".
    """
    if isinstance(name, Profile):
        return name
    setting = "the profile name"
    if name is None:
        name, setting = os.environ.get("COURSE_PROFILE", ""), "COURSE_PROFILE"
    if not isinstance(name, str):
        raise TypeError(
            f"get_profile expects a profile name such as 'ci' (or a Profile), "
            f"got {type(name).__name__} {name!r}."
        )
    key = name.strip().lower() or ("gpu" if accelerator_available() else "cpu")
    if key not in PROFILES:
        raise ValueError(
            f"Unknown course profile {name!r} ({setting}). Set COURSE_PROFILE to one of "
            f"{', '.join(PROFILE_NAMES)} (for example `export COURSE_PROFILE=cpu`), "
            "or unset it to choose automatically."
        )
    return PROFILES[key]


def _best_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _missing_device(device: torch.device) -> str | None:
    """Why ``device`` cannot run tensors on this machine, or None when it can."""
    if device.type == "cpu":
        return None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "CUDA is not available on this machine"
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            return f"this machine has {count} CUDA device(s), numbered from 0"
        return None
    if device.type == "mps":
        available = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
        return None if available else "Apple's MPS is not available on this machine"
    backend = getattr(torch, device.type, None)
    if backend is not None and hasattr(backend, "is_available") and backend.is_available():
        return None
    return f"{device.type} is not available here (the course computes on cpu, cuda or mps)"


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """The one device helper of the course: CUDA, then MPS, then CPU.

    ``prefer`` (or ``$COURSE_DEVICE``) forces a device such as ``"cpu"``, ``"cuda:1"``,
    ``"mps"`` or ``"gpu"`` (whichever accelerator there is); a device this machine does not
    have is refused. Explained in book/setup.md, "Environment variables".
    """
    if prefer is None or prefer == "":
        prefer = os.environ.get("COURSE_DEVICE", "")
        setting, fix = f"COURSE_DEVICE={prefer!r}", "Unset COURSE_DEVICE to use the best device here."
        if not prefer.strip():
            return _best_device()
    else:
        setting, fix = f"get_device({prefer!r})", "Call get_device() to use the best device here."
    if isinstance(prefer, torch.device):
        device = prefer
    elif not isinstance(prefer, str):
        raise TypeError(f"get_device expects a device name such as 'cpu', got {type(prefer).__name__}.")
    elif prefer.strip().lower() == "gpu":
        device = _best_device()
        if device.type == "cpu":
            raise ValueError(f"{setting} asks for a GPU, but neither CUDA nor MPS is available. {fix}")
    else:
        try:
            device = torch.device(prefer.strip().lower())
        except RuntimeError as error:
            raise ValueError(
                f"{setting} is not a device: use cpu, cuda, cuda:1, mps or gpu. {fix}"
            ) from error
    reason = _missing_device(device)
    if reason is not None:
        raise ValueError(f"{setting} names a device this machine does not have: {reason}. {fix}")
    return device


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """An on/off environment variable such as ``COURSE_OFFLINE``: 1/true/yes/on or 0/false/no/off.

    Case and surrounding spaces do not matter; any other value is refused, naming the variable.
    """
    raw = os.environ.get(name, "")
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ValueError(
        f"{name} is set to {raw!r}: use 1 (or true, yes, on) to switch it on, and 0 (or false, "
        "no, off) or leave it unset to switch it off."
    )


def seed_everything(seed: int = 0, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a CPU generator for data shuffling.

    On the CPU the same seed gives bit-for-bit the same run (book/mnist_project.md,
    "Save, reload, predict the same"). With ``deterministic`` (the default) cuDNN is also
    told to pick deterministic convolution algorithms, so GPU runs repeat too; pass
    ``deterministic=False`` to let cuDNN choose the fastest ones instead.
    """
    seed = require_int("seed", seed, 0)
    if seed >= 2**32:
        raise ValueError(f"seed must be below 2**32 (NumPy's limit), got {seed}.")
    require_bool("deterministic", deterministic)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def banner(profile: Profile, device: torch.device, data_description: str) -> str:
    """The one-line banner each notebook prints first: profile, device, torch, data set.

    Printed first by every chapter; explained in book/backprop.md, "Overview".
    """
    profile, device = get_profile(profile), torch.device(device)
    name = str(device)
    if device.type == "cuda":
        name = f"{device} ({torch.cuda.get_device_name(device)})"
    return f"profile={profile.name} | device={name} | torch {torch.__version__} | data: {data_description}"

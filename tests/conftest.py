"""Shared fixtures: every test runs hermetic, offline, headless and on the CPU-sized ``ci`` data."""

from __future__ import annotations

import os

os.environ["MPLBACKEND"] = "Agg"  # before anything imports matplotlib.pyplot

import dataclasses  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path, monkeypatch):
    """A fresh data root per test, no network, no profile/device from the caller's shell."""
    data_dir = tmp_path / "course-data"
    data_dir.mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    return data_dir


@pytest.fixture(autouse=True)
def close_figures():
    """Never let one test's figures leak into the next (or pile up in memory)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="session")
def ci_mnist(tmp_path_factory):
    """The ``ci`` profile's MNIST sample on the CPU, loaded once per session (read-only use)."""
    from course_lib.config import get_profile
    from course_lib.data import load_mnist

    data_dir = tmp_path_factory.mktemp("session-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_DATA_DIR", str(data_dir))
        mp.setenv("COURSE_OFFLINE", "1")
        return load_mnist(get_profile("ci"), seed=0, device=CPU)


@pytest.fixture(scope="session")
def small_mnist(ci_mnist):
    """A few hundred training and validation digits: enough to train on in well under a second."""
    generator = torch.Generator().manual_seed(123)
    return dataclasses.replace(
        ci_mnist,
        train=ci_mnist.train.subset(384, generator),
        val=ci_mnist.val.subset(128, generator),
        notes=list(ci_mnist.notes),
    )

"""Profiles, the device helper, seeding and the banner (course_lib.config)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from course_lib import config
from course_lib.config import (
    PROFILE_NAMES,
    PROFILES,
    Profile,
    banner,
    get_device,
    get_profile,
    seed_everything,
)


@pytest.mark.parametrize("name", ["ci", "cpu", "gpu"])
def test_named_profiles_are_returned(name):
    profile = get_profile(name)
    assert isinstance(profile, Profile)
    assert profile.name == name
    assert profile is PROFILES[name]


def test_profile_names_are_the_three_budgets():
    assert set(PROFILE_NAMES) == {"ci", "cpu", "gpu"}
    assert set(PROFILES) == set(PROFILE_NAMES)


def test_profiles_scale_with_budget():
    ci, cpu, gpu = (get_profile(n) for n in ("ci", "cpu", "gpu"))
    assert ci.data == "sample", "CI must never depend on the full data set"
    assert cpu.data == gpu.data == "auto"
    assert ci.epochs <= cpu.epochs <= gpu.epochs
    assert not ci.mixed_precision and not cpu.mixed_precision
    assert all(p.epochs >= 1 and p.batch_size >= 1 and p.val_size >= 1 for p in (ci, cpu, gpu))


@pytest.mark.parametrize("spelling", ["CI", "Ci", "cI"])
def test_profile_names_are_case_insensitive(spelling):
    assert get_profile(spelling).name == "ci"


@pytest.mark.parametrize("spelling", ["GPU", "Cpu"])
def test_profile_env_is_case_insensitive(monkeypatch, spelling):
    monkeypatch.setenv("COURSE_PROFILE", spelling)
    assert get_profile().name == spelling.lower()


def test_env_profile_is_used_and_stripped(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "  ci \n")
    assert get_profile().name == "ci"


def test_explicit_name_beats_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "gpu")
    assert get_profile("ci").name == "ci"


def test_unknown_env_profile_is_a_helpful_error(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "turbo")
    with pytest.raises(ValueError) as info:
        get_profile()
    message = str(info.value)
    assert "turbo" in message
    for valid in ("ci", "cpu", "gpu"):
        assert valid in message
    assert "COURSE_PROFILE" in message
    assert "export COURSE_PROFILE=" in message or "unset" in message


def test_unknown_explicit_profile_is_an_error():
    with pytest.raises(ValueError, match="laptop"):
        get_profile("laptop")


def test_unset_profile_is_cpu_without_accelerator(monkeypatch):
    monkeypatch.setattr(config, "accelerator_available", lambda: False)
    assert get_profile().name == "cpu"


def test_unset_profile_is_gpu_with_accelerator(monkeypatch):
    monkeypatch.setattr(config, "accelerator_available", lambda: True)
    assert get_profile().name == "gpu"


def test_empty_profile_env_counts_as_unset(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "")
    monkeypatch.setattr(config, "accelerator_available", lambda: False)
    assert get_profile().name == "cpu"


def test_accelerator_available_is_a_bool():
    assert isinstance(config.accelerator_available(), bool)


# --------------------------------------------------------------------------- devices


def test_get_device_honours_course_device(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cuda:1")
    assert get_device() == torch.device("cuda", 1)


def test_get_device_prefer_argument_wins(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cuda:1")
    assert get_device("cpu") == torch.device("cpu")


def test_get_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")


def test_get_device_prefers_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device().type == "cuda"


def test_get_device_returns_a_device():
    assert isinstance(get_device(), torch.device)


# --------------------------------------------------------------------------- seeds


def _draws():
    return torch.randn(5), np.random.rand(5), [random.random() for _ in range(5)]


def test_seed_everything_repeats_every_generator():
    seed_everything(42)
    t1, n1, r1 = _draws()
    seed_everything(42)
    t2, n2, r2 = _draws()
    assert torch.equal(t1, t2)
    assert np.array_equal(n1, n2)
    assert r1 == r2


def test_seed_everything_different_seeds_differ():
    seed_everything(1)
    t1, n1, r1 = _draws()
    seed_everything(2)
    t2, n2, r2 = _draws()
    assert not torch.equal(t1, t2)
    assert not np.array_equal(n1, n2)
    assert r1 != r2


def test_seed_everything_returns_a_seeded_generator():
    g1 = seed_everything(7)
    g2 = seed_everything(7)
    assert isinstance(g1, torch.Generator)
    assert torch.equal(torch.randperm(100, generator=g1), torch.randperm(100, generator=g2))
    g3 = seed_everything(8)
    assert not torch.equal(
        torch.randperm(100, generator=seed_everything(7)), torch.randperm(100, generator=g3)
    )


# --------------------------------------------------------------------------- banner


def test_banner_names_profile_device_torch_and_data():
    line = banner(get_profile("ci"), torch.device("cpu"), "MNIST sample (4,000 train)")
    assert "\n" not in line
    assert "ci" in line and "profile" in line
    assert "cpu" in line
    assert torch.__version__ in line
    assert "MNIST sample (4,000 train)" in line


def test_banner_changes_with_profile():
    a = banner(get_profile("ci"), torch.device("cpu"), "d")
    b = banner(get_profile("gpu"), torch.device("cpu"), "d")
    assert "gpu" in b and a != b

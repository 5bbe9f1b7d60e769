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


def _two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_get_device_honours_course_device(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    _two_gpus(monkeypatch)
    monkeypatch.setenv("COURSE_DEVICE", "cuda:1")
    assert get_device() == torch.device("cuda", 1)


def test_get_device_prefer_argument_wins(monkeypatch):
    _two_gpus(monkeypatch)
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


# --------------------------------------------------------------------------- settings that cannot work


def test_get_profile_accepts_a_profile_and_stray_spaces():
    assert get_profile(PROFILES["ci"]) is PROFILES["ci"]
    assert get_profile(" ci ").name == "ci"
    assert get_profile("CI\n").name == "ci"


@pytest.mark.parametrize("wrong", [1, 2.5, ["ci"], b"ci"])
def test_get_profile_of_the_wrong_type_names_what_it_expects(wrong):
    with pytest.raises(TypeError, match="profile name such as 'ci'"):
        get_profile(wrong)


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("epochs", 0, "epochs must be at least 1"),
        ("batch_size", 0, "batch_size must be at least 1"),
        ("batch_size", 64.0, "batch_size must be a whole number"),
        ("train_limit", 0, "train_limit"),
        ("train_limit", -5, "train_limit"),
        ("val_size", 0, "val_size must be at least 1"),
        ("data", "everything", "data must be one of"),
        ("mixed_precision", "False", "mixed_precision must be True or False"),
        ("cell_timeout", 0, "cell_timeout"),
    ],
)
def test_a_profile_that_cannot_work_is_refused_naming_the_field(field, value, words):
    settings = dict(name="tiny", data="sample", epochs=1, batch_size=32, train_limit=300, val_size=100,
                    mixed_precision=False)  # fmt: skip
    settings[field] = value
    with pytest.raises((TypeError, ValueError), match=words) as info:
        Profile(**settings)
    assert "tiny" in str(info.value)


@pytest.mark.parametrize("spelling", ["CPU", " cpu", "cpu ", "Cpu"])
def test_course_device_is_stripped_and_case_insensitive(monkeypatch, spelling):
    monkeypatch.setenv("COURSE_DEVICE", spelling)
    assert get_device() == torch.device("cpu")


@pytest.mark.parametrize("value", ["garbage", "cuda:x", "1"])
def test_course_device_that_is_not_a_device_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("COURSE_DEVICE", value)
    with pytest.raises(ValueError) as info:
        get_device()
    message = str(info.value)
    assert "COURSE_DEVICE" in message and repr(value) in message
    assert "unset" in message.lower()


@pytest.mark.parametrize("value", ["cuda", "cuda:0", "gpu", "GPU", "mps"])
def test_course_device_that_this_machine_lacks_is_refused(monkeypatch, value):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setenv("COURSE_DEVICE", value)
    with pytest.raises(ValueError, match="COURSE_DEVICE"):
        get_device()


def test_a_gpu_index_past_the_last_gpu_is_refused(monkeypatch):
    _two_gpus(monkeypatch)
    monkeypatch.setenv("COURSE_DEVICE", "cuda:2")
    with pytest.raises(ValueError, match="2 CUDA device"):
        get_device()
    with pytest.raises(ValueError, match="get_device"):
        get_device("cuda:5")


def test_course_device_gpu_means_the_accelerator(monkeypatch):
    _two_gpus(monkeypatch)
    monkeypatch.setenv("COURSE_DEVICE", "gpu")
    assert get_device().type == "cuda"


@pytest.mark.parametrize("value, expected", [
    ("1", True), ("true", True), ("TRUE", True), ("True", True), (" yes ", True), ("on", True),
    ("", False), ("0", False), ("false", False), ("No", False), ("off", False),
])  # fmt: skip
def test_course_offline_accepts_the_usual_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_OFFLINE", value)
    assert config.env_flag("COURSE_OFFLINE") is expected


@pytest.mark.parametrize("value", ["maybe", "2", "ja"])
def test_course_offline_that_is_neither_on_nor_off_is_refused(monkeypatch, value):
    monkeypatch.setenv("COURSE_OFFLINE", value)
    with pytest.raises(ValueError, match="COURSE_OFFLINE"):
        config.env_flag("COURSE_OFFLINE")


@pytest.mark.parametrize(
    "seed, error", [(1.5, TypeError), (-1, ValueError), (2**32, ValueError), ("0", TypeError)]
)
def test_seed_everything_refuses_seeds_numpy_cannot_take(seed, error):
    with pytest.raises(error, match="seed"):
        seed_everything(seed)


def test_banner_takes_a_profile_name_and_a_device_name():
    assert banner("ci", "cpu", "d") == banner(get_profile("ci"), torch.device("cpu"), "d")
    with pytest.raises(TypeError, match="profile name"):
        banner(3, "cpu", "d")

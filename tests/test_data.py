"""Data loading: the committed MNIST sample, offline behaviour, atomic writes, batches, text."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

import course_lib.data as data_mod
import course_lib.files as course_files
from course_lib.config import Profile, get_profile
from course_lib.data import (
    RAW_FILES,
    SAMPLE_DIR,
    SAMPLE_FIX_COMMAND,
    DataError,
    ImageData,
    Split,
    atomic_write_bytes,
    batches,
    data_root,
    file_digest,
    load_fashion_mnist,
    load_mnist,
    verify_sample,
)

CPU = torch.device("cpu")


def _sha256_sums(sample_dir: Path) -> dict[str, str]:
    """SHA256SUMS parsed independently of course_lib: file name -> hex digest."""
    sums = {}
    for line in (sample_dir / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            sums[name.lstrip("*")] = digest
    return sums


def _rows(split: Split) -> set[bytes]:
    return {row.tobytes() for row in split.x.flatten(1).cpu().numpy()}


@pytest.fixture
def sample_copy(tmp_path) -> Path:
    target = tmp_path / "mnist-copy"
    shutil.copytree(SAMPLE_DIR, target)
    return target


# --------------------------------------------------------------------------- the committed sample


def test_committed_sample_verifies():
    checked = verify_sample()
    expected = _sha256_sums(SAMPLE_DIR)
    assert checked == expected
    assert set(checked) == {f"{name}.gz" for name in RAW_FILES}
    for name, digest in expected.items():
        assert hashlib.sha256((SAMPLE_DIR / name).read_bytes()).hexdigest() == digest


def test_file_digest_matches_hashlib(tmp_path):
    path = tmp_path / "blob"
    payload = os.urandom(3 << 20)  # more than one read chunk
    path.write_bytes(payload)
    assert file_digest(path) == hashlib.sha256(payload).hexdigest()


def test_corrupt_sample_names_file_checksum_and_fix(sample_copy):
    victim = sample_copy / "t10k-labels-idx1-ubyte.gz"
    blob = bytearray(victim.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    victim.write_bytes(bytes(blob))
    expected = _sha256_sums(sample_copy)["t10k-labels-idx1-ubyte.gz"]

    with pytest.raises(DataError) as info:
        verify_sample(sample_copy)
    message = str(info.value)
    assert str(victim) in message
    assert expected in message
    assert hashlib.sha256(bytes(blob)).hexdigest() in message
    assert SAMPLE_FIX_COMMAND == "python scripts/make_mnist_sample.py"
    assert "python scripts/make_mnist_sample.py" in message


def test_missing_sample_file_is_a_data_error(sample_copy):
    victim = sample_copy / "train-images-idx3-ubyte.gz"
    victim.unlink()
    with pytest.raises(DataError) as info:
        verify_sample(sample_copy)
    assert str(victim) in str(info.value)
    assert SAMPLE_FIX_COMMAND in str(info.value)


def test_missing_checksum_file_is_a_data_error(sample_copy):
    (sample_copy / "SHA256SUMS").unlink()
    with pytest.raises(DataError, match="SHA256SUMS"):
        verify_sample(sample_copy)


def test_load_mnist_refuses_a_corrupt_sample(sample_copy, monkeypatch):
    """load_mnist must check the sample it actually reads, not only the default directory."""
    victim = sample_copy / "train-labels-idx1-ubyte.gz"
    blob = bytearray(victim.read_bytes())
    blob[-10] ^= 0xFF
    victim.write_bytes(bytes(blob))
    monkeypatch.setattr(data_mod, "SAMPLE_DIR", sample_copy)
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz"):
        load_mnist(get_profile("ci"), device=CPU)


# --------------------------------------------------------------------------- load_mnist


def test_ci_mnist_is_the_sample_with_the_promised_sizes(ci_mnist):
    assert isinstance(ci_mnist, ImageData)
    assert ci_mnist.source == "sample"
    assert "sample" in ci_mnist.description.lower()
    assert ci_mnist.notes == []
    assert (len(ci_mnist.train), len(ci_mnist.val), len(ci_mnist.test)) == (3500, 500, 1000)
    assert ci_mnist.classes and len(ci_mnist.classes) == 10


@pytest.mark.parametrize("split_name", ["train", "val", "test"])
def test_ci_mnist_tensors(ci_mnist, split_name):
    split = getattr(ci_mnist, split_name)
    assert split.x.shape == (len(split), 1, 28, 28)
    assert split.x.dtype == torch.float32
    assert split.y.dtype == torch.long
    assert split.y.shape == (len(split),)
    assert int(split.y.min()) >= 0 and int(split.y.max()) <= 9
    assert torch.bincount(split.y, minlength=10).gt(0).all(), "every class in every split"
    assert torch.isfinite(split.x).all()


def test_ci_mnist_is_normalised_on_train_statistics(ci_mnist):
    x = ci_mnist.train.x
    assert abs(x.mean().item()) < 1e-3
    assert abs(x.std().item() - 1) < 1e-3
    # Raw MNIST pixel statistics: mean about 0.13, std about 0.31.
    assert 0.08 < ci_mnist.mean < 0.2
    assert 0.2 < ci_mnist.std < 0.4


def test_pixels_undo_normalisation(ci_mnist):
    pixels = ci_mnist.pixels(ci_mnist.test.x[:50])
    assert pixels.min().item() >= 0 and pixels.max().item() <= 1
    assert pixels.max().item() == pytest.approx(1.0, abs=1e-5)
    assert pixels.min().item() == pytest.approx(0.0, abs=1e-5)
    torch.testing.assert_close(ci_mnist.normalize(pixels), ci_mnist.test.x[:50], atol=1e-5, rtol=0)


def test_ci_mnist_splits_do_not_overlap(ci_mnist):
    train, val, test = _rows(ci_mnist.train), _rows(ci_mnist.val), _rows(ci_mnist.test)
    assert len(train) == len(ci_mnist.train) and len(val) == len(ci_mnist.val)
    assert not train & val
    assert not (train | val) & test


def test_same_seed_same_split_and_different_seed_different_split():
    profile = get_profile("ci")
    a = load_mnist(profile, seed=3, device=CPU)
    b = load_mnist(profile, seed=3, device=CPU)
    c = load_mnist(profile, seed=4, device=CPU)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.train.y, b.train.y)
    assert torch.equal(a.val.x, b.val.x) and torch.equal(a.val.y, b.val.y)
    assert not torch.equal(a.val.y, c.val.y)
    assert _rows(a.val) != _rows(c.val)
    # The test split's examples never depend on the seed (its normalisation uses train statistics).
    assert torch.equal(a.test.y, c.test.y)
    torch.testing.assert_close(a.pixels(a.test.x), c.pixels(c.test.x), atol=1e-5, rtol=0)


def test_load_mnist_unpacks_into_the_data_root(hermetic_env):
    load_mnist(get_profile("ci"), device=CPU)
    raw = list(hermetic_env.glob("mnist-sample-*/MNIST/raw/*"))
    assert sorted(p.name for p in raw) == sorted(RAW_FILES)
    assert not list(hermetic_env.rglob("*.tmp"))


def test_train_limit_caps_training_examples():
    profile = Profile(
        "tiny", data="sample", epochs=1, batch_size=32, train_limit=300, val_size=100, mixed_precision=False
    )
    data = load_mnist(profile, device=CPU)
    assert (len(data.train), len(data.val), len(data.test)) == (300, 100, 1000)
    assert abs(data.train.x.mean().item()) < 1e-3


def test_missing_data_dir_says_mkdir(tmp_path, monkeypatch):
    missing = tmp_path / "no" / "such" / "dir"
    monkeypatch.setenv("COURSE_DATA_DIR", str(missing))
    with pytest.raises(DataError) as info:
        data_root()
    assert str(missing) in str(info.value)
    assert "mkdir -p" in str(info.value)
    with pytest.raises(DataError, match="mkdir -p"):
        load_mnist(get_profile("ci"), device=CPU)


def test_data_root_is_course_data_dir(hermetic_env):
    assert data_root() == hermetic_env


def test_full_mnist_offline_is_a_data_error_with_a_fix(hermetic_env):
    with pytest.raises(DataError) as info:
        load_mnist(get_profile("ci"), source="full", device=CPU)
    message = str(info.value)
    assert str(hermetic_env) in message
    assert "source='sample'" in message or "online" in message


def test_auto_offline_falls_back_to_sample_in_its_notes_without_a_warning():
    """The chapters print data.notes under the banner; a Python warning would say it twice."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_mnist(get_profile("cpu"), device=CPU)
    assert data.source == "sample"
    assert len(data.notes) == 1
    note = data.notes[0]
    assert "SAMPLE" in note and "COURSE_OFFLINE" in note
    assert "Error" not in note and "/" not in note, "a reason in words, no exception class or path"
    assert len(data.train) == 3500


def test_sample_profile_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_mnist(get_profile("ci"), device=CPU)
    assert data.source == "sample"


def test_unknown_source_is_rejected():
    with pytest.raises(ValueError, match="bogus"):
        load_mnist(get_profile("ci"), source="bogus", device=CPU)


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_bytes_writes_and_overwrites(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    atomic_write_bytes(target, b"first")
    assert target.read_bytes() == b"first"
    atomic_write_bytes(target, b"second, longer")
    assert target.read_bytes() == b"second, longer"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]


def test_atomic_write_leaves_nothing_when_rename_fails(tmp_path, monkeypatch):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "file.bin"

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        atomic_write_bytes(target, b"x" * 1000)
    assert not target.exists()
    assert list(folder.iterdir()) == []


def test_atomic_write_keeps_old_file_when_write_fails(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "file.bin"
    target.write_bytes(b"old content")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old content"
    assert [p.name for p in folder.iterdir()] == ["file.bin"]


# --------------------------------------------------------------------------- batches and splits


def test_batches_cover_every_index_once_in_order_without_shuffle():
    out = list(batches(10, 4, shuffle=False))
    assert [b.tolist() for b in out] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_batches_shuffle_covers_every_index_once():
    out = list(batches(103, 10, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert [len(b) for b in out] == [10] * 10 + [3]
    flat = torch.cat(out)
    assert sorted(flat.tolist()) == list(range(103))
    assert flat.tolist() != list(range(103)), "shuffled"
    assert all(b.dtype == torch.long for b in out)


def test_batches_shuffle_is_deterministic_given_generator():
    def run(seed):
        return torch.cat(list(batches(50, 8, shuffle=True, generator=torch.Generator().manual_seed(seed))))

    assert torch.equal(run(5), run(5))
    assert not torch.equal(run(5), run(6))


def test_batches_edge_cases():
    assert list(batches(0, 4, shuffle=False)) == []
    assert [b.tolist() for b in batches(3, 100, shuffle=False)] == [[0, 1, 2]]
    for bad in (0, -1):
        with pytest.raises(ValueError, match="batch_size"):
            list(batches(10, bad, shuffle=False))
    for bad in (1e3, 64.0, True, "64"):
        with pytest.raises(TypeError, match="batch_size must be a whole number"):
            list(batches(10, bad, shuffle=False))


def test_split_subset():
    x = torch.arange(20, dtype=torch.float32).reshape(20, 1, 1, 1)
    split = Split(x, torch.arange(20))
    sub = split.subset(5, torch.Generator().manual_seed(0))
    assert len(sub) == 5
    assert torch.equal(sub.x.flatten().long(), sub.y), "images stay paired with their labels"
    assert len(set(sub.y.tolist())) == 5
    again = split.subset(5, torch.Generator().manual_seed(0))
    assert torch.equal(sub.y, again.y)
    other = split.subset(5, torch.Generator().manual_seed(1))
    assert not torch.equal(sub.y, other.y)
    assert split.subset(None) is split
    assert len(split.subset(20)) == 20 and len(split.subset(1000)) == 20


def test_split_refuses_inputs_and_targets_of_different_lengths():
    with pytest.raises(ValueError, match="3 inputs but 2 targets"):
        Split(torch.zeros(3, 1, 28, 28), torch.zeros(2, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.as_tensor"):
        Split([[0.0]], torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match="0-dim"):
        Split(torch.tensor(1.0), torch.tensor(1))


@pytest.mark.parametrize("n", [0, -1, 2.0])
def test_split_subset_of_a_nonsense_size_is_refused(n):
    split = Split(torch.zeros(4, 1), torch.zeros(4, dtype=torch.long))
    with pytest.raises((TypeError, ValueError), match="n must"):
        split.subset(n)


# --------------------------------------------------------------------------- the data root


def test_a_data_root_that_is_a_file_is_not_told_to_mkdir(tmp_path, monkeypatch):
    a_file = tmp_path / "data.txt"
    a_file.write_text("x")
    monkeypatch.setenv("COURSE_DATA_DIR", str(a_file))
    with pytest.raises(DataError) as info:
        data_root()
    assert "is a file" in str(info.value) and "mkdir" not in str(info.value)


def test_a_relative_data_root_is_refused_with_the_absolute_path_to_use(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel-data").mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", "rel-data")
    with pytest.raises(DataError) as info:
        load_mnist(get_profile("ci"), device=CPU)
    message = str(info.value)
    assert "COURSE_DATA_DIR" in message and "relative" in message
    assert str(tmp_path / "rel-data") in message
    assert not list((tmp_path / "rel-data").iterdir()), "nothing was written before the refusal"


def test_a_data_root_under_home_is_fine(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", "~/data")
    assert data_root() == tmp_path / "data"


def _refuse_writes_in(monkeypatch, folder: Path):
    """Make creating a file in ``folder`` fail as in a read-only directory (root ignores chmod)."""
    real = course_files.tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == folder:
            raise PermissionError(13, "Permission denied", str(folder))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(course_files.tempfile, "mkstemp", mkstemp)


def test_a_data_root_that_is_not_writable_is_refused_before_any_work(tmp_path, monkeypatch):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(read_only))
    _refuse_writes_in(monkeypatch, read_only)
    with pytest.raises(DataError) as info:
        load_mnist(get_profile("ci"), device=CPU)
    message = str(info.value)
    assert "COURSE_DATA_DIR" in message and "not writable" in message
    assert not list(read_only.iterdir())


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into 0555 folders")
def test_a_read_only_data_root_is_refused_for_real(tmp_path, monkeypatch):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    monkeypatch.setenv("COURSE_DATA_DIR", str(read_only))
    try:
        with pytest.raises(DataError, match="not writable"):
            data_root()
    finally:
        read_only.chmod(0o755)


def test_a_home_that_is_not_writable_says_to_set_course_data_dir(tmp_path, monkeypatch):
    blocker = tmp_path / "home-is-a-file"
    blocker.write_text("x")
    monkeypatch.delenv("COURSE_DATA_DIR")
    monkeypatch.setattr(course_files, "DEFAULT_DATA_DIR", blocker / ".cache" / "dl-course")
    with pytest.raises(DataError) as info:
        data_root()
    assert "COURSE_DATA_DIR" in str(info.value) and "home directory" in str(info.value)


# --------------------------------------------------------------------------- loading without a profile


def test_load_mnist_without_a_profile_uses_every_training_digit():
    data = load_mnist(device=CPU)
    assert data.source == "sample"  # offline in the tests
    assert (len(data.train), len(data.val), len(data.test)) == (3500, 500, 1000)
    assert torch.equal(load_mnist(source="sample", device="cpu").train.y, data.train.y)


def test_load_mnist_takes_a_profile_name():
    assert len(load_mnist("ci", device=CPU).train) == 3500


@pytest.mark.parametrize("wrong", [1, {"name": "ci"}, 3.5])
def test_load_mnist_refuses_a_profile_of_the_wrong_type(wrong):
    with pytest.raises(TypeError, match="profile must be a Profile"):
        load_mnist(wrong, device=CPU)


def test_description_reports_the_split_sizes_in_use():
    ci = load_mnist(get_profile("ci"), device=CPU)
    assert "3,500 train + 500 validation + 1,000 test" in ci.description
    tiny = Profile("tiny", data="sample", epochs=1, batch_size=32, train_limit=300, val_size=100,
                   mixed_precision=False)  # fmt: skip
    assert "300 of 3,900 train + 100 validation + 1,000 test" in load_mnist(tiny, device=CPU).description


def test_a_validation_split_that_leaves_no_training_data_is_refused():
    from types import SimpleNamespace

    ds = SimpleNamespace(data=torch.zeros(10, 28, 28, dtype=torch.uint8), targets=torch.zeros(10))
    with pytest.raises(ValueError, match="val_size=10 leaves no training examples"):
        data_mod._to_image_data("X", "full", ("X", ""), [], ds, ds, val_size=10, train_limit=None,
                                seed=0, device=CPU)  # fmt: skip


# --------------------------------------------------------------------------- what is read from disk


def _rewrite(sample_copy: Path, name: str, content: bytes, fix_sums: bool = True) -> Path:
    """Replace ``name`` in the sample copy with a gzip of ``content``; update SHA256SUMS to match."""
    victim = sample_copy / f"{name}.gz"
    victim.write_bytes(gzip.compress(content, mtime=0))
    if fix_sums:
        sums = _sha256_sums(sample_copy)
        sums[victim.name] = hashlib.sha256(victim.read_bytes()).hexdigest()
        lines = [f"{digest}  {file}" for file, digest in sorted(sums.items())]
        (sample_copy / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return victim


def _raw(sample_copy: Path, name: str) -> bytes:
    return gzip.decompress((sample_copy / f"{name}.gz").read_bytes())


@pytest.fixture
def use_copy(sample_copy, monkeypatch):
    monkeypatch.setattr(data_mod, "SAMPLE_DIR", sample_copy)
    return sample_copy


def _damaged_sample(name: str, raw: bytes) -> bytes:
    """The ways an IDX file can be wrong while its gzip and checksum are fine."""
    return {
        "empty": b"",
        "half": raw[: len(raw) // 2],
        "wrong type byte": raw[:2] + bytes([0x0D]) + raw[3:],
        "one dimension": bytes((0, 0, 8, 1)) + raw[4:8] + raw[16:] if "images" in name else b"",
        "28x14 images": (raw[:4] + struct.pack(">3I", 2000, 28, 14) + raw[16:]) if "images" in name else b"",
        "label 10": raw[:-1] + bytes([10]) if "labels" in name else b"",
    }


@pytest.mark.parametrize(
    "name, damage",
    [
        ("train-labels-idx1-ubyte", "empty"),
        ("train-images-idx3-ubyte", "half"),
        ("t10k-labels-idx1-ubyte", "wrong type byte"),
        ("t10k-images-idx3-ubyte", "one dimension"),
        ("t10k-images-idx3-ubyte", "28x14 images"),
        ("t10k-labels-idx1-ubyte", "label 10"),
    ],
)
def test_a_damaged_sample_file_with_a_matching_checksum_is_named_with_the_fix(use_copy, name, damage):
    victim = _rewrite(use_copy, name, _damaged_sample(name, _raw(use_copy, name))[damage])
    for _ in range(2):  # and again: nothing bad was cached by the first attempt
        with pytest.raises(DataError) as info:
            load_mnist(get_profile("ci"), device=CPU)
        assert str(victim) in str(info.value)
        assert SAMPLE_FIX_COMMAND in str(info.value)


@pytest.mark.parametrize("split, labels", [("train", 3000), ("t10k", 2000)])
def test_label_and_image_counts_that_disagree_are_refused(use_copy, split, labels):
    name = f"{split}-labels-idx1-ubyte"
    content = bytes((0, 0, 8, 1)) + struct.pack(">I", labels) + bytes(i % 10 for i in range(labels))
    _rewrite(use_copy, name, content)
    with pytest.raises(DataError) as info:
        load_mnist(get_profile("ci"), device=CPU)
    assert f"{labels:,} labels" in str(info.value) and "images" in str(info.value)
    assert SAMPLE_FIX_COMMAND in str(info.value)


def test_a_truncated_gzip_with_a_matching_checksum_names_the_fix(use_copy):
    victim = use_copy / "train-images-idx3-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    sums = _sha256_sums(use_copy)
    sums[victim.name] = hashlib.sha256(victim.read_bytes()).hexdigest()
    (use_copy / "SHA256SUMS").write_text("".join(f"{d}  {n}\n" for n, d in sums.items()))
    with pytest.raises(DataError, match="not a readable gzip") as info:
        load_mnist(get_profile("ci"), device=CPU)
    assert SAMPLE_FIX_COMMAND in str(info.value)


@pytest.mark.parametrize(
    "write",
    [
        lambda sums: "".join(f"{d} *{n}\n" for n, d in sums.items()),  # sha256sum -b
        lambda sums: "# made by hand\n\n" + "".join(f"{d}  {n}\n" for n, d in sums.items()) + "   \n",
        lambda sums: "".join(f"{d.upper()}  {n}\r\n" for n, d in sums.items()),  # upper case, CRLF
        lambda sums: "".join(f"SHA256 ({n}) = {d}\n" for n, d in sums.items()),  # sha256sum --tag
    ],
    ids=["binary-mode", "comments-and-blank-lines", "upper-case-crlf", "bsd-tag"],
)
def test_sha256sums_in_any_format_sha256sum_writes_is_read(sample_copy, write):
    sums = _sha256_sums(sample_copy)
    (sample_copy / "SHA256SUMS").write_text(write(sums))
    assert verify_sample(sample_copy) == sums


def test_a_sha256sums_line_that_is_not_a_checksum_is_named(sample_copy):
    sums_file = sample_copy / "SHA256SUMS"
    sums_file.write_text(sums_file.read_text() + "not a checksum line\n")
    with pytest.raises(DataError, match="line 5") as info:
        verify_sample(sample_copy)
    assert SAMPLE_FIX_COMMAND in str(info.value)


@pytest.mark.parametrize("kept", [3, 0])
def test_a_sample_file_missing_from_sha256sums_is_not_left_unchecked(use_copy, kept):
    sums_file = use_copy / "SHA256SUMS"
    lines = sorted(sums_file.read_text().splitlines())[:kept]  # t10k-labels is the one to go first
    sums_file.write_text("".join(line + "\n" for line in lines))
    labels = bytearray(_raw(use_copy, "train-labels-idx1-ubyte"))
    with pytest.raises(DataError) as info:
        load_mnist(get_profile("ci"), device=CPU)
    assert "train-labels-idx1-ubyte.gz" in str(info.value) or kept == 3
    assert "no checksum for" in str(info.value)
    assert SAMPLE_FIX_COMMAND in str(info.value)
    assert labels  # untouched


def test_a_damaged_cache_is_rebuilt_from_the_sample(hermetic_env):
    clean = load_mnist(get_profile("ci"), device=CPU)
    (cached,) = hermetic_env.glob("mnist-sample-*/MNIST/raw/train-images-idx3-ubyte")
    cached.write_bytes(cached.read_bytes()[: cached.stat().st_size // 2])
    labels = next(hermetic_env.glob("mnist-sample-*/MNIST/raw/t10k-labels-idx1-ubyte"))
    labels.write_bytes(labels.read_bytes()[:-200] + bytes(200))  # plausible but wrong labels
    again = load_mnist(get_profile("ci"), device=CPU)
    assert torch.equal(again.train.x, clean.train.x) and torch.equal(again.test.y, clean.test.y)
    assert not list(hermetic_env.rglob("*.tmp"))


def _full_mnist_from_the_sample(root: Path) -> Path:
    """The sample's raw files where torchvision looks for full MNIST (valid IDX files)."""
    load_mnist(get_profile("ci"), device=CPU)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for path in root.glob("mnist-sample-*/MNIST/raw/*"):
        shutil.copy(path, raw / path.name)
    return raw


def test_full_mnist_on_disk_is_used_and_its_damaged_files_are_named(hermetic_env):
    raw = _full_mnist_from_the_sample(hermetic_env)
    assert load_mnist(get_profile("ci"), source="full", device=CPU).source == "full"
    victim = raw / "train-labels-idx1-ubyte"
    victim.write_bytes(victim.read_bytes()[:-100])
    for source in ("full", "auto"):  # a damaged file is an error to fix, not a reason to fall back
        with pytest.raises(DataError) as info:
            load_mnist(get_profile("cpu"), source=source, device=CPU)
        assert str(victim) in str(info.value) and f"rm -r {raw}" in str(info.value)


# --------------------------------------------------------------------------- interrupted writes


def test_the_next_write_removes_the_temp_file_of_a_killed_writer(tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    target = tmp_path / "run.pt"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f".run.pt.{dead.pid}.abc123.tmp"
    orphan.write_bytes(b"half a file")
    alive = tmp_path / f".run.pt.{os.getpid()}.def456.tmp"  # a write in progress: kept
    alive.write_bytes(b"in progress")
    other = tmp_path / f".other.pt.{dead.pid}.ghi789.tmp"  # another file's: not ours to judge
    other.write_bytes(b"x")
    atomic_write_bytes(target, b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["run.pt", alive.name, other.name])


def test_killing_a_writer_mid_write_leaves_nothing_after_the_next_write(tmp_path):
    """SIGKILL a process that keeps rewriting a big file; the next write cleans up after it."""
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    target = tmp_path / "big.bin"
    script = (
        "import sys\\n"
        "from course_lib.files import atomic_write_bytes\\n"
        "print('ready', flush=True)\\n"
        "while True:\\n"
        "    atomic_write_bytes(sys.argv[1], bytes(64 << 20))\\n"
    )
    for _ in range(3):
        writer = subprocess.Popen([sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE)
        writer.stdout.readline()
        time.sleep(0.3)
        writer.kill()
        writer.wait()
        writer.stdout.close()
    atomic_write_bytes(target, b"done")
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]
    assert target.read_bytes() == b"done"


# --------------------------------------------------------------------------- Fashion-MNIST

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_debian_fashion = pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)


@needs_debian_fashion
def test_fashion_mnist_full_from_debian(hermetic_env):
    profile = Profile(
        "small", data="auto", epochs=1, batch_size=64, train_limit=2000, val_size=500, mixed_precision=False
    )
    data = load_fashion_mnist(profile, device=CPU)
    assert data.source == "full"
    assert data.name == "Fashion-MNIST"
    assert (len(data.train), len(data.val), len(data.test)) == (2000, 500, 10_000)
    assert len(data.classes) == 10
    assert data.test.x.shape == (10_000, 1, 28, 28)
    assert torch.bincount(data.test.y, minlength=10).tolist() == [1000] * 10
    assert torch.bincount(data.train.y, minlength=10).gt(0).all()
    assert abs(data.train.x.mean().item()) < 1e-3
    assert not list(hermetic_env.rglob("*.tmp"))


def _fake_debian_dir(tmp_path: Path, corrupt: str) -> Path:
    """Links to the real Debian files, except ``corrupt``, which is a copy with one label changed."""
    fake = tmp_path / "debian-fashion"
    fake.mkdir()
    for name in RAW_FILES:
        gz = f"{name}.gz"
        if gz == corrupt:
            raw = bytearray(gzip.decompress((DEBIAN_FASHION / gz).read_bytes()))
            raw[-1] = (raw[-1] + 1) % 10  # a valid gzip holding one wrong label
            (fake / gz).write_bytes(gzip.compress(bytes(raw)))
        else:
            (fake / gz).symlink_to(DEBIAN_FASHION / gz)
    return fake


@needs_debian_fashion
def test_fashion_mnist_rejects_a_corrupt_debian_file(tmp_path, hermetic_env, monkeypatch):
    corrupt = "t10k-labels-idx1-ubyte.gz"
    fake = _fake_debian_dir(tmp_path, corrupt)
    monkeypatch.setattr(data_mod, "FASHION_DEBIAN_DIR", fake)
    with pytest.raises(DataError) as info:
        load_fashion_mnist(get_profile("ci"), device=CPU)
    message = str(info.value)
    assert str(fake / corrupt) in message
    assert "sha256" in message or "md5" in message
    assert re.search(r"\b[0-9a-f]{32,64}\b", message), "the message quotes a checksum"
    assert "apt-get install --reinstall dataset-fashion-mnist" in message
    raw_dir = hermetic_env / "FashionMNIST" / "raw"
    assert not (raw_dir / corrupt.removesuffix(".gz")).exists(), "the bad file is not unpacked"
    assert not list(hermetic_env.rglob("*.tmp"))


@needs_debian_fashion
def test_fashion_mnist_rejects_a_damaged_gzip(tmp_path, monkeypatch):
    fake = _fake_debian_dir(tmp_path, corrupt="")
    victim = fake / "train-labels-idx1-ubyte.gz"
    blob = bytearray(victim.read_bytes())
    victim.unlink()
    blob[len(blob) // 2] ^= 0xFF
    victim.write_bytes(bytes(blob))
    monkeypatch.setattr(data_mod, "FASHION_DEBIAN_DIR", fake)
    with pytest.raises(DataError, match="train-labels-idx1-ubyte"):
        load_fashion_mnist(get_profile("ci"), device=CPU)


def test_fashion_mnist_missing_offline_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(data_mod, "FASHION_DEBIAN_DIR", tmp_path / "not-installed")
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(get_profile("ci"), device=CPU)

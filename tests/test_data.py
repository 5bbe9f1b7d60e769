"""Data loading: the committed MNIST sample, offline behaviour, atomic writes, batches."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import warnings
from pathlib import Path

import pytest
import torch

import course_lib.data as data_mod
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


def test_auto_offline_falls_back_to_sample_loudly():
    with pytest.warns(UserWarning, match="(?i)sample"):
        data = load_mnist(get_profile("cpu"), device=CPU)
    assert data.source == "sample"
    assert data.notes and "sample" in " ".join(data.notes).lower()
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

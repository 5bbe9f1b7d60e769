"""Files on disk that the course reads and writes: the data root, atomic writes, checksums.

Everything the loaders and checkpoints write goes through :func:`atomic_write_bytes` (a
temporary file, fsync, a rename), so an interrupted run never leaves half a file behind, and
the next write cleans up what a killed writer left. Explained in book/setup.md, "Data".
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import tempfile
import time
from pathlib import Path

DEFAULT_DATA_DIR = Path("~/.cache/dl-course").expanduser()


class DataError(RuntimeError):
    """A data set is missing, corrupt or misconfigured; the message says how to fix it.

    Explained in book/setup.md, "Data".
    """


def data_root() -> Path:
    """The directory data sets live in: ``$COURSE_DATA_DIR``, else ``~/.cache/dl-course``.

    It must be an absolute path to a directory you can write to; anything else is refused
    here, naming the setting. Explained in book/setup.md, "Data".
    """
    configured = os.environ.get("COURSE_DATA_DIR", "").strip()
    if not configured:
        try:
            DEFAULT_DATA_DIR.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DataError(
                f"The default data root {DEFAULT_DATA_DIR} cannot be created ({error.strerror}): "
                "the home directory is not writable here. Set COURSE_DATA_DIR to a directory you "
                "can write to, e.g. `mkdir -p /tmp/dl-course && export COURSE_DATA_DIR=/tmp/dl-course`."
            ) from error
        _require_writable(DEFAULT_DATA_DIR, f"The default data root {DEFAULT_DATA_DIR}")
        return DEFAULT_DATA_DIR
    root = Path(configured).expanduser()
    setting = f"COURSE_DATA_DIR is set to {configured!r}"
    if not root.is_absolute():
        raise DataError(
            f"{setting}, a relative path: it would name a different folder from book/ than from "
            f"the repository root. Use an absolute path, e.g. "
            f"`export COURSE_DATA_DIR={Path.cwd() / root}`."
        )
    if root.exists() and not root.is_dir():
        raise DataError(
            f"{setting}, which is a file, not a directory. Point it at a directory, or unset "
            f"COURSE_DATA_DIR to use the default {DEFAULT_DATA_DIR}."
        )
    if not root.is_dir():
        raise DataError(
            f"{setting}, which is not an existing directory. "
            f"Create it with `mkdir -p {configured}`, or unset COURSE_DATA_DIR to use "
            f"the default {DEFAULT_DATA_DIR}."
        )
    _require_writable(root, setting)
    return root


def _require_writable(root: Path, setting: str) -> None:
    """Refuse a data root that cannot hold the files the loaders write, before any work."""
    try:
        fd, probe = tempfile.mkstemp(dir=root, prefix=".write-test.", suffix=".tmp")
    except OSError as error:
        raise DataError(
            f"{setting}, but that directory is not writable ({error.strerror}); the data loaders "
            "unpack and cache files there. Set COURSE_DATA_DIR to a directory you can write to."
        ) from error
    os.close(fd)
    os.unlink(probe)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half a file).

    The temporary name carries the writer's process id, so the next write to ``path`` removes
    what a killed writer left behind (:func:`remove_orphan_temp_files`).
    Explained in book/mnist_project.md, "Save, reload, predict the same".
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphan_temp_files(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them current
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_orphan_temp_files(path: Path) -> list[Path]:
    """Delete the temporary files of writes to ``path`` whose process no longer runs.

    A writer killed between creating its temporary file and renaming it (SIGKILL, a power
    cut) leaves ``.<name>.<pid>.<random>.tmp`` behind; a live writer's file is kept.
    """
    path = Path(path)
    removed = []
    prefix = f".{path.name}."
    for tmp in path.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        pid = tmp.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid), tmp):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _process_alive(pid: int, tmp: Path) -> bool:
    if os.name != "posix":  # no safe liveness test: only files a day old count as orphans
        return time.time() - tmp.stat().st_mtime < 86_400
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def file_digest(path: Path) -> str:
    """Hex sha256 digest of a file, read in chunks (book/setup.md, "Data")."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_GNU_SUM = re.compile(r"([0-9a-fA-F]{64})\s+\*?(\S.*)")  # sha256sum: text mode "  ", binary " *"
_BSD_SUM = re.compile(r"SHA256\s*\((.+)\)\s*=\s*([0-9a-fA-F]{64})")  # sha256sum --tag, shasum


def read_checksums(sums_file: Path, fix: str) -> dict[str, str]:
    """File name -> lower-case sha256 from a checksum file in any format sha256sum writes.

    Blank lines and ``#`` comments are skipped; a line that is none of these is an error.
    """
    sums: dict[str, str] = {}
    text = sums_file.read_text(encoding="utf-8-sig")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        gnu, bsd = _GNU_SUM.fullmatch(line), _BSD_SUM.fullmatch(line)
        if gnu is None and bsd is None:
            raise DataError(
                f"{sums_file}, line {number}: {raw!r} is not a sha256 line ('<64 hex digits>  "
                f"<file name>'). Regenerate it with `{fix}`."
            )
        digest, name = (gnu.group(1), gnu.group(2)) if gnu else (bsd.group(2), bsd.group(1))
        name, digest = name.strip(), digest.lower()
        if sums.get(name, digest) != digest:
            raise DataError(f"{sums_file} gives two checksums for {name}. Regenerate it with `{fix}`.")
        sums[name] = digest
    return sums

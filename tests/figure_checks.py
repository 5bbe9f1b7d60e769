"""Is a figure readable on the page? Text size at the page's width, and text that overlaps.

Used by tests/test_plots.py on every shared figure; call ``legibility_problems(fig)`` on any
figure a chapter draws to check it the same way.
"""

from __future__ import annotations

from itertools import combinations

from matplotlib.figure import Figure
from matplotlib.text import Text

from course_lib.plots import PAGE_WIDTH_INCHES

MIN_POINTS = 9  # the smallest text a figure may show, measured at the page's width


def drawn_texts(fig: Figure) -> list[Text]:
    """The non-empty text a reader sees: titles, labels, tick labels, legends, annotations."""
    texts = [fig._suptitle, *fig.texts] if fig._suptitle else list(fig.texts)
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, *ax.texts]
        if ax.axison:
            for axis in (ax.xaxis, ax.yaxis):
                if axis.get_visible():
                    drawn_ticks = axis._update_ticks()  # the ticks inside the view, as draw() uses
                    texts += [axis.label, *(label for t in drawn_ticks for label in (t.label1, t.label2))]
        if ax.get_legend():
            texts += ax.get_legend().get_texts()
    unique = {id(t): t for t in texts if t is not None}.values()
    return [t for t in unique if t.get_visible() and t.get_text().strip()]


def legibility_problems(fig: Figure, min_points: float = MIN_POINTS) -> list[str]:
    """What makes ``fig`` hard to read once shown at most ``PAGE_WIDTH_INCHES`` wide."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    scale = min(1.0, PAGE_WIDTH_INCHES / fig.get_figwidth())
    texts = drawn_texts(fig)
    problems = [
        f"{t.get_text()!r} is {t.get_fontsize() * scale:.1f} pt on the page (at least {min_points})"
        for t in texts
        if t.get_fontsize() * scale < min_points - 1e-6
    ]
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        if box_a.overlaps(box_b):
            problems.append(f"{a.get_text()!r} overlaps {b.get_text()!r}")
    for text, box in boxes:
        for ax in fig.axes:
            if ax is text.axes:
                continue
            for image in ax.images:
                if box.overlaps(image.get_window_extent(renderer)):
                    problems.append(f"{text.get_text()!r} runs into the image of another panel")
    return problems

"""The convnets chapter's figures: each draws what it says, and the explorer stays off the static site."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from figure_checks import legibility_problems
from matplotlib.figure import Figure

from course_lib.conv import named_kernels, receptive_fields
from course_lib.conv_plots import (
    feature_map,
    kernel_explorer,
    plot_feature_maps,
    plot_filters,
    plot_receptive_fields,
    plot_shift_curves,
    plot_sliding_window,
    plot_stages,
    plot_top_images,
    plot_unfold,
    plot_window_positions,
)
from course_lib.models import ClassicCNN
from course_lib.plots import PAGE_WIDTH_INCHES

X = torch.arange(1.0, 10.0).reshape(3, 3)
K = torch.tensor([[1.0, 2.0], [3.0, 4.0]])


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_sliding_window_titles_give_the_output_values():
    Y = F.conv2d(X[None, None], K[None, None])[0, 0]
    fig = plot_sliding_window(X, K, Y)
    assert isinstance(fig, Figure)
    bottom = [ax.get_title() for ax in fig.axes[4:]]
    assert bottom == [f"Y[{i},{j}] = {Y[i, j]:g}" for i in range(2) for j in range(2)]


def test_window_positions_agree_with_conv2d_for_each_setting():
    x = torch.arange(1.0, 26.0).reshape(5, 5)
    for settings in (dict(padding=1), dict(stride=2), dict(dilation=2)):
        y = F.conv2d(x[None, None], K[None, None], **settings)[0, 0]
        fig = plot_window_positions(x, K, **settings)
        titles = [ax.get_title() for ax in fig.axes]
        h, w = y.shape
        assert titles[0] == f"Y[0,0] = {y[0, 0]:g}"
        assert titles[-1] == f"Y[{h - 1},{w - 1}] = {y[-1, -1]:g}"
        assert f"{h}×{w} output" in fig._suptitle.get_text()


def test_window_positions_highlight_the_dilated_taps():
    x = torch.arange(1.0, 26.0).reshape(5, 5)
    fig = plot_window_positions(x, K, dilation=2, positions=[(0, 0)])
    coloured = [p for p in fig.axes[0].patches if p.get_alpha() == 0.45]
    corners = sorted((round(p.get_y() + 0.5), round(p.get_x() + 0.5)) for p in coloured)
    assert corners == [(0, 0), (0, 2), (2, 0), (2, 2)]


def test_padding_zeros_are_drawn_around_the_input():
    fig = plot_window_positions(X, K, padding=1, positions=[(0, 0)])
    assert texts(fig.axes[0]).count("0") == 16  # the 5×5 padded grid's border


def test_unfold_figure_shows_the_unfold_matrix():
    fig = plot_unfold(X, kernel_size=2)
    matrix = fig.axes[-1]
    expected = F.unfold(X[None, None], kernel_size=2)[0]
    assert texts(matrix) == [f"{v:g}" for v in expected.flatten().tolist()]


def test_feature_map_is_conv2d_with_padding_one():
    image = torch.rand(28, 28)
    kernel = named_kernels()["vertical edges (Sobel x)"]
    expected = F.conv2d(image[None, None], kernel[None, None], padding=1)[0, 0]
    torch.testing.assert_close(feature_map(image, kernel), expected)


def test_kernel_explorer_is_not_created_on_the_static_site(monkeypatch):
    images = torch.rand(4, 1, 28, 28)
    monkeypatch.setenv("COURSE_STATIC_OUTPUT", "1")
    assert kernel_explorer(images, named_kernels()) is None
    monkeypatch.delenv("COURSE_STATIC_OUTPUT")
    widget = kernel_explorer(images, named_kernels(), start=2)
    choice, digit, grid = widget.children[0].children
    assert digit.value == 2
    sobel = named_kernels()["vertical edges (Sobel x)"].flatten().tolist()
    choice.value = "vertical edges (Sobel x)"
    assert [box.value for box in grid.children] == sobel
    grid.children[0].value = 5.0  # typing a weight makes the kernel a custom one
    assert choice.value == "custom"


def test_figures_of_the_trained_network_have_their_panels():
    images = torch.rand(3, 1, 28, 28)
    assert len(plot_feature_maps(images, named_kernels()).axes) == 3 * 7
    fields = [r for r in receptive_fields(ClassicCNN().features) if r.layer == "Conv2d"]
    fig = plot_receptive_fields(images[0], fields, units=(12, 5, 1))
    assert len(fig.axes[0].patches) == 3
    assert len(plot_filters(torch.rand(32, 3, 3), "filters").axes) == 32
    stages = [("a", torch.rand(8, 6, 6)), ("b", torch.rand(8, 3, 3))]
    fig = plot_stages(images[0], stages)
    assert len(fig.axes) == (1 + 2) * 9  # the input's row, then one row per stage
    assert [fig.axes[9 * row].texts[0].get_text() for row in range(3)] == [
        "input\n1 × 28 × 28",
        "a\n8 × 6 × 6",
        "b\n8 × 3 × 3",
    ]
    assert len(plot_top_images(images, [1, 2, 3], torch.rand(3, 5, 5), "top").axes) == 6
    ax = plot_shift_curves(range(3), {"CNN": [0.9, 0.8, 0.5], "MLP": [0.9, 0.6, 0.3]}, "acc").axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["CNN", "MLP"]


def chapter_stages() -> list[tuple[str, torch.Tensor]]:
    """What book/convnets.md, section 9 passes: one digit after each ReLU and each pooling."""
    x, stages = torch.rand(1, 1, 28, 28), []
    with torch.no_grad():
        for layer in ClassicCNN().features:
            x = layer(x)
            if not isinstance(layer, torch.nn.Conv2d):
                stages.append(x[0])
    names = ["conv1 + ReLU", "pool1", "conv2 + ReLU", "pool2", "conv3 + ReLU"]
    return list(zip(names, stages))


def receptive_fields_figure() -> Figure:
    fields = [r for r in receptive_fields(ClassicCNN().features) if r.layer == "Conv2d"]
    return plot_receptive_fields(torch.rand(1, 28, 28), fields, units=(12, 5, 1))


X5 = torch.arange(1.0, 26.0).reshape(5, 5)
TOP_TITLE = (
    "the 12 validation digits that most excite channel 63 of conv2\n(below: that channel's map of each)"
)

# Every figure of book/convnets.md, drawn with inputs shaped like the chapter's.
CHAPTER_FIGURES = {
    "sliding window": lambda: plot_sliding_window(X, K, F.conv2d(X[None, None], K[None, None])[0, 0]),
    "window positions, padding 1": lambda: plot_window_positions(X5, K, padding=1),
    "window positions, stride 2": lambda: plot_window_positions(X5, K, stride=2),
    "window positions, dilation 2": lambda: plot_window_positions(X5, K, dilation=2),
    "im2col": lambda: plot_unfold(X, kernel_size=2),
    "hand-made kernels": lambda: plot_feature_maps(torch.rand(4, 1, 28, 28), named_kernels()),
    "receptive fields": receptive_fields_figure,
    "shift curves": lambda: plot_shift_curves(
        range(9), {"CNN": torch.rand(9).tolist(), "MLP": torch.rand(9).tolist()}, "validation accuracy"
    ),
    "first-layer kernels": lambda: plot_filters(
        torch.randn(32, 3, 3), "first-layer kernels of the trained ClassicCNN"
    ),
    "stages": lambda: plot_stages(torch.rand(1, 28, 28), chapter_stages()),
    "top images": lambda: plot_top_images(
        torch.rand(12, 1, 28, 28), torch.randint(0, 10, (12,)), torch.rand(12, 11, 11), TOP_TITLE
    ),
}


@pytest.mark.parametrize("name", CHAPTER_FIGURES)
def test_chapter_figures_are_legible_at_the_page_width(name):
    """At most the page's width, text at least 9 pt there, no text running into text or images.

    Each of these figures used to be wider than the page (up to 13.2 inches), its text
    shrunk to 5 to 8.8 pt on the site."""
    fig = CHAPTER_FIGURES[name]()
    assert fig.get_figwidth() <= PAGE_WIDTH_INCHES + 1e-9
    assert legibility_problems(fig) == []


def test_top_images_put_each_map_below_its_image():
    images, maps = torch.rand(12, 1, 28, 28), torch.rand(12, 11, 11)
    fig = plot_top_images(images, torch.arange(12) % 10, maps, "top")
    assert len(fig.axes) == 24
    fig.canvas.draw()  # constrained layout places the panels when drawing
    for m in (0, 7, 11):
        top, bottom = fig.axes[2 * m], fig.axes[2 * m + 1]
        assert top.get_title() == f"'{m % 10}'"
        torch.testing.assert_close(torch.as_tensor(bottom.images[0].get_array()), maps[m])
        assert bottom.get_position().y1 < top.get_position().y0  # the map sits under its image

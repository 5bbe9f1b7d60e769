"""The GAN chapter's figures: each draws what it is given and is readable on the page."""

import matplotlib
import numpy as np
import pytest
import torch
from figure_checks import legibility_problems

from course_lib import gan_plots
from course_lib.gan import ring_centres, ring_mixture

matplotlib.use("Agg")

g = torch.Generator().manual_seed(0)
x = torch.linspace(-5, 6, 200)
path = torch.stack([torch.cos(torch.arange(50) / 5), torch.sin(torch.arange(50) / 5)], 1)
images = torch.rand(10, 1, 28, 28, generator=g)
ladder = {f"{kind} {level}": value for kind, value in (("noise", 5), ("blur", 3)) for level in (1, 2)}

FIGURES = {
    "optimal discriminator": lambda: gan_plots.plot_optimal_discriminator(
        x, torch.exp(-(x**2)), torch.exp(-((x - 1) ** 2)), torch.sigmoid(x), torch.sigmoid(x)
    ),
    "generator losses": lambda: gan_plots.plot_generator_losses(
        np.linspace(0.01, 0.99, 50),
        np.log(1 - np.linspace(0.01, 0.99, 50)),
        -np.log(np.linspace(0.01, 0.99, 50)),
    ),
    "four trajectories": lambda: gan_plots.plot_trajectories(
        {
            name: (path, r"$\theta$", r"$\psi$")
            for name in ("simultaneous", "alternating", "R1", "non-saturating")
        }
    ),
    "ring grid": lambda: gan_plots.plot_ring_grid(
        ring_mixture(500, g),
        {"plain GAN": torch.randn(300, 4, 2), "minibatch std": torch.randn(300, 4, 2)},
        ring_centres(8, 2.0),
    ),
    "image rows": lambda: gan_plots.plot_image_rows({"real": images, "nearest\ntraining": images}),
    "Fréchet ladder": lambda: gan_plots.plot_frechet_ladder(
        ladder, 0.5, {"MLP GAN": 9.0, "DCGAN": 4.0}, "MNIST"
    ),
    "Fréchet curve": lambda: gan_plots.plot_frechet_curve(
        {"MLP GAN": ([50, 100], [30.0, 9.0]), "DCGAN": ([50, 100], [20.0, 4.0])}, 0.5, {"noise 0.6": 12.0}
    ),
    "class shares": lambda: gan_plots.plot_class_shares(
        {name: np.full(10, 0.1) for name in ("MLP GAN", "DCGAN", "real")}, range(10)
    ),
}


@pytest.mark.parametrize("name", FIGURES)
def test_each_figure_is_readable_at_the_page_width(name):
    assert legibility_problems(FIGURES[name]()) == []


def test_image_rows_show_one_image_per_panel_and_label_each_row():
    fig = gan_plots.plot_image_rows({"real": images[:3], "DCGAN": images[:2]})
    assert len(fig.axes) == 6
    assert [fig.axes[0].get_ylabel(), fig.axes[3].get_ylabel()] == ["real", "DCGAN"]
    assert [len(ax.images) for ax in fig.axes] == [1, 1, 1, 1, 1, 0]


def test_the_ladder_marks_the_floor_and_draws_every_bar():
    fig = gan_plots.plot_frechet_ladder(ladder, 0.5, {"DCGAN": 4.0})
    ax = fig.axes[0]
    assert len(ax.patches) == len(ladder) + 1
    assert ax.get_legend().get_texts()[0].get_text() == "real vs real: 0.50"

"""Book machinery, not part of the library's public surface: glue and the chapters' floors.

``glue`` pastes computed values into the prose (myst-nb glue). On the site,
``glue("name", value)`` stores ``value`` so the prose can show it with
``{glue:text}`name:.1%``; in Colab or plain Jupyter (no myst-nb) it only displays the value
when asked to, so the same notebook runs everywhere.
"""

from __future__ import annotations

import os

# Set by the book build (_ext/notebook_execution.py) for the kernels it starts.
STATIC_OUTPUT_ENV = "COURSE_STATIC_OUTPUT"


def on_static_site() -> bool:
    """True while the book build executes a chapter, whose outputs become static pages.

    Cells then show static figures and plain text instead of live widgets and progress
    bars; in Colab, Jupyter, nbval and ``make notebooks`` it is False.
    """
    return os.environ.get(STATIC_OUTPUT_ENV) == "1"


def glue(name: str, value, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the book's prose; a no-op outside the book build.

    Used by every chapter's prose (see the MNIST project chapter).
    """
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()  # myst-nb cannot format np.float64(...) in the prose
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)


# Test-accuracy floors of the classic CNN on MNIST, per data set and profile. The convolutional
# networks chapter and the MNIST project chapter train the same model the same way, so both
# check against this one table: loose for ``ci`` (a short run proving the code path), tighter
# for ``cpu`` and ``gpu``, and 99% for ``gpu`` on full MNIST.
MNIST_CNN_FLOOR = {
    "sample": {"ci": 0.85, "cpu": 0.95, "gpu": 0.95},
    "full": {"ci": 0.85, "cpu": 0.97, "gpu": 0.99},
}


def mnist_cnn_floor(profile_name: str, source: str) -> float:
    """The test-accuracy floor the classic CNN must reach under a profile on ``sample``/``full`` MNIST.

    Explained in the MNIST project chapter (section 5); also checked in the convolutional
    networks chapter.
    """
    if source not in MNIST_CNN_FLOOR:
        raise ValueError(f"unknown data source {source!r}; expected one of {sorted(MNIST_CNN_FLOOR)}")
    floors = MNIST_CNN_FLOOR[source]
    if profile_name not in floors:
        raise ValueError(f"unknown profile {profile_name!r}; expected one of {sorted(floors)}")
    return floors[profile_name]

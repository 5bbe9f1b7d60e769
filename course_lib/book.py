"""Helpers for the book's pages: paste computed values into the prose (myst-nb glue).

On the site, ``glue("name", value)`` stores ``value`` so the prose can show it with
``{glue:text}`name:.1%``; in Colab or plain Jupyter (no myst-nb) it only displays the value
when asked to, so the same notebook runs everywhere.
"""

from __future__ import annotations


def glue(name: str, value, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the book's prose; a no-op outside the book build.

    Used by every chapter's prose (see the MNIST project chapter).
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)

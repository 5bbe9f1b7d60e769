"""Point each chapter's Colab launch button at its paired notebook.

Chapter sources live in ``book/<stem>.md``; the notebooks that Colab opens live in
``notebooks/<stem>.ipynb`` (same stem). sphinx-book-theme builds its Colab link from
the page's own source path, ``book/<stem>.md``, which Colab cannot open.

This extension runs after the theme's ``html-page-context`` handlers (priority 501)
and replaces the theme's launch-button group:

* a page ``book/<stem>`` whose ``notebooks/<stem>.ipynb`` exists gets one Colab
  button linking to
  ``<colab_url>/github/<org>/<repo>/blob/<branch>/notebooks/<stem>.ipynb``;
* every other page (prose pages such as the landing page) gets no launch button.

``<org>/<repo>`` and ``<branch>`` come from ``repository:`` in ``_config.yml`` and
``<colab_url>`` from ``launch_buttons.colab_url``, so the repository is set in one
place. The theme's download buttons (source file, .ipynb, print to PDF) are untouched.
"""

from pathlib import Path

LAUNCH_GROUP = "launch-buttons"  # the label sphinx-book-theme gives its launch group


def colab_link(app, stem):
    """Colab URL of ``notebooks/<stem>.ipynb``, or None without a GitHub repo or Colab URL."""
    opts = app.config.html_theme_options
    colab = opts.get("launch_buttons", {}).get("colab_url", "").rstrip("/")
    repo_url = opts.get("repository_url", "").rstrip("/").removesuffix(".git")
    if not colab or "github.com/" not in repo_url:
        return None
    org, repo = repo_url.split("github.com/")[1].split("/")[:2]
    branch = opts.get("repository_branch") or "main"
    path = "/".join(p for p in (opts.get("path_to_docs", "").strip("/"), "notebooks") if p)
    return f"{colab}/github/{org}/{repo}/blob/{branch}/{path}/{stem}.ipynb"


def fix_launch_button(app, pagename, templatename, context, doctree):
    """``html-page-context`` handler: swap the theme's launch group for our Colab one."""
    buttons = context.get("header_buttons")
    if buttons is None:  # not a sphinx-book-theme page
        return
    where = next((i for i, b in enumerate(buttons) if b.get("label") == LAUNCH_GROUP), 0)
    buttons[:] = [b for b in buttons if b.get("label") != LAUNCH_GROUP]

    folder, _, stem = pagename.rpartition("/")
    url = colab_link(app, stem)
    if folder != "book" or url is None or not Path(app.srcdir, "notebooks", f"{stem}.ipynb").is_file():
        return
    colab = {
        "type": "link",
        "text": "Colab",
        "tooltip": "Launch on Colab",
        "icon": "_static/images/logo_colab.png",
        "url": url,
    }
    buttons.insert(
        where,
        {
            "type": "group",
            "tooltip": "Launch interactive content",
            "icon": "fas fa-rocket",
            "buttons": [colab],
            "label": LAUNCH_GROUP,
        },
    )


def setup(app):
    app.connect("html-page-context", fix_launch_button, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

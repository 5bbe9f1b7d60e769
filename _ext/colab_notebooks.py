"""Give each chapter two Colab buttons: its exercises (the default) and the solved notebook.

Chapter sources live in ``book/<stem>.md``. Colab opens notebooks from the repository:

* ``notebooks/student/<stem>.ipynb``, the student notebook (solutions replaced by stubs,
  no outputs): the first button, "Colab: exercises", what a learner should open;
* ``notebooks/<stem>.ipynb``, the solved notebook with the outputs of the ``ci`` run: the
  second button, "Colab: solved", for self-study and for instructors.

sphinx-book-theme builds its Colab link from the page's own source path,
``book/<stem>.md``, which Colab cannot open, so this extension runs after the theme's
``html-page-context`` handlers (priority 600) and replaces the theme's launch-button group
with these two links. A page without a notebook (the landing page, the guides) gets no
launch button; a chapter whose student notebook is missing gets only the solved one.

``<org>/<repo>`` and ``<branch>`` come from ``repository:`` in ``_config.yml`` and the
Colab address from ``launch_buttons.colab_url``, so the repository is set in one place.
The theme's download buttons (source file, .ipynb, print to PDF) are untouched.
"""

from pathlib import Path

LAUNCH_GROUP = "launch-buttons"  # the label sphinx-book-theme gives its launch group
STUDENT, SOLVED = "notebooks/student", "notebooks"


def colab_link(app, stem, folder=SOLVED):
    """Colab URL of ``<folder>/<stem>.ipynb``, or None without a GitHub repo or Colab URL."""
    opts = app.config.html_theme_options
    colab = opts.get("launch_buttons", {}).get("colab_url", "").rstrip("/")
    repo_url = opts.get("repository_url", "").rstrip("/").removesuffix(".git")
    if not colab or "github.com/" not in repo_url:
        return None
    org, repo = repo_url.split("github.com/")[1].split("/")[:2]
    branch = opts.get("repository_branch") or "main"
    path = "/".join(p for p in (opts.get("path_to_docs", "").strip("/"), folder) if p)
    return f"{colab}/github/{org}/{repo}/blob/{branch}/{path}/{stem}.ipynb"


def chapter_buttons(app, stem):
    """The Colab links a chapter page gets, exercises first; [] for a page without notebook."""
    buttons = []
    for folder, text, tooltip in (
        (STUDENT, "Colab: exercises", "Open the exercises (student notebook) in Colab"),
        (SOLVED, "Colab: solved", "Open the solved notebook in Colab, for self-study"),
    ):
        url = colab_link(app, stem, folder)
        if url and Path(app.srcdir, folder, f"{stem}.ipynb").is_file():
            icon = "_static/images/logo_colab.png"
            buttons.append({"type": "link", "text": text, "tooltip": tooltip, "icon": icon, "url": url})
    return buttons


def fix_launch_button(app, pagename, templatename, context, doctree):
    """``html-page-context`` handler: swap the theme's launch group for our Colab one."""
    buttons = context.get("header_buttons")
    if buttons is None:  # not a sphinx-book-theme page
        return
    where = next((i for i, b in enumerate(buttons) if b.get("label") == LAUNCH_GROUP), 0)
    buttons[:] = [b for b in buttons if b.get("label") != LAUNCH_GROUP]

    folder, _, stem = pagename.rpartition("/")
    colab = chapter_buttons(app, stem) if folder == "book" else []
    if not colab:
        return
    buttons.insert(
        where,
        {
            "type": "group",
            "tooltip": "Open this chapter in Colab",
            "icon": "fas fa-rocket",
            "buttons": colab,
            "label": LAUNCH_GROUP,
        },
    )


def setup(app):
    app.connect("html-page-context", fix_launch_button, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

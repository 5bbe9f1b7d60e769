"""The site as readers get it: self-contained, readable on a phone, honest about its run.

What this extension adds to the Jupyter Book build (issue 13, "The published site"):

* **MathJax shipped with the site.** MathJax 3 comes from the pinned PyPI package
  ``django-static-mathjax`` (the official MathJax distribution); the parts a page can load
  are copied to ``_static/mathjax`` and ``mathjax_path`` points there, so formulas typeset
  offline, behind a firewall and in a copy of the site saved to disk.
* **No widget JavaScript.** ``nb_ipywidgets_js`` is empty in ``_config.yml``, so no page
  loads require.js or the widget manager from a CDN; a chapter whose executed notebook
  still carries widget state gets a build warning (an error under ``-W``) naming it,
  because under ``course_lib._book.on_static_site()`` no widget may be created at all.
* **Site CSS and JavaScript** (``_ext/static``): phone layout (inline code wraps, wide
  display math scrolls in its own box), print layout, and the sidebar-button fix for the
  pinned theme pair.
* **Figures at 200 dpi.** The kernels of the build draw inline figures as "retina" PNGs
  (twice the pixels, shown at the same size), set once here through their IPython config.
* **A "last verified" line** under every chapter's title: profile, device, torch and data
  (read from the chapter's banner, its first output), the date the chapter was executed and
  how long its execution took (myst-nb's execution record).
* Source maps of the theme's minified files are left out of the site (3.4 MB no reader
  fetches), inline scripts that two extensions register twice are emitted once, and pages
  without formulas (the landing page) do not load MathJax.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

# MathJax 3 as shipped by django-static-mathjax: <package mathjax>/static/mathjax/es5.
# The combined component that pages load, and the folders its loader fetches from on demand
# (TeX extensions such as \require, the CHTML fonts, the menu and the accessibility tools).
MATHJAX_ENTRY = "tex-mml-chtml.js"
MATHJAX_PARTS = (MATHJAX_ENTRY, "input/tex/extensions", "output/chtml/fonts/woff-v2", "ui", "a11y", "sre")
MATHJAX_TARGET = "mathjax"  # under _static

# IPython kernel configuration for the build's kernels: inline figures as 2x PNGs.
KERNEL_CONFIG = """\
# Written by _ext/course_site.py for the kernels of the book build (not used elsewhere).
# Inline figures as "retina" PNGs: twice the pixels of matplotlib's 100 dpi, shown at the
# same size, so text and lines stay sharp on phones and high-density screens.
c.InlineBackend.figure_formats = {"retina"}
"""

# The banner every chapter prints first (course_lib.config.banner), e.g.
# "profile=ci | device=cpu | torch 2.14.1+cu130 | data: MNIST sample (4,000 train ...)".
BANNER = re.compile(
    r"^profile=(?P<profile>\S+) \| device=(?P<device>.+?) \| torch (?P<torch>\S+) \| data: (?P<data>.+)$",
    re.MULTILINE,
)


def mathjax_source() -> Path:
    """The ``es5`` folder of the installed MathJax distribution."""
    return Path(str(resources.files("mathjax"))) / "static" / "mathjax" / "es5"


def parse_banner(text: str) -> dict[str, str] | None:
    """The fields of a chapter banner in ``text``; ``data`` is shortened to its name.

    ``"data: MNIST sample (4,000 train + ...)"`` gives ``data="MNIST sample"``.
    """
    match = BANNER.search(text)
    if match is None:
        return None
    fields = match.groupdict()
    fields["data"] = fields["data"].split(" (", 1)[0].strip()
    return fields


def format_seconds(seconds: float) -> str:
    """``41 s`` or ``3 min 12 s``: how long a chapter's execution took."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60} s"


def last_verified_text(banner: dict[str, str], executed: datetime, runtime: float | None) -> str:
    """The sentence under a chapter's title that says when and how the page was computed."""
    took = "" if runtime is None else f", in {format_seconds(runtime)}"
    return (
        f"Last verified {executed:%Y-%m-%d}: every cell on this page ran{took} "
        f"under profile {banner['profile']} on {banner['device']} with torch {banner['torch']}; "
        f"data: {banner['data']}."
    )


def first_output_text(doctree: nodes.document) -> str | None:
    """The text of the first cell output on a page (the banner, in a chapter)."""
    for block in doctree.findall(nodes.literal_block):
        if "output" in block.get("classes", []):
            return block.astext()
    return None


def add_last_verified(app, doctree: nodes.document) -> None:
    """``doctree-read``: put the "last verified" line under the title of an executed chapter."""
    from myst_nb.sphinx_ import NbMetadataCollector

    docname = app.env.docname
    executed = NbMetadataCollector.get_exec_data(app.env, docname)
    if not executed:
        return  # a prose page: nothing was run
    banner = parse_banner(first_output_text(doctree) or "")
    if banner is None:
        logger.warning(
            f"{docname}: the first output is not the chapter banner (course_lib.config.banner: "
            "'profile=... | device=... | torch ... | data: ...'), so the page gets no "
            "'last verified' line; print the banner first",
            location=docname,
        )
        return
    when = datetime.fromtimestamp(executed.get("mtime") or datetime.now().timestamp(), tz=timezone.utc)
    line = nodes.paragraph(classes=["last-verified"])
    line += nodes.Text(last_verified_text(banner, when, executed.get("runtime")))
    section = next(doctree.findall(nodes.section), None)
    if section is None:
        doctree.insert(0, line)
    else:
        section.insert(1, line)  # right after the title


def warn_about_widget_state(app, doctree: nodes.document) -> None:
    """``doctree-read``: a chapter executed for the site must not create live widgets."""
    from myst_nb.sphinx_ import NbMetadataCollector

    if "ipywidgets_state" in NbMetadataCollector.get_js_files(app.env, app.env.docname):
        logger.warning(
            f"{app.env.docname}: the executed chapter carries ipywidgets state, so a widget was "
            "created while building the static site. Create widgets only when "
            "course_lib._book.on_static_site() is False (the site shows the static figure next "
            "to it); the site loads no widget JavaScript, so the widget would be blank",
            location=app.env.docname,
        )


def configure(app, config) -> None:
    """``config-inited``: shipped MathJax, site assets, and the kernels' figure format."""
    config.mathjax_path = f"{MATHJAX_TARGET}/{MATHJAX_ENTRY}"  # relative to _static
    config.html_static_path.append(str(STATIC))
    # pydata-sphinx-theme starts a first visit with the colour mode "" and logs a console
    # error about it on every page until the reader picks a mode; start from "auto" instead.
    config.html_context.setdefault("default_mode", "auto")  # a template variable of the theme
    # absolute: the kernels run in each chapter's own folder, where a relative path breaks
    profile = Path(app.doctreedir).resolve() / "ipython" / "profile_default"
    kernel_config = profile / "ipython_kernel_config.py"
    kernel_config.parent.mkdir(parents=True, exist_ok=True)
    kernel_config.write_text(KERNEL_CONFIG)
    os.environ["IPYTHONDIR"] = str(kernel_config.parents[1])  # inherited by the kernels


def tidy_scripts(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: each inline script once, and MathJax only where there is math.

    sphinx-thebe and sphinx-togglebutton register their inline scripts both before and after
    the builder starts, once with the file name ``None`` and once with ``""``, so Sphinx
    keeps both; a second ``const THEBE_JS_URL`` is a SyntaxError in every page's console.
    Sphinx loads MathJax on a page whose table of contents includes pages with math (the
    landing page), 1.2 MB for no formula; it is left out where the page itself has none.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    math = (nodes.math, nodes.math_block)
    has_math = doctree is None or any(doctree.findall(lambda n: isinstance(n, math)))
    seen, unique = set(), []
    for script in scripts:
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        is_mathjax = str(script.filename or "").endswith(app.config.mathjax_path) or script.attributes.get(
            "body", ""
        ).startswith("window.MathJax")
        if key not in seen and (has_math or not is_mathjax):
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def finish_static_files(app, exception) -> None:
    """``build-finished``: copy MathJax into the site, leave the theme's source maps out."""
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    source, target = mathjax_source(), static / MATHJAX_TARGET
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)
    for source_map in static.rglob("*.map"):
        source_map.unlink()


def setup(app):
    app.connect("config-inited", configure)
    app.connect("doctree-read", add_last_verified)
    app.connect("doctree-read", warn_about_widget_state)
    app.connect("html-page-context", tidy_scripts, priority=600)  # after sphinx.ext.mathjax
    app.connect("build-finished", finish_static_files)
    app.add_css_file("course.css")
    app.add_js_file("course.js", defer="defer")
    return {"parallel_read_safe": True, "parallel_write_safe": True}

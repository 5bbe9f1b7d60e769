"""The built pages as files: self-contained, clean outputs, sharp figures with alt text, links
that resolve, and a "last verified" line on every chapter (issue 13)."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup
from site_files import ROOT, chapter_stems, page_name, pages, soup

# Chapters whose figures do not all have alt text yet. The check lists their figures without
# it but does not fail; take a chapter off this list once its figures have alt text (how:
# README, "Figures and alt text"), and a new chapter starts off the list.
ALT_TEXT_PENDING = set()

# (tag, attribute) pairs through which a page makes the browser fetch something.
FETCHING = [
    ("script", "src"),
    ("link", "href"),
    ("img", "src"),
    ("iframe", "src"),
    ("source", "src"),
    ("video", "src"),
    ("audio", "src"),
    ("embed", "src"),
    ("object", "data"),
]
LINK_RELS_THAT_FETCH = {"stylesheet", "icon", "preload", "modulepreload", "prefetch", "manifest", "shortcut"}

# What must never appear in a cell output on a page.
DIRTY_OUTPUT = {
    "a Python warning": re.compile(r"\b\w*Warning: "),
    "a traceback": re.compile(r"Traceback \(most recent call last\)|^\s*File \".*\", line \d+", re.M),
    "a temporary path": re.compile(r"/tmp/|\\Temp\\|<temporary ipykernel file>|ipykernel_\d+"),
    "a progress bar": re.compile(r"\d+%\|.*\||\d+/\d+ \[\d\d:\d\d<"),
}


def test_the_site_has_its_pages(site):
    names = {page_name(p) for p in pages()}
    assert "index.html" in names and "search.html" in names
    for stem in chapter_stems():
        assert f"book/{stem}.html" in names, f"chapter {stem} is missing from the site"


def external_fetches(page: Path) -> list[str]:
    found = []
    for tag, attribute in FETCHING:
        for element in soup(page).find_all(tag):
            url = element.get(attribute)
            if not url or (tag == "link" and not LINK_RELS_THAT_FETCH & set(element.get("rel", []))):
                continue
            if urlsplit(url).scheme in {"http", "https"} or url.startswith("//"):
                found.append(f"<{tag} {attribute}={url!r}>")
    for element in soup(page).find_all(attrs={"data-jupyter-widgets-cdn": True}):
        found.append(f"widget CDN {element['data-jupyter-widgets-cdn']!r}")
    return found


def test_pages_fetch_nothing_from_other_hosts(site):
    """MathJax and everything else come with the site: no script, style, font or image from a CDN."""
    problems = {page_name(p): f for p in pages() if (f := external_fetches(p))}
    assert not problems, f"pages that load from other hosts: {problems}"


def test_stylesheets_fetch_nothing_from_other_hosts(site):
    external = re.compile(r"(?:url\(\s*['\"]?|@import\s+['\"])(?:https?:)?//", re.I)
    problems = [
        css.relative_to(site).as_posix() for css in site.rglob("*.css") if external.search(css.read_text())
    ]
    assert not problems, f"stylesheets that load from other hosts: {problems}"


def test_mathjax_is_shipped_with_the_site(site):
    mathjax = site / "_static" / "mathjax"
    assert (mathjax / "tex-mml-chtml.js").is_file()
    assert list((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff")), "MathJax fonts missing"
    assert (mathjax / "input" / "tex" / "extensions").is_dir(), "MathJax TeX extensions missing"
    with_math = [p for p in pages() if soup(p).select("div.math, span.math")]
    assert with_math, "no page has math: did the build change?"
    for page in with_math:
        sources = [s.get("src", "") for s in soup(page).find_all("script")]
        assert any(s.endswith("_static/mathjax/tex-mml-chtml.js") for s in sources), page_name(page)


def test_no_widget_state_or_widget_views_on_any_page(site):
    """Live widgets are not created for the site (on_static_site()), so no page carries their state."""
    problems = [
        page_name(p)
        for p in pages()
        if soup(p).find("script", type=re.compile("application/vnd.jupyter.widget-(state|view)"))
    ]
    assert not problems, f"pages with ipywidgets state or views: {problems}"


def dirty_outputs(page: Path) -> list[str]:
    found = []
    for output in soup(page).select("div.cell_output"):
        if output.select(".stderr, .traceback, .output.error"):
            found.append("a stderr or error block")
        text = output.get_text()
        for what, pattern in DIRTY_OUTPUT.items():
            if match := pattern.search(text):
                found.append(f"{what}: {text[max(0, match.start() - 40) : match.end() + 40]!r}")
    return found


def test_outputs_show_no_warnings_paths_tracebacks_or_progress_bars(site):
    problems = {page_name(p): f for p in pages() if (f := dirty_outputs(p))}
    assert not problems, f"cell outputs a reader should not see: {problems}"


def png_width(path: Path) -> int:
    with path.open("rb") as file:
        header = file.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">I", header[16:20])[0]


def output_images(page: Path):
    for img in soup(page).select("div.cell_output img"):
        yield img, (page.parent / unquote(img["src"])).resolve()


def shown_width(img) -> float | None:
    """CSS pixels an image is shown at: myst-nb writes it as ``style="width: 523px; ..."``."""
    if img.get("width"):
        return float(img["width"])
    found = re.search(r"(?:^|;)\s*width:\s*([\d.]+)px", img.get("style", ""))
    return float(found.group(1)) if found else None


def test_shown_width_reads_the_attribute_or_the_style():
    page = BeautifulSoup('<img width="300"><img style="width: 523px; height: 654px;"><img>', "html.parser")
    assert [shown_width(img) for img in page.find_all("img")] == [300.0, 523.0, None]


def test_figures_are_drawn_at_150_dpi_or_more(site):
    """Output PNGs carry at least 1.5 pixels per CSS pixel they are shown at (the build draws 2)."""
    problems = []
    for page in pages():
        for img, file in output_images(page):
            if file.suffix != ".png":
                continue
            shown = shown_width(img)
            density = png_width(file) / shown if shown else 1.0
            if density < 1.5:
                problems.append(f"{page_name(page)}: {file.name} has {density:.2f} px per shown px")
    assert not problems, problems


def figures_without_alt_text(page: Path) -> list[str]:
    return [file.name for img, file in output_images(page) if not img.get("alt") or file.stem in img["alt"]]


def test_every_figure_has_alt_text(site):
    """A figure's alt text comes from its cell's metadata (README, "Figures and alt text")."""
    missing, pending = {}, {}
    for stem in chapter_stems():
        names = figures_without_alt_text(site / "book" / f"{stem}.html")
        if names:
            (pending if stem in ALT_TEXT_PENDING else missing)[stem] = names
    for stem, names in pending.items():
        print(f"alt text still to write in book/{stem}.md: {len(names)} figure(s)")
    assert not missing, f"figures without alt text: {missing}"


@pytest.mark.parametrize("stem", chapter_stems())
def test_every_chapter_says_when_and_how_it_was_last_verified(site, stem):
    line = soup(site / "book" / f"{stem}.html").select_one("article p.last-verified")
    assert line is not None, f"book/{stem}.html has no 'last verified' line"
    text = " ".join(line.get_text().split())
    pattern = (
        r"Last verified \d{4}-\d\d-\d\d: every cell on this page ran, in (\d+ min )?\d+ s "
        r"under profile (ci|cpu|gpu) on \S.* with torch \d\S*; data: \S.*\."
    )
    assert re.fullmatch(pattern, text), text


def ids_in(page: Path) -> set[str]:
    return {element["id"] for element in soup(page).find_all(id=True)} | {
        a["name"] for a in soup(page).find_all("a", attrs={"name": True})
    }


def test_every_internal_link_and_anchor_resolves(site):
    broken = []
    for page in pages():
        for tag, attribute in [("a", "href"), *FETCHING]:
            for element in soup(page).find_all(tag):
                url = element.get(attribute)
                if not url or urlsplit(url).scheme or url.startswith(("//", "mailto:", "javascript:")):
                    continue
                parts = urlsplit(url)
                path, anchor = parts.path, parts.fragment
                target = (page.parent / unquote(path)).resolve() if path else page
                if target.is_dir():
                    target = target / "index.html"
                if not target.is_file():
                    broken.append(f"{page_name(page)}: {url} (no such file)")
                elif anchor and target.suffix == ".html" and unquote(anchor) not in ids_in(target):
                    broken.append(f"{page_name(page)}: {url} (no such anchor)")
    assert not broken, broken


def test_the_site_is_small_enough_to_read_on_mobile_data(site):
    """A guard against a heavy asset sneaking in: no page over 1 MB, no source maps."""
    assert not list(site.rglob("*.map")), "source maps are left out of the site"
    heavy = {page_name(p): p.stat().st_size for p in pages() if p.stat().st_size > 1_000_000}
    assert not heavy, heavy


def test_chapters_on_the_site_are_the_chapters_in_the_book():
    toc = (ROOT / "_toc.yml").read_text()
    for stem in chapter_stems():
        assert f"book/{stem}" in toc

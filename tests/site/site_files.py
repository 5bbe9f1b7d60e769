"""Where the built site is, what its pages and chapters are, and how a test gets it.

The tests in this folder read a built site: ``_build/ci/_build/html`` (what ``make book-ci`` writes; ``make
test`` builds it first), or the folder in ``$COURSE_SITE``. ``make unit`` leaves them out.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("COURSE_SITE", ROOT / "_build" / "ci" / "_build" / "html"))


def in_ci() -> bool:
    """True in CI (``.ci/run`` and GitHub Actions set ``CI=true``): nothing may be skipped there."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str):
    """Skip with ``reason`` on a developer's machine; fail in CI, which must run everything."""
    if in_ci():
        pytest.fail(f"{reason} (CI must run this test, so it fails instead of skipping)")
    pytest.skip(reason)


def pages() -> list[Path]:
    """Every HTML page of the site (the theme's template files under _static are no pages)."""
    if not SITE.is_dir():
        return []
    return sorted(p for p in SITE.rglob("*.html") if "_static" not in p.relative_to(SITE).parts)


def chapter_stems() -> list[str]:
    """Chapters are the pages with a paired notebook: book/<stem>.md and notebooks/<stem>.ipynb."""
    return sorted(
        p.stem for p in (ROOT / "notebooks").glob("*.ipynb") if (ROOT / "book" / f"{p.stem}.md").exists()
    )


@cache
def soup(page: Path) -> BeautifulSoup:
    return BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")


def page_name(page: Path) -> str:
    return page.relative_to(SITE).as_posix()


def built_site() -> Path:
    """The site folder; skips (fails in CI) when it has not been built."""
    if not (SITE / "index.html").is_file():
        skip_or_fail(f"no built site at {SITE}: run `make book-ci` first (make test does)")
    return SITE

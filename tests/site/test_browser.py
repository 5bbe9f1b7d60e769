"""Every page of the built site in a real browser, as a reader on a phone and on a desktop sees it.

Debian's Chromium, driven by selenium through Debian's chromedriver (no browser download),
loads each page from a server on 127.0.0.1 with every other host unreachable, and checks:
no request leaves the loopback server, every formula is typeset, nothing is wider than a
420-px phone screen, the navigation and contents panels open on click, the console shows
no errors, no resource is missing, and searching a word of each chapter finds the chapter.
A copy of the site opened from disk (file://) still typesets its formulas and shows its
figures. Without Chromium the module is skipped with the reason, except in CI (CI=true),
where it fails: `.ci/run` installs `chromium` and `chromium-driver`.

``COURSE_SCREENSHOTS=<folder>`` saves a phone-width and a desktop screenshot of every page.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from site_files import chapter_stems, page_name, pages, skip_or_fail, soup

PHONE = (420, 900)
NARROW_PHONE = (360, 740)
DESKTOP = (1400, 1000)
TIMEOUT = 60  # seconds for any one wait (generous: CI machines are shared)

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    # Outside network blocked: every host name but the loopback server fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def find_browser() -> tuple[str, str]:
    browser = (
        os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    driver = os.environ.get("COURSE_CHROMEDRIVER") or shutil.which("chromedriver")
    if not (browser and driver and Path(browser).exists() and Path(driver).exists()):
        skip_or_fail(
            "browser test skipped: Chromium and chromedriver are not installed here "
            f"(chromium: {browser or 'not found'}, chromedriver: {driver or 'not found'}). "
            "Install Debian's with `sudo apt-get install chromium chromium-driver` "
            "(.ci/run does this in CI), or set COURSE_CHROMIUM and COURSE_CHROMEDRIVER"
        )
    return browser, driver


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def server(site):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(site):
    binary, driver_path = find_browser()
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must not look anything up
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="course-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_script_timeout(TIMEOUT)
    driver.set_page_load_timeout(TIMEOUT)
    yield Browser(driver)
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


class Browser:
    """The selenium driver with the few things these tests do to a page."""

    def __init__(self, driver):
        self.driver = driver

    def screen(self, width: int, height: int, mobile: bool) -> None:
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def open(self, url: str) -> None:
        self.logs()  # drop what earlier pages logged
        self.driver.get(url)
        self.wait_for("return document.readyState === 'complete'")
        state = self.driver.execute_async_script(
            """const done = arguments[arguments.length - 1];
            if (!window.MathJax || !window.MathJax.startup) { done("no MathJax"); return; }
            window.MathJax.startup.promise.then(() => done("typeset"), (e) => done("failed: " + e));"""
        )
        assert state in {"typeset", "no MathJax"}, f"{url}: MathJax {state}"

    def wait_for(self, script: str, *args, what: str = "") -> None:
        deadline = time.monotonic() + TIMEOUT
        while not self.driver.execute_script(script, *args):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or script}")
            time.sleep(0.05)

    def run(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def logs(self) -> tuple[list[dict], list[dict]]:
        """(console messages, network events) since the last call."""
        console = self.driver.get_log("browser")
        network = [json.loads(entry["message"])["message"] for entry in self.driver.get_log("performance")]
        return console, [event for event in network if event["method"].startswith("Network.")]

    def screenshot(self, name: str) -> None:
        folder = os.environ.get("COURSE_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            height = self.run("return document.documentElement.scrollHeight")
            width = self.run("return window.innerWidth")
            self.screen(width, min(height, 6000), mobile=width < 800)
            self.driver.save_screenshot(str(Path(folder) / f"{name}.png"))


# Text a reader sees (code, scripts and typeset formulas taken out): raw TeX left in it means
# MathJax did not typeset a formula.
VISIBLE_TEX = """
const article = document.querySelector("main") || document.body;
const copy = article.cloneNode(true);
copy.querySelectorAll("pre, code, script, style, mjx-container, .highlight").forEach((e) => e.remove());
const text = copy.textContent;
const found = [];
for (const marker of ["\\\\(", "\\\\[", "$$"]) {
  let i = text.indexOf(marker);
  if (i >= 0) found.push(text.slice(Math.max(0, i - 30), i + 50).replace(/\\s+/g, " "));
}
return {found: found, formulas: document.querySelectorAll("mjx-container").length,
        math: document.querySelectorAll("span.math, div.math").length};
"""

# Elements that stick out of the screen without sitting in a box that scrolls or clips them.
TOO_WIDE = """
const width = document.documentElement.clientWidth;
const clipped = (e) => {
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    const overflow = getComputedStyle(a).overflowX;
    if (overflow !== "visible") return a.getBoundingClientRect().right <= width + 1;
  }
  return false;
};
const wide = [];
for (const e of document.body.querySelectorAll("*")) {
  const box = e.getBoundingClientRect();
  if (box.width === 0 || box.height === 0 || getComputedStyle(e).visibility === "hidden") continue;
  if (e.closest("mjx-assistive-mml")) continue;  // MathJax's copy for screen readers, clipped away
  if ((box.right > width + 1 || box.left < -1) && !clipped(e)) {
    wide.push(`${e.tagName.toLowerCase()}.${[...e.classList].join(".")} ` +
              `(${Math.round(box.left)}..${Math.round(box.right)} px): ` +
              (e.textContent || "").trim().slice(0, 60));
  }
}
return {page: document.documentElement.scrollWidth, screen: width, wide: wide.slice(0, 10)};
"""


def site_pages():
    return [page_name(p) for p in pages() if page_name(p) != "index.html"]  # index only redirects


def check_network(events, base: str) -> list[str]:
    """Requests to any other host, and responses that failed."""
    problems = []
    host = urlsplit(base).netloc
    for event in events:
        params = event["params"]
        if event["method"] == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if urlsplit(url).scheme in {"http", "https", "ws", "wss"} and urlsplit(url).netloc != host:
                problems.append(f"request to another host: {url}")
        elif event["method"] == "Network.responseReceived" and params["response"]["status"] >= 400:
            problems.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
    return problems


@pytest.mark.parametrize("name", site_pages())
def test_page_on_a_phone(browser, server, name):
    """At 420 px: only loopback requests, formulas typeset, nothing wider than the screen,
    no console errors, nothing missing."""
    browser.screen(*PHONE, mobile=True)
    browser.open(f"{server}/{name}")
    tex = browser.run(VISIBLE_TEX)
    layout = browser.run(TOO_WIDE)
    console, network = browser.logs()
    errors = [m["message"] for m in console if m["level"] == "SEVERE"]
    assert not check_network(network, server), check_network(network, server)
    assert not tex["found"], f"raw TeX on the page: {tex['found']}"
    assert tex["formulas"] >= tex["math"], f"{tex['math']} formulas, {tex['formulas']} typeset"
    assert not layout["wide"], f"wider than the {PHONE[0]} px screen: {layout['wide']}"
    assert layout["page"] <= PHONE[0], f"the page is {layout['page']} px wide on a {PHONE[0]} px phone"
    assert not errors, f"console errors: {errors}"
    browser.screenshot(f"phone-{name.replace('/', '-')}")


def open_panel(browser, toggle: str, dialog: str) -> int:
    """Click the visible ``toggle`` button; the ``dialog`` must open with links in it."""
    clicked = browser.run(
        """const visible = [...document.querySelectorAll(arguments[0])].filter((b) => b.offsetParent);
        if (!visible.length) return false;
        visible[visible.length - 1].click();
        return true;""",
        toggle,
    )
    assert clicked, f"no visible {toggle} button"
    browser.wait_for("return document.getElementById(arguments[0]).open", dialog, what=f"{dialog} to open")
    links = browser.run("return document.getElementById(arguments[0]).querySelectorAll('a').length", dialog)
    browser.run("document.getElementById(arguments[0]).close()", dialog)
    return links


@pytest.mark.parametrize("width", [NARROW_PHONE, PHONE], ids=lambda w: f"{w[0]}px")
@pytest.mark.parametrize("stem", chapter_stems())
def test_navigation_and_contents_panels_open_on_a_phone(browser, server, stem, width):
    browser.screen(*width, mobile=True)
    browser.open(f"{server}/book/{stem}.html")
    chapters = open_panel(browser, ".primary-toggle", "pst-primary-sidebar-modal")
    assert chapters >= len(chapter_stems()), f"the navigation panel lists {chapters} links"
    sections = open_panel(browser, ".secondary-toggle", "pst-secondary-sidebar-modal")
    assert sections >= 3, f"the contents panel lists {sections} links"


def test_navigation_button_folds_the_sidebar_on_a_desktop(browser, server):
    browser.screen(*DESKTOP, mobile=False)
    browser.open(f"{server}/book/{chapter_stems()[0]}.html")
    shown = """const bar = document.getElementById('pst-primary-sidebar');
        return getComputedStyle(bar).visibility !== 'hidden' && bar.getBoundingClientRect().right > 100;"""
    assert browser.run(shown), "the sidebar is not shown on a desktop"
    click = "[...document.querySelectorAll('.primary-toggle')].filter((b) => b.offsetParent).pop().click()"
    browser.run(click)
    browser.wait_for(shown.replace("return ", "return !(", 1).rstrip(";") + ");", what="the sidebar to fold")
    browser.screenshot("desktop-chapter-folded")
    browser.run(click)
    browser.wait_for(shown, what="the sidebar to unfold")


@pytest.mark.parametrize("stem", chapter_stems())
def test_search_finds_each_chapter(browser, server, site, stem):
    title = soup(site / "book" / f"{stem}.html").find("h1").get_text()
    word = max((w.strip(".,:;!?()") for w in title.split()), key=len)
    browser.screen(*DESKTOP, mobile=False)
    browser.open(f"{server}/search.html?q={word}")
    browser.wait_for(
        "return document.querySelector('#search-results .search-summary, #search-results p')",
        what=f"search results for {word!r}",
    )
    browser.wait_for("return !document.querySelector('#search-progress')?.textContent.includes('Preparing')")
    links = browser.run("return [...document.querySelectorAll('#search-results a')].map((a) => a.href)")
    assert any(f"book/{stem}.html" in link for link in links), f"searching {word!r} found {links}"


def test_a_copy_saved_to_disk_shows_formulas_and_figures(browser, site):
    """Opened from file:// with no server at all, a chapter still typesets and shows figures."""
    browser.screen(*DESKTOP, mobile=False)
    for stem in chapter_stems():
        browser.open((site / "book" / f"{stem}.html").resolve().as_uri())
        tex = browser.run(VISIBLE_TEX)
        assert not tex["found"] and tex["formulas"] >= tex["math"], (stem, tex)
        broken = browser.run(
            "return [...document.images].filter((i) => !(i.complete && i.naturalWidth)).map((i) => i.src)"
        )
        assert not broken, f"{stem}: figures that did not load from disk: {broken}"
        console, network = browser.logs()
        failed = [e["params"] for e in network if e["method"] == "Network.loadingFailed"]
        assert not failed, f"{stem}: files that did not load from disk: {failed}"

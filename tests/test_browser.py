"""The built book as a reader's browser shows it (headless Chromium; marker: book).

Every chapter page of _build/html is served on localhost and opened in Debian's Chromium:
every image decodes, MathJax (served from the book, never a CDN) typesets all the math,
nothing logs a console error, and a full-page screenshot goes to _build/screenshots/.
Without Chromium these tests fail (``make browser-deps`` installs it); they never skip.
"""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import browser  # noqa: E402

HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
PAGES = browser.book_pages(ROOT)
# chapters whose text has equations (the others may have none)
WITH_MATH = {"book/methods", "book/transfer"}

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def driver():
    try:
        browser.check_installed()
    except browser.BrowserMissing as err:
        pytest.fail(str(err))
    with browser.chromium() as d:
        yield d


@pytest.fixture(scope="module")
def site():
    assert (HTML / "index.html").is_file(), f"{HTML} is not built: run `make book` first"
    with browser.serve(HTML) as url:
        yield url


def open_page(driver, url: str) -> dict:
    browser.severe_console(driver)  # drop messages of the previous page
    driver.get(url)
    settled = browser.settle(driver)
    assert "error" not in settled, f"{url}: MathJax failed: {settled['error']}"
    return browser.inspect(driver)


def test_every_built_chapter_is_in_the_toc():
    built = {f"book/{p.stem}" for p in (HTML / "book").glob("*.html")}
    assert built, f"no chapter pages under {HTML / 'book'}"
    assert built <= set(PAGES), f"pages not checked here: {sorted(built - set(PAGES))}"


def test_no_page_loads_anything_from_the_network():
    """Scripts, styles, images and fonts all come from the book itself (works offline)."""
    remote = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=\"(https?:)?//",
                        re.I)
    for page in [HTML / "index.html", *sorted((HTML / "book").glob("*.html"))]:
        text = page.read_text(encoding="utf-8")
        for tag in re.finditer(r"<(?:script|link|img|iframe|source)\b[^>]*>", text, re.I):
            if tag.group(0).lower().startswith("<link") and re.search(
                    r'rel="(?:canonical|author|license)"', tag.group(0)):
                continue
            assert not remote.match(tag.group(0)), f"{page.name}: {tag.group(0)}"
    assert (HTML / "_static" / "mathjax" / "tex-mml-chtml.js").is_file(), \
        "MathJax is not in the book: run `make mathjax`"


@pytest.mark.parametrize("page", PAGES)
def test_page_as_a_reader_sees_it(page, driver, site):
    assert (HTML / f"{page}.html").is_file(), f"{page} is in _toc.yml but was not built"
    info = open_page(driver, f"{site}/{page}.html")
    shot = browser.full_page_png(driver, SHOTS / f"{page.split('/')[-1]}.png")
    errors = browser.severe_console(driver)

    assert info["title"].strip(), f"{page}: no title"
    assert not info["broken"], f"{page}: images that do not load: {info['broken']}"
    assert not info["rawTex"], f"{page}: TeX left untypeset: {info['rawTex']}"
    assert not info["mjxErrors"], f"{page}: MathJax errors: {info['mjxErrors']}"
    if info["mathElements"]:
        assert info["mjx"] >= info["mathElements"], \
            f"{page}: {info['mathElements']} formulas, {info['mjx']} typeset"
    if page in WITH_MATH:
        assert info["mjx"] > 0, f"{page}: no typeset equations (mjx-container)"
    assert not errors, f"{page}: console errors: {errors}"
    assert shot.stat().st_size > 10_000, f"{page}: screenshot {shot} looks empty"
    for box in info["wide"]:  # readable by scrolling sideways: reported, not failed
        warnings.warn(f"{page}: {box['what']} {box['width']} px wide in a {box['column']} px "
                      f"column, the reader scrolls sideways: {box['text']!r}", stacklevel=1)


def test_the_checks_catch_a_broken_page(driver, tmp_path):
    """A page with a missing image, math MathJax never saw and a script error fails every check."""
    (tmp_path / "bad.html").write_text(
        "<html><body><h1>Bad</h1><img src='missing.png'>"
        "<p>Raw $$x^2$$ and \\(y\\) and \\begin{align}z\\end{align}</p>"
        "<p>A dataset \\texttt{owner/name} from a .bib field</p>"
        "<script>undefinedFunction()</script></body></html>", encoding="utf-8")
    with browser.serve(tmp_path) as url:
        info = open_page(driver, f"{url}/bad.html")
        errors = browser.severe_console(driver)
    assert info["broken"] == ["missing.png"]
    assert len(info["rawTex"]) >= 4
    assert any("texttt" in t for t in info["rawTex"]), info["rawTex"]
    assert info["mjx"] == 0
    assert any("undefinedFunction" in e for e in errors), errors

"""The built book as a reader's browser shows it (headless Chromium; marker: book).

Every chapter page of _build/html is served on localhost and opened in Debian's Chromium:
every image decodes, MathJax (served from the book, never a CDN) typesets all the math,
nothing logs a console error; at a phone's width (390 px) and a laptop's (1280 px) nothing
but a table's own scroll box is wider than the screen, at 390 px every display equation, table
and code block fits the screen or scrolls in a box of its own (never cut off without a scroll
bar), every figure's smallest text is at least 9 CSS px at 390 px, axe-core (``make axe``) finds no
critical or serious accessibility violation, and full-page screenshots go to
_build/screenshots/390/ and _build/screenshots/1280/.
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
WIDTHS = (browser.DESKTOP, browser.PHONE)
#: axe-core impacts that fail the check (moderate and minor ones are reported only)
AXE_FAIL = {"critical", "serious"}
#: Known violations the book cannot fix itself: (rule id, pattern of the page, pattern of the
#: node's CSS selector, reason). Each entry is as narrow as possible; never a whole rule.
AXE_KNOWN: list[tuple[str, str, str, str]] = []

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


def known(rule: str, page: str, target: str) -> bool:
    return any(rule == r and re.search(p, page) and re.search(t, target)
               for r, p, t, _ in AXE_KNOWN)


def axe_failures(driver, page: str) -> tuple[list[str], list[str]]:
    """(failing violations, reported ones) of axe-core on the current page, one line per node."""
    result = browser.axe_violations(driver)
    failing, reported = [], []
    for v in result["violations"]:
        for node in v["nodes"]:
            impact = node.get("impact") or v["impact"]
            line = f"{impact} {v['id']} ({v['help']}): {node['target']}  {node['html'][:160]}"
            if impact in AXE_FAIL and not known(v["id"], page, node["target"]):
                failing.append(line)
            else:
                reported.append(line)
    return failing, reported


@pytest.mark.parametrize("page", PAGES)
def test_page_as_a_reader_sees_it(page, driver, site):
    assert (HTML / f"{page}.html").is_file(), f"{page} is in _toc.yml but was not built"
    info = open_page(driver, f"{site}/{page}.html")
    name = page.split("/")[-1]
    shot = browser.full_page_png(driver, SHOTS / str(browser.DESKTOP) / f"{name}.png")
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


@pytest.mark.parametrize("page", PAGES)
def test_page_fits_the_screen_and_passes_axe(page, driver, site):
    """At 390 px (a phone) and 1280 px: no prose or figure wider than the screen, every wide
    table in a focusable box of its own that scrolls, no critical or serious axe-core finding
    (a theme issue the book cannot fix is in AXE_KNOWN with its reason). Screenshots of both."""
    assert (HTML / f"{page}.html").is_file(), f"{page} is in _toc.yml but was not built"
    open_page(driver, f"{site}/{page}.html")
    name = page.split("/")[-1]
    problems = []
    try:
        for width in WIDTHS:
            browser.set_viewport(driver, width)
            fit = browser.overflow(driver)
            if fit["page"] > fit["viewport"] + 1:
                problems.append(f"{width} px: the page is {fit['page']} px wide, the reader "
                                f"scrolls it sideways")
            problems += [f"{width} px: <{e['tag']} class={e['cls']!r}> from {e['left']} to "
                         f"{e['right']} px: {e['text']!r}" for e in fit["elements"]]
            problems += [f"{width} px: table {t['text']!r}: {t['problem']}" for t in fit["tables"]]
            failing, reported = axe_failures(driver, page)
            problems += [f"{width} px: axe: {line}" for line in failing]
            for line in reported:
                if line.startswith(("critical", "serious")):
                    continue                      # known upstream issues, listed in AXE_KNOWN
                print(f"{page} at {width} px: axe (not failed): {line}")
        shot = browser.full_page_png(driver, SHOTS / str(browser.PHONE) / f"{name}.png",
                                     width=browser.PHONE)
    finally:
        browser.reset_viewport(driver)
    assert not problems, f"{page}:\n" + "\n".join(problems)
    assert shot.stat().st_size > 5_000, f"{page}: screenshot {shot} looks empty"


def phone_fit_problems(driver) -> list[str]:
    """At the phone's width: the page wider than the screen, and every display equation, table
    or code block that runs off the screen or is cut without a scroll bar of its own."""
    browser.set_viewport(driver, browser.PHONE)
    fit = browser.wide_blocks(driver)
    problems = []
    if fit["page"] > fit["viewport"] + 1:
        problems.append(f"the page is {fit['page']} px wide on a {fit['viewport']} px screen: "
                        "the reader scrolls the whole page sideways")
    problems += [f"{b['what']} {b['text']!r}: {b['problem']}" for b in fit["blocks"]]
    return problems


@pytest.mark.parametrize("page", PAGES)
def test_equations_and_tables_fit_a_phone(page, driver, site):
    """At 390 px no display equation, table or code block widens the page or hides its right
    part: each fits the screen or scrolls sideways inside a box of its own on the screen."""
    open_page(driver, f"{site}/{page}.html")
    try:
        problems = phone_fit_problems(driver)
    finally:
        browser.reset_viewport(driver)
    assert not problems, f"{page} at {browser.PHONE} px:\n" + "\n".join(problems)


def test_the_phone_fit_check_catches_wide_equations_and_tables(driver, tmp_path):
    """A table wider than the phone with no box, one cut by overflow hidden, and an equation
    that runs off the screen fail; a wide table and an equation scrolling in their own boxes
    pass."""
    wide_cells = "<tr>" + "<td style='white-space:nowrap'>a wide cell</td>" * 12 + "</tr>"
    wide_math = "<span style='display:inline-block;width:700px'>x</span>"
    head = "<meta name='viewport' content='width=device-width, initial-scale=1'>"
    (tmp_path / "bad.html").write_text(
        f"<html lang='en'><head>{head}<title>Bad</title></head><body style='margin:0'><main>"
        "<article class='bd-article'><h1>Bad</h1>"
        f"<table id='loose'>{wide_cells}</table>"
        f"<div style='overflow-x:hidden'><table id='cut'>{wide_cells}</table></div>"
        f"<mjx-container display='true' style='display:block'>{wide_math}</mjx-container>"
        "</article></main></body></html>", encoding="utf-8")
    (tmp_path / "good.html").write_text(
        f"<html lang='en'><head>{head}<title>Good</title></head><body style='margin:0'><main>"
        "<article class='bd-article'><h1>Good</h1>"
        f"<div style='overflow-x:auto' tabindex='0'><table>{wide_cells}</table></div>"
        "<mjx-container display='true' style='display:block;overflow-x:auto'>"
        f"{wide_math}</mjx-container></article></main></body></html>", encoding="utf-8")
    with browser.serve(tmp_path) as url:
        try:
            driver.get(f"{url}/bad.html")
            browser.settle(driver)
            bad = phone_fit_problems(driver)
            driver.get(f"{url}/good.html")
            browser.settle(driver)
            good = phone_fit_problems(driver)
        finally:
            browser.reset_viewport(driver)
    assert any(p.startswith("the page is") for p in bad), bad
    assert any(p.startswith("table") and "nothing scrolls it" in p for p in bad), bad
    assert any(p.startswith("table") and "overflow-x hidden" in p for p in bad), bad
    assert any(p.startswith("equation") for p in bad), bad
    assert good == [], good


#: The smallest figure text a reader on a phone must see, in CSS px.
MIN_FIGURE_TEXT_PX = 9.0
_FIGURES_JS = """
return Array.from(document.querySelectorAll('.bd-article img')).filter(i => i.naturalWidth > 0)
  .map(i => ({src: i.getAttribute('src'), shown: i.getBoundingClientRect().width,
              natural: i.naturalWidth}));"""


def figure_text_px(page: str, figure: dict, html: Path = HTML) -> float:
    """CSS px of the smallest text of a figure as shown: the text height in image pixels that
    the book's style wrote into the PNG (ytlstm.plots.PNG_TEXT_KEY), scaled as the image is."""
    from PIL import Image

    from ytlstm import plots

    path = (html / page).parent / figure["src"].split("?")[0]
    with Image.open(path) as im:
        text = getattr(im, "text", {}).get(plots.PNG_TEXT_KEY)
    assert text is not None, (f"{page}: {figure['src']} has no {plots.PNG_TEXT_KEY} (not drawn "
                              "with ytlstm.plots.set_style in a chapter?)")
    return plots.phone_text_px(float(text), figure["natural"], figure["shown"])


@pytest.mark.parametrize("page", PAGES)
def test_figure_text_is_readable_on_a_phone(page, driver, site):
    """At 390 px every figure is drawn so that its smallest text is at least 9 CSS px."""
    open_page(driver, f"{site}/{page}.html")
    try:
        browser.set_viewport(driver, browser.PHONE)
        figures = driver.execute_script(_FIGURES_JS)
    finally:
        browser.reset_viewport(driver)
    small = []
    for f in figures:
        px = figure_text_px(page, f)
        print(f"{page}: {f['src']} shown {f['shown']:.0f} of {f['natural']} px, text {px:.1f} px")
        if px < MIN_FIGURE_TEXT_PX:
            small.append(f"{f['src']}: smallest text {px:.1f} CSS px ({f['natural']} px image "
                         f"shown {f['shown']:.0f} px wide)")
    assert not small, f"{page} at {browser.PHONE} px:\n" + "\n".join(small)


def test_the_figure_text_rule_catches_a_wide_figure(tmp_path):
    """A 9-inch figure with 8 pt text, shown in a phone's column, fails the rule."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ytlstm import plots

    fig, ax = plt.subplots(figsize=(9, 4), dpi=110, layout="constrained")
    ax.plot([1, 2], [3, 4], label="a line")
    ax.legend(fontsize=8)
    (tmp_path / "book").mkdir()
    fig.savefig(tmp_path / "book" / "wide.png",
                metadata={plots.PNG_TEXT_KEY: f"{plots.png_text_px(fig):.2f}"})
    plt.close(fig)
    px = figure_text_px("book/page", {"src": "wide.png", "natural": 990, "shown": 358}, tmp_path)
    assert px == pytest.approx(8 * 110 / 72 * 358 / 990, rel=1e-3)
    assert px < MIN_FIGURE_TEXT_PX


def test_bibtex_is_copied_in_one_click(driver, site):
    """How to cite: the BibTeX box has sphinx-copybutton's button, which copies the entry."""
    open_page(driver, f"{site}/book/intro.html")
    found = driver.execute_script("""
        const box = document.querySelector('.ytlstm-bibtex');
        if (!box) return null;
        const button = box.querySelector('button.copybtn');
        const target = button && document.querySelector(button.getAttribute('data-clipboard-target'));
        return {button: !!button, text: target ? target.textContent : ''};""")
    assert found, "How to cite has no BibTeX box (.ytlstm-bibtex)"
    assert found["button"], "the BibTeX box has no copy button"
    assert found["text"].lstrip().startswith("@"), found["text"][:80]


def test_axe_catches_an_inaccessible_page(driver, tmp_path):
    """A page with an image without alt text, an unlabelled button and a focusless scroll box."""
    (tmp_path / "bad.html").write_text(
        "<html lang='en'><head><title>Bad</title></head><body><main><article class='bd-article'>"
        "<h1>Bad</h1><img src='x.png'><button></button><p>" + "x" * 300 + "</p>"
        "<div style='width:100px;overflow-x:auto'><table><tr><td style='white-space:nowrap'>"
        + "wide " * 80 + "</td></tr></table></div></article></main></body></html>",
        encoding="utf-8")
    with browser.serve(tmp_path) as url:
        driver.get(f"{url}/bad.html")
        browser.settle(driver)
        failing, _ = axe_failures(driver, "bad")
        fit = browser.overflow(driver)
    rules = {line.split()[1] for line in failing}
    assert {"image-alt", "button-name", "scrollable-region-focusable"} <= rules, failing
    assert fit["page"] > fit["viewport"], fit
    assert [e["tag"] for e in fit["elements"]] == ["p"], fit
    assert [t["problem"] for t in fit["tables"]] == ["scroll box not focusable"], fit


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

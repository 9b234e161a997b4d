"""Headless Chromium for the book's checks: a localhost server and a selenium driver.

Uses Debian's ``chromium`` and ``chromium-driver`` (``make browser-deps`` installs them).
Selenium is pointed at ``/usr/bin/chromedriver`` so that Selenium Manager never runs (it
would try to download a driver), and Chromium is started with the flags that keep it off
the network (no background updates, sync, or component downloads).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]

# Selenium Manager must never be asked for anything (it downloads drivers and sends stats).
os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("SE_AVOID_STATS", "true")


def book_pages(root: str | Path) -> list[str]:
    """The book's documents in _toc.yml order (``root`` then every ``file:``), e.g. ``book/intro``."""
    toc = Path(root, "_toc.yml").read_text(encoding="utf-8")
    pages = re.findall(r"^\s*(?:-\s*)?(?:root|file):\s*(\S+)\s*$", toc, flags=re.M)
    return [p.removesuffix(".md").removesuffix(".ipynb") for p in pages]


def chapter_title(root: str | Path, page: str) -> str:
    """The first level-1 heading of a chapter's Markdown source."""
    text = Path(root, f"{page}.md").read_text(encoding="utf-8")
    match = re.search(r"^# (.+)$", text, flags=re.M)
    if not match:
        raise ValueError(f"{page}.md has no '# ' title")
    return match.group(1).strip()


class BrowserMissing(RuntimeError):
    """Chromium or ChromeDriver is not installed."""


def check_installed() -> None:
    """Raise :class:`BrowserMissing` with how to install them when either binary is absent."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        raise BrowserMissing(
            f"{', '.join(missing)} not found: the browser checks need Debian's chromium and "
            "chromium-driver. Run `make browser-deps` (as root: apt-get install -y chromium "
            "chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError as err:  # pragma: no cover - the test extra installs it
        raise BrowserMissing("selenium is not installed: pip install -e '.[test]'") from err


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(directory: str | Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) for the duration; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator["object"]:
    """A headless Chromium driven by selenium, with a new empty profile; quits on exit."""
    check_installed()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ytlstm-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# Resolves when the page, its images and MathJax's typesetting are done. MathJax 3 exposes
# ``MathJax.startup.promise``; a page without math has no MathJax object at all.
_SETTLE_JS = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images).map(img => img.complete ? null :
    new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); }));
const loaded = document.readyState === 'complete' ? Promise.resolve() :
    new Promise(r => window.addEventListener('load', r));
loaded.then(() => Promise.all(images.filter(Boolean)))
  .then(() => (window.MathJax && MathJax.startup && MathJax.startup.promise) || null)
  .then(() => document.fonts ? document.fonts.ready : null)
  .then(() => done({mathjax: !!(window.MathJax && MathJax.startup)}),
        err => done({mathjax: true, error: String(err)}));
"""

# What a reader would see that is wrong: broken images, TeX that MathJax left alone.
_INSPECT_JS = r"""
const broken = Array.from(document.images)
    .filter(img => !(img.complete && img.naturalWidth > 0))
    .map(img => img.getAttribute('src'));
const body = document.body.cloneNode(true);
body.querySelectorAll('mjx-container, mjx-assistive-mml, script, style, pre, code, textarea')
    .forEach(e => e.remove());
const text = body.textContent;
// math delimiters MathJax should have consumed, and LaTeX commands (\texttt, \emph, ...)
// that reached the page as text
const rawTex = [];
for (const re of [/\$\$/g, /\\begin\{/g, /\\[()\[\]]/g, /\\[A-Za-z]{2,}/g]) {
  for (const m of text.matchAll(re)) {
    rawTex.push(text.slice(Math.max(0, m.index - 40), m.index + 60).replace(/\s+/g, ' '));
    if (rawTex.length > 10) break;
  }
}
// boxes a reader has to scroll sideways: display equations and tables wider than the column
const wide = Array.from(document.querySelectorAll(
        '.bd-article mjx-container[display="true"], .bd-article .output.text_html'))
    .filter(e => e.scrollWidth > e.clientWidth + 2)
    .map(e => ({what: e.tagName === 'MJX-CONTAINER' ? 'equation' : 'table',
                width: e.scrollWidth, column: e.clientWidth,
                text: e.textContent.replace(/\s+/g, ' ').trim().slice(0, 60)}));
return {
  broken: broken,
  rawTex: rawTex,
  wide: wide,
  mathElements: document.querySelectorAll('.math').length,
  mjx: document.querySelectorAll('mjx-container').length,
  mjxErrors: Array.from(document.querySelectorAll('mjx-merror'))
      .map(e => e.getAttribute('data-mjx-error') || e.textContent),
  title: (document.querySelector('h1') || {}).textContent || '',
};
"""


def settle(driver) -> dict:
    """Wait for load, images, MathJax and fonts; returns ``{"mathjax": bool}``."""
    return driver.execute_async_script(_SETTLE_JS)


def inspect(driver) -> dict:
    """Broken images, raw TeX left in the text, counts of math and typeset math, MathJax errors."""
    return driver.execute_script(_INSPECT_JS)


def severe_console(driver) -> list[str]:
    """Console messages of level SEVERE since the last call (errors, failed loads)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


#: The reader's screens of the checks: a phone (an iPhone 12-15's CSS width) and a laptop.
PHONE, DESKTOP = 390, 1280


def set_viewport(driver, width: int, height: int = 900, mobile: bool | None = None,
                 wait: float = 0.5) -> None:
    """Emulate a screen ``width`` CSS pixels wide (``mobile``: a phone's viewport rules; by
    default below 800 px) and give the page's resize handlers ``wait`` seconds to run."""
    import time

    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1,
        "mobile": width < 800 if mobile is None else mobile})
    time.sleep(wait)


def reset_viewport(driver) -> None:
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def full_page_png(driver, path: str | Path, width: int = DESKTOP) -> Path:
    """Save a screenshot of the whole page, ``width`` CSS pixels wide, as PNG.

    The viewport is made as tall as the page for the shot, so the theme's sticky sidebars
    and viewport-high boxes are drawn as a reader scrolling the page would see them.
    """
    set_viewport(driver, width)
    height = driver.execute_script(
        "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")
    height = int(min(max(height, 1), 30000))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 800})
    try:
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        reset_viewport(driver)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


# What is wider than the screen: the page itself (the reader scrolls it sideways) and the
# elements sticking out of it that are not inside a box of their own that scrolls.
_OVERFLOW_JS = r"""
const vw = document.documentElement.clientWidth;
const scrolls = e => { for (let a = e.parentElement; a; a = a.parentElement) {
    const o = getComputedStyle(a).overflowX;
    if ((o === 'auto' || o === 'scroll' || o === 'hidden') && a !== document.body
        && a !== document.documentElement) return true; }
  return false; };
const out = [];
for (const e of document.querySelectorAll(
    '.bd-article p, .bd-article li, .bd-article figure, .bd-article img, .bd-article h1, ' +
    '.bd-article h2, .bd-article h3, .bd-article blockquote, .bd-article table, ' +
    '.bd-article .admonition, .bd-article dl, .bd-article pre, .bd-article mjx-container, ' +
    '.bd-article .cell_output, .bd-article .output')) {
  const r = e.getBoundingClientRect();
  const own = getComputedStyle(e).overflowX;
  // its content runs out of it (a long word, a wide image) unless it scrolls or clips it
  const spill = own === 'visible' && e.scrollWidth > e.clientWidth + 1 ? e.scrollWidth - e.clientWidth : 0;
  const right = r.right + spill;
  if (r.width === 0 || (right <= vw + 1 && r.left >= -1) || scrolls(e)) continue;
  out.push({tag: e.tagName.toLowerCase(), cls: e.className && String(e.className).slice(0, 60),
            left: Math.round(r.left), right: Math.round(right),
            text: (e.getAttribute('alt') || e.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 60)});
}
// wide tables: each in a box that scrolls sideways and can be focused by keyboard
const tables = [];
for (const t of document.querySelectorAll('.bd-article table')) {
  let box = t.parentElement;
  while (box && box !== document.body && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX))
    box = box.parentElement;
  if (!box || box === document.body) {
    if (t.getBoundingClientRect().right > vw + 1) tables.push({problem: 'no scroll box',
        text: t.textContent.replace(/\s+/g, ' ').trim().slice(0, 60)});
    continue;
  }
  if (box.scrollWidth > box.clientWidth + 1 && !(box.tabIndex >= 0))
    tables.push({problem: 'scroll box not focusable',
                 text: t.textContent.replace(/\s+/g, ' ').trim().slice(0, 60)});
}
return {viewport: vw, page: document.documentElement.scrollWidth, elements: out.slice(0, 20),
        tables: tables};
"""


def overflow(driver) -> dict:
    """Page and elements wider than the viewport, and wide tables without a focusable scroll box."""
    return driver.execute_script(_OVERFLOW_JS)


# Display equations, tables and code blocks: each must either fit the screen or sit in a box
# (itself or its nearest ancestor whose overflow-x is not visible) that scrolls sideways and
# lies on the screen. A box that clips (overflow hidden or clip) hides what is past its edge
# with no scroll bar to reach it, so it counts as not fitting.
_WIDE_BLOCKS_JS = r"""
const vw = document.documentElement.clientWidth;
const boxOf = e => {
  for (let a = e; a && a !== document.body && a !== document.documentElement; a = a.parentElement)
    if (getComputedStyle(a).overflowX !== 'visible') return a;
  return null; };
const what = e => e.tagName === 'MJX-CONTAINER' ? 'equation'
                : e.tagName === 'TABLE' ? 'table' : 'code block';
const out = [];
for (const e of document.querySelectorAll(
    '.bd-article mjx-container[display="true"], .bd-article table, .bd-article pre')) {
  const r = e.getBoundingClientRect();
  if (r.width === 0) continue;
  const box = boxOf(e);
  const o = box ? getComputedStyle(box).overflowX : 'visible';
  const b = box ? box.getBoundingClientRect() : r;
  const scrolls = o === 'auto' || o === 'scroll';
  const clipped = box && !scrolls && box.scrollWidth > box.clientWidth + 1;
  const right = Math.max(r.right, r.left + e.scrollWidth);
  let problem = null;
  if (clipped) problem = `cut at the edge of a box with overflow-x ${o} (no scroll bar)`;
  else if (scrolls && (b.right > vw + 1 || b.left < -1))
    problem = `its scroll box runs from ${Math.round(b.left)} to ${Math.round(b.right)} px`;
  else if (!scrolls && (right > vw + 1 || r.left < -1))
    problem = `runs from ${Math.round(r.left)} to ${Math.round(right)} px and nothing scrolls it`;
  if (problem) out.push({what: what(e), problem: problem,
                         text: e.textContent.replace(/\s+/g, ' ').trim().slice(0, 60)});
}
return {viewport: vw, page: document.documentElement.scrollWidth, blocks: out};
"""


def wide_blocks(driver) -> dict:
    """Display equations, tables and code blocks that run off the screen or are cut without a
    scroll bar: ``{"viewport", "page" (the document's scrollWidth), "blocks": [...]}``."""
    return driver.execute_script(_WIDE_BLOCKS_JS)


#: axe-core's browser bundle, installed by ``make axe`` (tools/axe/package-lock.json).
AXE_JS = Path(__file__).resolve().parents[1] / "_build" / "axe" / "axe.min.js"

_AXE_RUN_JS = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
  .then(r => done({version: axe.version, violations: r.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map(n => ({impact: n.impact, target: n.target.map(String).join(' '),
                                html: n.html.slice(0, 300), summary: n.failureSummary}))}))}),
        err => done({error: String(err)}));
"""


def axe_violations(driver, axe_js: str | Path = AXE_JS) -> dict:
    """Run axe-core (all its rules) on the current page: ``{"version", "violations": [...]}``,
    each violation with its ``id``, ``impact`` and the ``nodes`` (``target`` selector, ``html``)."""
    path = Path(axe_js)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make axe` (npm ci of tools/axe)")
    if not driver.execute_script("return !!window.axe"):
        driver.execute_script(path.read_text(encoding="utf-8"))
    result = driver.execute_async_script(_AXE_RUN_JS)
    if "error" in result:
        raise RuntimeError(f"axe-core failed: {result['error']}")
    return result


def print_pdf(driver, path: str | Path) -> Path:
    """Print the current page to an A4 PDF with page numbers in the footer."""
    pdf = driver.execute_cdp_cmd("Page.printToPDF", {
        "printBackground": True, "preferCSSPageSize": False,
        "paperWidth": 8.27, "paperHeight": 11.69,
        "marginTop": 0.6, "marginBottom": 0.7, "marginLeft": 0.6, "marginRight": 0.6,
        "displayHeaderFooter": True, "headerTemplate": "<span></span>",
        "footerTemplate": ('<div style="font-size:8px;width:100%;text-align:center;">'
                           '<span class="pageNumber"></span> / <span class="totalPages"></span>'
                           '</div>')})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(pdf["data"]))
    return path

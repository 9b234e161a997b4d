"""The whole book as one PDF (``make pdf``): _build/pdf/ytlstm.pdf, then checked.

1. ``ytlstm book --builder singlehtml``: every chapter in one HTML page under _build/singlehtml
   (the execution cache is shared with ``make book``, so nothing is re-run after it);
2. that page is served on localhost and opened in headless Chromium, which waits for images and
   MathJax; a missing image or untypeset TeX stops here;
3. Chromium prints it to an A4 PDF (DevTools ``Page.printToPDF``, page numbers in the footer);
4. the PDF is checked with pypdf: enough pages, every chapter title from _toc.yml, at least
   as many images as the page has figures, and the bibliography's entries.

Exit status 0 when the PDF was written and passed every check, 1 otherwise (the reason on
stderr), 2 when the single-page build failed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import browser  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SINGLE = Path("_build") / "singlehtml"
OUT = Path("_build") / "pdf" / "ytlstm.pdf"
PRINT_WIDTH_PX = round((8.27 - 2 * 0.6) * 96)  # A4 minus browser.print_pdf's side margins


@dataclass
class PdfReport:
    """What the checks found in the PDF; ``problems`` empty means it passed."""

    path: Path
    pages: int = 0
    images: int = 0
    figures: int = 0
    titles: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"pdf: {self.path} ({self.path.stat().st_size / 1e6:.1f} MB), {self.pages} pages, "
                f"{self.images} images for {self.figures} figures, "
                f"{len(self.titles)} chapter titles found")


def _squash(text: str) -> str:
    """Letters and digits only, lower case: line breaks, hyphenation and spacing differ in PDFs."""
    text = text.replace("\ufb01", "fi").replace("\ufb02", "fl")
    return re.sub(r"[^0-9a-z]", "", text.lower())


def build_singlehtml(root: Path = ROOT) -> Path:
    """Build the single-page HTML; returns its page (raises CalledProcessError on failure)."""
    subprocess.run([sys.executable, "-m", "ytlstm", "book", "--builder", "singlehtml"],
                   cwd=root, check=True)
    return single_page(root)


def single_page(root: Path = ROOT) -> Path:
    """The single page, copied to the top of _build/singlehtml as ytlstm.html.

    Sphinx writes it under the root document's folder (book/intro.html) but links its
    images and styles as if it were at the top (``_images/...``), so it only works there.
    """
    built = root / SINGLE / f"{browser.book_pages(root)[0]}.html"
    if not built.is_file():
        found = sorted(str(p) for p in (root / SINGLE).rglob("*.html"))
        raise FileNotFoundError(f"{built} not built (found: {found})")
    page = root / SINGLE / "ytlstm.html"
    page.write_bytes(built.read_bytes())
    return page


def print_book(page: Path, out: Path, root: Path = ROOT) -> dict:
    """Open the single page in headless Chromium and print it to ``out``; returns page facts."""
    site = root / SINGLE
    with browser.serve(site) as url, browser.chromium() as driver:
        driver.get(f"{url}/{page.relative_to(site).as_posix()}")
        browser.settle(driver)
        info = browser.inspect(driver)
        if info["broken"]:
            raise RuntimeError(f"images that do not load: {info['broken']}")
        if info["rawTex"] or info["mjxErrors"] or info["mjx"] < info["mathElements"]:
            raise RuntimeError(f"math not typeset: {info['rawTex'] or info['mjxErrors']} "
                               f"({info['mjx']} of {info['mathElements']} formulas)")
        info["figures"] = driver.execute_script(
            "return document.querySelectorAll('main img, .bd-article img').length")
        # lay the page out as printed (A4 text width) to find what will not fit on the paper
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": PRINT_WIDTH_PX, "height": 1100, "deviceScaleFactor": 1, "mobile": False})
        info["wide"] = browser.inspect(driver)["wide"]
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        browser.print_pdf(driver, out)
    return info


def bibliography_titles(root: Path = ROOT) -> list[str]:
    """Titles of the entries in book/references.bib that the book cites or lists."""
    bib = (root / "book" / "references.bib").read_text(encoding="utf-8")
    return [re.sub(r"[{}]", "", t) for t in
            re.findall(r"^\s*title\s*=\s*[{\"](.+?)[}\"]\s*,?\s*$", bib, flags=re.M | re.I)]


def check_pdf(path: Path, figures: int = 0, root: Path = ROOT) -> PdfReport:
    """Page count, chapter titles, images and bibliography of the book's PDF."""
    from pypdf import PdfReader

    report = PdfReport(path=path, figures=figures)
    reader = PdfReader(str(path))
    report.pages = len(reader.pages)
    text = ""
    for p in reader.pages:
        text += p.extract_text() or ""
        report.images += len(p.images)
    flat = _squash(text)
    pages = browser.book_pages(root)
    if report.pages < 2 * len(pages):
        report.problems.append(f"only {report.pages} pages for {len(pages)} chapters")
    for page in pages:
        title = browser.chapter_title(root, page)
        if _squash(title) in flat:
            report.titles.append(title)
        else:
            report.problems.append(f"chapter title {title!r} ({page}) not in the PDF's text")
    if report.images < figures:
        report.problems.append(f"{report.images} images in the PDF, {figures} in the page")
    cited = [t for t in bibliography_titles(root) if _squash(t)[:40] in flat]
    if not cited:
        report.problems.append("no bibliography entry found in the PDF's text")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"PDF to write (default {OUT})")
    parser.add_argument("--no-build", action="store_true",
                        help="print the existing _build/singlehtml without rebuilding it")
    args = parser.parse_args(argv)
    out = args.out if args.out.is_absolute() else ROOT / args.out
    try:
        browser.check_installed()
        if args.no_build:
            page = single_page(ROOT)
        else:
            page = build_singlehtml(ROOT)
    except subprocess.CalledProcessError as err:
        print(f"pdf: the single-page build failed (exit {err.returncode})", file=sys.stderr)
        return 2
    except (browser.BrowserMissing, FileNotFoundError) as err:
        print(f"pdf: {err}", file=sys.stderr)
        return 1
    try:
        info = print_book(page, out)
    except RuntimeError as err:
        print(f"pdf: {page}: {err}", file=sys.stderr)
        return 1
    report = check_pdf(out, figures=info["figures"])
    print(report.summary())
    # Wide tables spill into the page margins and stay whole; a numbered display equation
    # wider than the text is cut on both sides (MathJax centres it on the line).
    for box in info["wide"]:
        if box["what"] == "equation":
            print(f"pdf: warning: equation {box['width']} px wide on a {box['column']} px text "
                  f"width, cut in the PDF: {box['text']!r}", file=sys.stderr)
    for problem in report.problems:
        print(f"pdf: FAILED: {problem}", file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())

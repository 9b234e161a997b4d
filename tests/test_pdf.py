"""The book's PDF (tools/pdf.py, ``make pdf``).

The full build is marked ``pdf`` (run it with ``pytest -m pdf`` after ``make book``); the
check on a PDF that lacks the book is a fast unit test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import browser  # noqa: E402
import pdf  # noqa: E402


def test_check_rejects_a_pdf_without_the_book(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    path = tmp_path / "blank.pdf"
    with path.open("wb") as f:
        writer.write(f)
    report = pdf.check_pdf(path, figures=3)
    assert report.pages == 1 and not report.titles
    text = "\n".join(report.problems)
    assert "pages for" in text and "3 in the page" in text and "bibliography" in text
    for page in browser.book_pages(ROOT):
        assert browser.chapter_title(ROOT, page) in text


@pytest.mark.pdf
def test_make_pdf_writes_the_whole_book(request, monkeypatch):
    if "pdf" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("builds the whole PDF: run with `pytest -m pdf` (or `make pdf`)")
    real_data_dir = request.getfixturevalue("real_data_dir")
    # the single-page build executes any chapter not yet in the execution cache
    monkeypatch.setenv("YTLSTM_DATA_DIR", str(real_data_dir))
    assert pdf.main([]) == 0, "tools/pdf.py failed (see its output above)"
    report = pdf.check_pdf(ROOT / pdf.OUT)
    assert not report.problems, report.problems
    assert len(report.titles) == len(browser.book_pages(ROOT))
    assert report.images >= 5

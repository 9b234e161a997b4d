"""Checks of the built book under _build/html (run after `ytlstm book`; marker: book)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
RESULTS = ROOT / "_build" / "results"
CHAPTERS = ["intro", "data", "methods", "univariate", "multivariate", "clusters", "transfer",
            "conclusions", "reproducibility", "bibliography"]

pytestmark = pytest.mark.book


def page(name: str) -> str:
    path = HTML / "book" / f"{name}.html"
    assert path.is_file(), f"{path} was not built"
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def soup_of():
    from bs4 import BeautifulSoup

    return lambda name: BeautifulSoup(page(name), "html.parser")


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_renders_without_errors(name, soup_of):
    soup = soup_of(name)
    main = soup.find("main") or soup
    text = main.get_text(" ")
    assert soup.find("h1"), f"{name}: no title"
    assert "Traceback (most recent call last)" not in text, f"{name}: a traceback in the page"
    for cls in ("traceback", "stderr", "output_error"):
        assert not main.select(f".{cls}"), f"{name}: an output of class {cls} in the page"
    for bad in ("{glue", "Warning:", "WARNING", "DeprecationWarning", "UserWarning"):
        assert bad not in text, f"{name}: {bad!r} appears in the page"


@pytest.mark.parametrize("name", [c for c in CHAPTERS if c not in ("bibliography",)])
def test_every_glued_value_is_filled(name, soup_of):
    soup = soup_of(name)
    # unresolved glue references are rendered as literal role text or empty pasted spans
    for span in soup.select(".pasted-text, .pasted-inline"):
        assert span.get_text(strip=True), f"{name}: an empty glued value"
    assert not re.search(r"\{glue:?\w*\}", soup.get_text(" ")), f"{name}: unresolved glue"


@pytest.mark.parametrize("name", ["intro", "data", "univariate", "multivariate", "clusters",
                                  "transfer"])
def test_figures_are_real_images(name, soup_of):
    from PIL import Image

    imgs = [i for i in soup_of(name).select("main img") if "logo" not in " ".join(i.get("class", []))]
    assert imgs, f"{name}: no figure"
    for img in imgs:
        src = img["src"]
        assert not src.startswith("data:") or src.startswith("data:image/png")
        path = (HTML / "book" / src).resolve()
        assert path.is_file(), f"{name}: image {src} missing"
        with Image.open(path) as im:
            assert im.format == "PNG", f"{name}: {src} is {im.format}, expected PNG"
            assert im.width > 200 and im.height > 100, f"{name}: {src} is {im.size}"
            # a real plot has more than a handful of colours
            assert len(im.convert("RGB").getcolors(1 << 20) or []) > 10, f"{name}: {src} looks blank"


def test_figures_and_tables_are_numbered(soup_of):
    text = soup_of("univariate").get_text(" ")
    assert re.search(r"Fig\. \d+", text), "figures are not numbered"
    methods = soup_of("methods").get_text(" ")
    assert re.search(r"Table \d+", methods), "tables are not numbered as tables"
    assert not re.search(r"Fig\. \d+", methods), "a table of the methods chapter is called a figure"


def test_bibliography_lists_the_required_sources(soup_of):
    text = soup_of("bibliography").get_text(" ")
    for needle in ("Hochreiter", "Szabo", "Pinto", "Hyndman", "Makridakis", "Bandara", "Diebold",
                   "Trending YouTube"):
        assert needle in text, f"bibliography lacks {needle}"


def test_metrics_csv_has_every_model_on_the_same_test_windows():
    metrics = pd.read_csv(RESULTS / "metrics.csv")
    for col in ("model", "split", "n_windows", "mae", "rmse", "mape", "rel_mae"):
        assert col in metrics.columns
    test = metrics[metrics.split == "test"]
    for model in ("naive", "drift", "szabo_huberman", "linear_ar", "lstm_univariate",
                  "lstm_multivariate", "lstm_transfer"):
        assert model in set(test.model), f"{model} missing from metrics.csv"
    assert test.n_windows.nunique() == 1, "models scored on different test windows"
    assert set(metrics.split) >= {"train", "validation", "test", "video_test"}
    naive = test.set_index("model").loc["naive", "rel_mae"]
    assert naive == pytest.approx(1.0)

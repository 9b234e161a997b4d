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
            "conclusions", "protocol_changes", "reproducibility", "bibliography"]

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
    methods = soup_of("methods")
    assert re.search(r"Table \d+", methods.get_text(" ")), "tables are not numbered as tables"
    # every reference to a table reads "Table N", every reference to a figure "Fig. N"
    refs = [a for a in methods.select("a.reference[href*='#tbl-'], a.reference[href*='#fig-']")
            if "headerlink" not in a.get("class", [])]
    assert refs, "the methods chapter references no table or figure"
    for a in refs:
        want = r"Table \d+" if "#tbl-" in a["href"] else r"Fig\. \d+"
        assert re.fullmatch(want, a.get_text(" ").strip()), (a["href"], a.get_text(" "))


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


# --------------------------------------------------------------------------- accessibility

CFFCONVERT = ROOT / "_build" / "tools" / "cffconvert" / "bin" / "cffconvert"
ALL_PAGES = [*CHAPTERS, "api"]


def is_sentence(text: str) -> bool:
    """A description a screen reader can read: words, capitalised, ending with a full stop,
    not a file name, a path or a hash."""
    text = (text or "").strip()
    return (len(text.split()) >= 5 and text[0].isupper() and text.endswith(".")
            and not re.search(r"\.(png|jpe?g|svg|gif)\b|_images/|[0-9a-f]{16}", text)
            and not text.startswith("<"))


@pytest.mark.parametrize("name", ALL_PAGES)
def test_every_image_has_a_sentence_as_alt_text(name, soup_of):
    for img in soup_of(name).select("main img, article img"):
        alt = img.get("alt", "")
        assert is_sentence(alt), f"{name}: <img src={img.get('src')!r}> has alt {alt!r}"


def test_alt_text_check_rejects_file_names():
    assert not is_sentence("../_images/1ba6f8c0a1b2c3d4e5f60718293a4b5c.png")
    assert not is_sentence("<Figure size 880x495 with 1 Axes>")
    assert is_sentence("Figure “Views”: a line chart of views against day.")


@pytest.mark.parametrize("name", ALL_PAGES)
def test_every_output_table_scrolls_in_a_labelled_focusable_box(name, soup_of):
    soup = soup_of(name)
    for table in soup.select(".output.text_html table, .cell_output table"):
        box = table.find_parent(class_="ytlstm-scroll")
        assert box is not None, f"{name}: a table output outside a scroll box"
        assert box.get("tabindex") == "0" and box.get("role") == "region", f"{name}: {box.attrs}"
        assert is_sentence(box.get("aria-label", "")), f"{name}: label {box.get('aria-label')!r}"


def test_citation_cff_is_valid_for_its_schema():
    import subprocess

    assert CFFCONVERT.is_file(), f"{CFFCONVERT} is missing: run `make cffconvert`"
    run = subprocess.run([str(CFFCONVERT), "--validate", "-i", str(ROOT / "CITATION.cff")],
                         capture_output=True, text=True)
    assert run.returncode == 0, f"CITATION.cff fails cffconvert's schema check:\n{run.stdout}{run.stderr}"


def test_how_to_cite_renders_text_and_bibtex_from_citation_cff(soup_of):
    import subprocess

    import yaml

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    soup = soup_of("intro")
    quote = soup.select_one(".ytlstm-citation")
    bib = soup.select_one(".ytlstm-bibtex")
    assert quote is not None and bib is not None, "How to cite has no generated citation"
    year = str(cff["date-released"])[:4]
    text = " ".join(quote.get_text(" ").split())
    assert text.startswith(f"{cff['authors'][0]['name']} ({year}).") and cff["title"] in text
    entry = bib.get_text()
    entries = re.findall(r"^@\w+\{", entry, flags=re.M)
    assert len(entries) == 1 + len(cff.get("references", [])), entry
    # the same facts as cffconvert's own BibTeX of the file
    assert CFFCONVERT.is_file(), f"{CFFCONVERT} is missing: run `make cffconvert`"
    theirs = subprocess.run([str(CFFCONVERT), "-f", "bibtex", "-i", str(ROOT / "CITATION.cff")],
                            capture_output=True, text=True, check=True).stdout
    for field in ("author", "title", "year"):
        value = re.search(rf"{field}\s*=\s*\{{(.+?)\}},?\s*$", theirs, flags=re.M).group(1)
        ours = re.search(rf"{field}\s*=\s*\{{(.+?)\}},?\s*$", entry, flags=re.M).group(1)
        assert re.sub(r"[{}]", "", ours) == value, (field, ours, value)

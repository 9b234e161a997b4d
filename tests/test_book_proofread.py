"""Proofreading the built book (issue 22, items 2, 3 and 6; marker ``book``, run by
``make book-check`` after ``ytlstm book``).

Every page of the book under _build/html/book, read as a reader sees it (code blocks, math and
scripts left out):

- no raw MyST or Sphinx syntax ({ref}, {numref}, {glue, :::, backtick roles) in the text;
- no ``nan``, ``NaN``, ``None``, ``inf`` in prose or table cells (a missing value is a dash);
- no underscores in table headers;
- every model name in prose is a display name: no raw model id (``lstm_multivariate``) and no
  table label after an article ("the Gradient boosting", "the LSTM multivariate, transfer");
- every table's caption links its CSV, and the link works in the HTML output itself.

Then the claims: the abstract's and the conclusions' numbers and verdict words are rebuilt
from the CSVs in _build/results and must be in the rendered text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from ytlstm import report as R
from ytlstm.names import MODEL_LABELS, label, prose

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
RESULTS = Path(__import__("os").environ.get("YTLSTM_CHECK_RESULTS", ROOT / "_build" / "results"))

pytestmark = pytest.mark.book


def pages() -> list[str]:
    """Every page of the book (the chapters and appendices under book/)."""
    found = sorted(p.stem for p in (HTML / "book").glob("*.html"))
    return found or ["intro"]            # a missing build fails in soup(), not at collection


def soup(name: str):
    from bs4 import BeautifulSoup

    path = HTML / "book" / f"{name}.html"
    assert path.is_file(), f"{path} was not built: run `ytlstm book` first"
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def reader_view(name: str):
    """The page's article as a reader reads it: no code, math, scripts or header links."""
    s = soup(name)
    main = s.select_one("main article") or s.select_one("main") or s
    for el in main.select("pre, code, script, style, .math, .headerlink, .MathJax, "
                          "div.highlight, .cell_input, mjx-container, .toggle-details"):
        el.decompose()
    return main


def words(text: str) -> str:
    """Whitespace collapsed, and Sphinx's typographic quotes back to the plain ones."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
    return " ".join(text.replace("\u201d", '"').split())


def prose_text(main) -> str:
    """The page's sentences: paragraphs, list items and captions (not table cells)."""
    return words(" ".join(el.get_text(" ") for el in main.select("p, li, figcaption, dd, dt")))


RAW_SYNTAX = re.compile(r"\{(ref|numref|glue|glue:\w+|cite|cite:\w+|csv|doc|eq|download|term|"
                        r"math|code-cell)\}|:::|`|\{glue")
MISSING = re.compile(r"(?<![\w.-])(nan|NaN|NAN|inf|-inf|Infinity)(?![\w-])")
# "None" is English at the start of a sentence ("None of these ..."); anywhere else it is a
# Python value that reached the page
NONE_VALUE = re.compile(r"(?<![.!?:]\s)(?<!^)\bNone\b")


@pytest.mark.parametrize("name", pages())
def test_no_raw_markup_in_the_text(name):
    text = words(reader_view(name).get_text(" "))
    m = RAW_SYNTAX.search(text)
    around = text[max(0, m.start() - 80):m.end() + 80] if m else ""
    assert m is None, f"{name}: raw markup {m.group(0)!r} in {around!r}"


@pytest.mark.parametrize("name", pages())
def test_no_missing_values_in_prose_or_cells(name):
    main = reader_view(name)
    for el in main.select("p, li, figcaption, td, th, dd"):
        text = words(el.get_text(" "))
        m = MISSING.search(text) or NONE_VALUE.search(text)
        assert m is None, f"{name}: {m.group(0)!r} in {text[:200]!r}"


@pytest.mark.parametrize("name", pages())
def test_table_headers_are_words(name):
    main = reader_view(name)
    if name == "api":              # the API appendix shows DataFrames as code returns them
        for out in main.select(".cell_output"):
            out.decompose()
    for th in main.select("table th"):
        text = th.get_text(" ").strip()
        assert "_" not in text, f"{name}: a table header {text!r}"


# the ids that are not also English words ("naive", "drift", "combination" are)
RAW_IDS = sorted((m for m in MODEL_LABELS if "_" in m or m == "gbm"), key=len, reverse=True)


@pytest.mark.parametrize("name", pages())
def test_model_names_in_prose_are_display_names(name):
    text = prose_text(reader_view(name))
    for m in RAW_IDS:
        assert not re.search(rf"(?<![\w/.]){re.escape(m)}(?![\w.])", text), \
            f"{name}: the raw model id {m!r} in prose"
    for m, lab in MODEL_LABELS.items():
        if prose(m).lower().startswith("the " + lab.lower()):
            continue
        hit = re.search(rf"\b[Tt]he {re.escape(lab)}\b", text)
        assert hit is None, (f"{name}: {hit.group(0)!r}: a table label used as a name in a "
                             f"sentence (say {prose(m)!r})")


@pytest.mark.parametrize("name", pages())
def test_every_table_caption_links_its_data(name):
    s = soup(name)
    for box in s.select("figure[id^='tbl-'], table[id^='tbl-'], .glued_table, figure.glued_table"):
        cap = box.select_one("figcaption, caption")
        ident = box.get("id") or box.select_one("[id]").get("id")
        assert cap is not None, f"{name}: table {ident} has no caption"
        links = [a for a in cap.select("a[href]") if a["href"].split("#")[0].endswith(".csv")]
        assert links, f"{name}: the caption of {ident} links no CSV"
        for a in links:
            target = (HTML / "book" / a["href"]).resolve()
            assert target.is_file(), f"{name}: {ident} links {a['href']}, not in the HTML output"
            assert target.stat().st_size > 0


def test_every_results_table_is_copied_into_the_html_output():
    for p in RESULTS.glob("*.csv"):
        copy = HTML / "_data" / p.name
        assert copy.is_file(), f"{p.name} is not in _build/html/_data"
        assert copy.read_bytes() == p.read_bytes(), f"_data/{p.name} is not the current table"


# --------------------------------------------------------------------------- claims vs tables

def table(name: str) -> pd.DataFrame:
    path = RESULTS / f"{name}.csv"
    assert path.is_file(), f"{path} is missing: build the book first"
    return pd.read_csv(path)


def paragraph(name: str, start: str) -> str:
    for p in reader_view(name).select("p"):
        text = words(p.get_text(" "))
        if text.startswith(start):
            return text
    raise AssertionError(f"{name}: no paragraph starting with {start!r}")


def section(name: str, title: str) -> str:
    for sec in reader_view(name).select("section"):
        h = sec.find(["h1", "h2", "h3"])
        if h and h.get_text(" ").strip().startswith(title):
            return words(sec.get_text(" "))
    raise AssertionError(f"{name}: no section {title!r}")


def primary(split: str = "test") -> pd.Series:
    p = table("paired_test")
    return p[(p["split"] == split) & p["primary"]].iloc[0]


def test_the_abstract_says_what_the_tables_say():
    text = paragraph("intro", "Abstract.")
    pred = pd.read_csv(RESULTS / "predictions.csv.gz", usecols=["split", "origin", "window"])
    n_test = len(pred[pred["split"] == "test"].drop_duplicates(["origin", "window"]))
    prim = primary()
    ci = table("intervals_test").set_index("model")
    cleaning = table("cleaning").set_index("rule")["rows"]
    v = R.verdict(prim)
    expect = {
        "test windows": f"{n_test:,} test windows",
        "rows kept": f"{int(cleaning['rows kept']):,} daily rows",
        "best LSTM": prose(prim["lstm"]),
        "best baseline": prose(prim["baseline"]),
        "verdict": f"{v['verb']} the best baseline",
        "significance": v["significance"],
        "LSTM relative MAE": f"is {ci.loc[prim['lstm'], 'rel_mae']:.3f} against",
        "baseline relative MAE": f"against {ci.loc[prim['baseline'], 'rel_mae']:.3f} for the best",
        "ratio": f"a ratio of {prim['ratio']:.3f}",
        "target": f"{v['target']} the study's declared target",
        "families": R.families_verdict(table("paired_test").query("split == 'test'")),
    }
    ht, cov = table("horizon_tests"), table("intervals_coverage")
    expect["horizons"] = R.horizon_verdict(ht)["answer"]
    c = cov[cov["model"] == ht["lstm"].iloc[0]]
    for lv in (0.8, 0.95):
        g = c[c["level"] == lv]["coverage"]
        expect[f"coverage {lv}"] = f"{g.min():.0%} to {g.max():.0%}"
    goal = R.coverage_verdict(cov, [ht["lstm"].iloc[0]])["goal"]
    expect["coverage goal"] = f"so they {goal} the goal"
    for what, want in expect.items():
        assert want in text, f"abstract: {what} should read {want!r}:\n{text}"


def test_the_conclusions_say_what_the_tables_say():
    prim = primary()
    ci = table("intervals_test").set_index("model")
    v = R.verdict(prim)
    first = section("conclusions", "Every approach on the common test set")
    pt = table("paired_test").query("split == 'test'")
    n_sig = int(((pt["p_holm"] < R.LEVEL) & pt["lstm_better"]).sum())
    pred = pd.read_csv(RESULTS / "predictions.csv.gz", usecols=["split", "target_date"])
    n_dates = pred.loc[pred["split"] == "test", "target_date"].nunique()
    expect = {
        "verdict": f"{prose(prim['lstm'])} {v['verb']} {prose(prim['baseline'])}",
        "MAEs": f"MAE {prim['mae_lstm']:,.0f} against {prim['mae_baseline']:,.0f} views",
        "ratio": f"a ratio of {prim['ratio']:.3f}",
        "interval": (f"95% interval {ci.loc[prim['lstm'], 'vs_reference_lo']:.3f} to "
                     f"{ci.loc[prim['lstm'], 'vs_reference_hi']:.3f}"),
        "relative MAEs": (f"relative MAE {ci.loc[prim['lstm'], 'rel_mae']:.3f} against "
                          f"{ci.loc[prim['baseline'], 'rel_mae']:.3f}"),
        "significance": v["significance"],
        "unadjusted p": f"unadjusted p {R.fmt_p(prim['p_value'])}",
        "difference": f"{prim['diff_lo']:,.0f} to {prim['diff_hi']:,.0f} views",
        "DM dates": f"Diebold-Mariano over the {int(prim['dm_n_dates']):,} test dates",
        "families": f"{n_sig} beat the best baseline significantly",
        "target": f"{v['target']} the target declared",
    }
    for what, want in expect.items():
        assert want in first or want[:1].upper() + want[1:] in first, \
            f"conclusions: {what} should read {want!r}:\n{first}"
    # the dates Diebold-Mariano runs over are the test dates that have windows
    assert int(prim["dm_n_dates"]) == n_dates

    answer = section("conclusions", "The answer")
    assert f"{prose(prim['lstm'])} {v['verb']} the best baseline" in answer
    assert f"This {v['target']} the declared target" in answer
    assert R.families_verdict(pt) in answer

    beyond = section("conclusions", "Beyond tomorrow")
    ht, cov = table("horizon_tests"), table("intervals_coverage")
    assert R.horizon_verdict(ht)["answer"] in beyond
    pair = [str(ht["baseline"].iloc[0]), str(ht["lstm"].iloc[0])]
    assert R.coverage_verdict(cov, pair)["words"] in beyond
    for (m, lv), g in cov[cov["model"].isin(pair)].groupby(["model", "level"]):
        want = (f"{prose(m)}, {lv:.0%} intervals: {R.fmt_pct(g['coverage'].min())} to "
                f"{R.fmt_pct(g['coverage'].max())}")
        assert want in beyond, want

    limits = section("conclusions", "Threats to validity")
    sizes = table("chosen").query("design == 'chronological'")["grid_size"]
    grid = f"{sizes.min()} to {sizes.max()}" if sizes.min() != sizes.max() else f"{sizes.min()}"
    assert f"({grid} configurations per learned family)" in limits


def test_methods_say_when_each_protocol_version_was_written():
    """Methods said the protocol was "fixed before any test result was seen", though version 2
    was written after version 1's result, and left out the learning-rate change of gradient
    boosting made after version 2 was committed. Methods says when each version was written,
    the appendix on the changes between versions tells the change."""
    from ytlstm.config import StudyConfig

    text = words(reader_view("methods").get_text(" "))
    assert "written after version 1's test result was known" in text
    assert "the learning rate of gradient boosting, was changed after the commit" in text
    history = words(reader_view("protocol_changes").get_text(" "))
    lr = f"{StudyConfig().gbm_learning_rate:g}"
    assert f"the learning rate of gradient boosting was raised from 0.05 to {lr}" in history


#: Methods' sections that define what the protocol's rules talk about, in reading order.
DEFINITIONS = ["Windows", "Split and forecast origins", "Transform", "Models", "Baselines",
               "Metrics and tests"]
PROTOCOL_PARTS = ["Protocol, version 2", "Addendum: horizons 1-7", "Protocol, version 3:",
                  "Protocol, version 3, addendum"]


def test_methods_define_first_then_state_the_protocol():
    """Methods in reading order (issue 23): every definition section before the first rule of
    the protocol, the rules 1-24 in order after them, each version under its own heading; the
    history of the versions is an appendix, linked from Methods."""
    main = reader_view("methods")
    order = {id(el): i for i, el in enumerate(main.descendants)}
    headings = [(words(h.get_text(" ")), order[id(h)]) for h in main.select("h2, h3, h4")]

    def heading(start: str) -> int:
        found = [i for text, i in headings if text.startswith(start)]
        assert found, f"methods: no heading {start!r} among {[t for t, _ in headings]}"
        return found[0]

    items = {}
    for p in main.select("p"):
        m = re.match(r"(\d+)\.", words(p.get_text(" ")))
        if m and p.find("strong") is not None and words(p.find("strong").get_text(" ")) \
                .startswith(f"{m.group(1)}."):
            items.setdefault(int(m.group(1)), order[id(p)])
    assert sorted(items) == list(range(1, 25)), f"methods: protocol items {sorted(items)}"
    assert [items[k] for k in sorted(items)] == sorted(items.values()), \
        "methods: the protocol's items are not in the order 1-24"
    first_rule = items[1]
    defs = [heading(d) for d in DEFINITIONS]
    assert defs == sorted(defs), f"methods: the definitions are not in the order {DEFINITIONS}"
    assert defs[-1] < first_rule, \
        "methods: a definition section comes after the first rule of the protocol"
    parts = [heading(p) for p in PROTOCOL_PARTS]
    assert parts == sorted(parts) and parts[0] > defs[-1], "methods: the protocol's parts"
    bounds = [*parts, float("inf")]
    for k, (lo, hi) in enumerate([(1, 7), (8, 11), (12, 18), (19, 24)]):
        assert bounds[k] < items[lo] and items[hi] < bounds[k + 1], \
            f"methods: items {lo}-{hi} are not under the heading {PROTOCOL_PARTS[k]!r}"
    # each part says when it was written and links the appendix that tells its history
    links = [a for a in main.select("a[href]")
             if a["href"].split("#")[0] == "protocol_changes.html"]
    assert len(links) >= 4, f"methods links the protocol's history {len(links)} times, not 4"
    s = soup("methods")
    appendix = soup("protocol_changes")
    assert words(appendix.find("h1").get_text(" ")).startswith("Changes between protocol versions")
    text = words(reader_view("protocol_changes").get_text(" "))
    for version in ("Version 1", "Version 2 (items 1-7)", "Version 2, addendum (items 8-11)",
                    "Version 3 (items 12-18)", "Version 3, addendum (items 19-24)"):
        assert version in text, f"the appendix on protocol changes has no section {version!r}"
    # the engineering notes left Methods for the reproducibility appendix
    methods_text = words(main.get_text(" "))
    assert "branch axis" not in methods_text and not s.select("#tbl-timings")
    assert soup("reproducibility").select("#tbl-timings")


def _country_answers():
    """Each book country's answers, recomputed from its own tables (:mod:`ytlstm.answers`)."""
    from ytlstm import answers as A
    from ytlstm.outputs import BOOK_COUNTRIES

    def reader(country):
        folder = RESULTS if country == BOOK_COUNTRIES[0] else RESULTS / country
        return lambda name: pd.read_csv(folder / f"{name}.csv")

    return {c: (A.day8(reader(c)), A.version3(reader(c))) for c in BOOK_COUNTRIES}


def test_both_countries_answers_are_the_tables_answers():
    """The replication's and version 3's sentences in the key results, the replication chapter
    and the conclusions are rebuilt from each country's tables, with the verdict words of
    ``equivalence.csv`` and ``paired_test.csv``."""
    from ytlstm import answers as A

    got = _country_answers()
    agree = words(A.agreement({c: a for c, (a, _) in got.items()},
                              {c: v for c, (_, v) in got.items()}))
    places = {"intro": words(reader_view("intro").get_text(" ")),
              "replication": section("replication", "The United States and Great Britain"),
              "conclusions": section("conclusions", "Does the answer hold?")}
    for where, text in places.items():
        for country, (a, v) in got.items():
            assert words(A.day8_sentence(country, a)) in text, (where, country)
            # the verdict words are set in italics (Markdown *...*): the page shows the words
            assert words(A.version3_sentence(v).replace("*", "")) in text, (where, country)
            for metric in ("mae", "mase"):
                eq = pd.read_csv((RESULTS if country == "US" else RESULTS / country)
                                 / "equivalence.csv")
                word = eq.query("metric == @metric and role == 'primary'")["verdict"].iloc[0]
                assert v[metric]["verdict"] == word
        assert agree in text, where


def test_the_build_time_sentence_is_the_benchmarks():
    """The reproducibility appendix states the last ``make bench``'s book from scratch against
    the budget, in the words of :func:`ytlstm.build.budget_sentence`."""
    import json

    from ytlstm.build import FRESH_BOOK, budget_sentence

    rows = json.loads((ROOT / "benchmarks" / "results.json").read_text())["rows"]
    fresh = [r["value"] for r in rows if r["measurement"] == FRESH_BOOK]
    assert fresh, f"benchmarks/results.json has no row {FRESH_BOOK!r}"
    text = prose_text(reader_view("reproducibility"))
    assert words(budget_sentence(float(fresh[0]))) in text

"""Text alternatives of figures and tables (ytlstm.alt) and the book's citation (tools/ytlstm_a11y.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from ytlstm import alt, plots  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_line_chart_names_title_axes_scale_and_legend():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [10, 1000, 100], label="actual views")
    ax.plot([1, 2, 3], [20, 900, 120], label="LSTM univariate")
    ax.set(title="Views of one video", xlabel="day", ylabel="views", yscale="log")
    ax.legend()
    text = alt.describe(fig)
    assert text == ("Figure “Views of one video”: a line chart of 2 lines of views (log scale) "
                    "against day; legend: actual views and LSTM univariate.")


def test_horizontal_bars_list_categories_top_down_with_error_bars():
    fig, ax = plt.subplots()
    ax.barh([0, 1], [0.9, 1.0], xerr=[0.1, 0.05])
    ax.set_yticks([0, 1], ["LSTM univariate", "Naive (persistence)"])
    ax.axvline(1.0)
    ax.set(title="Every model on the test windows", xlabel="relative MAE on test windows")
    text = alt.describe(fig)
    assert text.startswith("Figure “Every model on the test windows”: a horizontal bar chart of "
                           "relative MAE on test windows")
    assert "for 2 categories (Naive (persistence) and LSTM univariate)" in text
    assert "with error bars and a reference line" in text


def test_results_dot_plot_lists_models_top_down_with_error_bars():
    table = pd.DataFrame({"model": ["naive", "lstm_univariate"], "rel_mae": [1.0, 0.9],
                          "rel_mae_lo": [0.95, 0.8], "rel_mae_hi": [1.05, 1.0]})
    fig = plots.results_figure(table, "Every model on the test windows")
    text = alt.describe(fig)
    assert text.startswith("Figure “Every model on the test windows”: a dot plot of "
                           "relative MAE on test windows")
    assert "for 2 categories (Naive (persistence) and LSTM univariate)" in text
    assert text.endswith(", with error bars and a reference line.")   # naive's 1
    fig.axes[0].lines[-1].remove()
    assert alt.describe(fig).endswith(", with error bars.")


def test_panels_are_described_one_by_one_and_grids_summarised():
    fig, axes = plt.subplots(1, 2)
    axes[0].bar(range(20), range(20))
    axes[0].set(title="Runs", xlabel="days", ylabel="number of runs")
    axes[1].scatter([1, 2], [3, 4])
    axes[1].set(title="Likes", xlabel="views", ylabel="likes")
    fig.suptitle("Two panels")
    text = alt.describe(fig)
    assert text.startswith("Figure “Two panels” with 2 panels: (1) “Runs”, a histogram of "
                           "number of runs against days; (2) “Likes”, a scatter plot of likes")
    fig, axes = plt.subplots(3, 3)
    for ax in axes.flat:
        ax.hist([1, 2, 2, 3], bins=3)
    axes[0, 2].set_axis_off()
    axes[0, 2].clear()
    axes[0, 2].text(0.5, 0.5, "r = 0.90")
    text = alt.describe(fig)
    assert "with 9 panels: 8 histograms; text panels: r = 0.90" in text


def test_every_book_figure_kind_gets_a_sentence():
    import numpy as np

    rng = np.random.default_rng(0)
    sample = pd.DataFrame(rng.integers(1, 10**6, size=(100, 4)),
                          columns=["views", "likes", "dislikes", "comment_count"])
    for fig in (plots.count_matrix(sample),):
        text = alt.describe(fig)
        assert text.endswith(".") and len(text.split()) > 8, text
        assert not alt.DEFAULT_REPR.match(text)


def test_table_description_from_a_styler_skips_hidden_columns():
    df = pd.DataFrame({"model": ["naive", "LSTM"], "MAE": [2.0, 1.5], "n": [3, 3]})
    styler = df.style.hide(axis="index").hide(["n"], axis="columns")
    assert alt.describe_table(styler, "Test MAE") == (
        "Table “Test MAE”: 2 rows and 2 columns (model and MAE); rows: naive and LSTM.")
    assert alt.describe_table(pd.DataFrame({"x": [1.0]})) == "Table: 1 row and 1 column (x)."


def test_install_makes_the_sentence_the_plain_text_of_a_figure_and_survives_the_backend():
    """The inline backend resets per-type formatters of figures when it starts (often after
    install()): the sentence must survive that, and the PNG must still be made."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    shell = InteractiveShell.instance()
    assert alt.install(shell)
    select_figure_formats(shell, {"png"})          # what the inline backend does at start-up
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [1, 2, 3])
    ax.set(title="T", xlabel="day", ylabel="views")
    data, _ = shell.display_formatter.format(fig)
    assert data["text/plain"] == alt.describe(fig)
    assert data["image/png"]
    styled = pd.DataFrame({"a": [1]}).style
    data, _ = shell.display_formatter.format(styled)
    assert data["text/plain"] == alt.describe_table(styled)
    assert "<table" in data["text/html"]
    frame = pd.DataFrame({"model": ["naive"], "mae": [1.0]})
    data, _ = shell.display_formatter.format(frame)
    assert data["text/plain"] == alt.describe_table(frame)
    assert "<table" in data["text/html"]


def test_install_outside_ipython_does_nothing(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert alt.install() is False


def test_citation_bibtex_and_text_come_from_citation_cff():
    sys.path.insert(0, str(ROOT / "tools"))
    import ytlstm_a11y as a11y

    cff = a11y.read_cff(ROOT / "CITATION.cff")
    entry = a11y.bibtex_entry(cff)
    assert entry.startswith("@misc{")
    assert f"year    = {{{str(cff['date-released'])[:4]}}}" in entry
    assert f"version = {{{cff['version']}}}" in entry
    assert "{YouTube}" in entry and "{LSTM}" in entry          # capitals kept by BibTeX styles
    for ref in cff.get("references", []):
        assert ref["title"].split()[0] in a11y.bibtex_entry(ref)
    text = "".join(n.astext() for n in a11y.text_citation(cff))
    assert text.startswith(f"{cff['authors'][0]['name']} ({str(cff['date-released'])[:4]}). "
                           f"{cff['title']}.")
    person = {"given-names": "Sepp", "family-names": "Hochreiter"}
    assert a11y._person(person) == ("Sepp Hochreiter", "Hochreiter, Sepp")

"""The words and counts the book's prose and tables take from ytlstm.report and ytlstm.names
(issue 22 items 1-4, issue 23 "text and tables disagree"): each defect a reader found has a
test here that would have caught it."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from ytlstm import report as R
from ytlstm.config import StudyConfig
from ytlstm.names import MODEL_LABELS, MODEL_PROSE, label, prose


def _pred(models_day8=("naive", "drift", "gbm", "lstm_univariate", "lstm_transfer"),
          models_h=("naive", "drift", "lstm_univariate_h")) -> pd.DataFrame:
    """A predictions table: 2 origins x 3 test windows of day-8 models, and horizon rows
    (horizons 1-2) of models of which one forecasts only at horizons."""
    rows = []
    for o, wins in (("origin 1", (0, 1, 2)), ("origin 2", (3, 4, 5))):
        for w in wins:
            for m in models_day8:
                rows.append({"model": m, "split": "test", "origin": o, "window": w, "horizon": 1,
                             "video_id": f"v{w % 2}", "target_date": f"2018-05-0{1 + w}",
                             "y_true": 100.0, "y_pred": 90.0})
            for h in (1, 2):
                for m in models_h:
                    rows.append({"model": m, "split": "horizon_test", "origin": o, "window": w,
                                 "horizon": h, "video_id": f"v{w % 2}",
                                 "target_date": f"2018-05-0{1 + w}", "y_true": 1.0, "y_pred": 1.0})
    return pd.DataFrame(rows)


def test_count_windows_does_not_depend_on_how_many_models_forecast_them():
    pred = _pred()
    assert R.count_windows(pred, "test") == 6
    # the abstract's old count: test rows over every model in the table (with horizon-only ones)
    old = int((pred.split == "test").sum() / pred.model.nunique())
    assert old != 6
    assert R.count_windows(pred, "horizon_test", horizon=2) == 6
    assert R.count_dates(pred, "test") == 6


def _val_pred() -> pd.DataFrame:
    rows = []
    maes = {"naive": 10, "drift": 8, "gbm": 6, "lstm_univariate": 7, "lstm_multivariate": 9,
            "lstm_cluster": 5, "lstm_transfer": 6.5}
    for split, origin in (("validation", "origin 1"), ("test", "origin 1")):
        for w in range(3):
            for m, e in maes.items():
                rows.append({"model": m, "split": split, "origin": origin, "window": w,
                             "horizon": 1, "video_id": "v", "target_date": "2018-01-01",
                             "run_day": 8, "y_true": 100.0, "y_pred": 100.0 - e})
    p = pd.DataFrame(rows)
    p["target_date"] = pd.to_datetime(p["target_date"])
    return p


def test_the_choice_table_has_every_lstm_family_and_is_what_the_choice_reads():
    pred = _val_pred()
    t = R.choice_table(pred)
    lstms = set(t.loc[t.group == "lstm", "model"])
    assert lstms == {"lstm_univariate", "lstm_multivariate", "lstm_cluster", "lstm_transfer"}
    chosen = t[t.chosen].set_index("group")["model"].to_dict()
    assert chosen == {"baseline": "gbm", "lstm": "lstm_cluster"}
    assert R.best_models(pred) == chosen
    assert t.set_index("model").loc["drift", "val_rel_mae"] == pytest.approx(0.8)


def _paired(p_holm: float, ratio: float, dm: float = 0.5) -> pd.Series:
    return pd.Series({"p_holm": p_holm, "ratio": ratio, "lstm_better": ratio < 1,
                      "dm_p_value": dm})


@pytest.mark.parametrize("p_holm, ratio, verb, target", [
    (0.01, 0.85, "beats", "meets"),
    (0.01, 0.95, "beats", "does not meet"),
    (0.30, 0.85, "has a lower MAE than, but does not significantly beat,", "does not meet"),
    (0.01, 1.10, "does not beat", "does not meet"),
])
def test_verdict_gives_every_word_of_the_primary_result(p_holm, ratio, verb, target):
    v = R.verdict(_paired(p_holm, ratio))
    assert v["verb"] == verb and v["target"] == target
    assert ("does not find" in v["significance"]) == (p_holm >= R.LEVEL)


def test_families_verdict_counts_only_significantly_better_families():
    paired = pd.DataFrame([_paired(0.01, 1.2), _paired(0.5, 0.9), _paired(0.02, 0.8)])
    assert "1 of the 3 LSTM families beat" in R.families_verdict(paired)
    assert "no LSTM" in R.families_verdict(paired.iloc[:2])


def _ht(ps, ratios) -> pd.DataFrame:
    return pd.DataFrame({"horizon": range(1, len(ps) + 1), "p_holm": ps, "ratio": ratios})


def test_horizon_verdict_says_the_test_with_the_horizons_where_the_mae_is_lower():
    v = R.horizon_verdict(_ht([0.4, 0.6, 0.9], [0.97, 0.99, 1.05]))
    assert v["lower"].startswith("at horizons 1 and 2, but by the primary")
    assert "none of these differences is significant" in v["lower"]
    assert "significantly at no horizon" in v["answer"]
    v = R.horizon_verdict(_ht([0.01, 0.6, 0.01], [0.9, 0.99, 1.2]))
    assert "only at horizon 1" in v["lower"]
    assert "significantly worse at horizon 3" in v["answer"]
    assert R.horizon_verdict(_ht([0.5], [1.1]))["lower"] == "at no horizon"


def test_coverage_verdict_says_where_the_goal_is_missed():
    cov = pd.DataFrame({"model": ["gbm"] * 4, "horizon": [1, 2, 1, 2],
                        "level": [0.8, 0.8, 0.95, 0.95],
                        "coverage": [0.81, 0.70, 0.95, 0.949]})
    v = R.coverage_verdict(cov, ["gbm"])
    assert (v["ok"], v["n"], v["goal"]) == ("3", "4", "do not meet")
    assert "the goal (every horizon within 3 points) is missed" in v["words"]
    assert "(gradient boosting at 80%: horizon 2)" in v["words"]
    assert "within 3 points, the goal" not in v["words"]
    ok = R.coverage_verdict(cov.iloc[[0, 2, 3]], ["gbm"])
    assert ok["goal"] == "meet" and "is met" in ok["words"]


def test_concentration_words_say_a_share_once_when_top_five_is_the_top_one_percent():
    c = {"gain": 10.0, "share_top5": 16.133, "share_top1pct": 16.133, "n_top1pct": 5,
         "n_videos": 450}
    words = R.concentration_words(c)
    assert words.count("1613.3%") == 1, words
    assert "the 5 videos with the largest reductions, the top 1% of the 450" in words
    c2 = {"gain": 10.0, "share_top5": 0.4, "share_top1pct": 0.6, "n_top1pct": 9,
          "n_videos": 900}
    assert "40.0%" in R.concentration_words(c2) and "60.0%" in R.concentration_words(c2)
    assert "no net reduction" in R.concentration_words({**c, "gain": -1.0})


def test_show_table_headers_are_words_and_missing_values_a_dash():
    df = pd.DataFrame({"model": ["lstm_transfer", "lstm_random_start"],
                       "initial_val_loss": [0.5, np.nan], "n_test": [3, 4],
                       "p_value": [0.0001, 0.2], "mae_lstm": [1.0, 2.0], "primary": [True, False]})
    html = R.show_table(df).to_html()
    from bs4 import BeautifulSoup

    heads = [th.get_text(strip=True)
             for th in BeautifulSoup(html, "html.parser").select("thead th")]
    assert not any("_" in h for h in heads), heads
    assert "MAE of the LSTM (views)" in heads and "p-value" in heads
    assert "nan" not in html.lower() and R.DASH in html
    assert label("lstm_transfer") in html and "lstm_transfer" not in html
    assert "&lt; 0.001" in html or "< 0.001" in html


def test_every_report_column_a_chapter_shows_has_a_header_in_words():
    for name, words in R.COLUMN_LABELS.items():
        assert "_" not in words, (name, words)


def test_the_configuration_table_names_no_configuration_no_family_chose():
    t = R.config_table(StudyConfig())
    assert not set(t["field"]) & {"units", "loss", "target"}
    assert "units_grid" in set(t["field"])


def test_prose_names_read_in_a_sentence_and_labels_stay_for_tables():
    assert set(MODEL_PROSE) == set(MODEL_LABELS)
    assert prose("lstm_transfer") == "the transfer LSTM"
    assert prose("gbm") == "gradient boosting"
    assert prose("lstm_univariate", start=True) == "The univariate LSTM"
    for m in MODEL_LABELS:
        assert not prose(m).startswith("the " + label(m)), m


def test_no_chapter_writes_a_verdict_word_itself():
    """Verdict words come from one function of the test result (ytlstm.report): a chapter that
    writes "meets" or "significant" in its own code can disagree with the tables."""
    from pathlib import Path

    book = Path(__file__).resolve().parents[1] / "book"
    literal = re.compile(r"""(?<!\[)["'](meets|does not meet|met\.|not met\.|beats|does not beat|"""
                         r"""significant[^"']*|not significant[^"']*|lower|higher|lower than|"""
                         r"""not lower than)["']""")
    for md in sorted(book.glob("*.md")):
        cells = re.findall(r"```\{code-cell\}.*?```", md.read_text(encoding="utf-8"), flags=re.S)
        for cell in cells:
            hit = literal.search(cell)
            assert hit is None, f"{md.name}: the verdict word {hit.group(0)} written in a chapter"


def test_pair_verdict_and_compare_words():
    assert R.pair_verdict({"p_value": 0.01, "mean_diff": -3.0}) == {
        "direction": "lower", "significance": "significant at the 5% level"}
    assert R.pair_verdict({"p_value": 0.2, "mean_diff": 3.0})["significance"] == \
        "not significant at the 5% level"
    assert R.compare_words(1, 2) == "lower than" and R.compare_words(2, 1) == "higher than"


def test_the_error_figure_plots_errors_with_the_sign_of_the_methods_equation():
    """e = actual - forecast (Methods): an under-forecast is a positive error in the figure."""
    import matplotlib

    matplotlib.use("Agg")
    from ytlstm import plots

    pred = pd.DataFrame({"model": "naive", "split": "test", "y_true": [100.0, 200.0, 300.0],
                         "y_pred": [90.0, 180.0, 270.0]})
    fig = plots.error_distribution(pred, ["naive"], "t")
    medians = [ln for ln in fig.axes[0].lines
               if ln.get_color() == "black" and len(ln.get_xdata()) == 2
               and ln.get_xdata()[0] == ln.get_xdata()[1] and ln.get_xdata()[0] != 0]
    assert medians and all(ln.get_xdata()[0] == pytest.approx(10.0) for ln in medians)
    assert "actual − forecast" in fig.axes[0].get_xlabel()


def test_the_proofreading_checks_catch_the_defects_readers_found():
    """The patterns of test_book_proofread (run on the built book) against the defects of
    issue 22 as they read on the page."""
    import test_book_proofread as P

    assert P.RAW_SYNTAX.search("nominal ({ref}`beyond`).")
    assert P.RAW_SYNTAX.search("see {numref}`tbl-x`") and P.RAW_SYNTAX.search("::: note")
    assert not P.RAW_SYNTAX.search("a ratio of 0.999 (95% interval 0.969 to 1.064)")
    for cell in ("nan", "NaN", "inf", "x = None"):
        assert P.MISSING.search(cell) or P.NONE_VALUE.search(cell), cell
    for fine in ("None of these differences is significant.", "infinite", "financial", "–"):
        assert not (P.MISSING.search(fine) or P.NONE_VALUE.search(fine)), fine
    assert "lstm_multivariate" in P.RAW_IDS and "naive" not in P.RAW_IDS


def test_horizon_counts_give_the_first_origins_validation_windows_apart():
    """The horizon chapter's window table said "the first origin's validation windows" over
    a count of all four origins'."""
    rows = []
    for o, wins in (("origin 1", (0, 1)), ("origin 2", (2, 3, 4))):
        for split in ("test", "horizon_test", "horizon_validation"):
            for w in wins:
                for m in ("naive", "lstm_univariate_h"):
                    rows.append({"model": m, "split": split, "origin": o, "window": w,
                                 "horizon": 1, "target_date": "2018-01-01"})
    t = R.horizon_counts(pd.DataFrame(rows)).iloc[0]
    assert (t["n_test"], t["n_validation_first"], t["n_validation"]) == (5, 2, 5)


def test_configurations_read_as_words():
    assert R.config_words('{"loss": "mae_scaled", "target": "drift", "units": 32}') == \
        "target drift, MAE weighted by scale loss, 32 units"
    assert R.config_words({"damping": 1.0, "k": 1, "stat": "mean"}) == \
        "the last daily increment, damping 1"
    assert R.config_words({"damping": 0.8, "k": 3, "stat": "median"}) == \
        "median of the last 3 daily increments, damping 0.8"
    assert "{" not in R.config_words({"loss": "absolute", "max_leaf_nodes": 31, "target": "drift"})


def test_budget_sentence_says_within_or_over():
    from ytlstm.build import budget_sentence

    assert budget_sentence(900.0, 960) == ("A book from scratch (both countries' studies and the "
                                           "build) took 15.0 minutes, within the project's "
                                           "budget of 16 minutes.")
    over = budget_sentence(1020.0, 960)
    assert "17.0 minutes, over the project's budget of 16 minutes by 1.0 minutes." in over

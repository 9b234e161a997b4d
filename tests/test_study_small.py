"""The whole study (protocol v2) on a small synthetic Kaggle-format dataset: the predictions
table and the tables computed from it, rolling origins, tuning, paired tests, caching, re-runs.

Trains a few tiny networks (3 epochs each) in this process, so it is marked slow.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kaggle_files import write_country
from ytlstm.config import StudyConfig
from ytlstm.evaluate import holm
from ytlstm.families import LSTM_FAMILIES
from ytlstm.names import BASELINES, COMBINED
from ytlstm.report import read_predictions
from ytlstm.study import run_study

pytestmark = pytest.mark.slow

N_VIDEOS = 300
CONFIG = StudyConfig(seeds=(0, 1), units_grid=(8,), loss_grid=("mae",), target_grid=("drift",),
                     tuning_seeds=1, drift_k_grid=(1, 2), drift_damping_grid=(1.0,),
                     baseline_loss_grid=("squared",), linear_inputs_grid=("univariate",),
                     gbm_leaves_grid=(7,), gbm_max_iter=30, max_epochs=3, patience=2,
                     bootstrap_reps=50, v3_bootstrap_reps=500, cluster_k_grid=(2, 3),
                     min_windows_per_part=20)   # the smallest part here has ~90 windows
ORIGINS = tuple(f"origin {b}" for b in range(1, CONFIG.n_origins + 1))
#: The families that choose a configuration on validation.
LEARNED = ("drift", "linear_ar", "gbm", "lstm_univariate", "lstm_multivariate")
MODELS = set(BASELINES) | set(LSTM_FAMILIES)
UPSTREAM = ("data", "windows")
MODEL_STAGES = ("tuning", "origins", "importance", "horizons", "regret")
SPLITS = ("train", "validation", "test", "video_test")


def _dataset(folder):
    """A few hundred videos trending 8 to 15 days each, starting over a month (deterministic)."""
    rng = np.random.default_rng(2024)
    days = rng.integers(8, 16, size=N_VIDEOS).tolist()
    first = rng.integers(0, 31, size=N_VIDEOS).tolist()
    return write_country(folder, "US", n_videos=N_VIDEOS, days=days, first_day=first,
                         gaps=["2017-11-30"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The first run, an unchanged re-run, and a run with a changed neural-only field."""
    root = tmp_path_factory.mktemp("study")
    files = _dataset(root / "data")
    kw = dict(data_dir=files.folder, cache_dir=root / "cache", verbose=False, jobs=1)
    first = run_study(CONFIG, results_dir=root / "results1", **kw)
    second = run_study(CONFIG, results_dir=root / "results2", **kw)
    changed = run_study(CONFIG.replace(patience=3), results_dir=root / "results3", **kw)
    return root, first, second, changed


@pytest.fixture(scope="module")
def tables(runs):
    root = runs[0] / "results1"
    return {"pred": read_predictions(root), "metrics": pd.read_csv(root / "metrics.csv"),
            "by_origin": pd.read_csv(root / "metrics_by_origin.csv"),
            "paired": pd.read_csv(root / "paired_test.csv"),
            "tuning": pd.read_csv(root / "tuning.csv")}


def test_results_folder_holds_the_v2_tables(runs):
    root = runs[0] / "results1"
    for name in ("predictions.csv.gz", "predictions_seeds.csv.gz", "metrics.csv",
                 "metrics_by_origin.csv", "paired_test.csv", "tuning.csv", "chosen.csv",
                 "origins.csv", "intervals_test.csv", "intervals_video_test.csv",
                 "concentration.csv", "by_period.csv", "by_run_day.csv", "transfer_test.csv",
                 "cluster_tests.csv", "split.csv", "metrics_by_horizon.csv",
                 "intervals_coverage.csv", "horizon_tests.csv", "horizon_combination_tests.csv",
                 "intervals_v3.csv", "intervals_v3_targets.csv"):
        assert (root / name).is_file(), name
    # the combination takes the LSTM's place in its horizon tests, against the same baseline
    ht = pd.read_csv(root / "horizon_tests.csv")
    hc = pd.read_csv(root / "horizon_combination_tests.csv")
    assert set(hc["lstm"]) == {"best_pair"} and list(hc["baseline"]) == list(ht["baseline"])
    np.testing.assert_allclose(hc["mae_baseline"], ht["mae_baseline"])
    assert (hc["p_holm"] >= hc["p_value"] - 1e-12).all()
    # version 3's intervals start at the second origin (the first has no earlier forecasts)
    iv = pd.read_csv(root / "intervals_v3.csv")
    assert "origin 1" not in set(iv.loc[iv["by"] == "origin", "origin"])
    assert {"v2", "v3", "v3_log", "v3_aci", "cqr"} == set(iv["method"])


def test_metrics_csv_has_every_model_and_split(runs, tables):
    _, first, _, _ = runs
    m = tables["metrics"]
    assert {"model", "split", "n_windows", "mae", "rmse", "mape", "rel_mae",
            "gmrae"} <= set(m.columns)
    assert set(m["split"]) == set(SPLITS)
    for split in SPLITS:
        models = set(m.loc[m["split"] == split, "model"])
        assert MODELS <= models, (split, MODELS - models)
        assert m.loc[m["split"] == split, "model"].is_unique
    # every model is scored on the same windows of a split, and each part has windows
    assert (m.groupby("split")["n_windows"].nunique() == 1).all()
    n = m.groupby("split")["n_windows"].first()
    chrono = first.splits["chronological"].counts()
    o1 = first.chronological_origins[0]
    assert n["train"] == chrono["train"] == len(o1.train)
    assert n["validation"] == chrono["validation"] == len(o1.validation)
    assert n["test"] == chrono["test"]
    assert n["train"] + n["validation"] + n["test"] == len(first.windows)
    assert n["video_test"] == first.splits["video"].counts()["test"]
    np.testing.assert_allclose(m.loc[m["model"] == "naive", "rel_mae"], 1.0)
    assert np.isfinite(m[["mae", "rmse", "mape", "rel_mae"]].to_numpy()).all()


def test_metrics_csv_agrees_with_the_predictions_table(tables):
    pred, m = tables["pred"], tables["metrics"]
    assert list(pred.columns[:10]) == ["model", "split", "origin", "window", "horizon",
                                       "video_id", "target_date", "run_day", "y_true", "y_pred"]
    p = pred[pred["split"].isin(SPLITS)]
    p = p[(p["split"] != "validation") | (p["origin"] == "origin 1")]   # where choices are made
    p = p.assign(abs_err=(p["y_true"] - p["y_pred"]).abs())
    recomputed = p.groupby(["model", "split"]).agg(mae=("abs_err", "mean"),
                                                   n_windows=("abs_err", "size"))
    naive = recomputed.xs("naive", level="model")["mae"]
    got = m.set_index(["model", "split"]).sort_index()
    recomputed = recomputed.loc[got.index]
    np.testing.assert_allclose(got["mae"], recomputed["mae"], rtol=1e-9)
    np.testing.assert_array_equal(got["n_windows"], recomputed["n_windows"])
    rel = recomputed["mae"] / naive.reindex(recomputed.index.get_level_values("split")).to_numpy()
    np.testing.assert_allclose(got["rel_mae"], rel, rtol=1e-9)
    # and the per-origin table too
    bo = tables["by_origin"].set_index(["model", "origin"]).sort_index()
    t = pred[pred["split"] == "test"].assign(e=lambda d: (d["y_true"] - d["y_pred"]).abs())
    again = t.groupby(["model", "origin"])["e"].mean().loc[bo.index]
    np.testing.assert_allclose(bo["mae"], again, rtol=1e-9)


def test_test_is_pooled_over_at_least_four_origins_on_identical_windows(runs, tables):
    _, first, _, _ = runs
    pred = tables["pred"]
    test = pred[pred["split"] == "test"]
    assert tuple(sorted(test["origin"].unique())) == ORIGINS
    assert len(first.chronological_origins) >= 4
    assert set(tables["by_origin"]["origin"]) == set(ORIGINS)
    keys = {model: set(zip(g["origin"], g["window"])) for model, g in test.groupby("model")}
    assert MODELS <= set(keys)
    reference = keys["naive"]
    for model, k in keys.items():
        assert k == reference, model
        assert len(test[test["model"] == model]) == len(k)         # no window twice
    # each origin forecasts its own block: disjoint blocks that cover the test windows
    windows = [w for _, w in reference]
    assert len(set(windows)) == len(windows)
    expected = np.flatnonzero(first.splits["chronological"].mask("test"))
    np.testing.assert_array_equal(np.sort(windows), expected)
    for o in first.chronological_origins:
        assert {w for org, w in reference if org == o.name} == set(o.test)
        # its models were fitted on windows before the origin only
        t = first.windows.target_date
        assert t[o.train].max() < t[o.validation].min() <= t[o.validation].max() < t[o.test].min()


def test_tuning_csv_covers_every_learned_family(tables):
    t = tables["tuning"]
    assert {"design", "family", "config", "val_mae", "val_rel_mae", "chosen"} <= set(t.columns)
    grid = {"drift": 2, "linear_ar": 1, "gbm": 1, "lstm_univariate": 1, "lstm_multivariate": 1}
    for design in ("chronological", "video"):
        d = t[t["design"] == design]
        assert set(d["family"]) == set(LEARNED)
        assert d.groupby("family").size().to_dict() == grid
        assert d.groupby("family")["chosen"].sum().eq(1).all()
        for fam, rows in d.groupby("family"):
            assert rows.loc[rows["chosen"], "val_mae"].item() == rows["val_mae"].min()
        nets = d[d["family"].str.startswith("lstm")]
        assert (nets["n_seeds"] == CONFIG.tuning_seeds).all()


def test_selection_regret_csv_scores_the_study_s_own_choices_post_hoc(runs, tables):
    from ytlstm.regret import CHEAP, COLUMNS, PER_ORIGIN_RULE, V2_RULE

    root, first, _, _ = runs
    t = pd.read_csv(root / "results1" / "selection_regret.csv")
    assert list(t.columns) == list(COLUMNS)
    assert t["post_hoc"].all() and (t["regret"] >= 0).all()
    assert set(t["family"]) == set(LEARNED)
    assert set(t.loc[t["rule"] == PER_ORIGIN_RULE, "family"]) == set(CHEAP)
    v2 = t[(t["rule"] == V2_RULE) & (t["metric"] == "mae")]
    # networks: the first origin only; the cheap families: every origin
    assert v2.groupby("family")["origin"].nunique().to_dict() == {
        f: (CONFIG.n_origins if f in CHEAP else 1) for f in LEARNED}
    # version 2's choice refitted at an origin is the study's model there: the same test MAE
    m = tables["by_origin"].set_index(["model", "origin"])["mae"]
    for r in v2.itertuples():
        assert r.chosen_config == json.dumps(first.chosen["chronological"][r.family],
                                             sort_keys=True)
        if r.family in CHEAP:
            assert r.chosen_test == pytest.approx(m[(r.family, r.origin)], rel=1e-9)
    assert (root / "results1" / "selection_periods.csv").is_file()


def test_paired_test_has_holm_and_one_primary_row_per_split(tables):
    pt = tables["paired"]
    assert {"split", "lstm", "baseline", "primary", "p_value", "p_holm", "dm_p_value",
            "mae_diff", "diff_lo", "diff_hi"} <= set(pt.columns)
    assert set(pt["split"]) == {"test", "video_test"}
    for split, rows in pt.groupby("split"):
        assert rows["primary"].sum() == 1, split
        assert set(rows["lstm"]) == set(LSTM_FAMILIES)
        assert rows["baseline"].nunique() == 1 and rows["baseline"].iloc[0] in BASELINES
        np.testing.assert_allclose(rows["p_holm"], holm(rows["p_value"].tolist()))
        assert (rows["p_holm"] >= rows["p_value"] - 1e-12).all()
        assert ((0 <= rows["p_holm"]) & (rows["p_holm"] <= 1)).all()


def test_every_neural_model_has_one_run_per_seed(runs):
    _, first, _, _ = runs
    for origin in (*ORIGINS, "video"):
        for name in ("lstm_univariate", "lstm_multivariate", "lstm_transfer"):
            res = first.fits[origin][name]
            assert res.seeds == list(CONFIG.seeds), (origin, name)
            assert res.preds.shape == (len(CONFIG.seeds), len(first.windows))
            assert all(1 <= r.epochs_run <= CONFIG.max_epochs for r in res.runs)
        assert first.fits[origin]["lstm_cluster"].preds.shape == (len(CONFIG.seeds),
                                                                  len(first.windows))


def test_first_run_computes_every_stage(runs):
    _, first, _, _ = runs
    assert first.cache_hits == []
    assert set(UPSTREAM) | set(MODEL_STAGES) <= set(first.cache_misses)
    assert len(first.cache_misses) == len(set(first.cache_misses))


def test_unchanged_rerun_computes_nothing_and_gives_identical_results(runs):
    root, first, second, _ = runs
    assert second.cache_misses == []
    assert sorted(second.cache_hits) == sorted(first.cache_misses)
    for name in ("predictions.csv.gz", "predictions_seeds.csv.gz"):
        assert (root / "results1" / name).read_bytes() == (root / "results2" / name).read_bytes()
    for name in ("metrics.csv", "paired_test.csv", "metrics_by_origin.csv"):
        a = pd.read_csv(root / "results1" / name)
        b = pd.read_csv(root / "results2" / name)
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)
    for origin, fits in first.fits.items():
        for name, f in fits.items():
            np.testing.assert_array_equal(f.preds, second.fits[origin][name].preds)


def test_a_neural_only_change_reruns_the_model_stages_but_not_the_data(runs):
    _, first, _, changed = runs
    assert changed.config.patience == 3
    hits, misses = set(changed.cache_hits), set(changed.cache_misses)
    assert set(UPSTREAM) <= hits
    assert not set(UPSTREAM) & misses
    assert set(MODEL_STAGES) <= misses
    assert not hits & misses
    assert hits | misses == set(first.cache_misses)
    # the data-side stages are the very same results
    np.testing.assert_array_equal(changed.windows.y, first.windows.y)
    for a, b in zip(changed.origins, first.origins):
        assert a.name == b.name
        np.testing.assert_array_equal(a.test, b.test)
        np.testing.assert_array_equal(a.train, b.train)
    # the baselines do not read the patience: their forecasts are unchanged
    for origin in ORIGINS:
        for name in ("naive", "drift", "linear_ar", "gbm", "combination"):
            np.testing.assert_array_equal(changed.fits[origin][name].preds,
                                          first.fits[origin][name].preds)


def test_ensemble_rows_are_the_mean_log_of_the_seed_rows(runs):
    root = runs[0] / "results1"
    pred = read_predictions(root)
    seeds = read_predictions(root, seeds=True)
    assert set(seeds["seed"]) == set(CONFIG.seeds)
    assert set(seeds["model"]) >= {"lstm_univariate", "lstm_multivariate", "lstm_transfer",
                                   "lstm_cluster"}
    assert not set(seeds["model"]) & {"naive", "drift", "linear_ar", "gbm", "combination"}
    key = ["model", "split", "origin", "window"]
    mean_log = (seeds.assign(z=np.log1p(seeds["y_pred"].clip(lower=0)))
                .groupby(key)["z"].agg(["mean", "size"]))
    assert (mean_log["size"] == len(CONFIG.seeds)).all()
    joined = pred.set_index(key).join(mean_log, how="inner")
    assert len(joined) == len(mean_log)
    np.testing.assert_allclose(joined["y_pred"], np.expm1(joined["mean"]), rtol=1e-6)


# --------------------------------------------------------------------------- horizons

def test_horizon_tables_agree_with_the_predictions_table(runs, tables):
    root, first = runs[0], runs[1]
    pred = tables["pred"]
    hz = first.horizons
    assert hz is not None and hz.horizons >= 2
    mh = pd.read_csv(root / "results1" / "metrics_by_horizon.csv")
    assert list(mh.columns[:5]) == ["model", "horizon", "n_windows", "mae", "rel_mae"]
    assert sorted(mh["horizon"].unique()) == list(range(1, hz.horizons + 1))
    t = pred[pred["split"] == "horizon_test"].assign(e=lambda d: (d["y_true"] - d["y_pred"]).abs())
    again = t.groupby(["model", "horizon"])["e"].agg(["mean", "size"])
    got = mh.set_index(["model", "horizon"])
    np.testing.assert_allclose(got["mae"], again.loc[got.index, "mean"], rtol=1e-9)
    np.testing.assert_array_equal(got["n_windows"], again.loc[got.index, "size"])
    # fewer windows further out, and naive is the reference at every horizon
    n = mh[mh["model"] == "naive"].sort_values("horizon")["n_windows"].to_numpy()
    assert np.all(np.diff(n) <= 0)
    np.testing.assert_allclose(mh.loc[mh["model"] == "naive", "rel_mae"], 1.0)
    # at horizon 1 the baselines of the horizon study are the day-8 baselines
    day8 = pred[pred["split"] == "test"].set_index(["model", "window"])["y_pred"]
    h1 = pred[(pred["split"] == "horizon_test") & (pred["horizon"] == 1)
              & pred["model"].isin(["naive", "drift", "linear_ar", "gbm"])]
    np.testing.assert_allclose(h1["y_pred"], day8.loc[list(zip(h1["model"], h1["window"]))],
                               rtol=1e-9)
    # every horizon target lies h-1 days after the day-8 date of its window
    w = first.windows
    for h in range(2, hz.horizons + 1):
        rows = t[(t["horizon"] == h) & (t["model"] == "naive")]
        lag = (rows["target_date"].to_numpy() - w.target_date[rows["window"]].astype("datetime64[ns]"))
        assert np.all(lag == np.timedelta64(h - 1, "D"))


def test_no_horizon_model_is_fitted_on_a_target_of_its_test_block(runs, tables):
    first = runs[1]
    pred = tables["pred"]
    v = pred[pred["split"] == "horizon_validation"]
    for o in first.chronological_origins:
        rows = v[v["origin"] == o.name]
        assert (rows["target_date"] < pd.Timestamp(o.info["test_first"])).all()


def test_interval_coverage_is_computed_from_the_bounds(runs, tables):
    root = runs[0]
    pred = tables["pred"]
    cov = pd.read_csv(root / "results1" / "intervals_coverage.csv")
    assert list(cov.columns) == ["model", "horizon", "level", "coverage", "mean_width",
                                 "interval_score", "n_windows"]
    t = pred[pred["split"] == "horizon_test"]
    # the v3 combination has no intervals: no bounds, no coverage row
    assert t.loc[t["model"] == COMBINED, ["lower_80", "upper_95"]].isna().all().all()
    assert COMBINED not in set(cov["model"])
    t = t[t["model"] != COMBINED]
    for lv, tag in ((0.8, "80"), (0.95, "95")):
        inside = (t["y_true"] >= t[f"lower_{tag}"]) & (t["y_true"] <= t[f"upper_{tag}"])
        again = inside.groupby([t["model"], t["horizon"]]).mean()
        got = cov[cov["level"] == lv].set_index(["model", "horizon"])["coverage"]
        np.testing.assert_allclose(got, again.loc[got.index], rtol=1e-12)
        # never below day 7's views (views do not fall inside a window)
        day7 = runs[1].windows.views[t["window"].to_numpy(), -1]
        assert (t[f"lower_{tag}"].to_numpy() >= day7).all()
        assert (t[f"upper_{tag}"] >= t[f"lower_{tag}"]).all()
    # the wider level is never narrower
    w80 = cov[cov["level"] == 0.8].set_index(["model", "horizon"])["mean_width"]
    w95 = cov[cov["level"] == 0.95].set_index(["model", "horizon"])["mean_width"]
    assert (w95 >= w80 - 1e-9).all()

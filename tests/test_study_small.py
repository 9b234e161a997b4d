"""The whole study on a small synthetic Kaggle-format dataset: tables, caching, re-runs.

Trains a few tiny networks (3 epochs each) in this process, so it is marked slow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kaggle_files import write_country
from ytlstm.config import StudyConfig
from ytlstm.report import BASELINES
from ytlstm.study import run_study

pytestmark = pytest.mark.slow

N_VIDEOS = 300
CONFIG = StudyConfig(seeds=(0, 1), units_grid=(8,), loss_grid=("mae",), target_grid=("drift",),
                     max_epochs=3, patience=2, bootstrap_reps=50, cluster_k_grid=(2, 3),
                     min_windows_per_part=20)   # the smallest part here has ~90 windows
LSTMS = ("lstm_univariate", "lstm_multivariate", "lstm_transfer")
UPSTREAM = ("data", "windows", "baselines_chronological", "baselines_video")
NEURAL = ("tuning", "lstm_univariate_chronological", "lstm_multivariate_chronological",
          "lstm_univariate_video", "lstm_multivariate_video", "lstm_transfer_chronological")


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


def test_metrics_csv_has_every_model_and_split(runs):
    root, first, _, _ = runs
    path = root / "results1" / "metrics.csv"
    assert path.is_file()
    m = pd.read_csv(path)
    assert {"model", "split", "n_windows", "mae", "rmse", "mape", "rel_mae"} <= set(m.columns)
    assert set(m["split"]) == {"train", "validation", "test", "video_test"}
    for split in ("train", "validation", "test", "video_test"):
        models = set(m.loc[m["split"] == split, "model"])
        expected = set(BASELINES) | set(LSTMS[:2]) | (set() if split == "video_test" else {LSTMS[2]})
        assert expected <= models, (split, expected - models)
        assert m.loc[m["split"] == split, "model"].is_unique
    # every model is scored on the same windows of a split, and each part has windows
    per_split = m.groupby("split")["n_windows"].nunique()
    assert (per_split == 1).all()
    n = m.groupby("split")["n_windows"].first()
    assert (n > 0).all()
    chrono = first.splits["chronological"].counts()
    assert n["train"] == chrono["train"] and n["test"] == chrono["test"]
    assert n["validation"] == chrono["validation"]
    assert n["video_test"] == first.splits["video"].counts()["test"]
    assert n["train"] + n["validation"] + n["test"] == len(first.windows)
    # the naive forecast is the reference of rel_mae
    naive = m[m["model"] == "naive"]
    np.testing.assert_allclose(naive["rel_mae"], 1.0)
    assert np.isfinite(m[["mae", "rmse", "mape", "rel_mae"]].to_numpy()).all()


def test_every_neural_model_has_one_run_per_seed(runs):
    _, first, _, _ = runs
    for kind, names in (("chronological", LSTMS), ("video", LSTMS[:2])):
        for name in names:
            res = first.neural[kind][name]
            assert [r.seed for r in res.runs] == list(CONFIG.seeds)
            assert res.preds.shape == (len(CONFIG.seeds), len(first.windows))
            assert all(1 <= r.epochs_run <= CONFIG.max_epochs for r in res.runs)


def test_first_run_computes_every_stage(runs):
    _, first, _, _ = runs
    assert first.cache_hits == []
    assert set(UPSTREAM) | set(NEURAL) <= set(first.cache_misses)
    assert len(first.cache_misses) == len(set(first.cache_misses))


def test_unchanged_rerun_loads_everything_and_gives_identical_metrics(runs):
    root, first, second, _ = runs
    assert second.cache_misses == []
    assert sorted(second.cache_hits) == sorted(first.cache_misses)
    a = pd.read_csv(root / "results1" / "metrics.csv")
    b = pd.read_csv(root / "results2" / "metrics.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for kind in ("chronological", "video"):
        for name, res in first.neural[kind].items():
            np.testing.assert_array_equal(res.preds, second.neural[kind][name].preds)


def test_a_neural_only_change_reruns_only_the_neural_stages(runs):
    _, first, _, changed = runs
    assert changed.config.patience == 3
    hits, misses = set(changed.cache_hits), set(changed.cache_misses)
    assert set(UPSTREAM) <= hits
    assert not set(UPSTREAM) & misses
    assert set(NEURAL) <= misses
    assert not hits & misses
    assert hits | misses == set(first.cache_misses)
    # the data-side stages are the very same results
    np.testing.assert_array_equal(changed.windows.y, first.windows.y)
    for kind in ("chronological", "video"):
        for name, p in first.baselines[kind].items():
            np.testing.assert_array_equal(changed.baselines[kind][name], p)

"""Metrics by hand, bootstrap intervals over videos, and the paired tests of protocol v1.

``point_metrics`` and ``mae`` feed every v2 table; the video bootstrap, ``paired_bootstrap``
and the unweighted ``diebold_mariano`` are kept in :mod:`ytlstm.evaluate` (the weighted DM is
checked against it). The v2 inference is tested in ``test_evaluate_v2.py``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ytlstm.evaluate import (bootstrap_metrics, bootstrap_weights, diebold_mariano, mae, mape,
                             paired_bootstrap, point_metrics, rmse)

Y = np.array([100.0, 200.0, 400.0, 50.0])
P = np.array([110.0, 180.0, 400.0, 40.0])      # errors 10, 20, 0, 10
NAIVE = np.array([80.0, 160.0, 300.0, 50.0])   # errors 20, 40, 100, 0


def test_point_metrics_by_hand():
    assert mae(Y, P) == pytest.approx(40 / 4)
    assert rmse(Y, P) == pytest.approx(np.sqrt((100 + 400 + 0 + 100) / 4))
    assert mape(Y, P) == pytest.approx(100 * (0.1 + 0.1 + 0 + 0.2) / 4)
    m = point_metrics(Y, P, NAIVE)
    assert m["mae"] == pytest.approx(10.0)
    assert m["rel_mae"] == pytest.approx(10.0 / 40.0)
    assert set(m) == {"mae", "rmse", "mape", "rel_mae"}
    assert point_metrics(Y, NAIVE, NAIVE)["rel_mae"] == pytest.approx(1.0)


def _sample(n_videos: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"v{i}" for i in range(n_videos)], rng.integers(1, 6, size=n_videos))
    y = rng.uniform(1e3, 1e5, size=len(groups))
    naive = y * rng.uniform(0.7, 1.0, size=len(y))
    good = y * rng.uniform(0.95, 1.05, size=len(y))
    return y, naive, good, groups


def test_bootstrap_weights_resample_whole_videos():
    groups = np.array(["b", "a", "b", "c", "a"])
    w, inv = bootstrap_weights(groups, reps=100, seed=1)
    assert w.shape == (100, 3)
    np.testing.assert_array_equal(w.sum(axis=1), 3)          # n_videos draws each time
    np.testing.assert_array_equal(np.array(["a", "b", "c"])[inv], groups)


def test_bootstrap_intervals_contain_the_point_estimate_and_are_reproducible():
    y, naive, good, groups = _sample()
    preds = {"naive": naive, "good": good}
    ci = bootstrap_metrics(y, preds, naive, groups, reps=500, seed=7)
    assert list(ci["model"]) == ["naive", "good"]
    for _, row in ci.iterrows():
        point = point_metrics(y, preds[row["model"]], naive)
        for k in ("mae", "rmse", "mape"):
            assert row[f"{k}_lo"] <= point[k] <= row[f"{k}_hi"]
            assert row[f"{k}_lo"] < row[f"{k}_hi"]
    good_row = ci.set_index("model").loc["good"]
    assert good_row["rel_mae_lo"] <= point_metrics(y, good, naive)["rel_mae"] <= good_row["rel_mae_hi"]
    # the naive forecast relative to itself is exactly 1 in every resample
    assert ci.set_index("model").loc["naive", "rel_mae_lo"] == pytest.approx(1.0)
    assert ci.set_index("model").loc["naive", "rel_mae_hi"] == pytest.approx(1.0)
    again = bootstrap_metrics(y, preds, naive, groups, reps=500, seed=7)
    pd.testing.assert_frame_equal(ci, again)
    other = bootstrap_metrics(y, preds, naive, groups, reps=500, seed=8)
    assert not np.allclose(ci["mae_lo"], other["mae_lo"])


def test_bootstrap_with_one_window_per_video_matches_a_plain_resample():
    # with one window per video, resampling videos is resampling windows: check one replicate
    y = np.array([10.0, 20.0, 30.0])
    p = np.array([11.0, 18.0, 33.0])
    groups = np.array(["a", "b", "c"])
    w, inv = bootstrap_weights(groups, reps=1, seed=3)
    expected = np.sum(w[0][inv] * np.abs(y - p)) / w[0].sum()
    ci = bootstrap_metrics(y, {"m": p}, y * 0 + 1, groups, reps=1, seed=3)
    assert ci.loc[0, "mae_lo"] == pytest.approx(expected)


def test_diebold_mariano_identical_losses_gives_p_one():
    rng = np.random.default_rng(0)
    loss = rng.uniform(0, 10, size=200)
    dates = np.repeat(np.arange(40), 5)
    r = diebold_mariano(loss, loss.copy(), dates)
    assert r["p_value"] == pytest.approx(1.0)
    assert r["dm_stat"] == 0.0 and r["n_dates"] == 40


def test_diebold_mariano_small_p_for_a_consistently_better_model():
    rng = np.random.default_rng(1)
    dates = np.repeat(np.arange(40), 5)
    loss_b = rng.uniform(5, 10, size=200)
    loss_a = loss_b - 1.0 + rng.normal(0, 0.5, size=200)
    r = diebold_mariano(loss_a, loss_b, dates)
    assert r["p_value"] < 1e-6
    assert r["dm_stat"] < 0                          # a has the lower loss
    assert r["mean_diff"] == pytest.approx(np.mean(loss_a - loss_b), abs=1e-9)  # equal group sizes
    flipped = diebold_mariano(loss_b, loss_a, dates)
    assert flipped["dm_stat"] == pytest.approx(-r["dm_stat"])
    assert flipped["p_value"] == pytest.approx(r["p_value"])


def test_diebold_mariano_noise_only_is_not_significant():
    rng = np.random.default_rng(2)
    dates = np.repeat(np.arange(60), 4)
    base = rng.uniform(5, 10, size=240)
    r = diebold_mariano(base + rng.normal(0, 1, 240), base + rng.normal(0, 1, 240), dates)
    assert r["p_value"] > 0.05


def test_paired_bootstrap_sign_and_reproducibility():
    y, naive, good, groups = _sample(seed=4)
    r = paired_bootstrap(y, good, naive, groups, reps=500, seed=1)
    assert r["mae_diff"] == pytest.approx(mae(y, good) - mae(y, naive))
    assert r["mae_diff"] < 0 and r["diff_hi"] < 0
    assert r["diff_lo"] <= r["mae_diff"] <= r["diff_hi"]
    assert r["p_value"] < 0.01
    rev = paired_bootstrap(y, naive, good, groups, reps=500, seed=1)
    assert rev["mae_diff"] > 0 and rev["diff_lo"] > 0
    assert paired_bootstrap(y, good, naive, groups, reps=500, seed=1) == r
    same = paired_bootstrap(y, good, good.copy(), groups, reps=200, seed=1)
    assert same["mae_diff"] == 0 and same["p_value"] == 1.0

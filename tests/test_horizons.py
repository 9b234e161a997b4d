"""The horizon study's parts on small synthetic windows: conformal bounds, intervals, the
per-horizon windows and their date limits, the multi-step baselines, recursion's inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ytlstm.baselines import Drift, LinearAR, Naive, SzaboHuberman
from ytlstm.horizons import (conformal_quantiles, horizon_index, interval, roll_forward,
                             usable_horizons)
from ytlstm.origins import rolling_origins
from ytlstm.report import interval_score
from ytlstm.windows import FeatureTransform, make_windows

from test_windows import random_frame, video_rows, frame_of


@pytest.fixture(scope="module")
def windows():
    return make_windows(random_frame(n_videos=120, n_dates=40, seed=3), window=7, max_horizon=4)


def test_conformal_bounds_are_order_statistics_with_the_finite_sample_rank():
    r = np.arange(1, 20, dtype=float)          # n = 19: (n+1) * 0.1 = 2, (n+1) * 0.9 = 18
    assert conformal_quantiles(r, 0.8) == (2.0, 18.0)
    # too few residuals for the level: an unbounded side
    lo, hi = conformal_quantiles(np.array([0.1, 0.2, 0.3]), 0.95)
    assert lo == -np.inf and hi == np.inf
    # exchangeable residuals: the interval covers at least the nominal share, on average
    rng = np.random.default_rng(0)
    covered = []
    for _ in range(400):
        cal, new = rng.standard_t(3, 50), rng.standard_t(3)
        lo, hi = conformal_quantiles(cal, 0.8)
        covered.append(lo <= new <= hi)
    assert np.mean(covered) >= 0.76


def test_interval_is_in_views_and_never_below_day_7():
    pred, day7 = np.array([1000.0, 5000.0]), np.array([990.0, 100.0])
    lo, hi = interval(pred, day7, -0.5, 0.2)
    np.testing.assert_allclose(hi, np.expm1(np.log1p(pred) + 0.2))
    assert lo[0] == 990.0                       # clipped at day 7's views
    np.testing.assert_allclose(lo[1], np.expm1(np.log1p(5000.0) - 0.5))
    # a forecast far below day 7 with a small upper bound: the interval is [day 7, day 7]
    lo, hi = interval(np.array([100.0]), np.array([1000.0]), -0.1, 0.1)
    assert lo[0] == hi[0] == 1000.0


def test_interval_score_is_width_plus_scaled_miss():
    y = np.array([5.0, 0.0, 12.0])
    s = interval_score(y, np.full(3, 2.0), np.full(3, 10.0), 0.8)
    np.testing.assert_allclose(s, [8.0, 8.0 + 10 * 2.0, 8.0 + 10 * 2.0])


def test_horizon_windows_respect_the_date_limit(windows):
    idx = np.arange(len(windows))
    limit = np.datetime64(pd.Timestamp("2018-01-25"), "ns")
    for h in (1, 2, 4):
        got = horizon_index(windows, idx, h, limit)
        assert np.isfinite(windows.horizon_target(h)[got]).all()
        if h > 1:
            assert (windows.future_date[got, h - 1] < limit).all()
        # horizon h's windows are among horizon h-1's (a run that goes on h days goes on h-1)
        if h > 1:
            assert set(got) <= set(horizon_index(windows, idx, h - 1, limit))
    assert len(horizon_index(windows, idx, 4)) < len(horizon_index(windows, idx, 1))


def test_usable_horizons_stop_where_a_part_runs_short(windows):
    dates = np.unique(windows.target_date)
    origins = rolling_origins(windows, dates, 0.2, 0.1, 2)
    assert usable_horizons(windows, origins, 4, 1) == 4
    assert usable_horizons(windows, origins, 4, 10 ** 6) == 0


def test_multi_step_baselines(windows):
    w = windows
    v = w.views
    np.testing.assert_array_equal(Naive(horizon=3).predict(w), v[:, -1])
    np.testing.assert_allclose(Drift(1, "mean", 1.0, horizon=3).predict(w),
                               v[:, -1] + 3 * (v[:, -1] - v[:, -2]))
    np.testing.assert_allclose(Drift(1, "mean", 0.5, horizon=2).predict(w),
                               v[:, -1] + (0.5 + 0.25) * (v[:, -1] - v[:, -2]))
    # horizon 1 is the day-8 forecaster exactly
    np.testing.assert_array_equal(Drift(2, "mean", 0.8, horizon=1).predict(w),
                                  Drift(2, "mean", 0.8).predict(w))
    ok = np.isfinite(w.horizon_target(3))
    tr = w.subset(ok)
    s = SzaboHuberman(horizon=3).fit(tr)
    r = tr.views[:, -1] / tr.future[:, 2]
    assert s.alpha_ == pytest.approx(np.sum(r) / np.sum(r * r))
    # a direct linear model of horizon 3 is fitted on horizon-3 targets
    lin = LinearAR("drift", "univariate", "squared", horizon=3).fit(tr)
    assert lin.transform_.horizon == 3
    pred = lin.predict(tr)
    assert np.mean(np.abs(pred - tr.future[:, 2])) < np.mean(np.abs(tr.views[:, -1] - tr.future[:, 2]))


def test_roll_forward_shifts_the_inputs_by_one_day():
    views = 1000 + 50 * np.arange(10) ** 2
    w = make_windows(frame_of(video_rows("AAAAAAAAAAA", list(range(10)), views=views)), 7)
    nxt = roll_forward(w, w.y)
    # with the true day 8 as the new last day, the rolled windows are the next real windows
    np.testing.assert_array_equal(nxt.views[0], views[1:8])
    np.testing.assert_array_equal(nxt.age_days[0], w.age_days[1])
    t = FeatureTransform(False, "growth").fit(w)
    np.testing.assert_allclose(t.transform_x(nxt)[:1], t.transform_x(w)[1:2], rtol=1e-6)


def test_horizon_combination_reuses_its_members_fits_with_the_same_numbers(windows):
    """fit_baselines does not fit the combination's members again: its members are the very
    drift and linear models of that horizon, and it forecasts as a freshly fitted one."""
    from ytlstm.config import StudyConfig
    from ytlstm.horizons import fit_baselines, limits, make_baseline

    dates = np.unique(windows.target_date)
    o = rolling_origins(windows, dates, 0.2, 0.1, 2)[0]
    chosen = {"drift": {"k": 1, "stat": "mean", "damping": 1.0},
              "linear_ar": {"target": "drift", "inputs": "univariate", "loss": "absolute"},
              "gbm": {"target": "drift", "loss": "absolute", "max_leaf_nodes": 7}}
    config = StudyConfig(gbm_max_iter=20)
    fits = fit_baselines(windows, o, chosen, config, 3)
    tl, vl = limits(o)
    for h in (1, 3):
        comb = fits["combination"].fitted[h - 1]
        assert comb.members[0] is fits["drift"].fitted[h - 1]
        assert comb.members[1] is fits["linear_ar"].fitted[h - 1]
        tr, va = horizon_index(windows, o.train, h, tl), horizon_index(windows, o.validation, h, vl)
        fresh = make_baseline("combination", chosen, config, h).fit(windows.subset(tr),
                                                                     windows.subset(va))
        np.testing.assert_array_equal(fits["combination"].preds[0, :, h - 1],
                                      fresh.predict(windows))


def test_recursive_forecast_beside_in_process_training_leaves_its_initial_weights_alone():
    """The horizon stage runs the recursive forecast on a thread while networks may train in
    this same process (one worker): building its network must never draw from the generator
    the engine swaps in for a network's initial weights (so the weights do not depend on
    what runs beside)."""
    import threading

    from test_models import CONFIG, growth_windows
    from ytlstm.engine import initial_weights
    from ytlstm.horizons import recursive_forecast
    from ytlstm.training import Trained

    w = growth_windows(40, seed=3)
    t = FeatureTransform(False, "drift").fit(w)
    reference = [initial_weights(s, 7, t.n_channels, 8) for s in range(12)]
    run = Trained(label="x", seed=0, pred=np.zeros(len(w)), weights=reference[0], val_loss=[0.0],
                  loss=[0.0], epochs_run=1, best_epoch=1, seconds=0.0)
    params = {"target": "drift", "units": 8}
    stop = threading.Event()

    def beside():
        while not stop.is_set():
            recursive_forecast([run], params, w, np.arange(len(w)), CONFIG, 2)

    thread = threading.Thread(target=beside)
    thread.start()
    try:
        for _ in range(3):
            for s, ref in enumerate(reference):
                for a, b in zip(initial_weights(s, 7, t.n_channels, 8), ref):
                    np.testing.assert_array_equal(a, b)
    finally:
        stop.set()
        thread.join()

"""Baselines on tiny series whose forecasts can be checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from ytlstm.baselines import (Combination, Drift, Forecaster, GradientBoosting, LinearAR, Naive,
                              SzaboHuberman)
from ytlstm.windows import Windows


def windows_from_series(series: np.ndarray, category: np.ndarray | None = None) -> Windows:
    """Windows from an ``(n, 8)`` array of views (7 inputs, then the target)."""
    series = np.asarray(series, dtype=np.float64)
    n = len(series)
    views = series[:, :7]
    counts = np.stack([views, views / 10, views / 100, views / 50], axis=-1)
    return Windows(
        counts=counts,
        age_days=np.tile(np.arange(3.0, 10.0), (n, 1)),
        category_id=np.asarray(category if category is not None else np.full(n, 10)),
        comments_disabled=np.zeros(n, bool), ratings_disabled=np.zeros(n, bool),
        y=series[:, 7], video_id=np.array([f"v{i:010d}" for i in range(n)]),
        run_id=np.arange(n),
        target_date=np.array(["2018-01-08"] * n, dtype="datetime64[ns]"))


SERIES = np.array([
    [10, 20, 30, 40, 50, 60, 70, 80],
    [100, 100, 100, 100, 100, 110, 130, 150],
    [5, 6, 7, 9, 12, 16, 21, 28],
])


def test_naive_repeats_day_7():
    w = windows_from_series(SERIES)
    np.testing.assert_array_equal(Naive().fit(w).predict(w), [70, 130, 21])


def test_drift_repeats_the_last_increment():
    w = windows_from_series(SERIES)
    # y8 = 2*y7 - y6: 2*70-60, 2*130-110, 2*21-16
    np.testing.assert_array_equal(Drift().fit(w).predict(w), [80, 150, 26])


def test_szabo_huberman_alpha_by_hand():
    # r = y7 / y8: 100/200 = 0.5 and 100/100 = 1 -> alpha = (0.5 + 1) / (0.25 + 1) = 1.2
    train = windows_from_series([[1, 1, 1, 1, 1, 1, 100, 200], [1, 1, 1, 1, 1, 1, 100, 100]])
    sh = SzaboHuberman().fit(train)
    assert sh.alpha_ == pytest.approx(1.2)
    test = windows_from_series(SERIES)
    np.testing.assert_allclose(sh.predict(test), 1.2 * np.array([70, 130, 21]))


def test_szabo_huberman_recovers_a_constant_ratio():
    rng = np.random.default_rng(0)
    start = rng.uniform(1e3, 1e6, size=50)
    series = start[:, None] * 1.3 ** np.arange(8)
    sh = SzaboHuberman().fit(windows_from_series(series))
    assert sh.alpha_ == pytest.approx(1.3)


def _log_linear_series(n: int, seed: int) -> np.ndarray:
    """Views with log1p(v_t) = a + b t exactly: day 8's log is a linear function of the inputs."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(6, 14, size=n)
    b = rng.uniform(0.01, 0.6, size=n)
    return np.expm1(a[:, None] + b[:, None] * np.arange(8))


def test_linear_ar_recovers_an_exact_linear_in_log_pattern():
    # the log growth of day 8 equals the last daily log increment: exactly linear in the inputs
    train = windows_from_series(_log_linear_series(300, seed=1))
    test = windows_from_series(_log_linear_series(100, seed=2))
    model = LinearAR(target="growth").fit(train)
    np.testing.assert_allclose(model.predict(test), test.y, rtol=1e-6)
    # persistence is far off on the same windows, so the check above can fail
    assert not np.allclose(Naive().predict(test), test.y, rtol=1e-2)


def _every_baseline() -> list[Forecaster]:
    """One forecaster of every baseline class, in the order tables show them."""
    return [Naive(), Drift(k=2), SzaboHuberman(),
            LinearAR(target="drift", inputs="multivariate", loss="squared"),
            GradientBoosting(target="drift", loss="absolute", max_iter=30, seed=0),
            Combination((Drift(k=2), LinearAR(target="drift", loss="absolute")))]


def test_all_baselines_share_fit_predict():
    rng = np.random.default_rng(3)
    series = np.cumsum(rng.uniform(100, 5000, size=(200, 8)), axis=1) + 1000
    w = windows_from_series(series, category=rng.choice([1, 10, 24], size=200))
    names = []
    for b in _every_baseline():
        assert isinstance(b, Forecaster)
        assert b.fit(w, w) is b
        p = b.predict(w)
        assert p.shape == (len(w),) and p.dtype == np.float64 and np.all(np.isfinite(p))
        # predicting a subset gives the same numbers for those windows
        np.testing.assert_allclose(b.predict(w.subset(np.arange(10))), p[:10], rtol=1e-9)
        names.append(b.name)
    assert names == ["naive", "drift", "szabo_huberman", "linear_ar", "gbm", "combination"]


def test_gradient_boosting_needs_validation_windows():
    w = windows_from_series(SERIES)
    with pytest.raises(ValueError, match="validation"):
        GradientBoosting(max_iter=5).fit(w)


def test_gradient_boosting_is_reproducible_with_its_seed():
    rng = np.random.default_rng(4)
    series = np.cumsum(rng.uniform(100, 5000, size=(150, 8)), axis=1) + 1000
    w = windows_from_series(series)
    tr, va = w.subset(np.arange(100)), w.subset(np.arange(100, 150))
    p1 = GradientBoosting(max_iter=20, seed=0).fit(tr, va).predict(w)
    p2 = GradientBoosting(max_iter=20, seed=0).fit(tr, va).predict(w)
    np.testing.assert_array_equal(p1, p2)

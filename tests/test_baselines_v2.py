"""Protocol v2 baselines: the drift family, least absolute deviations, early-stopped trees,
the forecast combination and the scikit-learn-style parameters."""

from __future__ import annotations

import numpy as np
import pytest

from test_baselines import SERIES, _log_linear_series, windows_from_series
from ytlstm.baselines import (Combination, Drift, GradientBoosting, LinearAR, Naive,
                              SzaboHuberman, least_absolute, least_squares, scale_weights)

# increments 1, 1, 1, 6, 1, 19 (day 8 is not an input)
STEPS = np.array([[1, 2, 3, 4, 10, 11, 30, 0]], dtype=float)


# --------------------------------------------------------------------------- drift

def test_drift_default_is_the_classic_drift():
    w = windows_from_series(SERIES)
    np.testing.assert_array_equal(Drift().predict(w), 2 * SERIES[:, 6] - SERIES[:, 5])


@pytest.mark.parametrize("k, stat, damping, step", [
    (1, "mean", 1.0, 19.0),
    (2, "mean", 1.0, (1 + 19) / 2),
    (3, "mean", 1.0, (6 + 1 + 19) / 3),
    (3, "median", 1.0, 6.0),
    (3, "median", 0.5, 3.0),
    (3, "mean", 0.6, 0.6 * 26 / 3),
    (6, "mean", 0.8, 0.8 * 29 / 6),
    (6, "median", 1.0, 1.0),
    (10, "mean", 1.0, 29 / 6),             # k larger than the 6 increments: all of them
])
def test_drift_k_stat_damping_by_hand(k, stat, damping, step):
    w = windows_from_series(STEPS)
    np.testing.assert_allclose(Drift(k, stat, damping).predict(w), [30 + step], rtol=1e-12)


def test_drift_with_zero_damping_is_naive():
    w = windows_from_series(SERIES)
    np.testing.assert_array_equal(Drift(3, "mean", 0.0).predict(w), Naive().predict(w))


def test_drift_unknown_stat_is_an_error():
    with pytest.raises(ValueError, match="unknown drift stat"):
        Drift(2, "mode").predict(windows_from_series(SERIES))


# --------------------------------------------------------------------------- least absolute

def _line_with_outliers(seed: int = 0, n: int = 400):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(n, 1))
    y = 2.0 + 3.0 * x[:, 0] + rng.normal(0, 0.05, n)
    bad = rng.choice(n, size=n // 10, replace=False)
    y[bad] += rng.uniform(20, 60, size=len(bad))        # gross one-sided outliers
    return x, y


def test_least_absolute_recovers_a_line_with_outliers_better_than_least_squares():
    x, y = _line_with_outliers()
    lad = least_absolute(x, y)
    ls = least_squares(x, y)
    truth = np.array([2.0, 3.0])
    assert np.max(np.abs(lad - truth)) < 0.05
    assert np.max(np.abs(ls - truth)) > 1.0             # the outliers pull least squares
    assert np.linalg.norm(lad - truth) < np.linalg.norm(ls - truth) / 20


def test_least_absolute_minimises_the_absolute_error():
    x, y = _line_with_outliers(seed=1)
    lad = least_absolute(x, y)
    ls = least_squares(x, y)

    def sae(b):
        return np.abs(y - b[0] - x[:, 0] * b[1]).sum()

    assert sae(lad) < sae(ls)
    for db in ([0.01, 0], [-0.01, 0], [0, 0.01], [0, -0.01]):   # a local minimum
        assert sae(lad) <= sae(lad + np.array(db)) + 1e-9


def test_least_absolute_integer_weights_equal_repeated_rows():
    x, y = _line_with_outliers(seed=2, n=200)
    wts = np.random.default_rng(3).integers(1, 4, size=len(y)).astype(float)
    weighted = least_absolute(x, y, wts)
    repeated = least_absolute(np.repeat(x, wts.astype(int), axis=0),
                              np.repeat(y, wts.astype(int)))
    np.testing.assert_allclose(weighted, repeated, atol=1e-3)


def test_scale_weights_by_hand():
    ref = windows_from_series([[1, 1, 1, 1, 1, 1, 100, 0], [1, 1, 1, 1, 1, 1, 300, 0]])
    w = windows_from_series(SERIES)
    np.testing.assert_allclose(scale_weights(w, ref), np.array([70, 130, 21]) / 200)


@pytest.mark.parametrize("loss", ["squared", "absolute", "absolute_scaled"])
def test_linear_ar_every_loss_recovers_an_exact_linear_in_log_pattern(loss):
    train = windows_from_series(_log_linear_series(300, seed=1))
    test = windows_from_series(_log_linear_series(100, seed=2))
    model = LinearAR(target="growth", loss=loss).fit(train)
    np.testing.assert_allclose(model.predict(test), test.y, rtol=1e-4)


def test_linear_ar_unknown_loss_is_an_error():
    with pytest.raises(ValueError, match="unknown loss"):
        LinearAR(loss="huber").fit(windows_from_series(_log_linear_series(50, seed=1)))


# --------------------------------------------------------------------------- trees

def _noisy(n: int, seed: int):
    rng = np.random.default_rng(seed)
    series = np.cumsum(rng.uniform(100, 5000, size=(n, 8)), axis=1) + 1000
    return windows_from_series(series, category=rng.choice([1, 10, 24], size=n))


@pytest.mark.parametrize("loss", ["squared", "absolute", "absolute_scaled"])
def test_gbm_early_stopping_uses_fewer_than_max_iter_trees(loss):
    # day 8's increment is independent of the inputs: nothing to learn, validation loss
    # stops improving quickly. Fewer than 256 training windows: with sample weights
    # (absolute_scaled) scikit-learn finds each feature's 255 bin edges by weighted
    # percentiles, which took 35 s for 300 windows
    tr, va = _noisy(200, seed=5), _noisy(80, seed=6)
    g = GradientBoosting(target="growth", loss=loss, max_leaf_nodes=7, max_iter=300,
                         n_iter_no_change=5, seed=0).fit(tr, va)
    assert 1 <= g.n_trees_ < 300
    assert g.n_trees_ == g.model_.n_iter_
    assert g.model_.early_stopping and g.model_.max_leaf_nodes == 7


def test_gbm_unknown_loss_is_an_error():
    w = _noisy(50, seed=1)
    with pytest.raises(ValueError, match="unknown loss"):
        GradientBoosting(loss="huber").fit(w, w)


# --------------------------------------------------------------------------- combination

def test_combination_is_the_mean_of_its_members():
    tr, te = _noisy(200, seed=7), _noisy(60, seed=8)
    members = (Drift(2, "mean", 0.8), LinearAR(target="drift", loss="absolute"), SzaboHuberman())
    comb = Combination(members).fit(tr, tr)
    expected = np.mean([type(m)(**m.get_params()).fit(tr, tr).predict(te) for m in members],
                       axis=0)
    np.testing.assert_allclose(comb.predict(te), expected, rtol=1e-12)
    # and each member was fitted by the combination
    np.testing.assert_allclose(comb.members[2].alpha_, SzaboHuberman().fit(tr).alpha_)


# --------------------------------------------------------------------------- parameters

@pytest.mark.parametrize("make", [
    lambda: Naive(),
    lambda: SzaboHuberman(),
    lambda: Drift(3, "median", 0.6),
    lambda: LinearAR(target="drift", inputs="multivariate", loss="absolute_scaled"),
    lambda: GradientBoosting(target="drift", loss="squared", max_leaf_nodes=15,
                             learning_rate=0.2, max_iter=25, n_iter_no_change=4, seed=3),
])
def test_get_params_round_trip(make):
    f = make()
    params = f.get_params()
    clone = type(f)(**params)
    assert clone.get_params() == params
    assert repr(clone) == repr(f)
    for k, v in params.items():
        assert f"{k}={v!r}" in repr(f)
    tr, te = _noisy(150, seed=9), _noisy(40, seed=10)
    np.testing.assert_array_equal(f.fit(tr, te).predict(te), clone.fit(tr, te).predict(te))
    # fitting adds only attributes ending in "_", never changes the parameters
    assert f.get_params() == params


def test_get_params_names_the_constructor_arguments():
    assert Drift().get_params() == {"k": 1, "stat": "mean", "damping": 1.0, "horizon": 1}
    assert LinearAR().get_params() == {"target": "growth", "inputs": "univariate",
                                       "loss": "squared", "horizon": 1}
    assert set(GradientBoosting().get_params()) == {
        "target", "loss", "max_leaf_nodes", "learning_rate", "max_iter", "n_iter_no_change",
        "seed", "horizon"}
    assert Naive().get_params() == {"horizon": 1}

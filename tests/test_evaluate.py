"""Metrics by hand and the unweighted Diebold-Mariano test.

``point_metrics`` and ``mae`` feed every v2 table; the unweighted ``diebold_mariano`` is kept
in :mod:`ytlstm.evaluate` because the weighted DM is checked against it. The v2 inference is
tested in ``test_evaluate_v2.py``."""

from __future__ import annotations

import numpy as np
import pytest

from ytlstm.evaluate import diebold_mariano, mae, mape, point_metrics, rmse

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

"""Protocol v3 (items 12-18) on hand-made predictions with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ytlstm.combination import with_combination
from ytlstm.evaluate import (VERDICTS, boot_p, equivalence_verdict, gm_mase, mase_scale, tost,
                             twoway_sums)
from ytlstm.inference import (PRIMARY, SECONDARY, model_confidence_set, primary_tests,
                              scaled_metrics, sensitivity, top_video_cut)
from ytlstm.names import COMBINED
from ytlstm.predictions import wide


def test_mase_scale_is_mean_absolute_daily_increment_at_least_one():
    views = np.array([[10, 20, 40, 40, 50, 50, 80],      # increments 10 20 0 10 0 30 -> 70/6
                      [5, 5, 5, 5, 5, 5, 5]])            # no movement -> 1 view
    np.testing.assert_allclose(mase_scale(views), [70 / 6, 1.0])


def test_gm_mase_is_geometric_mean_over_videos_and_counts_zero_videos():
    q = np.array([1.0, 3.0, 8.0, 0.0, 0.0])
    g = np.array(["a", "a", "b", "c", "c"])               # means 2, 8, 0 -> exp(mean(log 2, log 8))
    value, left_out = gm_mase(q, g)
    assert value == pytest.approx(4.0)
    assert left_out == 1


def test_tost_shares_and_p():
    r = np.array([0.90, 0.96, 1.0, 1.0, 1.02, 1.06])
    t = tost(r, 0.05)
    assert t["p_upper"] == pytest.approx(1 / 6)            # 1.06 >= 1.05
    assert t["p_lower"] == pytest.approx(1 / 6)            # 0.90 <= 1/1.05
    assert t["p_tost"] == pytest.approx(1 / 6)


@pytest.mark.parametrize("ratio,p_holm,p_tost,word", [
    (0.90, 0.01, 0.50, "better"), (1.10, 0.01, 0.50, "worse"),
    (0.99, 0.40, 0.01, "equivalent within 5%"), (0.99, 0.40, 0.20, "undecided"),
    (1.00, 0.049, 0.01, "worse")])
def test_equivalence_verdict_rules(ratio, p_holm, p_tost, word):
    assert equivalence_verdict(ratio, p_holm, p_tost) == word
    assert word in VERDICTS


def test_boot_p_and_its_monte_carlo_error():
    draws = np.r_[np.full(250, -1.0), np.full(750, 1.0)]
    p, se = boot_p(draws)
    assert p == pytest.approx(0.5)
    assert se == pytest.approx(2 * np.sqrt(0.25 * 0.75 / 1000))


def test_twoway_sums_resample_means_centre_on_the_pooled_mean():
    rng = np.random.default_rng(1)
    n = 400
    dates = np.repeat(pd.date_range("2018-01-01", periods=40).to_numpy(), 10)
    videos = np.tile(np.arange(40), 10)
    loss = rng.gamma(2.0, 1.0, (n, 2))
    sums, cnt = twoway_sums(loss, dates, videos, reps=3000, seed=0, chunk=700)
    assert sums.shape == (len(cnt), 2) and len(cnt) > 2900
    means = sums / cnt[:, None]
    np.testing.assert_allclose(means.mean(axis=0), loss.mean(axis=0), rtol=0.02)
    again, _ = twoway_sums(loss, dates, videos, reps=3000, seed=0, chunk=700)
    np.testing.assert_array_equal(sums, again)              # deterministic for a seed


def _pred(lstm_factor: float, n_dates: int = 30, n_videos: int = 30, seed: int = 0) -> pd.DataFrame:
    """A predictions table: naive, drift (the best baseline on validation), gbm and two LSTMs.
    The LSTMs' errors are ``lstm_factor`` times drift's on the test windows."""
    rng = np.random.default_rng(seed)
    rows = []
    win = 0
    splits = (("train", "2018-01-01"), ("validation", "2018-03-01"), ("test", "2018-05-01"))
    for split, start in splits:
        for d in pd.date_range(start, periods=n_dates):
            for v in range(n_videos):
                y7 = float(rng.lognormal(10, 1))
                y = y7 * (1 + rng.uniform(0.01, 0.2))
                err = rng.normal(0, 0.05) * y
                preds = {"naive": y7, "drift": y + err, "gbm": y + 1.5 * err,
                         "lstm_univariate": y + (lstm_factor if split == "test" else 1.2) * err,
                         "lstm_multivariate": y + (lstm_factor if split == "test" else 1.1) * err}
                for m, p in preds.items():
                    rows.append({"model": m, "split": split, "origin": "2018-05-01",
                                 "window": win, "horizon": 1, "video_id": f"v{v}",
                                 "target_date": d, "run_day": 8, "y_true": y, "y_pred": p,
                                 "scale": max(1.0, y7 * 0.05)})
                win += 1
    return pd.DataFrame(rows)


def test_identical_forecasts_are_equivalent_and_worse_forecasts_are_worse():
    same = primary_tests(_pred(1.0), reps=2000)
    prim = same[same["role"] == PRIMARY]
    assert set(prim["metric"]) == {"mae", "mase"}
    assert (prim["ratio"] == 1.0).all() and (prim["verdict"] == "equivalent within 5%").all()
    assert prim["model"].iloc[0] == "lstm_multivariate"     # the best LSTM on validation
    worse = primary_tests(_pred(1.6), reps=2000)
    assert (worse.loc[worse["role"] == PRIMARY, "verdict"] == "worse").all()
    assert len(worse.dropna(subset=["p_holm"])) == 4          # 2 families x 2 metrics


def test_mase_columns_follow_the_scale():
    pred = _pred(1.0)
    wt = wide(pred, "test")
    m = scaled_metrics(wt, "drift")
    q = np.abs(wt["y_true"] - wt["drift"]) / wt["scale"]
    assert m["mase"] == pytest.approx(q.mean())


def test_combination_is_the_log_space_mean_of_the_chosen_pair_and_is_tested_secondary():
    pred = _pred(1.0)
    out = with_combination(pred)
    c = out[out["model"] == COMBINED].set_index(["split", "window"])["y_pred"]
    lstm = pred[pred["model"] == "lstm_multivariate"].set_index(["split", "window"])["y_pred"]
    base = pred[pred["model"] == "drift"].set_index(["split", "window"])["y_pred"]
    expect = np.expm1((np.log1p(lstm) + np.log1p(base)) / 2)
    np.testing.assert_allclose(c.loc[expect.index], expect)
    assert len(with_combination(out)) == len(out)              # adding it twice adds nothing
    t = primary_tests(out, reps=1000)
    sec = t[t["model"] == COMBINED]
    assert (sec["role"] == SECONDARY).all() and sec["p_holm"].isna().all()


def test_sensitivity_leaves_out_the_largest_videos_by_the_training_cut():
    pred = _pred(1.0)
    cut = top_video_cut(pred)
    tr = pred[(pred["split"] == "train") & (pred["model"] == "naive")]
    assert cut == pytest.approx(tr.groupby("video_id")["y_pred"].max().quantile(0.99))
    s = sensitivity(pred, pd.Timestamp("2018-05-10"), reps=500)
    assert (s.loc[s["analysis"] == "all test windows", "left_out"] == 0).all()
    assert set(s["analysis"]) == {"all test windows", "without the largest videos",
                                  "without the days near the break"}
    near = s[s["analysis"] == "without the days near the break"]
    # target dates 2018-05-07 .. 2018-05-20 touch the 3 days around the break: 14 dates
    assert (near["left_out"] == 14 * 30).all()


def test_model_confidence_set_keeps_the_best_and_drops_the_far_worse():
    mcs = model_confidence_set(_pred(1.0), reps=500)
    for _, g in mcs.groupby("metric"):
        s = g.set_index("model")
        assert s["in_set"].any()
        assert s.loc[s["mean_loss"].idxmin(), "in_set"]
        assert not s.loc["naive", "in_set"]

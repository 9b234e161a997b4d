"""Protocol v3's intervals (items 19-23) on hand-made predictions with known answers, and the
leak rule: no calibration reads a target dated on or after the origin it calibrates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ytlstm.intervals import (calibration_rows, cqr_correction, interval_rows, interval_targets,
                              intervals_v3, saved_calibration, scaled_interval)
from ytlstm.windows import FeatureTransform

ORIGINS = pd.DataFrame({"origin": ["origin 1", "origin 2", "origin 3"],
                        "test_first": ["2018-01-01", "2018-01-11", "2018-01-21"]})


def _table(seed: int = 0, n_per_date: int = 6) -> pd.DataFrame:
    """Horizon-test rows of two models over 30 dates (3 origins of 10), horizons 1-2, plus
    training rows of the first origin (for the size deciles)."""
    rng = np.random.default_rng(seed)
    rows, w = [], 0
    for d in pd.date_range("2018-01-01", periods=30):
        origin = f"origin {1 + (d.day - 1) // 10}"
        for _ in range(n_per_date):
            y_last, scale = rng.uniform(1e3, 1e6), rng.uniform(10, 1e4)
            for h in (1, 2):
                y = y_last + h * scale * rng.uniform(0.5, 1.5)
                for model, bias in (("a", 0.0), ("b", 0.3)):
                    p = y_last + h * scale * (1 + bias)
                    rows.append({"model": model, "split": "horizon_test", "origin": origin,
                                 "window": w, "horizon": h, "video_id": f"v{w % 7}",
                                 "target_date": d + pd.Timedelta(days=h - 1), "y_true": y,
                                 "y_pred": p, "scale": scale, "y_last": y_last,
                                 "lower_80": p * 0.9, "upper_80": p * 1.1,
                                 "lower_95": p * 0.8, "upper_95": p * 1.2,
                                 "qlo_80": p - scale, "qhi_80": p + scale,
                                 "qlo_95": p - 2 * scale, "qhi_95": p + 2 * scale})
            w += 1
    for i in range(100):
        rows.append({"model": "a", "split": "train", "origin": "origin 1", "window": 10_000 + i,
                     "horizon": 1, "y_last": float(i), "y_true": 1.0, "y_pred": 1.0})
    t = pd.DataFrame(rows)
    t.loc[t["model"] == "b", [c for c in t if c.startswith("q")]] = np.nan
    return t


def test_calibration_is_earlier_origins_before_the_origin():
    p = _table()
    p = p[p["split"] == "horizon_test"]
    assert calibration_rows(p, ORIGINS, "origin 1").empty
    cal = calibration_rows(p, ORIGINS, "origin 3")
    assert set(cal["origin"]) == {"origin 1", "origin 2"}
    assert cal["target_date"].max() < pd.Timestamp("2018-01-21")
    # origin 2's horizon-2 forecasts of its last date have a target on origin 3's first date
    late = p[(p["origin"] == "origin 2") & (p["target_date"] >= pd.Timestamp("2018-01-21"))]
    assert len(late) and not late.index.isin(cal.index).any()


def test_scaled_interval_is_forecast_plus_order_statistics_times_scale():
    z = np.arange(1, 20, dtype=float)                 # n = 19: ranks 2 and 18 at 80%
    from ytlstm.horizons import conformal_quantiles

    lo, hi = conformal_quantiles(z, 0.8)
    g = pd.DataFrame({"y_pred": [100.0, 100.0], "scale": [10.0, 10.0], "y_last": [50.0, 130.0]})
    lower, upper = scaled_interval(g, lo, hi)
    np.testing.assert_allclose(lower, [120.0, 130.0])     # the second is held at day 7
    np.testing.assert_allclose(upper, [280.0, 280.0])


def test_cqr_correction_rank():
    s = np.arange(1, 10, dtype=float)                    # n = 9: ceil(10 * 0.8) = 8
    assert cqr_correction(s, 0.8) == 8.0
    assert cqr_correction(s, 0.95) == np.inf             # ceil(10 * 0.95) = 10 > 9


def test_no_calibration_reads_a_target_on_or_after_its_origin():
    """Changing every actual value dated on or after origin 3's first date (and every
    validation row) changes no interval of origin 3, under any method."""
    p = _table()
    before = interval_rows(p, ORIGINS)
    q = p.copy()
    late = (q["target_date"] >= pd.Timestamp("2018-01-21")) & (q["origin"] != "origin 3")
    q.loc[late, "y_true"] *= 7.0
    val = q.iloc[:20].assign(split="horizon_validation", y_true=1e12)
    after = interval_rows(pd.concat([q, val], ignore_index=True), ORIGINS)
    pick = ["model", "method", "level", "window", "horizon"]
    for t in (before, after):
        t.sort_values(pick, inplace=True, ignore_index=True)
    o3 = (before["origin"] == "origin 3") & (before["method"] != "v3_aci")
    pd.testing.assert_frame_equal(before.loc[o3, ["lower", "upper"]],
                                  after.loc[o3, ["lower", "upper"]])
    assert set(before["origin"]) == {"origin 2", "origin 3"}     # origin 1: no calibration


def test_aci_with_no_step_is_the_plain_interval():
    p = _table()
    t = interval_rows(p, ORIGINS, gamma=0.0)
    key = ["model", "level", "window", "horizon"]
    a = t[t["method"] == "v3_aci"].sort_values(key, ignore_index=True)
    b = t[t["method"] == "v3"].sort_values(key, ignore_index=True)
    np.testing.assert_allclose(a["lower"], b["lower"])
    np.testing.assert_allclose(a["upper"], b["upper"])
    # a step > 0 reacts to the misses of version 2's biased model b: wider intervals later
    t2 = interval_rows(p, ORIGINS, gamma=0.2)
    aci = t2[(t2["method"] == "v3_aci") & (t2["model"] == "b")]
    assert not np.allclose(aci["upper"].to_numpy(), b[b["model"] == "b"]["upper"].to_numpy())


def test_summary_table_and_targets():
    p = _table()
    t = intervals_v3(p, ORIGINS)
    assert set(t["method"]) == {"v2", "v3", "v3_log", "v3_aci", "cqr"}
    assert set(t[t["method"] == "cqr"]["model"]) == {"a"}        # the peer is gradient boosting's
    assert set(t["by"]) == {"all", "horizon", "origin", "origin_horizon", "decile"}
    allrow = t[(t["by"] == "all")]
    assert (allrow["coverage"].between(0, 1)).all() and (allrow["mean_width"] >= 0).all()
    # the pooled row is the window-weighted mean of the per-origin rows
    for (m, meth, lv), g in t.groupby(["model", "method", "level"]):
        o = g[g["by"] == "origin"]
        pooled = g[g["by"] == "all"].iloc[0]
        assert np.isclose((o["coverage"] * o["n_windows"]).sum() / o["n_windows"].sum(),
                          pooled["coverage"])
    # every test window of the size deciles is in a decile 1..10 cut on the training rows
    d = t[t["by"] == "decile"]
    assert d["decile"].between(1, 10).all()
    tg = interval_targets(t, ["a", "b"])
    assert set(tg["method"]) >= {"v2", "v3"}
    v2 = tg[tg["method"] == "v2"]
    assert np.allclose(v2["score_vs_v2"], 1.0) and not v2["score_met"].any()


def test_saved_calibration_uses_every_origin():
    p = _table()
    c = saved_calibration(p, "a")
    n = len(p[(p["split"] == "horizon_test") & (p["model"] == "a") & (p["horizon"] == 1)])
    assert c[c["horizon"] == 1]["n_scores"].iloc[0] == n
    assert (c["lower_z"] <= c["upper_z"]).all()


def test_target_scaling_ignores_targets_from_the_limit_on():
    """A multi-output transform fitted with ``targets_before`` is the one fitted on windows
    whose targets from that date on are missing."""
    from dataclasses import replace

    from test_windows import random_frame
    from ytlstm.windows import make_windows

    w = make_windows(random_frame(n_videos=60, n_dates=30, seed=5), window=7, max_horizon=3)
    limit = np.sort(w.target_date.astype("datetime64[ns]"))[len(w) // 2]
    over = w.future_date >= limit
    assert 0 < over.mean() < 1
    masked = replace(w, future=np.where(over, np.nan, w.future),
                     y=np.where(over[:, 0], np.nan, w.y))
    a = FeatureTransform(False, "growth", horizons=3).fit(w, limit)
    b = FeatureTransform(False, "growth", horizons=3).fit(masked)
    np.testing.assert_allclose(a.y_mean, b.y_mean)
    np.testing.assert_allclose(a.y_std, b.y_std)
    c = FeatureTransform(False, "growth", horizons=3).fit(w)
    assert not np.allclose(a.y_mean, c.y_mean)            # the limit matters on this data


def test_aci_reads_only_targets_realised_before_a_forecast_is_issued():
    """Adaptive conformal inference updates on realised misses: changing every actual value
    dated on or after a date D changes no interval of a forecast issued on or before D."""
    p = _table()
    d = pd.Timestamp("2018-01-16")
    before = interval_rows(p, ORIGINS, gamma=0.2)
    q = p.copy()
    q.loc[q["target_date"] >= d, "y_true"] *= 5.0
    after = interval_rows(q, ORIGINS, gamma=0.2)
    key = ["model", "method", "level", "window", "horizon"]
    for t in (before, after):
        t.sort_values(key, inplace=True, ignore_index=True)
    issued = before["target_date"] - pd.to_timedelta(before["horizon"], unit="D")
    pick = (before["method"] == "v3_aci") & (issued <= d)
    assert pick.sum() > 0
    pd.testing.assert_frame_equal(before.loc[pick, ["lower", "upper"]],
                                  after.loc[pick, ["lower", "upper"]])
    later = (before["method"] == "v3_aci") & (issued > d + pd.Timedelta(days=2))
    assert not np.allclose(before.loc[later, "upper"], after.loc[later, "upper"])


def test_quantile_peer_band_is_ordered_and_covers_about_its_level():
    """Gradient boosting at quantiles 0.1 and 0.9 of the target: a band in views, lower end at
    most the upper, that holds roughly 80% of the training targets."""
    from test_windows import random_frame
    from ytlstm.config import StudyConfig
    from ytlstm.quantile import QuantileGradientBoosting, quantile_band
    from ytlstm.windows import make_windows

    w = make_windows(random_frame(n_videos=150, n_dates=30, seed=7), window=7, max_horizon=1)
    idx = np.arange(len(w))
    tr, va = w.subset(idx[: len(w) * 3 // 4]), w.subset(idx[len(w) * 3 // 4:])
    cfg = StudyConfig()
    lo, hi = quantile_band({"target": "growth", "max_leaf_nodes": 15}, cfg, 0.8, 1, tr, va, tr)
    assert lo.shape == hi.shape == (len(tr),) and np.all(lo <= hi)
    inside = np.mean((tr.y >= lo) & (tr.y <= hi))
    assert 0.6 <= inside <= 0.95, inside
    with pytest.raises(ValueError, match="quantile must be between 0 and 1"):
        QuantileGradientBoosting(1.2)

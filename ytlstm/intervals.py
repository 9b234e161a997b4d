"""Forecast intervals that hold (protocol v3, items 19-23): plain functions over the
predictions table.

Every interval here is calibrated on forecasts no model was fitted, early-stopped or chosen
on: the test forecasts of the *earlier* origins whose targets are dated before the origin
being forecast (item 19), so origin 1 has none. Methods (the ``method`` column):

- ``v2``: version 2's intervals (calibrated on each origin's validation windows, log score),
  the columns ``lower_<L>``/``upper_<L>`` of the table, scored on the same windows;
- ``v3``: item 20, the scaled score ``z = (y - yhat) / scale`` (``scale``: item 12's),
  Mondrian by model, horizon and level;
- ``v3_log``: item 19's calibration with version 2's log score, so that the effect of the
  calibration data and of the score can be told apart;
- ``v3_aci``: item 21, adaptive conformal inference over the test dates on ``v3``'s score;
- ``cqr``: item 22, the quantile peer (gradient boosting's quantile band, columns
  ``qlo_<L>``/``qhi_<L>`` of its rows), conformalised by item 19's rule.

Why not ``crepes`` or ``MAPIE``: both fit and calibrate from arrays of one calibration set,
while here each origin has its own calibration set drawn from other origins' rows of the
predictions table, and the equal-tailed order statistics must be version 2's
(:func:`ytlstm.horizons.conformal_quantiles`), so that the methods differ only in their
calibration data and score. What is left is a few lines of order statistics over groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ytlstm.horizons import conformal_quantiles, interval, level_name
from ytlstm.evaluate import interval_score

#: The interval methods, in the order tables show them.
METHODS = ("v2", "v3", "v3_log", "v3_aci", "cqr")
#: Adaptive conformal inference's step (item 21), per test date.
ACI_GAMMA = 0.05
#: Index columns of the interval rows.
KEYS = ["model", "origin", "window", "horizon"]


def _test_rows(pred: pd.DataFrame) -> pd.DataFrame:
    p = pred[pred["split"] == "horizon_test"].copy()
    p["issued"] = p["target_date"] - pd.to_timedelta(p["horizon"], unit="D")
    return p


def calibration_rows(p: pd.DataFrame, origins: pd.DataFrame, origin: str) -> pd.DataFrame:
    """The calibration rows of ``origin`` (item 19): the test forecasts of the earlier origins
    whose targets are dated before ``origin``'s first test date (empty for the first)."""
    o = origins.set_index("origin")
    first = pd.Timestamp(o.loc[origin, "test_first"])
    earlier = [n for n in o.index if pd.Timestamp(o.loc[n, "test_first"]) < first]
    return p[p["origin"].isin(earlier) & (p["target_date"] < first)]


def _scaled_scores(g: pd.DataFrame) -> np.ndarray:
    return ((g["y_true"] - g["y_pred"]) / g["scale"]).to_numpy(float)


def _log_scores(g: pd.DataFrame) -> np.ndarray:
    return (np.log1p(g["y_true"].to_numpy(float))
            - np.log1p(np.maximum(g["y_pred"].to_numpy(float), 0.0)))


def _log_band(g: pd.DataFrame, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """The quantile band of the rows ``g`` in log views (a band below 0 views held at 0)."""
    return (np.log1p(np.maximum(g[f"qlo_{tag}"].to_numpy(float), 0.0)),
            np.log1p(np.maximum(g[f"qhi_{tag}"].to_numpy(float), 0.0)))


def _cqr_scores(g: pd.DataFrame, tag: str) -> np.ndarray:
    ly = np.log1p(g["y_true"].to_numpy(float))
    lo, hi = _log_band(g, tag)
    return np.maximum(lo - ly, ly - hi)


def _bounded(lower: np.ndarray, upper: np.ndarray, y_last: np.ndarray):
    """Views never fall inside a window: the lower end at least day 7's views, the upper end
    at least the lower."""
    lower = np.maximum(np.nan_to_num(lower, nan=-np.inf), y_last)
    return lower, np.maximum(upper, lower)


def scaled_interval(g: pd.DataFrame, lo: float, hi: float):
    """Item 20's interval of the rows ``g`` for scaled-score bounds ``lo``, ``hi``."""
    yhat, s = g["y_pred"].to_numpy(float), g["scale"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        return _bounded(yhat + lo * s, yhat + hi * s, g["y_last"].to_numpy(float))


def log_interval(g: pd.DataFrame, lo: float, hi: float):
    """Item 11's interval (log score) of the rows ``g`` for log-residual bounds: version 2's
    own function (:func:`ytlstm.horizons.interval`), so only the calibration data differ."""
    return interval(g["y_pred"].to_numpy(float), g["y_last"].to_numpy(float), lo, hi)


def cqr_interval(g: pd.DataFrame, tag: str, q: float):
    """Item 22's interval: the quantile band widened by ``q`` in log views."""
    lo, hi = _log_band(g, tag)
    with np.errstate(over="ignore"):
        lo, hi = np.expm1(lo - q), np.expm1(hi + q)
    return _bounded(lo, hi, g["y_last"].to_numpy(float))


def cqr_correction(scores: np.ndarray, level: float) -> float:
    """The ``ceil((n+1) level)``-th smallest score (``inf`` with too few scores)."""
    r = np.sort(np.asarray(scores, float))
    k = int(np.ceil(round((len(r) + 1) * level, 9)))
    return float(r[k - 1]) if 1 <= k <= len(r) else float("inf")


def _aci(g: pd.DataFrame, cal: dict[str, np.ndarray], level: float, gamma: float):
    """Item 21 on one model, horizon and level: rows ``g`` (every origin from the second on)
    in order of issue date; ``cal``: each origin's calibration scores (item 20's)."""
    a = 1.0 - level
    g = g.sort_values(["issued", "window"])
    lower, upper = np.empty(len(g)), np.empty(len(g))
    miss = np.zeros(len(g), bool)
    pos = {ix: i for i, ix in enumerate(g.index)}
    dates = np.unique(np.concatenate([g["issued"].to_numpy(), g["target_date"].to_numpy()]))
    issued, target = g.groupby("issued").groups, g.groupby("target_date").groups
    total = 0.0                         # sum over realised dates of (a - miss share)
    for d in dates:
        if d in issued:
            rows = g.loc[issued[d]]
            a_t = a + gamma * total
            for o, rr in rows.groupby("origin"):
                if a_t <= 0:
                    lo, hi = -np.inf, np.inf
                elif a_t >= 1:
                    lo = hi = 0.0
                else:
                    lo, hi = conformal_quantiles(cal[o], 1.0 - a_t)
                lw, up = scaled_interval(rr, lo, hi)
                ii = [pos[i] for i in rr.index]
                lower[ii], upper[ii] = lw, up
                y = rr["y_true"].to_numpy(float)
                miss[ii] = (y < lw) | (y > up)
        if d in target:
            ii = [pos[i] for i in target[d]]
            total += a - float(np.mean(miss[ii]))
    out = pd.Series(lower, index=g.index), pd.Series(upper, index=g.index)
    return out


def interval_rows(pred: pd.DataFrame, origins: pd.DataFrame, levels=(0.8, 0.95),
                  gamma: float = ACI_GAMMA) -> pd.DataFrame:
    """Every test interval of every method (module docstring) at the origins that have a
    calibration set: ``model, method, level, origin, window, horizon, video_id, target_date,
    y_true, y_last, lower, upper`` (``n_calibration``: the calibration set's size)."""
    p = _test_rows(pred)
    out = []
    later = [o for o in origins["origin"] if len(calibration_rows(p, origins, o))]
    for model, pm in p.groupby("model", sort=False):
        for h, ph in pm.groupby("horizon"):
            cal_sets = {o: calibration_rows(ph, origins, o) for o in later}
            for lv in levels:
                tag = level_name(lv)
                aci_cal = {}
                for o in later:
                    g, cal = ph[ph["origin"] == o], cal_sets[o]
                    if not len(g) or not len(cal):
                        continue
                    base = g[["model", "origin", "window", "horizon", "video_id", "target_date",
                              "y_true", "y_last"]]
                    z = _scaled_scores(cal)
                    aci_cal[o] = z
                    ivs = {"v2": (g[f"lower_{tag}"].to_numpy(float),
                                  g[f"upper_{tag}"].to_numpy(float)),
                           "v3": scaled_interval(g, *conformal_quantiles(z, lv)),
                           "v3_log": log_interval(g, *conformal_quantiles(_log_scores(cal), lv))}
                    if f"qlo_{tag}" in g and g[f"qlo_{tag}"].notna().all():
                        ivs["cqr"] = cqr_interval(
                            g, tag, cqr_correction(_cqr_scores(cal, tag), lv))
                    for method, (lo, hi) in ivs.items():
                        if np.isnan(lo).all():
                            continue           # a model without version 2's intervals
                        out.append(base.assign(method=method, level=lv, lower=lo, upper=hi,
                                               n_calibration=len(cal)))
                g = ph[ph["origin"].isin(list(aci_cal))]
                if len(g):
                    lo, hi = _aci(g, aci_cal, lv, gamma)
                    out.append(g[["model", "origin", "window", "horizon", "video_id",
                                  "target_date", "y_true", "y_last"]].assign(
                        method="v3_aci", level=lv, lower=lo.reindex(g.index).to_numpy(),
                        upper=hi.reindex(g.index).to_numpy(),
                        n_calibration=g["origin"].map({o: len(v) for o, v in aci_cal.items()})))
    if not out:
        return pd.DataFrame(columns=["model", "method", "level", *KEYS[1:], "lower", "upper"])
    return pd.concat(out, ignore_index=True)


def size_deciles(pred: pd.DataFrame) -> np.ndarray:
    """The 9 cuts of day-7 views that make deciles of the first origin's training windows."""
    t = pred[pred["split"] == "train"].drop_duplicates("window")   # the first origin's only
    return np.quantile(t["y_last"].to_numpy(float), np.arange(1, 10) / 10)


def _summary(g: pd.DataFrame, level: float) -> dict:
    y, lo, hi = (g[c].to_numpy(float) for c in ("y_true", "lower", "upper"))
    return {"n_windows": len(g), "coverage": float(np.mean((y >= lo) & (y <= hi))),
            "miss_below": float(np.mean(y < lo)), "miss_above": float(np.mean(y > hi)),
            "mean_width": float(np.mean(hi - lo)),
            "interval_score": float(np.mean(interval_score(y, lo, hi, level)))}


def intervals_v3(pred: pd.DataFrame, origins: pd.DataFrame, levels=(0.8, 0.95),
                 rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Coverage (and the shares of targets below and above the interval), mean width and mean
    interval score (item 23) of every model and method, per
    level and: pooled (``by`` = ``all``), per ``horizon``, per ``origin``, per origin and
    horizon (``origin_horizon``), per size ``decile`` (1-10, day-7 views, cut on the first
    origin's training windows). ``horizon`` 0, ``origin`` ``all`` and ``decile`` 0 mean
    pooled."""
    rows = interval_rows(pred, origins, levels) if rows is None else rows
    if not len(rows):
        return pd.DataFrame()
    rows = rows.assign(decile=np.searchsorted(size_deciles(pred), rows["y_last"].to_numpy(float),
                                              side="right") + 1)
    groupings = {"all": [], "horizon": ["horizon"], "origin": ["origin"],
                 "origin_horizon": ["origin", "horizon"], "decile": ["decile"]}
    out = []
    for (model, method, lv), g in rows.groupby(["model", "method", "level"], sort=False):
        for by, cols in groupings.items():
            parts = [((), g)] if not cols else g.groupby(cols)
            for key, gg in parts:
                key = key if isinstance(key, tuple) else (key,)
                d = dict(zip(cols, key))
                out.append({"model": model, "method": method, "level": lv, "by": by,
                            "horizon": int(d.get("horizon", 0)),
                            "origin": d.get("origin", "all"), "decile": int(d.get("decile", 0)),
                            **_summary(gg, lv)})
    t = pd.DataFrame(out)
    t["method"] = pd.Categorical(t["method"], METHODS, ordered=True)
    return t.sort_values(["model", "method", "level", "by", "origin", "horizon", "decile"],
                         kind="stable", ignore_index=True).assign(
        method=lambda d: d["method"].astype(str))


def interval_targets(table: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Item 23's targets for ``models`` (the best LSTM and the best baseline at horizons) and
    every method: the largest gap of pooled coverage from nominal over horizons (target 2
    points) and over origins (5 points), and the mean interval score over version 2's on the
    same windows (target below 1), per level."""
    out = []
    for (m, method, lv), g in table[table["model"].isin(models)].groupby(
            ["model", "method", "level"], sort=False):
        hz = g[g["by"] == "horizon"]
        og = g[g["by"] == "origin"]
        v2 = table[(table["model"] == m) & (table["method"] == "v2") & (table["level"] == lv)
                   & (table["by"] == "all")]["interval_score"]
        score = float(g[g["by"] == "all"]["interval_score"].iloc[0])
        gap_h = float((hz["coverage"] - lv).abs().max())
        gap_o = float((og["coverage"] - lv).abs().max())
        rel = score / float(v2.iloc[0]) if len(v2) else np.nan
        out.append({"model": m, "method": method, "level": lv,
                    "coverage": float(g[g["by"] == "all"]["coverage"].iloc[0]),
                    "max_gap_horizon": gap_h, "max_gap_origin": gap_o,
                    "interval_score": score, "score_vs_v2": rel,
                    "horizons_met": bool(gap_h <= 0.02), "origins_met": bool(gap_o <= 0.05),
                    "score_met": bool(rel < 1) if np.isfinite(rel) else False})
    return pd.DataFrame(out)


def saved_calibration(pred: pd.DataFrame, model: str, levels=(0.8, 0.95)) -> pd.DataFrame:
    """The calibration a saved model carries (item 23): for each horizon and level, item 20's
    scaled-score bounds from every origin's test forecasts of ``model`` (all of them realised
    by the end of the study): ``horizon, level, lower_z, upper_z, n_scores``. A new window's
    interval is then :func:`scaled_interval` of its forecast and scale."""
    p = _test_rows(pred)
    p = p[p["model"] == model]
    rows = []
    for h, g in p.groupby("horizon"):
        z = _scaled_scores(g)
        for lv in levels:
            lo, hi = conformal_quantiles(z, lv)
            rows.append({"horizon": int(h), "level": float(lv), "lower_z": lo, "upper_z": hi,
                         "n_scores": len(z)})
    return pd.DataFrame(rows, columns=["horizon", "level", "lower_z", "upper_z", "n_scores"])

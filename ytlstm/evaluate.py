"""Metrics on raw views, bootstrap intervals over videos, and paired tests (PROTOCOL section 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y, float) - p)))


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, float) - p) ** 2)))


def mape(y: np.ndarray, p: np.ndarray) -> float:
    """Mean absolute percentage error, in percent (views are always positive here)."""
    y = np.asarray(y, float)
    return float(100.0 * np.mean(np.abs(y - p) / y))


def point_metrics(y: np.ndarray, p: np.ndarray, naive: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, MAPE and relative MAE (MAE / MAE of the naive forecast)."""
    m = mae(y, p)
    return {"mae": m, "rmse": rmse(y, p), "mape": mape(y, p), "rel_mae": m / mae(y, naive)}


def bootstrap_weights(groups: np.ndarray, reps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Resampling videos with replacement as a (reps, n_groups) count matrix.

    Returns the count matrix and, per window, the index of its group.
    """
    uniq, inv = np.unique(groups, return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(uniq), size=(reps, len(uniq)))
    w = np.zeros((reps, len(uniq)))
    np.add.at(w, (np.repeat(np.arange(reps), len(uniq)), draws.ravel()), 1.0)
    return w, inv


def _per_group(values: np.ndarray, inv: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(inv, weights=values, minlength=n)


def bootstrap_metrics(y: np.ndarray, preds: dict[str, np.ndarray], naive: np.ndarray,
                      groups: np.ndarray, reps: int = 2000, seed: int = 0,
                      level: float = 0.95) -> pd.DataFrame:
    """Percentile intervals for MAE, RMSE, MAPE and relative MAE, resampling whole videos.

    Every model is resampled with the same draws, so intervals are comparable.
    """
    y = np.asarray(y, float)
    w, inv = bootstrap_weights(groups, reps, seed)
    n = w.shape[1]
    cnt = w @ _per_group(np.ones_like(y), inv, n)
    naive_abs = w @ _per_group(np.abs(y - naive), inv, n)
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    rows = []
    for name, p in preds.items():
        a = w @ _per_group(np.abs(y - p), inv, n)
        s = w @ _per_group((y - p) ** 2, inv, n)
        r = w @ _per_group(np.abs(y - p) / y, inv, n)
        samples = {"mae": a / cnt, "rmse": np.sqrt(s / cnt), "mape": 100 * r / cnt,
                   "rel_mae": a / naive_abs}
        row = {"model": name}
        for k, v in samples.items():
            row[f"{k}_lo"], row[f"{k}_hi"] = np.percentile(v, [lo, hi])
        rows.append(row)
    return pd.DataFrame(rows)


def diebold_mariano(loss_a: np.ndarray, loss_b: np.ndarray, dates: np.ndarray,
                    lag: int | None = None) -> dict[str, float]:
    """Diebold-Mariano test on the per-date mean loss differential ``a - b``.

    Losses of all windows with the same target date are averaged, giving one differential
    per date; its mean is tested against zero with a Newey-West (Bartlett) long-run
    variance and the Harvey, Leybourne & Newbold (1997) small-sample correction (t with
    n-1 degrees of freedom). A negative statistic means ``a`` has the lower loss.
    """
    d = pd.Series(np.asarray(loss_a, float) - np.asarray(loss_b, float)).groupby(
        pd.Series(dates).to_numpy()).mean().sort_index().to_numpy()
    n = len(d)
    if lag is None:
        lag = int(np.floor(n ** (1 / 3)))
    dm = d - d.mean()
    gamma0 = dm @ dm / n
    lrv = gamma0 + 2 * sum((1 - k / (lag + 1)) * (dm[k:] @ dm[:-k]) / n for k in range(1, lag + 1))
    stat = d.mean() / np.sqrt(max(lrv, 1e-300) / n)
    h = 1
    correction = np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    stat_hln = stat * correction
    p = 2 * stats.t.sf(abs(stat_hln), df=n - 1)
    return {"dm_stat": float(stat_hln), "p_value": float(p), "n_dates": int(n),
            "mean_diff": float(d.mean()), "lag": int(lag)}


def paired_bootstrap(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, groups: np.ndarray,
                     reps: int = 2000, seed: int = 0) -> dict[str, float]:
    """Paired bootstrap over videos of MAE(a) - MAE(b); two-sided p-value of no difference."""
    y = np.asarray(y, float)
    w, inv = bootstrap_weights(groups, reps, seed)
    n = w.shape[1]
    cnt = w @ _per_group(np.ones_like(y), inv, n)
    diff = (w @ _per_group(np.abs(y - pred_a) - np.abs(y - pred_b), inv, n)) / cnt
    observed = float(np.mean(np.abs(y - pred_a) - np.abs(y - pred_b)))
    p = 2 * min(np.mean(diff <= 0), np.mean(diff >= 0))
    return {"mae_diff": observed, "diff_lo": float(np.percentile(diff, 2.5)),
            "diff_hi": float(np.percentile(diff, 97.5)), "p_value": float(min(1.0, p))}

"""Metrics on raw views, the two-way cluster bootstrap, and the paired tests (protocol v2, item 6)."""

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


# --------------------------------------------------------------------------- protocol v2

def date_blocks(dates: np.ndarray, block_len: int | None = None) -> tuple[np.ndarray, int]:
    """Block of consecutive distinct dates of each window (``ceil(D ** (1/3))`` dates each)."""
    uniq, inv = np.unique(np.asarray(dates), return_inverse=True)
    if block_len is None:
        block_len = int(np.ceil(len(uniq) ** (1 / 3)))
    return inv // max(1, block_len), int(block_len)


def twoway_weights(dates: np.ndarray, groups: np.ndarray, reps: int, seed: int,
                   block_len: int | None = None) -> np.ndarray:
    """Two-way cluster (pigeonhole) bootstrap weights, shape ``(reps, n_windows)``.

    Blocks of consecutive dates and videos are drawn independently with replacement; a
    window's weight is its date block's count times its video's count (Owen 2007), so
    dependence through shared dates and through a video's windows is kept.
    """
    blk, _ = date_blocks(dates, block_len)
    _, vid = np.unique(np.asarray(groups), return_inverse=True)
    rng = np.random.default_rng(seed)
    nb, nv = int(blk.max()) + 1, int(vid.max()) + 1
    cb = np.stack([np.bincount(rng.integers(0, nb, nb), minlength=nb) for _ in range(reps)])
    cv = np.stack([np.bincount(rng.integers(0, nv, nv), minlength=nv) for _ in range(reps)])
    return (cb[:, blk] * cv[:, vid]).astype(np.float64)


def twoway_test(loss_a: np.ndarray, loss_b: np.ndarray, dates: np.ndarray, groups: np.ndarray,
                reps: int = 2000, seed: int = 0, weights: np.ndarray | None = None) -> dict:
    """The primary paired test: pooled mean of ``loss_a - loss_b`` under the two-way bootstrap.

    Two-sided p-value: twice the smaller share of resampled means on either side of zero.
    """
    d = np.asarray(loss_a, float) - np.asarray(loss_b, float)
    w = twoway_weights(dates, groups, reps, seed) if weights is None else weights
    tot = w.sum(axis=1)
    ok = tot > 0
    means = (w[ok] @ d) / tot[ok]
    p = 2 * min(np.mean(means <= 0), np.mean(means >= 0))
    return {"mean_diff": float(d.mean()), "diff_lo": float(np.percentile(means, 2.5)),
            "diff_hi": float(np.percentile(means, 97.5)), "p_value": float(min(1.0, p)),
            "reps": int(ok.sum())}


def weighted_dm(loss_a: np.ndarray, loss_b: np.ndarray, dates: np.ndarray,
                lag: int | None = None) -> dict[str, float]:
    """Diebold-Mariano on the window-weighted daily loss differential.

    Each date's mean differential is multiplied by its number of windows over the mean number
    per date, so the mean of the daily series is the pooled mean differential; Newey-West
    variance and the Harvey-Leybourne-Newbold correction as in :func:`diebold_mariano`.
    """
    s = pd.DataFrame({"d": np.asarray(loss_a, float) - np.asarray(loss_b, float),
                      "t": np.asarray(dates)}).groupby("t")["d"].agg(["sum", "count"]).sort_index()
    daily = s["sum"].to_numpy() / s["count"].mean()
    n = len(daily)
    if lag is None:
        lag = int(np.floor(n ** (1 / 3)))
    dm = daily - daily.mean()
    lrv = dm @ dm / n + 2 * sum((1 - k / (lag + 1)) * (dm[k:] @ dm[:-k]) / n
                                for k in range(1, lag + 1))
    stat = daily.mean() / np.sqrt(max(lrv, 1e-300) / n) * np.sqrt((n - 1) / n)
    p = 2 * stats.t.sf(abs(stat), df=n - 1)
    return {"dm_stat": float(stat), "p_value": float(p), "n_dates": int(n),
            "mean_diff": float(daily.mean()), "lag": int(lag)}


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given)."""
    p = np.asarray(pvalues, float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj.tolist()


def gmrae(y: np.ndarray, p: np.ndarray, naive: np.ndarray, groups: np.ndarray) -> tuple[float, int]:
    """Geometric mean over videos of each video's MAE relative to the naive forecast's
    (Davydenko & Fildes 2013). Videos where either MAE is 0 are left out; returns the mean and
    the number of videos left out."""
    df = pd.DataFrame({"g": np.asarray(groups), "a": np.abs(np.asarray(y, float) - p),
                       "n": np.abs(np.asarray(y, float) - naive)}).groupby("g")[["a", "n"]].mean()
    ok = (df["a"] > 0) & (df["n"] > 0)
    return float(np.exp(np.mean(np.log(df.loc[ok, "a"] / df.loc[ok, "n"])))), int((~ok).sum())


def concentration(y: np.ndarray, p: np.ndarray, base: np.ndarray, groups: np.ndarray) -> dict:
    """How much of a model's total absolute-error reduction over ``base`` comes from the 5
    videos, and from the 1% of videos, with the largest reductions (NaN when there is no net
    reduction)."""
    y = np.asarray(y, float)
    red = pd.Series(np.abs(y - base) - np.abs(y - p)).groupby(np.asarray(groups)).sum()
    total = float(red.sum())
    top = red.sort_values(ascending=False)
    n1 = max(1, int(np.ceil(0.01 * len(red))))
    if total <= 0:
        return {"gain": total, "share_top5": float("nan"), "share_top1pct": float("nan"),
                "n_top1pct": n1}
    return {"gain": total, "share_top5": float(top.iloc[:5].sum() / total),
            "share_top1pct": float(top.iloc[:n1].sum() / total), "n_top1pct": n1}


# --------------------------------------------------------------------------- protocol v3

#: Version 3's equivalence margin (item 15): equivalent when the ratio lies within 1.05 and 1/1.05.
EQUIVALENCE_MARGIN = 0.05
#: Version 3's bootstrap resamples (item 14): every p-value's Monte-Carlo error below 0.005.
V3_REPS = 50_000


def mase_scale(views: np.ndarray) -> np.ndarray:
    """Each window's MASE scale (protocol v3, item 12): the mean absolute daily increment of
    views over its input days, at least 1 view. ``views`` has shape ``(n, window)``."""
    v = np.asarray(views, float)
    return np.maximum(1.0, np.abs(np.diff(v, axis=1)).mean(axis=1))


def gm_mase(scaled: np.ndarray, groups: np.ndarray) -> tuple[float, int]:
    """Geometric mean over videos of each video's mean scaled error; videos whose mean is 0
    are left out. Returns the mean and the number of videos left out."""
    per = pd.Series(np.asarray(scaled, float)).groupby(np.asarray(groups)).mean()
    ok = per > 0
    return float(np.exp(np.mean(np.log(per[ok])))), int((~ok).sum())


def twoway_sums(losses: np.ndarray, dates: np.ndarray, groups: np.ndarray, reps: int,
                seed: int, block_len: int | None = None,
                chunk: int = 2_000) -> tuple[np.ndarray, np.ndarray]:
    """Two-way cluster bootstrap (as :func:`twoway_weights`) of several loss series at once.

    A window's weight depends only on its (date block, video) cell, so the losses are first
    summed per cell and each resample weighs the cells (far fewer than windows); resamples are
    drawn ``chunk`` at a time, so 50,000 of them fit in memory. ``losses`` is ``(n, k)``;
    returns the resampled sums ``(reps, k)`` and window counts ``(reps,)``, resamples with no
    window left out."""
    losses = np.asarray(losses, float).reshape(len(losses), -1)
    blk, _ = date_blocks(dates, block_len)
    _, vid = np.unique(np.asarray(groups), return_inverse=True)
    nb, nv = int(blk.max()) + 1, int(vid.max()) + 1
    cells, cell = np.unique(blk * nv + vid, return_inverse=True)
    cell_b, cell_v = cells // nv, cells % nv
    per_cell = np.zeros((len(cells), losses.shape[1] + 1))
    np.add.at(per_cell, cell, np.column_stack([losses, np.ones(len(losses))]))
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, reps, chunk):
        c = min(chunk, reps - start)
        cb = _counts(rng.integers(0, nb, (c, nb)), nb)
        cv = _counts(rng.integers(0, nv, (c, nv)), nv)
        out.append((cb[:, cell_b] * cv[:, cell_v]) @ per_cell)
    s = np.concatenate(out)
    ok = s[:, -1] > 0
    return s[ok, :-1], s[ok, -1]


def _counts(draws: np.ndarray, m: int) -> np.ndarray:
    """Row-wise counts of the values 0..m-1 in ``draws`` ``(c, m)``, as floats."""
    c = len(draws)
    flat = (draws + np.arange(c)[:, None] * m).ravel()
    return np.bincount(flat, minlength=c * m).reshape(c, m).astype(np.float64)


def boot_p(draws: np.ndarray) -> tuple[float, float]:
    """Two-sided bootstrap p-value of "the resampled statistic's centre is 0" (twice the
    smaller share on either side of zero, as in :func:`twoway_test`) and its Monte-Carlo
    standard error ``2 sqrt(pi (1 - pi) / B)``."""
    draws = np.asarray(draws, float)
    pi = min(np.mean(draws <= 0), np.mean(draws >= 0))
    return float(min(1.0, 2 * pi)), float(2 * np.sqrt(pi * (1 - pi) / len(draws)))


def tost(ratios: np.ndarray, margin: float = EQUIVALENCE_MARGIN) -> dict[str, float]:
    """Two one-sided tests of equivalence on resampled ratios (protocol v3, item 15): the share
    at or above ``1 + margin`` and the share at or below ``1 / (1 + margin)``; ``p_tost`` is
    the larger. Equivalent at level a when ``p_tost < a``."""
    r = np.asarray(ratios, float)
    hi, lo = float(np.mean(r >= 1 + margin)), float(np.mean(r <= 1 / (1 + margin)))
    return {"p_upper": hi, "p_lower": lo, "p_tost": max(hi, lo)}


#: The four verdict words of protocol v3 (item 15), in the order they are decided.
VERDICTS = ("better", "worse", "equivalent within 5%", "undecided")


def equivalence_verdict(ratio: float, p_holm: float, p_tost: float, level: float = 0.05) -> str:
    """The verdict word of protocol v3, item 15, for the LSTM against the baseline."""
    if p_holm < level:
        return VERDICTS[0] if ratio < 1 else VERDICTS[1]
    return VERDICTS[2] if p_tost < level else VERDICTS[3]


def interval_score(y: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> np.ndarray:
    """The interval (Winkler) score of each forecast: width plus ``2/alpha`` times the miss."""
    a = 1.0 - level
    return ((upper - lower) + (2 / a) * np.maximum(lower - y, 0.0)
            + (2 / a) * np.maximum(y - upper, 0.0))

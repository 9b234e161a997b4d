"""Protocol v3's inference (items 12-18): both metrics, equivalence, robustness, sensitivity and
the model confidence set, as plain functions over the predictions table.

Every test here is the two-way cluster bootstrap of protocol v2 (date blocks x videos,
:func:`ytlstm.evaluate.twoway_sums`) with version 3's 50,000 resamples, run on two loss series
per window: the absolute error in views (MAE) and the scaled error (MASE, the absolute error
over the window's :func:`~ytlstm.evaluate.mase_scale`). The model confidence set is
``arch.bootstrap.MCS`` (Hansen, Lunde and Nason 2011) on the daily loss series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ytlstm.choice import best_models, model_columns
from ytlstm.evaluate import (V3_REPS, boot_p, equivalence_verdict, gm_mase, holm, tost,
                             twoway_sums)
from ytlstm.families import LSTM_FAMILIES
from ytlstm.names import COMBINED, order
from ytlstm.predictions import wide

#: The two co-primary metrics of protocol v3 (item 12) and the loss each averages.
METRICS = ("mae", "mase")
#: Roles of the rows of :func:`primary_tests`.
PRIMARY, FAMILY, SECONDARY = "primary", "LSTM family", "combination (secondary)"
#: Protocol v3, item 18: the video cut's percentile and the days around the break date.
TOP_VIDEO_QUANTILE = 0.99
BREAK_DAYS = 3


def losses(wt: pd.DataFrame, model: str, metric: str) -> np.ndarray:
    """Each window's loss on a metric: the absolute error (``mae``) or the scaled one (``mase``)."""
    e = np.abs(wt["y_true"].to_numpy(float) - wt[model].to_numpy(float))
    return e if metric == "mae" else e / wt["scale"].to_numpy(float)


def scaled_metrics(wt: pd.DataFrame, model: str) -> dict[str, float]:
    """MASE and GM-MASE of one model on a wide table."""
    q = losses(wt, model, "mase")
    g, _ = gm_mase(q, wt["video_id"].to_numpy())
    return {"mase": float(q.mean()), "gm_mase": g}


def _design(split: str) -> str:
    return "video" if split.startswith("video") else "chronological"


ALL = "all test windows"


def primary_tests(pred: pd.DataFrame, split: str = "test", reps: int = V3_REPS, seed: int = 0,
                  block_len: int | None = None,
                  masks: dict[str, pd.Series] | None = None) -> pd.DataFrame:
    """Every LSTM family, and the v3 combination, against the best baseline on both metrics
    (items 13-15 and 17): ratio with its 95% interval, bootstrap p-value and its Monte-Carlo
    error, Holm over the families' rows of both metrics, the equivalence tests and the verdict.

    ``masks`` (name -> boolean Series over the wide table's index) repeats everything on
    subsets of the windows, from the same resamples (item 18); the rows of all windows come
    first, with ``analysis`` "all test windows". ``block_len`` sets the date blocks (item 14's
    robustness table)."""
    best = best_models(pred, _design(split))
    wt = wide(pred, split)
    keep = {ALL: np.ones(len(wt), bool)}
    for name, m in (masks or {}).items():
        keep[name] = m.reindex(wt.index).fillna(False).to_numpy(bool)
    fams = [m for m in LSTM_FAMILIES if m in wt.columns]
    others = fams + ([COMBINED] if COMBINED in wt.columns else [])
    models = others + [best["baseline"]]
    base = {(metric, m): losses(wt, m, metric) for metric in METRICS for m in models}
    cols = [(a, metric, m) for a in keep for metric in METRICS for m in models]
    L = np.column_stack([base[(metric, m)] * keep[a] for a, metric, m in cols] +
                        [keep[a].astype(float) for a in keep])
    sums, _ = twoway_sums(L, wt["target_date"].to_numpy(), wt["video_id"].to_numpy(), reps,
                          seed, block_len)
    default_blocks = int(np.ceil(wt["target_date"].nunique() ** (1 / 3)))
    at = {c: i for i, c in enumerate(cols)}
    n_at = {a: len(cols) + i for i, a in enumerate(keep)}
    frames = []
    for a, k in keep.items():
        sub = wt[k]
        ok = sums[:, n_at[a]] > 0
        rows = []
        for metric in METRICS:
            sb = sums[ok, at[(a, metric, best["baseline"])]]
            for m in others:
                sm = sums[ok, at[(a, metric, m)]]
                ratios = sm / sb
                p, se = boot_p(sm - sb)
                vm, vb = float(base[(metric, m)][k].mean()), \
                    float(base[(metric, best["baseline"])][k].mean())
                role = SECONDARY if m == COMBINED else PRIMARY if m == best["lstm"] else FAMILY
                rows.append({"analysis": a, "split": split, "metric": metric, "model": m,
                             "baseline": best["baseline"], "role": role,
                             "n_windows": int(k.sum()),
                             "n_videos": int(sub["video_id"].nunique()), "left_out": int((~k).sum()),
                             "model_value": vm, "baseline_value": vb, "ratio": vm / vb,
                             "ratio_lo": float(np.percentile(ratios, 2.5)),
                             "ratio_hi": float(np.percentile(ratios, 97.5)),
                             "p_value": p, "p_mc_se": se, **tost(ratios), "reps": int(ok.sum()),
                             "block_len": block_len or default_blocks,
                             "default_blocks": block_len is None})
        out = pd.DataFrame(rows)
        fam = out["role"] != SECONDARY
        out["p_holm"] = np.nan
        out.loc[fam, "p_holm"] = holm(out.loc[fam, "p_value"].tolist())
        decide = out["p_holm"].fillna(out["p_value"])      # the combination: its own, unadjusted
        out["verdict"] = [equivalence_verdict(r, p, t) for r, p, t in
                          zip(out["ratio"], decide, out["p_tost"])]
        frames.append(out)
    return pd.concat(frames, ignore_index=True)


def robustness(pred: pd.DataFrame, reps: int = V3_REPS, seed: int = 0,
               primary: pd.DataFrame | None = None, blocks=(1, 3, 7)) -> pd.DataFrame:
    """The primary pair's test on both metrics with date blocks of 1, 3 and 7 dates, beside
    version 3's default blocks (item 14)."""
    first = primary if primary is not None else primary_tests(pred, reps=reps, seed=seed)
    frames = [first[first["analysis"] == ALL]]
    frames += [primary_tests(pred, reps=reps, seed=seed, block_len=b) for b in blocks]
    out = pd.concat(frames, ignore_index=True)
    out = out[out["role"] == PRIMARY]
    return out[["metric", "model", "baseline", "block_len", "default_blocks", "n_windows",
                "ratio", "ratio_lo",
                "ratio_hi", "p_value", "p_mc_se", "p_holm", "reps", "verdict"]]


def top_video_cut(pred: pd.DataFrame) -> float:
    """Item 18(a): the 99th percentile, over the first origin's training videos, of each
    video's largest day-7 views (the naive forecast is the day-7 views)."""
    tr = pred[(pred["split"] == "train") & (pred["model"] == "naive")]
    return float(tr.groupby("video_id")["y_pred"].max().quantile(TOP_VIDEO_QUANTILE))


def sensitivity_masks(pred: pd.DataFrame, break_date) -> dict[str, pd.Series]:
    """Item 18's subsets of the test windows (True: kept): without the largest videos (the cut
    fixed on training videos), and without the windows near the break date."""
    wt = wide(pred, "test")
    top = wt.groupby("video_id")["naive"].transform("max") > top_video_cut(pred)
    masks = {"without the largest videos": ~top}
    if break_date is not None:
        b = pd.Timestamp(break_date)
        first_day = wt["target_date"] - pd.Timedelta(days=7)
        near = (wt["target_date"] >= b - pd.Timedelta(days=BREAK_DAYS)) & \
            (first_day <= b + pd.Timedelta(days=BREAK_DAYS))
        masks["without the days near the break"] = ~near
    return masks


def sensitivity(pred: pd.DataFrame, break_date, reps: int = V3_REPS, seed: int = 0,
                primary: pd.DataFrame | None = None) -> pd.DataFrame:
    """Item 18: the primary pair on both metrics on all test windows and on each subset of
    :func:`sensitivity_masks` (``primary``: a :func:`primary_tests` table computed with those
    masks)."""
    if primary is None:
        primary = primary_tests(pred, reps=reps, seed=seed,
                                masks=sensitivity_masks(pred, break_date))
    out = primary[primary["role"] == PRIMARY].assign(top_video_cut=top_video_cut(pred))
    return out[["analysis", "metric", "model", "baseline", "n_windows", "n_videos", "left_out",
                "model_value", "baseline_value", "ratio", "ratio_lo", "ratio_hi", "p_value",
                "p_holm", "p_tost", "verdict", "top_video_cut"]].reset_index(drop=True)


def daily_losses(wt: pd.DataFrame, models: list[str], metric: str) -> pd.DataFrame:
    """Per test date, each model's summed loss over the mean number of windows per date (the
    window-weighted daily series of protocol v2, item 6: its mean is the pooled mean loss)."""
    df = pd.DataFrame({m: losses(wt, m, metric) for m in models})
    df["t"] = wt["target_date"].to_numpy()
    g = df.groupby("t")
    return g[models].sum().sort_index() / g.size().mean()


def model_confidence_set(pred: pd.DataFrame, size: float = 0.10, reps: int = 10_000,
                         seed: int = 0) -> pd.DataFrame:
    """Item 16: the 90% model confidence set of every day-8 model on the pooled test windows,
    on each metric (``arch.bootstrap.MCS``, range statistic, circular blocks of
    ``ceil(D^(1/3))`` dates)."""
    from arch.bootstrap import MCS

    wt = wide(pred, "test")
    models = order(model_columns(wt))
    rows = []
    for metric in METRICS:
        daily = daily_losses(wt, models, metric)
        block = int(np.ceil(len(daily) ** (1 / 3)))
        # models with the same daily losses cannot be told apart (the MCS's variance of their
        # difference is 0): they enter once and share its p-value
        first = {m: next(k for k in models if np.array_equal(daily[k], daily[m]))
                 for m in models}
        distinct = [m for m in models if first[m] == m]
        mcs = MCS(daily[distinct].to_numpy(), size=size, reps=reps, block_size=block,
                  method="R", bootstrap="circular", seed=seed)
        mcs.compute()
        pv = mcs.pvalues["Pvalue"]
        kept = {distinct[i] for i in mcs.included}
        for m in models:
            i = distinct.index(first[m])
            rows.append({"metric": metric, "model": m, "mean_loss": float(daily[m].mean()),
                         "mcs_p_value": float(pv.loc[i]), "in_set": first[m] in kept,
                         "level": 1 - size, "n_dates": len(daily), "block_len": block,
                         "reps": reps})
    return pd.DataFrame(rows)

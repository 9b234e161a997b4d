"""The post-hoc regret of choosing on validation (protocol v3, item 24).

Every configuration of every tuned family's grid forecasts the test windows of the first
origin's block: the networks' tuning runs already predict every window (their seed ensembles are
rebuilt from the tuning stage's memo, no extra training); the families that train no network
(drift, linear AR, gradient boosting) refit every configuration at every chronological origin
(:func:`grid_forecasts`, the study's ``regret`` stage). :func:`selection_regret` then scores,
per family, origin and metric (MAE in views, MASE), the configuration chosen on validation
against the best one in hindsight: ``regret = chosen / best - 1``. Besides version 2's choice
(made once, on the first origin's validation windows), the cheap families are also scored under
the declared alternative rule: choose again at every origin on that origin's own validation
windows. The table is post hoc: nothing in the study reads it to choose anything.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ytlstm.evaluate import mase_scale
from ytlstm.families import Context, Family, all_families, network_fitted
from ytlstm.harness import _signature, params_id

#: The rule of protocol version 2: one choice, on the first origin's validation windows.
V2_RULE = "v2 (first origin's validation)"
#: The declared alternative (cheap families only): choose again on each origin's validation.
PER_ORIGIN_RULE = "per-origin validation"
#: The families that train no network, refitted at every origin.
CHEAP = ("drift", "linear_ar", "gbm")
METRICS = ("mae", "mase")
COLUMNS = ("family", "rule", "origin", "metric", "n_configs", "n_nonfinite", "n_test_windows",
           "chosen_config", "best_config", "chosen_test", "best_test", "regret", "chosen_rank",
           "val_test_spearman", "post_hoc")
#: Relative tolerance when the grid's first-origin validation MAE is checked against the
#: tuning table's (the same forecasts, so only rounding may differ).
CHECK_RTOL = 1e-6


def _tuned() -> list[Family]:
    return [f for f in all_families() if f.tuned]


def _frame(family: str, origin, order: int, params: dict, pred: np.ndarray, windows,
           scale: np.ndarray) -> pd.DataFrame:
    """One configuration's forecasts of an origin's validation and test windows."""
    parts = []
    for part, idx in (("validation", origin.validation), ("test", origin.test)):
        parts.append(pd.DataFrame({
            "family": family, "origin": origin.name, "config": params_id(params),
            "order": order, "part": part, "window": idx, "y_true": windows.y[idx],
            "y_pred": np.asarray(pred, float)[idx], "scale": scale[idx]}))
    return pd.concat(parts, ignore_index=True)


def grid_forecasts(windows, origins: list, config, memo: dict,
                   say: Callable[[str], None] = lambda s: None,
                   tuning: pd.DataFrame | None = None) -> pd.DataFrame:
    """The study's ``regret`` stage: every configuration's forecasts of the validation and
    test windows, one row per (family, origin, configuration, part, window).

    ``origins``: the chronological origins (any video origin is skipped); ``memo``: the
    chronological design's tuning memo (:func:`ytlstm.harness.tune_many`), from which the
    networks' tuning-seed ensembles at the first origin are rebuilt; the cheap families are
    refitted at every origin (on every core, one thread per fit). With ``tuning`` (the
    chronological tuning table), the first origin's validation MAE of every configuration is
    checked against it.
    """
    chrono = [o for o in origins if o.split == "chronological"]
    if not chrono:
        raise ValueError("the regret needs at least one chronological origin")
    scale = mase_scale(windows.views)
    seeds = tuple(config.seeds[:config.tuning_seeds])
    first = chrono[0]
    frames = []
    ctx = Context(windows, first.train, first.validation, config, label=first.name)
    for fam in (f for f in _tuned() if f.kind == "lstm"):
        for order, params in enumerate(fam.grid(config)):
            tasks = fam.tasks(params, ctx, seeds, {})
            missing = [t.label for t in tasks if _signature(t) not in memo]
            if missing:
                raise ValueError(f"the tuning memo has no run for {missing[0]} (and "
                                 f"{len(missing) - 1} more): was the tuning stage run on the "
                                 f"first origin's windows with seeds {list(seeds)}?")
            fitted = network_fitted(fam.name, params, [memo[_signature(t)] for t in tasks])
            frames.append(_frame(fam.name, first, order, params, fitted.ensemble, windows, scale))
        say(f"[regret] {fam.name}: {len(fam.grid(config))} configurations from the tuning runs")
    cheap = [f for f in _tuned() if f.name in CHEAP]
    jobs = [(o, fam, order, params) for o in chrono for fam in cheap
            for order, params in enumerate(fam.grid(config))]

    def refit(job) -> pd.DataFrame:
        o, fam, order, params = job
        ctx = Context(windows, o.train, o.validation, config, label=o.name)
        return _frame(fam.name, o, order, params, fam.collect(params, [], ctx, {}).ensemble,
                      windows, scale)

    # the fits are independent and deterministic: threads (scikit-learn and NumPy release the
    # GIL in their loops, each on one OpenMP/BLAS thread) keep every core busy, same numbers
    n_threads = max(1, min(len(jobs), os.cpu_count() or 1))
    t0 = time.perf_counter()
    with threadpool_limits(limits=1), ThreadPoolExecutor(n_threads) as pool:
        done: dict[str, int] = {}
        per_origin = len(jobs) // len(chrono)
        for job, frame in zip(jobs, pool.map(refit, jobs)):
            frames.append(frame)
            done[job[0].name] = done.get(job[0].name, 0) + 1
            if done[job[0].name] == per_origin:
                say(f"[regret {job[0].name}] {', '.join(f.name for f in cheap)}: "
                    f"{per_origin} configurations refitted ({time.perf_counter() - t0:.1f} s "
                    f"so far, {n_threads} threads)")
    out = pd.concat(frames, ignore_index=True)
    for c in ("family", "origin", "config", "part"):
        out[c] = out[c].astype("category")
    if tuning is not None:
        check_against_tuning(out, tuning, first.name)
    return out


def grid_scores(grid: pd.DataFrame) -> pd.DataFrame:
    """Per family, origin and configuration: validation MAE, test MAE and test MASE. A
    forecast that is not a finite number (e.g. a linear model's overflow) counts as an
    infinite error, so its configuration ranks last."""
    err = (grid["y_true"] - grid["y_pred"]).abs()
    g = grid.assign(abs_err=err.where(np.isfinite(grid["y_pred"]), np.inf))
    g["scaled_err"] = g["abs_err"] / g["scale"]
    keys = ["family", "origin", "config", "order"]
    val = (g[g["part"] == "validation"].groupby(keys, observed=True)["abs_err"].mean()
           .rename("val_mae"))
    test = g[g["part"] == "test"].groupby(keys, observed=True).agg(
        test_mae=("abs_err", "mean"), test_mase=("scaled_err", "mean"),
        n_test_windows=("abs_err", "size"))
    out = pd.concat([val, test], axis=1).reset_index()
    for c in ("family", "origin", "config"):
        out[c] = out[c].astype(str)
    # origins in the order the grid holds them (chronological: "origin 10" after "origin 9")
    rank = {o: i for i, o in enumerate(pd.unique(grid["origin"].astype(str)))}
    out["_o"] = out["origin"].map(rank)
    return (out.sort_values(["family", "_o", "order"], kind="stable", ignore_index=True)
            .drop(columns="_o"))


def check_against_tuning(grid: pd.DataFrame, tuning: pd.DataFrame, origin: str) -> None:
    """Raise if a configuration's validation MAE at the first origin differs from the tuning
    table's (the grid would then not be the forecasts the choice was made on)."""
    s = grid_scores(grid)
    s = s[s["origin"] == origin].set_index(["family", "config"])["val_mae"]
    t = tuning.set_index(["family", "config"])["val_mae"]
    common = s.index.intersection(t.index)
    if len(common) != len(s):
        raise ValueError(f"{len(s) - len(common)} grid configurations are not in the tuning "
                         "table")
    a, b = s[common].to_numpy(), t[common].to_numpy()
    bad = ~(np.isclose(a, b, rtol=CHECK_RTOL, atol=0.0) | (~np.isfinite(a) & ~np.isfinite(b)))
    if bad.any():
        k = common[np.flatnonzero(bad)[0]]
        raise ValueError(f"{k[0]} {k[1]}: validation MAE {s[k]:.6g} here but {t[k]:.6g} in the "
                         f"tuning table ({int(bad.sum())} configurations differ)")


def _first_min(values: pd.Series, order: pd.Series) -> int:
    """Position of the lowest value, ties to the first in grid order."""
    return int(np.lexsort((order.to_numpy(), values.to_numpy()))[0])


def selection_regret(grid: pd.DataFrame, chosen: dict[str, dict]) -> pd.DataFrame:
    """The regret table (``selection_regret.csv``) from the grid's forecasts.

    ``chosen``: family -> configuration chosen by version 2 (the chronological design's
    tuning). One row per family, rule, origin and metric: the grid size, how many of its
    configurations forecast a test window as a non-finite number (their metric is infinite),
    the chosen and the best-in-hindsight configurations and their test metric, ``regret =
    chosen_test / best_test - 1``, the chosen one's rank on test (1 = best; ties share the
    better rank) and the Spearman correlation, over the grid, of the origin's validation MAE
    and the test metric. The per-origin rule (lowest validation MAE at that origin, ties to
    the first in grid order) is scored for :data:`CHEAP` families only. Origins keep the
    grid's (chronological) order.
    """
    scores = grid_scores(grid)
    rows = []
    for (fam, origin), g in scores.groupby(["family", "origin"], sort=False):
        g = g.reset_index(drop=True)
        if fam not in chosen:
            raise ValueError(f"no version-2 choice for family {fam!r}")
        v2 = params_id(chosen[fam])
        if v2 not in set(g["config"]):
            raise ValueError(f"{fam}: the chosen configuration {v2} is not in its grid")
        rules = {V2_RULE: v2}
        if fam in CHEAP:
            rules[PER_ORIGIN_RULE] = g.loc[_first_min(g["val_mae"], g["order"]), "config"]
        for rule, config in rules.items():
            for metric in METRICS:
                test = g[f"test_{metric}"]
                best = _first_min(test, g["order"])
                c = test[g["config"] == config].iloc[0]
                rows.append({
                    "family": fam, "rule": rule, "origin": origin, "metric": metric,
                    "n_configs": len(g), "n_nonfinite": int((~np.isfinite(test)).sum()),
                    "n_test_windows": int(g["n_test_windows"].iloc[0]),
                    "chosen_config": config, "best_config": g.loc[best, "config"],
                    "chosen_test": float(c), "best_test": float(test[best]),
                    "regret": float(c / test[best] - 1.0),
                    "chosen_rank": int((test < c).sum() + 1),
                    "val_test_spearman": float(g["val_mae"].corr(test, method="spearman")),
                    "post_hoc": True})
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    fams = [f.name for f in all_families() if f.name in set(out["family"])]
    out["family"] = pd.Categorical(out["family"], fams)
    out["rule"] = pd.Categorical(out["rule"], [V2_RULE, PER_ORIGIN_RULE])
    out["metric"] = pd.Categorical(out["metric"], list(METRICS))
    out = out.sort_values(["family", "rule", "metric"], kind="stable")     # origins: as given
    for c in ("family", "rule", "metric"):
        out[c] = out[c].astype(str)
    return out.reset_index(drop=True)


def selection_periods(windows, origins: list, break_date) -> pd.DataFrame:
    """What differs between each chronological origin's validation and test windows
    (``selection_periods.csv``, read by the regret's analysis): their dates, the share of each
    part's windows whose target date is on or after the break date, the share of test windows
    whose video also has a validation window at that origin, and the median day-7 views and
    MASE scale of each part."""
    t = pd.to_datetime(windows.target_date)
    brk = pd.Timestamp(break_date) if break_date is not None else None
    scale = mase_scale(windows.views)
    rows = []
    for o in (o for o in origins if o.split == "chronological"):
        va, te = o.validation, o.test

        def from_break(idx: np.ndarray) -> float:
            return float(np.mean(t[idx] >= brk)) if brk is not None and len(idx) else np.nan

        rows.append({
            "origin": o.name, "validation_first": o.info.get("validation_first"),
            "validation_last": o.info.get("validation_last"),
            "test_first": o.info.get("test_first"), "test_last": o.info.get("test_last"),
            "break_date": str(brk.date()) if brk is not None else None,
            "n_validation_windows": len(va), "n_test_windows": len(te),
            "validation_from_break": from_break(va), "test_from_break": from_break(te),
            "test_videos_in_validation": float(np.mean(np.isin(windows.video_id[te],
                                                               windows.video_id[va])))
            if len(te) else np.nan,
            "validation_median_views_day7": float(np.median(windows.views[va, -1])),
            "test_median_views_day7": float(np.median(windows.views[te, -1])),
            "validation_median_scale": float(np.median(scale[va])),
            "test_median_scale": float(np.median(scale[te]))})
    return pd.DataFrame(rows)

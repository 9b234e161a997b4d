"""Beyond tomorrow: forecasts for horizons 1..H and split-conformal intervals (protocol v2,
items 8-11 of the Methods chapter).

At every chronological origin, each family forecasts the views of day ``7 + h`` for
``h = 1..H`` from the same 7 input days, with the configuration it chose at horizon 1:

- baselines in their natural multi-step form (:mod:`ytlstm.baselines` with ``horizon=h``):
  naive, drift extended ``h`` steps, Szabo-Huberman with ``alpha_h``, linear AR and gradient
  boosting *direct* (one model per horizon), the combination of drift and linear AR;
- two networks with an ``H``-output head trained on the masked loss (:mod:`ytlstm.engine`):
  the univariate LSTM and the transfer LSTM started from it; the univariate network may
  instead be the day-8 network run recursively, whichever form has the lower mean relative
  MAE over horizons on the first origin's validation windows.

A training (validation) window contributes its horizon-``h`` target only if that target's date
precedes the origin's validation dates (the origin); the test windows of a horizon are the
origin's day-8 test windows that have that target. Intervals: the residuals in log space of
the origin's horizon-``h`` validation windows give equal-tailed split-conformal intervals at
each level of ``config.interval_levels``, the lower end at least day 7's views.

:func:`horizon_stage` returns a :class:`HorizonStudy`: the forecasts as rows of the study's
predictions table (splits ``horizon_test`` and ``horizon_validation``, one row per model,
origin, window and horizon, with interval columns) and what the export needs.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ytlstm.baselines import (Combination, Drift, Forecaster, GradientBoosting, LinearAR, Naive,
                              SzaboHuberman)
from ytlstm.families import task_options
from ytlstm.names import BASELINES, HORIZON_LSTMS
from ytlstm.training import Task, Trained, predict_batches, run_tasks
from ytlstm.windows import FeatureTransform, Windows, seed_ensemble

#: Baseline families forecast at every horizon (their day-8 configuration).
HORIZON_BASELINES = BASELINES


@dataclass
class HorizonFit:
    """One model at one origin: forecast views of every window at horizons 1..H."""

    model: str
    preds: np.ndarray                      # (n_seeds, n_windows, H) views
    params: dict = field(default_factory=dict)
    runs: list[Trained] | None = None      # networks: one per seed
    fitted: list | None = None             # baselines: the fitted forecaster of each horizon

    @property
    def ensemble(self) -> np.ndarray:
        """``(n_windows, H)``: a baseline's forecast, or the seed ensemble (mean of logs)."""
        if len(self.preds) == 1:
            return self.preds[0]
        return seed_ensemble(self.preds)


@dataclass
class HorizonStudy:
    """What the horizon stage computed (see the module docstring)."""

    table: pd.DataFrame                    # rows for the predictions table
    fits: dict[str, dict[str, HorizonFit]] # origin name -> model -> fit
    choice: pd.DataFrame                   # the univariate network's form, on validation
    calibration: pd.DataFrame              # origin, model, horizon, level, lower_q, upper_q, n
    horizons: int = 7
    seconds: dict[str, float] = field(default_factory=dict)
    #: the quantile peer (protocol v3, item 22): origin -> (level, horizon) -> (lower, upper)
    #: views of every window
    quantiles: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- windows

def limits(origin) -> tuple[np.datetime64, np.datetime64]:
    """The first validation date and the first test date of an origin."""
    return (np.datetime64(origin.info["validation_first"], "ns"),
            np.datetime64(origin.info["test_first"], "ns"))


def horizon_index(windows: Windows, idx: np.ndarray, h: int,
                  before: np.datetime64 | None = None) -> np.ndarray:
    """The windows of ``idx`` that have a horizon-``h`` target (dated before ``before``)."""
    idx = np.asarray(idx)
    ok = np.isfinite(windows.horizon_target(h)[idx])
    if before is not None and h > 1:
        ok &= windows.future_date[idx, h - 1] < before
    return idx[ok]


# --------------------------------------------------------------------------- baselines

def make_baseline(name: str, chosen: dict[str, dict], config, horizon: int) -> Forecaster:
    """The day-8 configuration of a baseline family, at ``horizon``."""
    if name == "naive":
        return Naive(horizon=horizon)
    if name == "szabo_huberman":
        return SzaboHuberman(horizon=horizon)
    if name == "drift":
        return Drift(**chosen["drift"], horizon=horizon)
    if name == "linear_ar":
        return LinearAR(**chosen["linear_ar"], horizon=horizon)
    if name == "gbm":
        return GradientBoosting(**chosen["gbm"], learning_rate=config.gbm_learning_rate,
                                max_iter=config.gbm_max_iter, seed=config.gbm_seed,
                                horizon=horizon)
    if name == "combination":
        return Combination((make_baseline("drift", chosen, config, horizon),
                            make_baseline("linear_ar", chosen, config, horizon)))
    raise ValueError(f"unknown baseline {name!r}")


def fit_baselines(windows: Windows, origin, chosen: dict[str, dict], config,
                  horizons: int) -> dict[str, HorizonFit]:
    """Every baseline at every horizon at one origin (direct models per horizon).

    The combination's members are the models of those families fitted just before it, on
    the same windows with the same configuration (:func:`make_baseline`), not fitted again:
    their fits are deterministic, so this gives the same numbers in less time."""
    train_limit, val_limit = limits(origin)
    out: dict[str, HorizonFit] = {}
    with threadpool_limits(limits=1):   # the networks train beside this on the other cores
        for name in HORIZON_BASELINES:
            preds, fitted = np.empty((1, len(windows), horizons)), []
            for h in range(1, horizons + 1):
                tr = horizon_index(windows, origin.train, h, train_limit)
                va = horizon_index(windows, origin.validation, h, val_limit)
                f = make_baseline(name, chosen, config, h)
                if isinstance(f, Combination) and all(m.name in out for m in f.members):
                    f = Combination(tuple(out[m.name].fitted[h - 1] for m in f.members))
                else:
                    f = f.fit(windows.subset(tr), windows.subset(va))
                preds[0, :, h - 1] = f.predict(windows)
                fitted.append(f)
            out[name] = HorizonFit(name, preds, dict(chosen.get(name, {})), fitted=fitted)
    return out


def fit_quantiles(windows: Windows, origin, chosen: dict[str, dict], config, horizons: int,
                  levels) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """The quantile peer at one origin (protocol v3, item 22): for each level and horizon the
    band of :func:`ytlstm.quantile.quantile_band`, fitted on the windows the gradient boosting
    of that horizon is fitted on."""
    from ytlstm.quantile import quantile_band

    train_limit, val_limit = limits(origin)
    out = {}
    with threadpool_limits(limits=1):
        for h in range(1, horizons + 1):
            tr = horizon_index(windows, origin.train, h, train_limit)
            va = horizon_index(windows, origin.validation, h, val_limit)
            for lv in levels:
                out[(float(lv), h)] = quantile_band(chosen["gbm"], config, lv, h,
                                                    windows.subset(tr), windows.subset(va),
                                                    windows)
    return out


# --------------------------------------------------------------------------- networks

def network_tasks(name: str, windows: Windows, origin, params: dict, seeds, horizons: int,
                  init: list[Trained] | None = None) -> list[Task]:
    """The multi-output training tasks of one horizon network at one origin."""
    out = []
    for i, s in enumerate(seeds):
        t = Task(f"{origin.name} {name} seed {s}", name == "lstm_transfer_h", s, origin.train,
                 origin.validation, **task_options(params), horizons=horizons,
                 target_limits=limits(origin))
        if init is not None:
            t.init, t.init_weights = "transfer", init[i].weights
        out.append(t)
    return out


def roll_forward(windows: Windows, views: np.ndarray) -> Windows:
    """The windows one day later: the inputs shifted by one day, ``views`` as the new day 7
    (the other counts repeat the last day's; only the univariate network reads this)."""
    counts = np.concatenate([windows.counts[:, 1:], windows.counts[:, -1:]], axis=1).copy()
    counts[:, -1, 0] = views
    return Windows(counts=counts, age_days=windows.age_days + 1,
                   category_id=windows.category_id, comments_disabled=windows.comments_disabled,
                   ratings_disabled=windows.ratings_disabled, y=windows.y,
                   video_id=windows.video_id, run_id=windows.run_id,
                   target_date=windows.target_date)


def recursive_forecast(runs: list[Trained], params: dict, windows: Windows, train_idx,
                       config, horizons: int) -> np.ndarray:
    """The day-8 univariate networks run recursively: ``(n_seeds, n_windows, H)`` views."""
    from ytlstm.engine import _SEED_LOCK
    from ytlstm.models import build_lstm

    transform = FeatureTransform(False, params["target"]).fit(windows.subset(train_idx))
    # built under the engine's lock: networks trained in this process (one worker) draw their
    # initial weights from a generator the engine swaps in under that lock, and this build
    # (whose weights are replaced below) must not draw from it meanwhile
    with _SEED_LOCK:
        net = build_lstm(config.window, transform.n_channels, int(params["units"]))

    def nets():                         # one Keras network, with each run's weights in turn
        for r in runs:
            net.set_weights(r.weights)
            yield net

    return recursive_views(nets(), transform, windows, horizons)


def recursive_views(nets, transform: FeatureTransform, windows: Windows,
                    horizons: int) -> np.ndarray:
    """Day-8 networks (an iterable, used one at a time) run recursively: each network's
    forecast of a day becomes day 7 of the next window; ``(n_networks, n_windows, H)`` views."""
    if len(windows) == 0:
        return np.zeros((sum(1 for _ in nets), 0, horizons))
    out = []
    for net in nets:
        views = np.empty((len(windows), horizons))
        cur = windows
        for h in range(horizons):
            views[:, h] = transform.to_views(
                cur, predict_batches(net, transform.transform_x(cur)).reshape(-1))
            if h + 1 < horizons:
                cur = roll_forward(cur, views[:, h])
        out.append(views)
    return np.stack(out) if out else np.zeros((0, len(windows), horizons))


# --------------------------------------------------------------------------- intervals

def conformal_quantiles(resid: np.ndarray, level: float) -> tuple[float, float]:
    """Equal-tailed split-conformal bounds of log residuals for coverage ``level``: the
    ``floor((n+1) a/2)``-th and ``ceil((n+1)(1-a/2))``-th smallest (``-inf``/``inf`` when
    there are too few residuals)."""
    r = np.sort(np.asarray(resid, float))
    n, a = len(r), 1.0 - level
    # ranks rounded to 9 decimals first, so that 1 - 0.8 = 0.19999999999999996 gives rank 2
    lo_k = int(np.floor(round((n + 1) * a / 2, 9)))
    hi_k = int(np.ceil(round((n + 1) * (1 - a / 2), 9)))
    lo = r[lo_k - 1] if lo_k >= 1 else -np.inf
    hi = r[hi_k - 1] if hi_k <= n else np.inf
    return float(lo), float(hi)


def interval(pred: np.ndarray, day7: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """The interval of forecasts ``pred`` for log-residual bounds ``lo``, ``hi`` (views), never
    below day 7's views (views do not fall inside a window)."""
    lp = np.log1p(np.maximum(pred, 0.0))
    with np.errstate(over="ignore"):
        lower = np.maximum(np.expm1(lp + lo), day7)
        # views never fall, so an upper end below day 7's views is raised to them
        upper = np.maximum(np.expm1(lp + hi), lower)
    return lower, upper


def level_name(level: float) -> str:
    return f"{round(100 * level):d}"


# --------------------------------------------------------------------------- the stage

def _rows(windows: Windows, origin, split: str, fits: dict[str, HorizonFit], horizons: int,
          calib: dict, levels, quantiles: dict | None = None) -> list[pd.DataFrame]:
    idx_all = origin.validation if split == "horizon_validation" else origin.test
    out = []
    _, val_limit = limits(origin)
    for h in range(1, horizons + 1):
        before = val_limit if split == "horizon_validation" else None
        idx = horizon_index(windows, idx_all, h, before)
        if len(idx) == 0:
            continue
        base = {"split": split, "origin": origin.name, "window": idx, "horizon": h,
                "video_id": windows.video_id[idx],
                "target_date": windows.future_date[idx, h - 1] if h > 1 else
                windows.target_date[idx],
                "run_day": (windows.target_day[idx] + h - 1) if windows.target_day is not None
                else -1,
                "y_true": windows.horizon_target(h)[idx]}
        day7 = windows.views[idx, -1]
        for model, f in fits.items():
            p = f.ensemble[idx, h - 1]
            cols = {"model": model, **base, "y_pred": p}
            for lv in levels:
                lo, hi = calib[(model, h, lv)][:2]
                cols[f"lower_{level_name(lv)}"], cols[f"upper_{level_name(lv)}"] = \
                    interval(p, day7, lo, hi)
            if quantiles and model == "gbm":
                for lv in levels:
                    qlo, qhi = quantiles[(float(lv), h)]
                    cols[f"qlo_{level_name(lv)}"] = qlo[idx]
                    cols[f"qhi_{level_name(lv)}"] = qhi[idx]
            out.append(pd.DataFrame(cols))
    return out


def _mean_rel_mae(windows: Windows, origin, pred: np.ndarray, horizons: int) -> float:
    """Mean over horizons of the validation MAE relative to naive (first origin)."""
    _, val_limit = limits(origin)
    rel = []
    for h in range(1, horizons + 1):
        idx = horizon_index(windows, origin.validation, h, val_limit)
        y = windows.horizon_target(h)[idx]
        naive = windows.views[idx, -1]
        rel.append(np.mean(np.abs(y - pred[idx, h - 1])) / np.mean(np.abs(y - naive)))
    return float(np.mean(rel))


def usable_horizons(windows: Windows, origins: list, max_horizon: int, minimum: int) -> int:
    """The furthest horizon ``H`` such that every horizon up to it passes the day-8 study's
    minimum-windows rule (:mod:`ytlstm.checks`: at least ``minimum`` windows in each part of
    the chronological split, i.e. the first origin's training and validation windows and all
    test windows) and every origin has a training and a validation window there (so each model
    can be fitted); 0 if even horizon 1 fails."""
    usable = 0
    first = origins[0]
    for h in range(1, max_horizon + 1):
        tl, vl = limits(first)
        n_test = sum(len(horizon_index(windows, o.test, h)) for o in origins)
        if (len(horizon_index(windows, first.train, h, tl)) < minimum
                or len(horizon_index(windows, first.validation, h, vl)) < minimum
                or n_test < minimum):
            return usable
        for o in origins:
            tl, vl = limits(o)
            if (len(horizon_index(windows, o.train, h, tl)) == 0
                    or len(horizon_index(windows, o.validation, h, vl)) == 0):
                return usable
        usable = h
    return usable


def horizon_stage(windows: Windows, origins: list, chosen: dict[str, dict],
                  day8_fits: dict, config, jobs: int | None = None,
                  say: Callable[[str], None] = lambda s: None) -> HorizonStudy | None:
    """Fit every horizon model at every chronological origin (see the module docstring).

    Horizons go up to ``config.max_horizon``, or less when the further horizons have fewer
    than ``config.min_windows_per_part`` windows in a part (:func:`usable_horizons`); with
    fewer than 2 usable horizons there is no horizon study (``None``)."""
    H = usable_horizons(windows, origins, int(config.max_horizon), config.min_windows_per_part)
    if H < int(config.max_horizon):
        say(f"[horizons] only horizons 1..{H} pass the minimum-windows rule "
            f"({config.min_windows_per_part} per part; asked for 1..{config.max_horizon})")
    if H < 2:
        return None
    seeds = tuple(config.seeds)
    uni = chosen["lstm_univariate"]
    t0 = time.perf_counter()
    say(f"[horizons] {H} horizons at {len(origins)} origins: "
        f"{', '.join(HORIZON_BASELINES)}, {', '.join(HORIZON_LSTMS)}")
    fits: dict[str, dict[str, HorizonFit]] = {o.name: {} for o in origins}
    seconds: dict[str, float] = {}
    levels = tuple(config.interval_levels)

    def networks() -> tuple[dict[str, list[Trained]], list[Trained]]:
        """Phase 0, the multi-output univariate networks; phase 1, the transfer networks
        started from them (every origin's in one batch per phase)."""
        flat0 = [t for o in origins
                 for t in network_tasks("lstm_univariate_h", windows, o, uni, seeds, H)]
        trained0 = run_tasks(flat0, windows, config, jobs, say)
        by_origin0 = {o.name: trained0[i * len(seeds):(i + 1) * len(seeds)]
                      for i, o in enumerate(origins)}
        flat1 = [t for o in origins for t in network_tasks(
            "lstm_transfer_h", windows, o, uni, seeds, H, init=by_origin0[o.name])]
        return by_origin0, run_tasks(flat1, windows, config, jobs, say)

    lock = threading.Lock()

    def timed(name: str, fn: Callable, *args):
        t = time.perf_counter()
        out = fn(*args)
        with lock:
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t
        return out

    # The networks train in worker processes while two threads of this process fit the
    # baselines, the quantile peer and the recursive forecasts, one fit per thread at a time,
    # so no core waits for another's work (none of these reads another's result). The BLAS
    # limit is set once here, before the threads start: it is process-wide, and a thread
    # restoring it while another computes would change that one's thread count (and so,
    # by the last bits, its numbers).
    with threadpool_limits(limits=1), ThreadPoolExecutor(1) as net_pool, \
            ThreadPoolExecutor(2) as pool:
        pending = net_pool.submit(networks)
        rec = pool.submit(timed, "recursive", lambda: {
            o.name: recursive_forecast(day8_fits[o.name]["lstm_univariate"].runs, uni,
                                       windows, o.train, config, H) for o in origins})
        base = {o.name: pool.submit(timed, "baselines", fit_baselines, windows, o, chosen,
                                    config, H) for o in origins}
        quant = {o.name: pool.submit(timed, "quantile_peer", fit_quantiles, windows, o, chosen,
                                     config, H, levels) for o in origins}
        for o in origins:
            fits[o.name].update(base[o.name].result())
        quantiles = {o.name: quant[o.name].result() for o in origins}
        say(f"  quantile peer: {2 * len(levels) * H * len(origins)} quantile models in "
            f"{seconds['quantile_peer']:.1f} s (thread time)")
        recursive = rec.result()
        by_origin0, trained1 = pending.result()

    # the univariate network's form, chosen on the first origin's validation windows
    forms = {o.name: {
        "multi-output": HorizonFit("lstm_univariate_h", np.stack([r.pred for r in by_origin0[o.name]]),
                                   {**uni, "form": "multi-output"}, runs=by_origin0[o.name]),
        "recursive": HorizonFit("lstm_univariate_h", recursive[o.name], {**uni, "form": "recursive"},
                                runs=day8_fits[o.name]["lstm_univariate"].runs)}
        for o in origins}
    first = origins[0]
    scores = {f: _mean_rel_mae(windows, first, fit.ensemble, H)
              for f, fit in forms[first.name].items()}
    form = min(scores, key=lambda f: (scores[f], f != "multi-output"))
    choice = pd.DataFrame([{"model": "lstm_univariate_h", "form": f, "val_mean_rel_mae": v,
                            "chosen": f == form} for f, v in scores.items()])
    say(f"  univariate network at horizons: {form} (validation mean rel. MAE "
        + ", ".join(f"{f} {v:.4f}" for f, v in scores.items()) + ")")
    for i, o in enumerate(origins):
        runs1 = trained1[i * len(seeds):(i + 1) * len(seeds)]
        fits[o.name]["lstm_univariate_h"] = forms[o.name][form]
        fits[o.name]["lstm_transfer_h"] = HorizonFit(
            "lstm_transfer_h", np.stack([r.pred for r in runs1]), {**uni, "form": "multi-output"},
            runs=runs1)

    # split-conformal calibration per origin, model, horizon and level
    calib_rows, frames = [], []
    for o in origins:
        _, val_limit = limits(o)
        calib = {}
        for model, f in fits[o.name].items():
            for h in range(1, H + 1):
                idx = horizon_index(windows, o.validation, h, val_limit)
                r = np.log1p(windows.horizon_target(h)[idx]) - np.log1p(
                    np.maximum(f.ensemble[idx, h - 1], 0.0))
                for lv in levels:
                    lo, hi = conformal_quantiles(r, lv)
                    calib[(model, h, lv)] = (lo, hi, len(idx))
                    calib_rows.append({"origin": o.name, "model": model, "horizon": h,
                                       "level": lv, "lower_q": lo, "upper_q": hi,
                                       "n_residuals": len(idx)})
        for split in ("horizon_test", "horizon_validation"):
            frames += _rows(windows, o, split, fits[o.name], H, calib, levels,
                            quantiles[o.name])
    table = pd.concat(frames, ignore_index=True)
    table["target_date"] = pd.to_datetime(table["target_date"])
    seconds["total"] = time.perf_counter() - t0
    say(f"  horizons done in {seconds['total']:.1f} s")
    return HorizonStudy(table=table, fits=fits, choice=choice,
                        calibration=pd.DataFrame(calib_rows), horizons=H, seconds=seconds,
                        quantiles=quantiles)

"""Tables of results, every one computed from the long predictions table (protocol v2, item 4).

:func:`ytlstm.predictions.predictions_table` gives one row per (model, split, origin, window);
the functions here are plain functions over it, in the manner of ``utilsforecast.evaluation``,
and :func:`write_results` writes all of them as CSV under ``_build/results/`` (``metrics.csv``
has one row per (model, split)).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ytlstm.evaluate import (concentration, gmrae, holm, interval_score, mae, point_metrics,
                             twoway_test,
                             twoway_weights, weighted_dm)
from ytlstm.families import LSTM_FAMILIES
from ytlstm.names import BASELINES, COMBINED, label, order, prose
from ytlstm.choice import (best_at_horizons, best_models, choice_table,  # noqa: F401
                           first_origin, horizon_validation_scores, study_horizons,
                           validation_scores, video_validation_scores)
from ytlstm.choice import model_columns as _models
from ytlstm.combination import with_combination
from ytlstm.inference import scaled_metrics
from ytlstm.predictions import predictions_table, wide

LEVEL = 0.05
#: The LSTMs' declared target (protocol v2, item 6): a ratio of MAEs to the best baseline's of
#: at most this, with the primary test significant.
TARGET_RATIO = 0.90
#: The intervals' declared goal (protocol v2, item 11): coverage within this of nominal at
#: every horizon.
COVERAGE_TOLERANCE = 0.03


# --------------------------------------------------------------------------- point metrics

def count_windows(pred: pd.DataFrame, split: str, horizon: int | None = None) -> int:
    """The number of windows of one split (at one horizon), pooled over its origins: distinct
    (origin, window) pairs, however many models forecast them. Every count of windows in the
    book's prose comes from here."""
    p = pred[pred["split"] == split]
    if horizon is not None:
        p = p[p["horizon"] == horizon]
    return int(len(p[["origin", "window"]].drop_duplicates()))


def count_dates(pred: pd.DataFrame, split: str) -> int:
    """The number of distinct target dates that have a window of ``split``."""
    return int(pred.loc[pred["split"] == split, "target_date"].nunique())


def metrics_table(pred: pd.DataFrame, seeds: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (model, split): n_windows, MAE, RMSE, MAPE, relative MAE, GMRAE.

    ``validation`` is the first origin's (where every choice is made); ``test`` pools every
    origin's block. With ``seeds``, networks also get ``n_seeds`` and ``*_seed_mean``/
    ``*_seed_std`` (the standard deviation is empty when ``n_seeds`` is 1).
    """
    rows = []
    for split in ("train", "validation", "test", "video_test"):
        p = pred[pred["split"] == split]
        if split == "validation":
            p = p[p["origin"] == first_origin(pred)]
        if p.empty:
            continue
        wt = wide(p, split)
        naive = wt["naive"].to_numpy()
        y = wt["y_true"].to_numpy()
        for model in order(_models(wt)):
            pm = wt[model].to_numpy()
            g, _ = gmrae(y, pm, naive, wt["video_id"].to_numpy())
            row = {"model": model, "split": split, "n_windows": len(wt),
                   **point_metrics(y, pm, naive), "gmrae": g, **scaled_metrics(wt, model)}
            if seeds is not None:
                row.update(_seed_spread(seeds, split, model, wt))
            rows.append(row)
    return pd.DataFrame(rows)


def _seed_spread(seeds: pd.DataFrame, split: str, model: str, wt: pd.DataFrame) -> dict:
    s = seeds[(seeds["split"] == split) & (seeds["model"] == model)]
    s = s[s["window"].isin(wt.index)]
    if s.empty:
        return {"n_seeds": 0}
    per = []
    naive = wt["naive"]
    for _, g in s.groupby("seed"):
        g = g.set_index("window").loc[wt.index]
        if split == "validation":
            g = g[~g.index.duplicated()]
        per.append(point_metrics(g["y_true"].to_numpy(), g["y_pred"].to_numpy(),
                                 naive.to_numpy()))
    out = {"n_seeds": len(per)}
    for k in ("mae", "rmse", "mape", "rel_mae"):
        v = np.array([d[k] for d in per])
        out[f"{k}_seed_mean"] = float(v.mean())
        # the spread between seeds needs two of them: empty (NaN) for a one-seed study
        out[f"{k}_seed_std"] = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
    return out


def seed_spread_text(row: dict | pd.Series, metric: str = "rel_mae") -> str:
    """A network's single seeds in words, from its :func:`metrics_table` row: "single seeds
    0.123 ± 0.004" (mean ± standard deviation over seeds), or, in a one-seed study, that the
    ensemble is that one seed (no spread between seeds to show)."""
    if int(row["n_seeds"]) < 2:
        return "a single seed, so no spread between seeds"
    return f"single seeds {fmt(row[metric + '_seed_mean'])} ± {fmt(row[metric + '_seed_std'])}"


def metrics_by_origin(pred: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """``model, origin, n_windows, mae, rel_mae`` for each block of the chronological test."""
    rows = []
    for origin, p in pred[pred["split"] == split].groupby("origin", sort=True):
        wt = wide(p, split)
        y, naive = wt["y_true"].to_numpy(), wt["naive"].to_numpy()
        for model in order(_models(wt)):
            m = mae(y, wt[model].to_numpy())
            rows.append({"model": model, "origin": origin, "n_windows": len(wt), "mae": m,
                         "rel_mae": m / mae(y, naive), **scaled_metrics(wt, model)})
    return pd.DataFrame(rows)


def origin_choices(pred: pd.DataFrame) -> pd.DataFrame:
    """Which baseline and which LSTM would win on each origin's own validation dates
    (a description: the study's choice is made once, at the first origin)."""
    rows = []
    for origin in sorted(pred.loc[pred["split"] == "validation", "origin"].unique()):
        s = validation_scores(pred, origin)
        bases = [m for m in s.index if m in BASELINES]
        lstms = [m for m in s.index if m in LSTM_FAMILIES]
        b, l_ = min(bases, key=lambda m: s[m]), min(lstms, key=lambda m: s[m])
        rows.append({"origin": origin, "best_baseline": b, "best_lstm": l_,
                     "baseline_val_mae": s[b], "lstm_val_mae": s[l_],
                     "lstm_over_baseline": s[l_] / s[b]})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- inference

class Resampler:
    """Two-way (date blocks x videos) bootstrap weights for one split, shared by every model."""

    def __init__(self, wt: pd.DataFrame, reps: int, seed: int) -> None:
        self.wt = wt
        self.w = twoway_weights(wt["target_date"].to_numpy(), wt["video_id"].to_numpy(),
                                reps, seed)
        self.w = self.w[self.w.sum(axis=1) > 0]
        self.y = wt["y_true"].to_numpy()

    def abs_err(self, model: str) -> np.ndarray:
        return np.abs(self.y - self.wt[model].to_numpy())

    def sums(self, model: str) -> np.ndarray:
        return self.w @ self.abs_err(model)

    def test(self, a: str, b: str) -> dict:
        return twoway_test(self.abs_err(a), self.abs_err(b), None, None, weights=self.w)


def intervals_table(pred: pd.DataFrame, split: str, reps: int, seed: int,
                    reference: str | None = None) -> pd.DataFrame:
    """Point metrics with 95% two-way bootstrap intervals, and each model's MAE relative to
    ``reference`` (default: the best baseline chosen on validation) with its interval."""
    wt = wide(pred, split)
    rs = Resampler(wt, reps, seed)
    y, naive = rs.y, wt["naive"].to_numpy()
    if reference is None:
        reference = best_models(pred, "chronological" if split == "test" else "video")["baseline"]
    s_naive, s_ref = rs.sums("naive"), rs.sums(reference)
    cnt = rs.w.sum(axis=1)
    rows = []
    for m in order(_models(wt)):
        s = rs.sums(m)
        pm = wt[m].to_numpy()
        point = point_metrics(y, pm, naive)
        rows.append({"model": m, "split": split, **point,
                     "mae_lo": np.percentile(s / cnt, 2.5), "mae_hi": np.percentile(s / cnt, 97.5),
                     "rel_mae_lo": np.percentile(s / s_naive, 2.5),
                     "rel_mae_hi": np.percentile(s / s_naive, 97.5),
                     "reference": reference, "vs_reference": point["mae"] / mae(y, wt[reference]),
                     "vs_reference_lo": np.percentile(s / s_ref, 2.5),
                     "vs_reference_hi": np.percentile(s / s_ref, 97.5)})
    return pd.DataFrame(rows)


def intervals_by_origin(pred: pd.DataFrame, reps: int, seed: int) -> pd.DataFrame:
    """:func:`intervals_table` of each origin's test block (a description per block), every
    block against the best baseline chosen before the first origin."""
    ref = best_models(pred)["baseline"]
    origins = sorted(pred.loc[pred["split"] == "test", "origin"].unique())
    return pd.concat([intervals_table(pred[pred["origin"] == o], "test", reps, seed,
                                      reference=ref).assign(origin=o) for o in origins],
                     ignore_index=True)


def paired_tests(pred: pd.DataFrame, split: str, reps: int, seed: int) -> pd.DataFrame:
    """Each LSTM family against the best baseline on ``split``: the primary two-way bootstrap
    test (Holm-adjusted over the four families), and Diebold-Mariano on the window-weighted
    daily loss. ``primary`` marks the best-by-validation LSTM's row."""
    design = "chronological" if split == "test" else "video"
    best = best_models(pred, design)
    wt = wide(pred, split)
    rs = Resampler(wt, reps, seed)
    rows = []
    for m in [x for x in LSTM_FAMILIES if x in wt.columns]:
        t = rs.test(m, best["baseline"])
        dm = weighted_dm(rs.abs_err(m), rs.abs_err(best["baseline"]), wt["target_date"].to_numpy())
        ml, mb = rs.abs_err(m).mean(), rs.abs_err(best["baseline"]).mean()
        rows.append({"split": split, "lstm": m, "baseline": best["baseline"],
                     "primary": m == best["lstm"], "n_windows": len(wt),
                     "mae_lstm": ml, "mae_baseline": mb, "ratio": ml / mb,
                     "mae_diff": t["mean_diff"], "diff_lo": t["diff_lo"], "diff_hi": t["diff_hi"],
                     "p_value": t["p_value"], "dm_stat": dm["dm_stat"],
                     "dm_p_value": dm["p_value"], "dm_n_dates": dm["n_dates"],
                     "lstm_better": bool(ml < mb)})
    out = pd.DataFrame(rows)
    out["p_holm"] = holm(out["p_value"].tolist())
    return out


def pair_test(pred: pd.DataFrame, a: str, b: str, split: str, reps: int, seed: int,
              mask: pd.Series | None = None) -> dict:
    """The two-way bootstrap test of ``a`` against ``b`` on one split (optionally a subset of
    its windows, given as a boolean Series over the wide table's index)."""
    wt = wide(pred, split)
    if mask is not None:
        wt = wt[mask.reindex(wt.index).fillna(False).to_numpy(bool)]
    rs = Resampler(wt, reps, seed)
    t = rs.test(a, b)
    return {"a": a, "b": b, "split": split, "n_windows": len(wt),
            "n_videos": int(wt["video_id"].nunique()), "mae_a": rs.abs_err(a).mean(),
            "mae_b": rs.abs_err(b).mean(), **t}


# --------------------------------------------------------------------------- where the gain is

def by_period(pred: pd.DataFrame, break_date, split: str = "test") -> pd.DataFrame:
    """Relative MAE of every model before and from the break date (protocol v2, item 5)."""
    wt = wide(pred, split)
    if break_date is None:
        return pd.DataFrame()
    after = wt["target_date"] >= pd.Timestamp(break_date)
    rows = []
    for period, m in (("before break", ~after), ("from break", after)):
        if not m.any():
            continue
        sub = wt[m]
        naive_mae = mae(sub["y_true"], sub["naive"])
        for model in order(_models(wt)):
            e = mae(sub["y_true"], sub[model])
            rows.append({"period": period, "model": model, "n_windows": int(m.sum()),
                         "first_date": str(sub["target_date"].min().date()),
                         "last_date": str(sub["target_date"].max().date()),
                         "mae": e, "rel_mae": e / naive_mae})
    return pd.DataFrame(rows)


def by_run_day(pred: pd.DataFrame, split: str = "test", last: int = 14) -> pd.DataFrame:
    """Relative MAE by the day of the run of the target (8, 9, ..., and ``last``+ pooled)."""
    wt = wide(pred, split)
    day = wt["run_day"].clip(upper=last)
    rows = []
    for d, sub in wt.groupby(day):
        naive_mae = mae(sub["y_true"], sub["naive"])
        for model in order(_models(wt)):
            e = mae(sub["y_true"], sub[model])
            rows.append({"run_day": f"{int(d)}+" if d == last else str(int(d)), "day": int(d),
                         "model": model, "n_windows": len(sub), "mae": e,
                         "rel_mae": e / naive_mae if naive_mae > 0 else np.nan})
    return pd.DataFrame(rows)


def concentration_table(pred: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Each model's gain over the best baseline and the share of it from the top videos."""
    design = "chronological" if split == "test" else "video"
    base = best_models(pred, design)["baseline"]
    wt = wide(pred, split)
    rows = []
    for model in order(_models(wt)):
        if model == base:
            continue
        c = concentration(wt["y_true"].to_numpy(), wt[model].to_numpy(), wt[base].to_numpy(),
                          wt["video_id"].to_numpy())
        rows.append({"model": model, "baseline": base, "n_videos": int(wt["video_id"].nunique()),
                     **c})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- study tables

def tuning_table(study) -> pd.DataFrame:
    frames = [t.assign(design=d) for d, t in study.tuning.items()]
    out = pd.concat(frames, ignore_index=True)
    cols = ["design", "family"] + [c for c in out.columns if c not in ("design", "family")]
    return out[cols]


def chosen_table(study) -> pd.DataFrame:
    rows = []
    for design, ch in study.chosen.items():
        t = study.tuning[design]
        for fam, params in ch.items():
            r = t[(t["family"] == fam) & t["chosen"]].iloc[0]
            rows.append({"design": design, "family": fam, "config": json.dumps(params),
                         "grid_size": int((t["family"] == fam).sum()),
                         "val_mae": r["val_mae"], "val_rel_mae": r["val_rel_mae"]})
    return pd.DataFrame(rows)


def training_table(study) -> pd.DataFrame:
    """One row per network trained for a final model: origin, model, seed, epochs, seconds."""
    rows = []
    for origin, fits in study.fits.items():
        for model, f in fits.items():
            runs = list(f.runs or [])
            if model == "lstm_cluster":
                runs = [(c, r) for c, rs in f.info.get("cluster_runs", {}).items() for r in rs]
            else:
                runs = [(None, r) for r in runs]
            for c, r in runs:
                rows.append({"origin": origin, "model": model, "cluster": c, "seed": r.seed,
                             "epochs_run": r.epochs_run, "best_epoch": r.best_epoch,
                             "best_val_loss": float(min(r.val_loss)) if r.val_loss else np.nan,
                             "seconds": r.seconds})
    return pd.DataFrame(rows)


def split_table(study) -> pd.DataFrame:
    """The first origin's split (version 1's): dates and window counts per part."""
    s = study.splits["chronological"]
    i, c = s.info, s.counts()
    return pd.DataFrame([
        {"part": p, "first_target_date": i[f"{p}_first"], "last_target_date": i[f"{p}_last"],
         "trending_dates": i[f"n_{p}_dates"], "windows": c[p],
         "videos": int(pd.unique(study.windows.video_id[s.mask(p)]).size)}
        for p in ("train", "validation", "test")])


def timings_table(study) -> pd.DataFrame:
    return pd.DataFrame([{"stage": k, "seconds": v} for k, v in study.timings.items()])


def transfer_table(study, pred: pd.DataFrame) -> pd.DataFrame:
    """Transfer against random initialisation per origin and seed: epochs and test MAE."""
    from ytlstm.harness import control_name

    control = control_name(study.chosen["chronological"])
    rows = []
    for o in study.chronological_origins:
        w = study.windows
        for init, name in (("transfer", "lstm_transfer"), ("random", control)):
            f = study.fits[o.name][name]
            for r in f.runs:
                rows.append({"origin": o.name, "init": init, "model": name, "seed": r.seed,
                             "best_epoch": r.best_epoch, "epochs_run": r.epochs_run,
                             "seconds": r.seconds, "best_val_loss": float(min(r.val_loss)),
                             "initial_val_loss": r.initial_val_loss,
                             "test_mae": mae(w.y[o.test], r.pred[o.test]),
                             "test_rel_mae": mae(w.y[o.test], r.pred[o.test]) /
                             mae(w.y[o.test], w.views[o.test, -1])})
    return pd.DataFrame(rows)


def cluster_assignment(study) -> pd.Series:
    """Cluster of every test window, from the clustering of its own origin."""
    out = {}
    for o in study.chronological_origins:
        wc = study.fits[o.name]["lstm_cluster"].info["window_cluster"]
        for i in o.test:
            out[int(i)] = int(wc[i])
    return pd.Series(out, name="cluster")


def cluster_tests(study, pred: pd.DataFrame) -> pd.DataFrame:
    """Per-cluster against global univariate LSTM, overall and per cluster (post hoc)."""
    cfg = study.config
    clusters = cluster_assignment(study)
    rows = [{"cluster": "all", "post_hoc": False,
             **pair_test(pred, "lstm_cluster", "lstm_univariate", "test", cfg.bootstrap_reps,
                         cfg.bootstrap_seed)}]
    for c in sorted(clusters.unique()):
        rows.append({"cluster": str(c), "post_hoc": True,
                     **pair_test(pred, "lstm_cluster", "lstm_univariate", "test",
                                 cfg.bootstrap_reps, cfg.bootstrap_seed, mask=clusters == c)})
    return pd.DataFrame(rows)


def cluster_sizes(study) -> pd.DataFrame:
    rows = []
    for o in study.chronological_origins:
        info = study.fits[o.name]["lstm_cluster"].info
        wc = info["window_cluster"]
        for s in info["sizes"]:
            rows.append({"origin": o.name, "k": info["k"], **s,
                         "n_test_windows": int((wc[o.test] == s["cluster"]).sum())})
    return pd.DataFrame(rows)


def transfer_test(study, pred: pd.DataFrame) -> pd.DataFrame:
    from ytlstm.harness import control_name

    cfg = study.config
    control = control_name(study.chosen["chronological"])
    return pd.DataFrame([pair_test(pred, "lstm_transfer", control, "test", cfg.bootstrap_reps,
                                   cfg.bootstrap_seed)])


# --------------------------------------------------------------------------- horizons

def metrics_by_horizon(pred: pd.DataFrame) -> pd.DataFrame:
    """``model, horizon, n_windows, mae, rel_mae, rmse`` on the test windows of every horizon,
    pooled over the origins (relative MAE against naive at the same horizon)."""
    rows = []
    for h in study_horizons(pred):
        wt = wide(pred, "horizon_test", horizon=h)
        y, naive = wt["y_true"].to_numpy(), wt["naive"].to_numpy()
        for m in order(_models(wt)):
            pm = point_metrics(y, wt[m].to_numpy(), naive)
            rows.append({"model": m, "horizon": h, "n_windows": len(wt), "mae": pm["mae"],
                         "rel_mae": pm["rel_mae"], "rmse": pm["rmse"],
                         **scaled_metrics(wt, m)})
    return pd.DataFrame(rows)


def horizon_tests(pred: pd.DataFrame, reps: int, seed: int,
                  challenger: str | None = None) -> pd.DataFrame:
    """At every horizon, the best LSTM against the best baseline of the horizon study (both
    chosen on validation) by the primary two-way bootstrap test; Holm-adjusted over horizons.
    ``challenger`` (e.g. the declared combination, protocol v3 item 17) takes the LSTM's place,
    in the column ``lstm``."""
    best = dict(best_at_horizons(pred))
    if challenger is not None:
        best["lstm"] = challenger
    rows = []
    for h in study_horizons(pred):
        wt = wide(pred, "horizon_test", horizon=h)
        rs = Resampler(wt, reps, seed + h)
        t = rs.test(best["lstm"], best["baseline"])
        ml, mb = rs.abs_err(best["lstm"]).mean(), rs.abs_err(best["baseline"]).mean()
        s_l, s_b = rs.sums(best["lstm"]), rs.sums(best["baseline"])
        rows.append({"horizon": h, "lstm": best["lstm"], "baseline": best["baseline"],
                     "n_windows": len(wt), "n_videos": int(wt["video_id"].nunique()),
                     "mae_lstm": ml, "mae_baseline": mb, "ratio": ml / mb,
                     "ratio_lo": np.percentile(s_l / s_b, 2.5),
                     "ratio_hi": np.percentile(s_l / s_b, 97.5),
                     "mae_diff": t["mean_diff"], "diff_lo": t["diff_lo"], "diff_hi": t["diff_hi"],
                     "p_value": t["p_value"], "lstm_better": bool(ml < mb)})
    out = pd.DataFrame(rows)
    if len(out):
        out["p_holm"] = holm(out["p_value"].tolist())
    return out


def intervals_coverage(pred: pd.DataFrame, levels=(0.8, 0.95)) -> pd.DataFrame:
    """``model, horizon, level, coverage, mean_width, interval_score, n_windows`` of the
    forecast intervals on the test windows, pooled over the origins."""
    p = pred[pred["split"] == "horizon_test"]
    rows = []
    for (m, h), g in p.groupby(["model", "horizon"], sort=False):
        y = g["y_true"].to_numpy()
        for lv in levels:
            tag = f"{round(100 * lv):d}"
            lo, hi = g[f"lower_{tag}"].to_numpy(), g[f"upper_{tag}"].to_numpy()
            if np.isnan(lo).all():       # a model without intervals (the v3 combination)
                continue
            rows.append({"model": m, "horizon": int(h), "level": lv,
                         "coverage": float(np.mean((y >= lo) & (y <= hi))),
                         "mean_width": float(np.mean(hi - lo)),
                         "interval_score": float(np.mean(interval_score(y, lo, hi, lv))),
                         "n_windows": len(g)})
    out = pd.DataFrame(rows)
    if not len(out):
        return out
    rank = {m: i for i, m in enumerate(order(out["model"].unique()))}
    return out.sort_values(["model", "horizon", "level"], key=lambda c: c.map(rank)
                           if c.name == "model" else c, ignore_index=True)


def horizon_counts(pred: pd.DataFrame) -> pd.DataFrame:
    """Windows per horizon of the horizon study (:func:`count_windows`): ``n_test`` pooled
    over the origins, ``n_validation_first`` the first origin's validation windows (where
    the choices at horizons are made) and ``n_validation`` every origin's, pooled."""
    first = first_origin(pred)
    rows = []
    for h in study_horizons(pred):
        v = pred[(pred["split"] == "horizon_validation") & (pred["origin"] == first)]
        rows.append({"horizon": h, "n_test": count_windows(pred, "horizon_test", h),
                     "n_validation_first": count_windows(v, "horizon_validation", h),
                     "n_validation": count_windows(pred, "horizon_validation", h)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- writing

def all_tables(study, pred: pd.DataFrame | None = None,
               seeds: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Every CSV table of the study, from the predictions table."""
    from ytlstm.clusters import category_table
    from ytlstm.origins import origins_table

    cfg = study.config
    pred = with_combination(predictions_table(study)) if pred is None else pred
    seeds = predictions_table(study, seeds=True) if seeds is None else seeds
    reps, seed = cfg.bootstrap_reps, cfg.bootstrap_seed
    tables = {
        "metrics": metrics_table(pred, seeds),
        "metrics_by_origin": metrics_by_origin(pred),
        "cleaning": study.dataset.report.table(),
        "split": split_table(study),
        "origins": origins_table(study.chronological_origins, study.windows),
        "origin_choices": origin_choices(pred),
        "tuning": tuning_table(study),
        "chosen": chosen_table(study),
        "choice": pd.concat([choice_table(pred), choice_table(pred, "video")], ignore_index=True),
        "training": training_table(study),
        "intervals_test": intervals_table(pred, "test", reps, seed),
        "intervals_video_test": intervals_table(pred, "video_test", reps, seed),
        "intervals_by_origin": intervals_by_origin(pred, reps, seed),
        "paired_test": pd.concat([paired_tests(pred, "test", reps, seed),
                                  paired_tests(pred, "video_test", reps, seed)],
                                 ignore_index=True),
        "by_period": by_period(pred, study.break_date),
        "by_run_day": by_run_day(pred),
        "concentration": concentration_table(pred),
        "timings": timings_table(study),
        "transfer": transfer_table(study, pred),
        "transfer_test": transfer_test(study, pred),
        "cluster_sizes": cluster_sizes(study),
        "cluster_tests": cluster_tests(study, pred),
    }
    tables.update(version3_tables(pred, study.break_date, cfg.v3_bootstrap_reps, seed))
    first = study.fits[study.chronological_origins[0].name]["lstm_cluster"].info
    tables["cluster_k_selection"] = first["k_selection"]
    tables["cluster_categories"] = category_table(first["video_cluster"], first["k"],
                                                  study.windows, study.dataset.categories)
    if study.importance is not None:
        tables["importance"] = study.importance
    if getattr(study, "regret", None) is not None:       # post hoc (protocol v3, item 24)
        from ytlstm.regret import selection_periods, selection_regret

        tables["selection_regret"] = selection_regret(study.regret, study.chosen["chronological"])
        tables["selection_periods"] = selection_periods(study.windows, study.origins,
                                                        study.break_date)
    hz = getattr(study, "horizons", None)
    if hz is not None:
        tables["metrics_by_horizon"] = metrics_by_horizon(pred)
        tables["horizon_tests"] = horizon_tests(pred, reps, seed)
        if COMBINED in set(pred.loc[pred["split"] == "horizon_test", "model"]):
            # protocol v3, item 17: the combination tested at every horizon (secondary)
            tables["horizon_combination_tests"] = horizon_tests(pred, reps, seed, COMBINED)
        tables["intervals_coverage"] = intervals_coverage(pred, cfg.interval_levels)
        tables["horizon_validation"] = (horizon_validation_scores(pred)
                                        .rename_axis("model").reset_index())
        tables["horizon_counts"] = horizon_counts(pred)
        tables["horizon_form"] = hz.choice
        tables["horizon_calibration"] = hz.calibration
        tables.update(interval_tables(pred, tables["origins"], cfg.interval_levels))
    return tables


def interval_tables(pred: pd.DataFrame, origins: pd.DataFrame,
                    levels) -> dict[str, pd.DataFrame]:
    """Protocol v3's intervals (items 19-23, :mod:`ytlstm.intervals`): ``intervals_v3`` and
    the targets of the best LSTM and the best baseline at horizons, ``intervals_v3_targets``."""
    from ytlstm.intervals import interval_targets, intervals_v3

    table = intervals_v3(pred, origins, tuple(levels))
    if not len(table):
        return {}
    pair = best_at_horizons(pred)
    models = list(dict.fromkeys([pair["lstm"], pair["baseline"], "gbm"]))  # gbm: the peer's
    return {"intervals_v3": table, "intervals_v3_targets": interval_targets(table, models)}


def version3_tables(pred: pd.DataFrame, break_date, reps: int,
                    seed: int) -> dict[str, pd.DataFrame]:
    """Protocol v3's tables (items 13-18): the tests on both metrics with the equivalence
    verdicts, their robustness to the date blocks, the sensitivity analyses and the model
    confidence set."""
    from ytlstm.inference import (ALL, model_confidence_set, primary_tests, robustness,
                                  sensitivity, sensitivity_masks)

    tests = primary_tests(pred, reps=reps, seed=seed, masks=sensitivity_masks(pred, break_date))
    return {"equivalence": tests[tests["analysis"] == ALL].drop(columns="analysis"),
            "inference_robustness": robustness(pred, reps=reps, seed=seed, primary=tests),
            "sensitivity": sensitivity(pred, break_date, primary=tests),
            "mcs": model_confidence_set(pred, seed=seed)}


def write_results(study, out: str | Path) -> list[Path]:
    """Write the predictions tables and every table as CSV under ``out``; returns the paths."""
    from ytlstm.cache import atomic_write_bytes, atomic_write_text

    out = Path(out)
    pred = with_combination(predictions_table(study))
    seeds = predictions_table(study, seeds=True)
    written = []
    for name, df in (("predictions", pred), ("predictions_seeds", seeds)):
        path = out / f"{name}.csv.gz"
        atomic_write_bytes(path, _gzip_csv(df))
        written.append(path)
    # One BLAS thread: the bootstrap's matrix products sum in another order on more threads,
    # which moves the last bits of the tables with the machine's number of cores.
    with threadpool_limits(limits=1, user_api="blas"):
        tables = all_tables(study, pred, seeds)
    for name, table in tables.items():
        path = out / f"{name}.csv"
        atomic_write_text(path, table.to_csv(index=False))
        written.append(path)
    return written


def ensure_results(study, out: str | Path) -> list[Path] | None:
    """Write the tables under ``out`` unless the folder already holds this study's, written
    by the same code and unchanged (:func:`ytlstm.outputs.stamp_current`); returns the paths
    written, or None when nothing needed writing. The stamp is written after the tables."""
    from ytlstm.outputs import stamp_current, write_stamp

    if stamp_current(out, study.key):
        return None
    written = write_results(study, out)
    write_stamp(out, study.key, written)
    return written


def _gzip_csv(df: pd.DataFrame) -> bytes:
    """CSV, gzip-compressed with a fixed header time (two runs give identical bytes), at level
    4: on the predictions table a third of level 9's time for 2.5% more bytes."""
    import gzip
    import io

    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=4) as gz:
        gz.write(df.to_csv(index=False, date_format="%Y-%m-%d").encode())
    return buf.getvalue()


def read_predictions(results_dir: str | Path, seeds: bool = False) -> pd.DataFrame:
    """The predictions table written by :func:`write_results`."""
    name = "predictions_seeds" if seeds else "predictions"
    df = pd.read_csv(Path(results_dir) / f"{name}.csv.gz", dtype={"video_id": str})
    df["target_date"] = pd.to_datetime(df["target_date"])
    return df


# --------------------------------------------------------------------------- words

def fmt_int(x) -> str:
    return f"{int(round(float(x))):,}"


def fmt(x, digits: int = 3) -> str:
    return f"{float(x):.{digits}f}"


def fmt_pct(x, digits: int = 1) -> str:
    return f"{100 * float(x):.{digits}f}%"


def fmt_p(p: float) -> str:
    """A p-value with its relation, for prose like "p {fmt_p(p)}": "= 0.095" or "< 0.001"."""
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def meets_target(row: dict | pd.Series, level: float = LEVEL) -> bool:
    """Whether a primary row of :func:`paired_tests` meets the LSTMs' declared target."""
    return bool(row["ratio"] <= TARGET_RATIO and row["p_holm"] < level)


def fmt_p_cell(p: float) -> str:
    """A p-value in a table cell: "0.095", or "< 0.001"."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def verdict(row: dict | pd.Series, level: float = LEVEL) -> dict[str, str]:
    """Plain words for the primary row of :func:`paired_tests`: ``verb`` (the LSTM "beats" /
    "does not beat" the baseline), ``significance`` (the test behind it, with its p-values),
    ``target`` ("meets" / "does not meet" the declared target) and ``plain`` (one sentence).
    Every chapter takes these words from here, never writes them itself."""
    sig = row["p_holm"] < level
    if not row["lstm_better"]:
        verb = "does not beat"
    else:
        verb = "beats" if sig else "has a lower MAE than, but does not significantly beat,"
    pct = f"{100 * level:g}%"
    dm = row["dm_p_value"] < level
    if sig:
        s = (f"the primary two-way bootstrap test finds the difference significant at the {pct} "
             f"level after Holm's adjustment (p {fmt_p(row['p_holm'])})")
    else:
        s = (f"the primary two-way bootstrap test does not find the difference significant at "
             f"the {pct} level after Holm's adjustment (p {fmt_p(row['p_holm'])})")
    s += (f"; the Diebold-Mariano test on the window-weighted daily loss "
          f"{'agrees' if dm == sig else 'disagrees'} (p {fmt_p(row['dm_p_value'])})")
    return {"verb": verb, "significance": s,
            "target": "meets" if meets_target(row, level) else "does not meet"}


def pair_verdict(row: dict | pd.Series, level: float = LEVEL) -> dict[str, str]:
    """Words for a row of :func:`pair_test` (``a`` against ``b``): ``direction`` ("lower" /
    "higher": a's MAE against b's) and ``significance`` of the two-way bootstrap test."""
    sig = row["p_value"] < level
    return {"direction": "lower" if row["mean_diff"] < 0 else "higher",
            "significance": f"{'' if sig else 'not '}significant at the {100 * level:g}% level"}


def compare_words(a: float, b: float) -> str:
    """"lower than" / "higher than" / "equal to": a description of ``a`` against ``b`` (an MAE
    against another), never a verdict on its own (say the test beside it)."""
    return "lower than" if a < b else "higher than" if a > b else "equal to"


def families_verdict(paired: pd.DataFrame, level: float = LEVEL) -> str:
    """One sentence on how many LSTM families beat the best baseline significantly (the rows
    of :func:`paired_tests` for one split, Holm-adjusted over the families)."""
    better = paired[(paired["p_holm"] < level) & paired["lstm_better"].astype(bool)]
    if better.empty:
        return (f"In plain words: by the primary test (Holm-adjusted over the {len(paired)} "
                "LSTM families) no LSTM forecasts next-day views better than the best baseline "
                "by more than chance.")
    return (f"In plain words: by the primary test (Holm-adjusted over the {len(paired)} LSTM "
            f"families) {len(better)} of the {len(paired)} LSTM families beat the best baseline "
            "by more than chance.")


def _horizon_list(hs: list[int]) -> str:
    if len(hs) == 1:
        return f"horizon {hs[0]}"
    return "horizons " + ", ".join(str(h) for h in hs[:-1]) + f" and {hs[-1]}"


def horizon_verdict(tests: pd.DataFrame, level: float = LEVEL) -> dict[str, str]:
    """Words for :func:`horizon_tests`: ``lower`` (where the LSTM's MAE is lower, with the
    test in the same clause) and ``answer`` (the significant differences, Holm-adjusted over
    the horizons)."""
    n = len(tests)
    sig = tests["p_holm"] < level
    lower = tests.loc[tests["ratio"] < 1, "horizon"].astype(int).tolist()
    better = tests.loc[sig & (tests["ratio"] < 1), "horizon"].astype(int).tolist()
    worse = tests.loc[sig & (tests["ratio"] > 1), "horizon"].astype(int).tolist()
    holm_ = f"after Holm's adjustment over the {n} horizons"
    if not lower:
        low = "at no horizon"
    else:
        low = "at " + _horizon_list(lower)
        sig_low = [h for h in lower if h in better]
        if not sig_low:
            low += (", but by the primary two-way bootstrap test none of "
                    + ("these differences" if len(lower) > 1 else "this difference")
                    + f" is significant at the {100 * level:g}% level {holm_}")
        elif len(sig_low) < len(lower):
            low += (f", significantly ({holm_}) only at {_horizon_list(sig_low)}")
        else:
            low += f", significantly at each ({holm_})"
    if len(better) == n:
        answer = f"the best LSTM beats the best baseline significantly at every horizon ({holm_})"
    elif better:
        answer = (f"the best LSTM beats the best baseline significantly at "
                  f"{_horizon_list(better)} ({holm_}), not at the other horizons")
    else:
        answer = (f"the best LSTM beats the best baseline significantly at no horizon ({holm_})")
    if worse:
        answer += f"; it is significantly worse at {_horizon_list(worse)}"
    return {"lower": low, "answer": answer, "n_better": str(len(better)),
            "n_worse": str(len(worse))}


def coverage_verdict(cov: pd.DataFrame, models: list[str]) -> dict[str, str]:
    """Words for :func:`intervals_coverage` of ``models`` against the declared goal (coverage
    within :data:`COVERAGE_TOLERANCE` of nominal at every horizon): ``ok`` and ``n`` (cases
    within), ``goal`` ("meet" / "do not meet") and ``words`` (which cases miss it)."""
    c = cov[cov["model"].isin(models)]
    ok = (c["coverage"] - c["level"]).abs() <= COVERAGE_TOLERANCE + 1e-12
    pts = f"{100 * COVERAGE_TOLERANCE:g} points"
    if ok.all():
        words = (f"all {len(c)} (model, horizon, level) cases are within {pts} of nominal, "
                 "so the goal (every horizon within " + pts + ") is met")
    else:
        miss = []
        for (m, lv), g in c[~ok].groupby(["model", "level"], sort=False):
            hs = _horizon_list(sorted(g["horizon"].astype(int)))
            miss.append(f"{prose(m)} at {100 * lv:.0f}%: {hs}")
        words = (f"{int(ok.sum())} of the {len(c)} (model, horizon, level) cases are within "
                 f"{pts} of nominal, so the goal (every horizon within {pts}) is missed ("
                 + "; ".join(miss) + ")")
    return {"ok": fmt_int(int(ok.sum())), "n": fmt_int(len(c)),
            "goal": "meet" if ok.all() else "do not meet", "words": words}


def concentration_words(c: dict | pd.Series) -> str:
    """How a model's net reduction of absolute error over the best baseline is spread over
    the videos (a row of :func:`concentration_table`; shares above 100% mean the other
    videos lose)."""
    if c["gain"] <= 0:
        return ("there is no net reduction of absolute error to share out: summed over the test "
                "videos the LSTM's absolute errors are larger")
    s5, s1, n1 = c["share_top5"], c["share_top1pct"], int(c["n_top1pct"])
    if n1 == 5:                      # the same five videos: one share, said once
        words = (f"the {n1} videos with the largest reductions, the top 1% of the "
                 f"{fmt_int(c['n_videos'])} test videos, contribute {fmt_pct(s5)} of the net "
                 "reduction")
    else:
        words = (f"the 5 videos with the largest reductions contribute {fmt_pct(s5)} of the net "
                 f"reduction and the top 1% ({fmt_int(n1)} of {fmt_int(c['n_videos'])} "
                 f"test videos) {fmt_pct(s1)}")
    top = max(s5, s1)
    if top > 1:
        words += (": more than the whole net reduction, so the other videos together lose "
                  f"{fmt_pct(1 - 1 / top, 0)} of what those few gain")
    return words


def interval_display(ci: pd.DataFrame) -> pd.DataFrame:
    """A compact results table: each metric with its 95% interval in one column, the model
    and the headline ratio (MAE over the best baseline's) first."""
    def span(col: str, fmt_: str) -> pd.Series:
        return ci.apply(lambda r: f"{r[col]:{fmt_}} [{r[col + '_lo']:{fmt_}} – {r[col + '_hi']:{fmt_}}]",
                        axis=1)

    return pd.DataFrame({
        "model": ci["model"].map(label),
        "MAE / best baseline's [95% CI]": span("vs_reference", ".3f"),
        "relative MAE [95% CI]": span("rel_mae", ".3f"),
        "MAE (views) [95% CI]": span("mae", ",.0f"),
        "MAPE (%)": ci["mape"].map(lambda v: f"{v:.2f}"),
    })


#: A missing value in a shown table (every caption of a table that has one says why).
DASH = "–"
#: Table headers in words, with units, for the column names of the CSV tables. A column a
#: chapter shows must be here (the book's proofreading tests reject underscores in headers).
COLUMN_LABELS = {
    # models and designs
    "model": "model", "family": "family", "lstm": "LSTM", "baseline": "baseline",
    "reference": "reference", "design": "design", "group": "group", "split": "split",
    "primary": "chosen on validation", "chosen": "chosen", "config": "configuration",
    "grid_size": "configurations in the grid", "init": "initialisation", "form": "form",
    # counts and dates
    "n_windows": "windows", "n_videos": "videos", "n_test": "test windows",
    "n_validation": "validation windows, all origins", "n_seeds": "seeds",
    "n_validation_first": "validation windows, first origin", "windows": "windows",
    "videos": "videos", "part": "part", "first_target_date": "first target date",
    "last_target_date": "last target date", "trending_dates": "trending dates",
    "origin": "origin", "train_last": "last training date",
    "validation_first": "first validation date", "validation_last": "last validation date",
    "test_first": "first test date", "test_last": "last test date",
    "n_train_dates": "training dates", "n_validation_dates": "validation dates",
    "n_test_dates": "test dates", "n_train_windows": "training windows",
    "n_validation_windows": "validation windows", "n_test_windows": "test windows",
    "n_test_videos": "test videos", "horizon": "horizon (days after day 7)",
    "cluster": "cluster", "k": "clusters (k)", "trained": "own networks",
    "post_hoc": "post hoc", "seed": "seed", "stage": "stage",
    # errors (views) and ratios
    "mae": "MAE (views)", "rmse": "RMSE (views)", "mape": "MAPE (%)",
    "rel_mae": "relative MAE (to naive)", "gmrae": "GMRAE",
    "val_mae": "validation MAE (views)", "val_rel_mae": "validation relative MAE (to naive)",
    "val_mean_rel_mae": "validation relative MAE, mean over horizons",
    "mae_lstm": "MAE of the LSTM (views)", "mae_baseline": "MAE of the baseline (views)",
    "mae_a": "MAE per cluster (views)", "mae_b": "MAE global (views)",
    "ratio": "ratio of MAEs", "ratio_lo": "ratio, 95% interval from",
    "ratio_hi": "ratio, 95% interval to", "mae_diff": "MAE difference (views)",
    "mean_diff": "MAE difference (views)", "diff_lo": "difference, 95% interval from (views)",
    "diff_hi": "difference, 95% interval to (views)", "p_value": "p-value",
    "p_holm": "p-value, Holm-adjusted", "dm_p_value": "Diebold-Mariano p-value",
    "test_mae": "test MAE (views)", "test_rel_mae": "test relative MAE (to naive)",
    # training
    "best_epoch": "best epoch", "epochs_run": "epochs run", "seconds": "seconds",
    "minutes": "minutes", "best_val_loss": "best validation loss",
    "initial_val_loss": "initial validation loss",
    # intervals
    "level": "nominal level", "coverage": "coverage", "mean_width": "mean width (views)",
    "interval_score": "interval score (views)",
    "method": "interval method", "max_gap_horizon": "largest gap from nominal, by horizon",
    "max_gap_origin": "largest gap from nominal, by origin",
    "score_vs_v2": "interval score / version 2's", "horizons_met": "horizon target met",
    "origins_met": "origin target met", "score_met": "score target met",
    "miss_below": "share below", "miss_above": "share above",
    # clusters and importance
    "mae_increase_mean": "MAE increase (%)", "mae_increase_std": "std over seeds (%)",
    # reproducibility
    "sha256": "SHA-256", "peak_rss_mib": "peak memory (MiB)",
}
#: Columns whose cells are model names, shown by their labels.
MODEL_COLUMNS = ("model", "lstm", "baseline", "reference", "family")
#: Columns of p-values ("< 0.001" rather than "0.000").
P_COLUMNS = ("p_value", "p_holm", "dm_p_value")
#: The splits as a table cell says them.
SPLIT_LABELS = {"test": "test (chronological)", "video_test": "test (split by video)",
                "validation": "validation", "video_validation": "validation (split by video)",
                "train": "training", "horizon_test": "test (horizons)",
                "horizon_validation": "validation (horizons)"}


def header(column: str) -> str:
    """A column's header in words (:data:`COLUMN_LABELS`), else the name as given."""
    return COLUMN_LABELS.get(column, column)


#: How a configuration's values read in words.
LOSS_WORDS = {"mse": "MSE", "mae": "MAE", "mae_scaled": "MAE weighted by scale",
              "squared": "squared", "absolute": "absolute",
              "absolute_scaled": "absolute weighted by scale"}


def config_words(params: dict | str) -> str:
    """A chosen configuration in words ("target drift, MSE loss, 32 units"), not JSON."""
    p = json.loads(params) if isinstance(params, str) else dict(params)
    out = []
    if "target" in p:
        out.append(f"target {p['target']}")
    if "inputs" in p:
        out.append(f"{p['inputs']} inputs")
    if "loss" in p:
        out.append(f"{LOSS_WORDS.get(p['loss'], p['loss'])} loss")
    if "units" in p:
        out.append(f"{p['units']} units")
    if "max_leaf_nodes" in p:
        out.append(f"{p['max_leaf_nodes']} leaves per tree")
    if "k" in p:
        out.append("the last daily increment" if int(p["k"]) == 1 else
                   f"{p.get('stat', 'mean')} of the last {p['k']} daily increments")
    if "damping" in p:
        out.append(f"damping {p['damping']:g}")
    rest = [k for k in p if k not in ("target", "inputs", "loss", "units", "max_leaf_nodes",
                                      "k", "stat", "damping")]
    out += [f"{k.replace('_', ' ')} {p[k]}" for k in rest]
    return ", ".join(out)


def config_table(config) -> pd.DataFrame:
    """The study's configuration, one row per field, without the fields the study does not
    use as given (``units``, ``loss``, ``target``: every network chooses its own on
    validation, see :func:`chosen_table`)."""
    rows = [{"field": k, "value": ", ".join(map(str, v)) if isinstance(v, (list, tuple))
             else str(v)}
            for k, v in config.to_dict().items() if k not in CHOSEN_ON_VALIDATION]
    return pd.DataFrame(rows)


#: Fields of :class:`~ytlstm.config.StudyConfig` that the study replaces by each family's
#: choice on validation (their values are only the Python API's defaults).
CHOSEN_ON_VALIDATION = ("units", "loss", "target")


def show_table(df: pd.DataFrame, floatfmt: dict | None = None):
    """A pandas Styler for a chapter: no index, readable number formats, headers in words
    (:data:`COLUMN_LABELS`), model names as labels and a dash for a missing value.
    ``floatfmt`` is keyed by the column names of ``df``."""
    df = df.copy()
    fmts = {}
    for c in df.columns:
        text = not pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
        if c in MODEL_COLUMNS and text:
            df[c] = df[c].map(lambda m: label(m) if isinstance(m, str) else m)
        if c == "split" and text:
            df[c] = df[c].map(lambda v: SPLIT_LABELS.get(v, v))
        if pd.api.types.is_bool_dtype(df[c]):
            df[c] = df[c].map({True: "yes", False: "no"})
        elif pd.api.types.is_integer_dtype(df[c]):
            fmts[c] = "{:,}"
        elif c in P_COLUMNS:
            fmts[c] = fmt_p_cell
        elif pd.api.types.is_float_dtype(df[c]):
            fmts[c] = "{:,.3f}"
    fmts.update(floatfmt or {})
    names = {c: header(c) for c in df.columns}
    fmts = {names.get(c, c): f for c, f in fmts.items()}
    return (df.rename(columns=names).style.format(fmts, na_rep=DASH, escape="html")
            .hide(axis="index"))          # a missing value (e.g. a one-seed std) as a dash

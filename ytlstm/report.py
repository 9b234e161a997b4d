"""Tables of results (also written as CSV) and the helpers the book's chapters use.

Every table a chapter shows is built here from a :class:`~ytlstm.study.Study`, and
:func:`write_results` writes all of them under ``_build/results/`` (``metrics.csv`` has one
row per (model, split)).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ytlstm.evaluate import bootstrap_metrics, diebold_mariano, mae, paired_bootstrap, point_metrics

#: Display order and labels of every model.
MODEL_LABELS = {
    "naive": "Naive (persistence)",
    "drift": "Drift",
    "szabo_huberman": "Szabo-Huberman scaling",
    "linear_ar": "Linear autoregression",
    "gbm_multivariate": "Gradient boosting (multivariate)",
    "lstm_univariate": "LSTM univariate",
    "lstm_multivariate": "LSTM multivariate",
    "lstm_cluster": "LSTM per cluster",
    "lstm_transfer": "LSTM multivariate, transfer",
}
BASELINES = ("naive", "drift", "szabo_huberman", "linear_ar", "gbm_multivariate")


def label(model: str) -> str:
    return MODEL_LABELS.get(model, model)


def _order(models) -> list[str]:
    """Model names in display order (``models`` may be any iterable, e.g. a Series' values)."""
    models = list(models)
    known = [m for m in MODEL_LABELS if m in models]
    return known + sorted(m for m in models if m not in MODEL_LABELS)


# --------------------------------------------------------------------------- metrics

def metrics_table(study) -> pd.DataFrame:
    """One row per (model, split): train, validation, test (chronological), video_test.

    Neural models are scored as seed ensembles; ``*_seed_mean`` and ``*_seed_std`` give the
    spread of the individual seeds.
    """
    rows = []
    w = study.windows
    for kind, parts in (("chronological", ("train", "validation", "test")),
                        ("video", ("test",))):
        split = study.splits[kind]
        preds = study.predictions(kind)
        seeds = {n: r.preds for n, r in study.neural.get(kind, {}).items()}
        for part in parts:
            m = split.mask(part)
            y, naive = w.y[m], preds["naive"][m]
            name_split = "video_test" if kind == "video" else part
            for model in _order(preds):
                row = {"model": model, "split": name_split, "n_windows": int(m.sum()),
                       **point_metrics(y, preds[model][m], naive)}
                if model in seeds:
                    per = [point_metrics(y, p[m], naive) for p in seeds[model]]
                    row["n_seeds"] = len(per)
                    for k in ("mae", "rmse", "mape", "rel_mae"):
                        vals = np.array([d[k] for d in per])
                        row[f"{k}_seed_mean"] = vals.mean()
                        row[f"{k}_seed_std"] = vals.std(ddof=1) if len(vals) > 1 else 0.0
                else:
                    row["n_seeds"] = 0
                rows.append(row)
    return pd.DataFrame(rows)


def intervals_table(study, kind: str = "chronological") -> pd.DataFrame:
    """Point metrics with 95% bootstrap intervals (resampling videos) on the test windows."""
    w, split = study.windows, study.splits[kind]
    m = split.mask("test")
    preds = {k: v[m] for k, v in study.predictions(kind).items()}
    point = pd.DataFrame([{"model": k, **point_metrics(w.y[m], v, preds["naive"])}
                          for k, v in preds.items()])
    ci = bootstrap_metrics(w.y[m], preds, preds["naive"], w.video_id[m],
                           study.config.bootstrap_reps, study.config.bootstrap_seed)
    out = point.merge(ci, on="model")
    out.insert(1, "split", "video_test" if kind == "video" else "test")
    return out.set_index("model").loc[_order(out["model"])].reset_index()


def best_by_validation(study, candidates, kind: str = "chronological") -> str:
    """The candidate with the lowest MAE on the validation windows of split ``kind``."""
    w, split = study.windows, study.splits[kind]
    m = split.mask("validation")
    preds = study.predictions(kind)
    return min(candidates, key=lambda k: mae(w.y[m], preds[k][m]))


def comparison_test(study, kind: str = "chronological") -> dict:
    """The best LSTM against the best baseline (both chosen on validation), on test.

    Diebold-Mariano on the per-date mean absolute-error differential, and a paired
    bootstrap over videos of the MAE difference.
    """
    preds = study.predictions(kind)
    lstms = [k for k in preds if k.startswith("lstm")]
    bases = [k for k in preds if k in BASELINES]
    best_lstm = best_by_validation(study, lstms, kind)
    best_base = best_by_validation(study, bases, kind)
    w, split = study.windows, study.splits[kind]
    m = split.mask("test")
    y = w.y[m]
    la, lb = np.abs(y - preds[best_lstm][m]), np.abs(y - preds[best_base][m])
    dm = diebold_mariano(la, lb, w.target_date[m])
    pb = paired_bootstrap(y, preds[best_lstm][m], preds[best_base][m], w.video_id[m],
                          study.config.bootstrap_reps, study.config.bootstrap_seed)
    return {"split": "video_test" if kind == "video" else "test", "lstm": best_lstm,
            "baseline": best_base, "mae_lstm": float(la.mean()), "mae_baseline": float(lb.mean()),
            "dm_stat": dm["dm_stat"], "dm_p_value": dm["p_value"], "dm_n_dates": dm["n_dates"],
            "bootstrap_mae_diff": pb["mae_diff"], "bootstrap_diff_lo": pb["diff_lo"],
            "bootstrap_diff_hi": pb["diff_hi"], "bootstrap_p_value": pb["p_value"],
            "lstm_better": bool(la.mean() < lb.mean())}


def training_table(study) -> pd.DataFrame:
    """Per seed: epochs run, best epoch, best validation loss, seconds."""
    frames = [r.training_table() for kind in study.neural.values() for r in kind.values()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def split_table(study) -> pd.DataFrame:
    """The chronological split: dates and window counts per part."""
    s = study.splits["chronological"]
    i, c = s.info, s.counts()
    return pd.DataFrame([
        {"part": p, "first_target_date": i[f"{p}_first"], "last_target_date": i[f"{p}_last"],
         "trending_dates": i[f"n_{p}_dates"], "windows": c[p],
         "videos": int(pd.unique(study.windows.video_id[s.mask(p)]).size)}
        for p in ("train", "validation", "test")])


def timings_table(study) -> pd.DataFrame:
    return pd.DataFrame([{"stage": k, "seconds": v} for k, v in study.timings.items()])


# --------------------------------------------------------------------------- writing

def all_tables(study) -> dict[str, pd.DataFrame]:
    tables = {
        "metrics": metrics_table(study),
        "cleaning": study.dataset.report.table(),
        "split": split_table(study),
        "tuning": study.tuning,
        "training": training_table(study),
        "intervals_test": intervals_table(study, "chronological"),
        "intervals_video_test": intervals_table(study, "video"),
        "paired_test": pd.DataFrame([comparison_test(study, "chronological"),
                                     comparison_test(study, "video")]),
        "timings": timings_table(study),
        "transfer": transfer_table(study),
    }
    if study.importance is not None:
        tables["importance"] = study.importance
    if study.clusters is not None:
        tables.update(study.clusters.tables(study))
    return tables


def write_results(study, out: str | Path) -> list[Path]:
    """Write every table as CSV under ``out``; returns the paths."""
    from ytlstm.cache import atomic_write_text

    out = Path(out)
    written = []
    for name, table in all_tables(study).items():
        path = out / f"{name}.csv"
        atomic_write_text(path, table.to_csv(index=False))
        written.append(path)
    return written


# --------------------------------------------------------------------------- chapters

def repo_root(start: str | Path | None = None) -> Path:
    """The folder holding ``_config.yml`` (the book's root), from ``start`` upwards."""
    p = Path(start or os.getcwd()).resolve()
    for q in (p, *p.parents):
        if (q / "_config.yml").exists() and (q / "ytlstm").is_dir():
            return q
    return p


@lru_cache(maxsize=1)
def chapter_study():
    """Set up a chapter: work from the repository root, load the study, set the plot style.

    The study comes from the result cache (``make book`` has usually filled it); anything
    missing is computed now. The CSV tables are written under ``_build/results``.
    """
    os.chdir(repo_root())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from ytlstm import plots
    from ytlstm.study import run_study

    plots.set_style()
    study = run_study(verbose=False, results_dir=Path("_build") / "results")
    return study


def fmt_int(x) -> str:
    return f"{int(round(float(x))):,}"


def fmt(x, digits: int = 3) -> str:
    return f"{float(x):.{digits}f}"


def fmt_pct(x, digits: int = 1) -> str:
    return f"{100 * float(x):.{digits}f}%"


def fmt_p(p: float) -> str:
    """A p-value with its relation, for prose like "p {fmt_p(p)}": "= 0.095" or "< 0.001"."""
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def glue_text(name: str, text: str) -> None:
    """Glue a piece of prose (Markdown) for ``{glue:md}`name``` in a chapter."""
    from IPython.display import Markdown
    from myst_nb import glue

    glue(name, Markdown(str(text)), display=False)


def glue_all(values: dict[str, str]) -> None:
    for k, v in values.items():
        glue_text(k, v)


def show_table(df: pd.DataFrame, floatfmt: dict | None = None):
    """A pandas Styler with readable number formats and no index, for display in a chapter."""
    fmts = {}
    for c in df.columns:
        if pd.api.types.is_integer_dtype(df[c]):
            fmts[c] = "{:,}"
        elif pd.api.types.is_float_dtype(df[c]):
            fmts[c] = "{:,.3f}"
    fmts.update(floatfmt or {})
    return df.style.format(fmts).hide(axis="index")


def transfer_table(study) -> pd.DataFrame:
    """Transfer vs random initialisation of the multivariate LSTM, per seed."""
    w, split = study.windows, study.splits["chronological"]
    m = split.mask("test")
    naive_mae = mae(w.y[m], w.views[m, -1])
    rows = []
    for init, name in (("transfer", "lstm_transfer"), ("random", "lstm_multivariate")):
        for r in study.neural["chronological"][name].runs:
            mae_ = mae(w.y[m], r.pred[m])
            rows.append({"init": init, "seed": r.seed, "best_epoch": r.best_epoch,
                         "epochs_run": r.epochs_run, "seconds": r.seconds,
                         "best_val_loss": min(r.val_loss), "test_mae": mae_,
                         "test_rel_mae": mae_ / naive_mae})
    return pd.DataFrame(rows)


def verdict(test: dict, level: float = 0.05) -> dict[str, str]:
    """Plain words for a :func:`comparison_test` result.

    ``verb``: how the LSTM compares ("beats", "has a lower MAE than", "does not beat");
    ``significance``: what the two paired tests say, including when they disagree.
    The Diebold-Mariano test on per-date losses is the primary test (PROTOCOL section 7);
    the paired bootstrap over videos is reported beside it.
    """
    dm, pb = test["dm_p_value"] < level, test["bootstrap_p_value"] < level
    pct = f"{100 * level:g}%"
    if not test["lstm_better"]:
        verb = "does not beat"
    else:
        verb = "beats" if dm else "has a lower MAE than"
    if dm and pb:
        sig = f"and both paired tests find the difference significant at the {pct} level"
    elif not dm and not pb:
        sig = f"but neither paired test finds the difference significant at the {pct} level"
    elif pb:
        sig = (f"but the difference is significant at the {pct} level only by the paired "
               "bootstrap over videos, not by the Diebold-Mariano test on per-date losses, which "
               "also allows for errors shared by all videos on the same date")
    else:
        sig = (f"significant at the {pct} level by the Diebold-Mariano test but not by the "
               "paired bootstrap over videos")
    return {"verb": verb, "significance": sig}


def interval_display(ci: pd.DataFrame) -> pd.DataFrame:
    """A compact results table: each metric with its 95% interval in one column."""
    def span(col: str, fmt_: str) -> pd.Series:
        return ci.apply(lambda r: f"{r[col]:{fmt_}} [{r[col + '_lo']:{fmt_}} – {r[col + '_hi']:{fmt_}}]",
                        axis=1)

    return pd.DataFrame({
        "model": ci["model"].map(label),
        "MAE (views) [95% CI]": span("mae", ",.0f"),
        "RMSE (views)": ci["rmse"].map(lambda v: f"{v:,.0f}"),
        "MAPE (%)": ci["mape"].map(lambda v: f"{v:.2f}"),
        "relative MAE [95% CI]": span("rel_mae", ".3f"),
    })

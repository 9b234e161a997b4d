"""The study's forecasts as one long table (protocol v2, item 4), in the shape of Nixtla's
``cross_validation`` output: one row per (model, split, origin, window).

Splits: ``test`` (each chronological block forecast by the models of its own origin),
``validation`` (each origin's models on its own early-stopping windows; the first origin's are
where every choice is made), ``train`` (the first origin's models on its training windows) and
``video_test`` and ``video_validation`` (the split by video). These rows forecast day 8
(``horizon`` 1). The horizon study (:mod:`ytlstm.horizons`) adds ``horizon_test`` and
``horizon_validation`` rows, one per model, origin, window and horizon 1..7, with the bounds of
its forecast intervals (``lower_80``, ``upper_80``, ``lower_95``, ``upper_95``; empty on the
day-8 rows). ``scale`` is the window's MASE scale (protocol v3, item 12:
:func:`ytlstm.evaluate.mase_scale`), ``y_last`` its last input day's views (day 7: the lower
end of every interval). The quantile peer of the intervals (protocol v3, item 22) adds the
columns ``qlo_80``, ``qhi_80``, ``qlo_95``, ``qhi_95`` on the horizon rows of ``gbm``. Every metric, table, test and figure is computed from this table
(:mod:`ytlstm.report`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ytlstm.evaluate import mase_scale
from ytlstm.families import LSTM_FAMILIES

COLUMNS = ("model", "split", "origin", "window", "horizon", "video_id", "target_date", "run_day",
           "y_true", "y_pred", "scale", "y_last")
#: The columns of a wide table that describe the window, not a model's forecast.
FACTS = ("origin", "video_id", "target_date", "run_day", "y_true", "scale", "y_last")


def _rows(study, origin, split: str, idx: np.ndarray, seeds: bool) -> list[pd.DataFrame]:
    w = study.windows
    out = []
    base = {"split": split, "origin": origin.name, "window": idx,
            "video_id": w.video_id[idx], "target_date": w.target_date[idx],
            "run_day": w.target_day[idx] if w.target_day is not None else -1,
            "y_true": w.y[idx]}
    for model, fitted in study.fits[origin.name].items():
        if not seeds:
            out.append(pd.DataFrame({"model": model, **base, "y_pred": fitted.ensemble[idx]}))
        elif _is_network(model, fitted):
            for i, s in enumerate(_seeds(study, fitted)):
                out.append(pd.DataFrame({"model": model, **base, "seed": s,
                                         "y_pred": fitted.preds[i, idx]}))
    return out


def _is_network(model: str, fitted) -> bool:
    """A seed ensemble of networks (one seed or several), not a baseline."""
    return bool(fitted.runs) or model in LSTM_FAMILIES


def _seeds(study, fitted) -> list[int]:
    return fitted.seeds or list(study.config.seeds)[:len(fitted.preds)]


def predictions_table(study, seeds: bool = False) -> pd.DataFrame:
    """The long table of forecasts (seed ensembles; ``seeds=True``: one row per seed of the
    day-8 networks, whatever their number of seeds, one included)."""
    frames: list[pd.DataFrame] = []
    chrono = study.chronological_origins
    for o in chrono:
        frames += _rows(study, o, "test", o.test, seeds)
    first = chrono[0]
    frames += _rows(study, first, "train", first.train, seeds)
    for o in chrono:     # each origin's early-stopping windows (the first: model choice)
        frames += _rows(study, o, "validation", o.validation, seeds)
    for o in study.origins:
        if o.split == "video":
            frames += _rows(study, o, "video_test", o.test, seeds)
            frames += _rows(study, o, "video_validation", o.validation, seeds)
    df = pd.concat(frames, ignore_index=True)
    df.insert(4, "horizon", 1)
    hz = getattr(study, "horizons", None)
    if hz is not None and not seeds:
        df = pd.concat([df, hz.table], ignore_index=True)
    df["target_date"] = pd.to_datetime(df["target_date"])
    df["scale"] = mase_scale(study.windows.views)[df["window"].to_numpy()]
    df["y_last"] = study.windows.views[df["window"].to_numpy(), -1]
    return df


def wide(pred: pd.DataFrame, split: str, origin: str | None = None,
         horizon: int | None = None, values: str = "y_pred") -> pd.DataFrame:
    """One split (of one origin, at one horizon) as a wide table: one row per window, one
    column per model (``values``: the forecast, or e.g. an interval bound)."""
    p = pred[pred["split"] == split]
    if horizon is not None:
        p = p[p["horizon"] == horizon]
    if origin is not None:
        p = p[p["origin"] == origin]
    facts = p.drop_duplicates("window").set_index("window")[
        [c for c in FACTS if c in p.columns]]
    models = p.pivot(index="window", columns="model", values=values)
    return facts.join(models).sort_values(["target_date", "video_id"])

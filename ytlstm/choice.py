"""The study's choices read off the predictions table: the first origin, validation scores, and
the best baseline and the best LSTM (on day 8 and at horizons), each chosen on validation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ytlstm.evaluate import mae
from ytlstm.families import LSTM_FAMILIES
from ytlstm.names import BASELINES, HORIZON_LSTMS, order
from ytlstm.predictions import FACTS, wide


def first_origin(pred: pd.DataFrame) -> str:
    """The first chronological origin (where every choice is made)."""
    return sorted(pred.loc[pred["split"] == "test", "origin"].unique())[0]


def model_columns(wt: pd.DataFrame) -> list[str]:
    """The model columns of a wide table (:func:`ytlstm.predictions.wide`)."""
    return [c for c in wt.columns if c not in FACTS]


def validation_scores(pred: pd.DataFrame, origin: str | None = None,
                      split: str = "validation") -> pd.Series:
    """Validation MAE of every model at one origin (default: the first, where choices are made)."""
    p = pred[pred["split"] == split]
    origin = origin or first_origin(pred)
    wt = wide(p, split, origin)
    return pd.Series({m: mae(wt["y_true"], wt[m]) for m in model_columns(wt)})


def choice_table(pred: pd.DataFrame, design: str = "chronological") -> pd.DataFrame:
    """The table the best baseline and the best LSTM are chosen on: every baseline's and
    every LSTM family's validation MAE (before the first origin; for the video split, on its
    validation videos), with ``chosen`` marking the two picks (ties: the first name)."""
    scores = validation_scores(pred) if design == "chronological" else \
        video_validation_scores(pred)
    rows = []
    for group, members in (("baseline", BASELINES), ("lstm", LSTM_FAMILIES)):
        names = [m for m in order(scores.index) if m in members]
        best = min(names, key=lambda m: (scores[m], m))
        naive = scores.get("naive", np.nan)
        rows += [{"design": design, "group": group, "model": m, "val_mae": float(scores[m]),
                  "val_rel_mae": float(scores[m] / naive), "chosen": m == best} for m in names]
    return pd.DataFrame(rows)


def best_models(pred: pd.DataFrame, design: str = "chronological") -> dict[str, str]:
    """The best baseline and the best LSTM, each by validation MAE (before the first origin;
    for the video split, on its validation videos): the ``chosen`` rows of
    :func:`choice_table`."""
    t = choice_table(pred, design)
    picks = t[t["chosen"]].set_index("group")["model"]
    return {"baseline": picks["baseline"], "lstm": picks["lstm"]}


def video_validation_scores(pred: pd.DataFrame) -> pd.Series:
    return validation_scores(pred, "video", split="video_validation")


def study_horizons(pred: pd.DataFrame) -> list[int]:
    """The horizons of the horizon study in the table (empty without it)."""
    return sorted(pred.loc[pred["split"] == "horizon_test", "horizon"].unique().tolist())


def horizon_validation_scores(pred: pd.DataFrame) -> pd.DataFrame:
    """Each horizon model's relative MAE (against naive) per horizon on the first origin's
    validation windows, and the mean over horizons (the score every choice at horizons uses)."""
    origin = first_origin(pred)
    rows = {}
    for h in study_horizons(pred):
        wt = wide(pred, "horizon_validation", origin, horizon=h)
        base = mae(wt["y_true"], wt["naive"])
        rows[f"h{h}"] = {m: mae(wt["y_true"], wt[m]) / base for m in model_columns(wt)}
    out = pd.DataFrame(rows)
    out["mean"] = out.mean(axis=1)
    return out


def best_at_horizons(pred: pd.DataFrame) -> dict[str, str]:
    """The best baseline and the best LSTM of the horizon study, each by the mean over
    horizons of the validation relative MAE (first origin)."""
    s = horizon_validation_scores(pred)["mean"]
    bases = [m for m in s.index if m in BASELINES]
    lstms = [m for m in s.index if m in HORIZON_LSTMS]
    return {"baseline": min(bases, key=lambda m: (s[m], m)),
            "lstm": min(lstms, key=lambda m: (s[m], m))}

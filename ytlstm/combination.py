"""The declared combination of protocol v3 (item 17): the best LSTM and the best baseline,
averaged in log space, as rows of the predictions table.

The pair is the one the study chose on validation (:func:`ytlstm.choice.best_models` on day 8,
for the chronological and the video design; :func:`ytlstm.choice.best_at_horizons` at
horizons), so the combination has no parameter of its own; its members are refitted at every
origin, and so it is. Forecasts are combined as seeds are (:func:`ytlstm.windows.seed_ensemble`):
``expm1`` of the mean of ``log1p``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ytlstm.choice import best_at_horizons, best_models
from ytlstm.names import COMBINED
from ytlstm.windows import seed_ensemble

#: The splits of each design, and how the pair is chosen for them.
DESIGN_SPLITS = {"chronological": ("train", "validation", "test"),
                 "video": ("video_validation", "video_test"),
                 "horizons": ("horizon_validation", "horizon_test")}
INTERVAL_COLUMNS = ("lower_80", "upper_80", "lower_95", "upper_95")


def pairs(pred: pd.DataFrame) -> dict[str, dict[str, str]]:
    """The (best baseline, best LSTM) pair of each design present in ``pred``."""
    out = {}
    for design, splits in DESIGN_SPLITS.items():
        if not pred["split"].isin(splits).any():
            continue
        out[design] = best_at_horizons(pred) if design == "horizons" else \
            best_models(pred, design)
    return out


def with_combination(pred: pd.DataFrame) -> pd.DataFrame:
    """``pred`` with the combination's rows added (model :data:`ytlstm.names.COMBINED`) for
    every split, origin, window and horizon its two members forecast."""
    pred = pred[pred["model"] != COMBINED]
    frames = [pred]
    for design, pair in pairs(pred).items():
        p = pred[pred["split"].isin(DESIGN_SPLITS[design])]
        keys = ["split", "origin", "window", "horizon"]
        a = p[p["model"] == pair["lstm"]].set_index(keys)
        b = p[p["model"] == pair["baseline"]].set_index(keys)
        common = a.index.intersection(b.index)
        rows = a.loc[common].copy()
        rows["y_pred"] = seed_ensemble(np.stack([rows["y_pred"].to_numpy(),
                                                 b.loc[common, "y_pred"].to_numpy()]))
        for col in rows.columns:     # the combination has no version-2 or quantile band
            if col in INTERVAL_COLUMNS or col.startswith(("qlo_", "qhi_")):
                rows[col] = np.nan
        rows["model"] = COMBINED
        frames.append(rows.reset_index()[pred.columns])
    return pd.concat(frames, ignore_index=True)

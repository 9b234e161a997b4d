"""Which extra variables help the multivariate LSTM: permutation importance by variable group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ytlstm.config import StudyConfig
from ytlstm.windows import FeatureTransform, Windows

GROUPS = {
    "views": ("views_",),
    "likes": ("likes_",),
    "dislikes": ("dislikes_",),
    "comments": ("comment_count_",),
    "days since publication": ("age_",),
    "category": ("category_",),
    "comments/ratings disabled": ("comments_disabled", "ratings_disabled"),
}


def permutation_importance(result, windows: Windows, train_idx: np.ndarray, eval_idx: np.ndarray,
                           config: StudyConfig, repeats: int = 3, seed: int = 0) -> pd.DataFrame:
    """Increase of MAE (raw views) when one variable group is shuffled across windows.

    For every seed's network of a multivariate ``NeuralResult`` and every group, the group's
    channels are permuted (the same permutation on all 7 days of a window) ``repeats`` times
    on the ``eval_idx`` windows; the table reports the mean and standard deviation over seeds
    of ``MAE(permuted) / MAE(intact) - 1``.
    """
    from ytlstm.models import build_lstm

    train, ev = windows.subset(train_idx), windows.subset(eval_idx)
    transform = FeatureTransform(True, config.target).fit(train)
    x = transform.transform_x(ev)
    names = transform.channel_names
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(len(ev)) for _ in range(repeats)]
    groups = [(g, [i for i, n in enumerate(names) if n.startswith(prefixes)])
              for g, prefixes in GROUPS.items()]
    # every permuted copy of the inputs, stacked, so each network predicts once
    copies = [x]
    for _, cols in groups:
        for p in perms:
            xp = x.copy()
            xp[:, :, cols] = x[p][:, :, cols]
            copies.append(xp)
    stacked = np.concatenate(copies)
    model = build_lstm(config.window, transform.n_channels, config.units, config.dropout,
                       config.learning_rate, config.loss)
    rows = []
    for run in result.runs:
        model.set_weights(run.weights)
        raw = model.predict(stacked, batch_size=4096, verbose=0).reshape(len(copies), len(ev))
        maes = [float(np.mean(np.abs(ev.y - transform.to_views(ev, r)))) for r in raw]
        base = maes[0]
        for j, (group, _) in enumerate(groups):
            incr = [m / base - 1 for m in maes[1 + j * repeats:1 + (j + 1) * repeats]]
            rows.append({"seed": run.seed, "group": group, "mae_increase": float(np.mean(incr))})
    df = pd.DataFrame(rows)
    out = df.groupby("group", sort=False)["mae_increase"].agg(["mean", "std"]).reset_index()
    return out.rename(columns={"mean": "mae_increase_mean", "std": "mae_increase_std"}).sort_values(
        "mae_increase_mean", ascending=False, ignore_index=True)

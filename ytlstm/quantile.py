"""The quantile peer of the forecast intervals (protocol v3, item 22).

Gradient boosting with quantile (pinball) loss: two models per origin, horizon and level
``1 - a``, at the quantiles ``a/2`` and ``1 - a/2`` of the chosen gradient boosting
configuration's target (log views relative to its reference forecast), give a band in views.
It is conformalised later, like every model's intervals, by :mod:`ytlstm.intervals` (the
score of conformalised quantile regression). The features, their bins, the target transform,
the leaves, the learning rate and the early stopping on the origin's validation windows are
:class:`ytlstm.baselines.GradientBoosting`'s; only the loss differs (scikit-learn's
``HistGradientBoostingRegressor(loss="quantile")``).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from ytlstm.baselines import GradientBoosting
from ytlstm.windows import Windows


class QuantileGradientBoosting(GradientBoosting):
    """Gradient boosting of one quantile ``quantile`` of the target (see the module docstring).

    ``predict`` returns views of the target day at that quantile."""

    name = "gbm_quantile"

    def __init__(self, quantile: float, target: str = "growth", max_leaf_nodes: int = 31,
                 learning_rate: float = 0.05, max_iter: int = 1000, n_iter_no_change: int = 20,
                 seed: int = 0, horizon: int = 1) -> None:
        super().__init__(target=target, loss="absolute", max_leaf_nodes=max_leaf_nodes,
                         learning_rate=learning_rate, max_iter=max_iter,
                         n_iter_no_change=n_iter_no_change, seed=seed, horizon=horizon)
        if not 0.0 < float(quantile) < 1.0:
            raise ValueError(f"quantile must be between 0 and 1, not {quantile!r}")
        self.quantile = float(quantile)

    def fit(self, train: Windows, validation: Windows | None = None) -> "QuantileGradientBoosting":
        from ytlstm.baselines import bin_edges, flat_features
        from ytlstm.windows import FeatureTransform

        if validation is None:
            raise ValueError("QuantileGradientBoosting.fit needs validation windows "
                             "for early stopping")
        self.transform_ = FeatureTransform(True, self.target, horizon=int(self.horizon)).fit(train)
        self.bin_edges_ = bin_edges(flat_features(self.transform_, train))
        with threadpool_limits(limits=1, user_api="openmp"):
            self.model_ = HistGradientBoostingRegressor(
                loss="quantile", quantile=self.quantile, max_iter=self.max_iter,
                learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
                early_stopping=True, scoring="loss", n_iter_no_change=self.n_iter_no_change,
                random_state=self.seed).fit(
                    self._x(train), self.transform_.transform_y(train),
                    X_val=self._x(validation), y_val=self.transform_.transform_y(validation))
        self.n_trees_ = int(self.model_.n_iter_)
        return self


def quantile_band(chosen_gbm: dict, config, level: float, horizon: int, train: Windows,
                  validation: Windows, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
    """The two quantile models of ``level`` at ``horizon``, fitted on ``train`` (early-stopped
    on ``validation``): their forecasts of every window of ``windows`` in views, lower and
    upper (the upper at least the lower: quantile models fitted apart can cross)."""
    a = 1.0 - float(level)
    out = []
    for q in (a / 2, 1 - a / 2):
        m = QuantileGradientBoosting(q, target=chosen_gbm["target"],
                                     max_leaf_nodes=int(chosen_gbm["max_leaf_nodes"]),
                                     learning_rate=config.gbm_learning_rate,
                                     max_iter=config.gbm_max_iter, seed=config.gbm_seed,
                                     horizon=horizon).fit(train, validation)
        out.append(m.predict(windows))
    lo, hi = out
    return np.minimum(lo, hi), np.maximum(lo, hi)

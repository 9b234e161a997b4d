"""Baseline forecasters scored on the same windows as the LSTMs (protocol v2, item 2).

Every forecaster here and in :mod:`ytlstm.families` follows one interface, in scikit-learn's
style: hyperparameters in the constructor (readable with :meth:`Forecaster.get_params`),
``fit(train, validation=None)`` on :class:`~ytlstm.windows.Windows`, and ``predict(windows)``
returning views of the target day. Fitted attributes end in ``_``.
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, QuantileRegressor
from threadpoolctl import threadpool_limits

from ytlstm.windows import FeatureTransform, Windows

#: Losses the learned baselines offer: squared error, absolute error, and absolute error with
#: windows weighted by their day-7 views (a log-space error weighted so it tracks views).
BASELINE_LOSSES = ("squared", "absolute", "absolute_scaled")


def scale_weights(windows: Windows, reference: Windows) -> np.ndarray:
    """Day-7 views of ``windows`` over the mean day-7 views of ``reference`` (training) windows.

    Since ``|dy| ~ y7 |d log y|``, an absolute error in log space weighted this way
    approximates the absolute error in views.
    """
    scale = float(np.mean(reference.views[:, -1]))
    return np.asarray(windows.views[:, -1], dtype=np.float64) / max(scale, 1.0)


class Forecaster:
    """Base class: ``fit`` returns ``self``; ``predict`` returns views of day 8."""

    name = "forecaster"

    def get_params(self) -> dict:
        """The constructor's arguments (scikit-learn convention)."""
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self"}

    def fit(self, train: Windows, validation: Windows | None = None) -> "Forecaster":
        return self

    def predict(self, windows: Windows) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class Naive(Forecaster):
    """Persistence: tomorrow's views are today's, ``y8 = y7``."""

    name = "naive"

    def predict(self, windows: Windows) -> np.ndarray:
        return windows.views[:, -1].astype(np.float64)


class Drift(Forecaster):
    """The drift family: ``y8 = y7 + damping * stat(last k daily increments)``.

    ``stat`` is the mean or the median of the last ``k`` increments of views; ``k=1`` with
    ``damping=1`` is the classic drift ``y8 = y7 + (y7 - y6)``. Views never fall inside a
    window, so every increment is non-negative and so is the forecast increment.
    """

    name = "drift"

    def __init__(self, k: int = 1, stat: str = "mean", damping: float = 1.0) -> None:
        self.k = k
        self.stat = stat
        self.damping = damping

    def predict(self, windows: Windows) -> np.ndarray:
        v = np.asarray(windows.views, dtype=np.float64)
        k = min(int(self.k), v.shape[1] - 1)
        inc = np.diff(v[:, -(k + 1):], axis=1)
        if self.stat == "mean":
            step = inc.mean(axis=1)
        elif self.stat == "median":
            step = np.median(inc, axis=1)
        else:
            raise ValueError(f"unknown drift stat {self.stat!r}; expected mean or median")
        return v[:, -1] + float(self.damping) * step


class SzaboHuberman(Forecaster):
    """Constant scaling ``y8 = alpha * y7`` (Szabo & Huberman 2010).

    ``alpha`` minimises the mean relative squared error on training windows, the form used
    by Pinto, Almeida & Goncalves (2013): ``alpha = sum(r) / sum(r**2)`` with
    ``r = y7 / y8``.
    """

    name = "szabo_huberman"

    def fit(self, train: Windows, validation: Windows | None = None) -> "SzaboHuberman":
        r = train.views[:, -1] / train.y
        self.alpha_ = float(np.sum(r) / np.sum(r * r))
        return self

    def predict(self, windows: Windows) -> np.ndarray:
        return self.alpha_ * windows.views[:, -1].astype(np.float64)


class LinearAR(Forecaster):
    """Linear autoregression on the LSTMs' inputs, in a chosen target space and loss.

    From the 7 days of (scaled) channels to the scaled log target of day 8 (the linear model
    of Pinto et al. 2013, in the LSTMs' space). ``loss``: ``squared`` (least squares),
    ``absolute`` (least absolute deviations, the median regression) or ``absolute_scaled``
    (the same with windows weighted by :func:`scale_weights`).
    """

    name = "linear_ar"

    def __init__(self, target: str = "growth", inputs: str = "univariate",
                 loss: str = "squared") -> None:
        self.target = target
        self.inputs = inputs
        self.loss = loss

    def _x(self, w: Windows) -> np.ndarray:
        return self.transform_.transform_x(w).reshape(len(w), -1)

    def fit(self, train: Windows, validation: Windows | None = None) -> "LinearAR":
        if self.loss not in BASELINE_LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; expected one of {BASELINE_LOSSES}")
        self.transform_ = FeatureTransform(self.inputs == "multivariate", self.target).fit(train)
        x, y = self._x(train), self.transform_.transform_y(train)
        if self.loss == "squared":
            self.model_ = LinearRegression().fit(x, y)
        else:
            sw = scale_weights(train, train) if self.loss == "absolute_scaled" else None
            # drop constant columns (a one-hot category absent from training) for the LP
            self.keep_ = np.flatnonzero(x.std(axis=0) > 0)
            self.model_ = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(
                x[:, self.keep_], y, sample_weight=sw)
        return self

    def predict(self, windows: Windows) -> np.ndarray:
        x = self._x(windows)
        if self.loss != "squared":
            x = x[:, self.keep_]
        return self.transform_.to_views(windows, self.model_.predict(x))


class GradientBoosting(Forecaster):
    """Gradient-boosted trees on the multivariate features, early-stopped on validation.

    ``loss``: ``squared``, ``absolute`` or ``absolute_scaled`` (absolute error with windows
    weighted by :func:`scale_weights`, on training and validation windows alike). The number
    of trees (up to ``max_iter``) is chosen by early stopping on the validation windows
    (scikit-learn's ``X_val``), with ``n_iter_no_change`` rounds of patience.
    """

    name = "gbm"

    def __init__(self, target: str = "growth", loss: str = "absolute", max_leaf_nodes: int = 31,
                 learning_rate: float = 0.05, max_iter: int = 1000, n_iter_no_change: int = 20,
                 seed: int = 0) -> None:
        self.target = target
        self.loss = loss
        self.max_leaf_nodes = max_leaf_nodes
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.n_iter_no_change = n_iter_no_change
        self.seed = seed

    def _x(self, w: Windows) -> np.ndarray:
        x = self.transform_.transform_x(w)
        k = self.transform_.n_scaled
        # the time-varying channels of each day, then the static ones once
        return np.concatenate([x[:, :, :k].reshape(len(w), -1), x[:, -1, k:]], axis=1)

    def fit(self, train: Windows, validation: Windows | None = None) -> "GradientBoosting":
        if validation is None:
            raise ValueError("GradientBoosting.fit needs validation windows for early stopping")
        if self.loss not in BASELINE_LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; expected one of {BASELINE_LOSSES}")
        self.transform_ = FeatureTransform(True, self.target).fit(train)
        scaled = self.loss == "absolute_scaled"
        sw = scale_weights(train, train) if scaled else None
        sw_val = scale_weights(validation, train) if scaled else None
        # one OpenMP thread: on these small tables more threads gain little, and on a busy
        # 2-core machine OpenMP's spin-waiting made the fit about 20 times slower
        with threadpool_limits(limits=1, user_api="openmp"):
            self.model_ = HistGradientBoostingRegressor(
                loss="squared_error" if self.loss == "squared" else "absolute_error",
                max_iter=self.max_iter, learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes, early_stopping=True, scoring="loss",
                n_iter_no_change=self.n_iter_no_change, random_state=self.seed).fit(
                    self._x(train), self.transform_.transform_y(train), sample_weight=sw,
                    X_val=self._x(validation), y_val=self.transform_.transform_y(validation),
                    sample_weight_val=sw_val)
        self.n_trees_ = int(self.model_.n_iter_)
        return self

    def predict(self, windows: Windows) -> np.ndarray:
        with threadpool_limits(limits=1, user_api="openmp"):
            scaled = self.model_.predict(self._x(windows))
        return self.transform_.to_views(windows, scaled)


class Combination(Forecaster):
    """The mean, in views, of the forecasts of its members (each fitted on the same windows)."""

    name = "combination"

    def __init__(self, members: tuple[Forecaster, ...] = ()) -> None:
        self.members = tuple(members)

    def fit(self, train: Windows, validation: Windows | None = None) -> "Combination":
        for m in self.members:
            m.fit(train, validation)
        return self

    def predict(self, windows: Windows) -> np.ndarray:
        return np.mean([m.predict(windows) for m in self.members], axis=0)

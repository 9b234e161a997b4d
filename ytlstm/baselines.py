"""Baseline forecasters scored on the same windows as the LSTMs (protocol v2, item 2).

Every forecaster here and in :mod:`ytlstm.families` follows one interface, in scikit-learn's
style: hyperparameters in the constructor (readable with :meth:`Forecaster.get_params`),
``fit(train, validation=None)`` on :class:`~ytlstm.windows.Windows`, and ``predict(windows)``
returning views of the target day. Fitted attributes end in ``_``. ``horizon`` (default 1)
makes a forecaster forecast day ``7 + horizon`` (direct: fitted on that horizon's targets; give
it windows that have one, see :meth:`~ytlstm.windows.Windows.horizon_target`).
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
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
        return {k: getattr(self, k) for k, v in sig.parameters.items()
                if k != "self" and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)}

    def fit(self, train: Windows, validation: Windows | None = None) -> "Forecaster":
        return self

    def predict(self, windows: Windows) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class Naive(Forecaster):
    """Persistence: tomorrow's views are today's, ``y8 = y7`` (and ``y_{7+h} = y7``)."""

    name = "naive"

    def __init__(self, horizon: int = 1) -> None:
        self.horizon = horizon

    def predict(self, windows: Windows) -> np.ndarray:
        return windows.views[:, -1].astype(np.float64)


class Drift(Forecaster):
    """The drift family: ``y8 = y7 + damping * stat(last k daily increments)``.

    ``stat`` is the mean or the median of the last ``k`` increments of views; ``k=1`` with
    ``damping=1`` is the classic drift ``y8 = y7 + (y7 - y6)``. Views never fall inside a
    window, so every increment is non-negative and so is the forecast increment. At horizon
    ``h`` the damped trend is extended: ``y_{7+h} = y7 + stat * sum_{j=1..h} damping**j``.
    """

    name = "drift"

    def __init__(self, k: int = 1, stat: str = "mean", damping: float = 1.0,
                 horizon: int = 1) -> None:
        self.k = k
        self.stat = stat
        self.damping = damping
        self.horizon = horizon

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
        if int(self.horizon) == 1:
            return v[:, -1] + float(self.damping) * step
        factor = sum(float(self.damping) ** j for j in range(1, int(self.horizon) + 1))
        return v[:, -1] + factor * step


class SzaboHuberman(Forecaster):
    """Constant scaling ``y8 = alpha * y7`` (Szabo & Huberman 2010).

    ``alpha`` minimises the mean relative squared error on training windows, the form used
    by Pinto, Almeida & Goncalves (2013): ``alpha = sum(r) / sum(r**2)`` with
    ``r = y7 / y8``; at horizon ``h``, ``y_{7+h} = alpha_h * y7`` with its own factor.
    """

    name = "szabo_huberman"

    def __init__(self, horizon: int = 1) -> None:
        self.horizon = horizon

    def fit(self, train: Windows, validation: Windows | None = None) -> "SzaboHuberman":
        r = train.views[:, -1] / train.horizon_target(int(self.horizon))
        self.alpha_ = float(np.sum(r) / np.sum(r * r))
        return self

    def predict(self, windows: Windows) -> np.ndarray:
        return self.alpha_ * windows.views[:, -1].astype(np.float64)


class LinearAR(Forecaster):
    """Linear autoregression on the LSTMs' inputs, in a chosen target space and loss.

    From the 7 days of (scaled) channels to the scaled log target of day 8 (the linear model
    of Pinto et al. 2013, in the LSTMs' space). ``loss``: ``squared`` (least squares),
    ``absolute`` (least absolute deviations, the median regression, :func:`least_absolute`)
    or ``absolute_scaled`` (the same with windows weighted by :func:`scale_weights`).
    """

    name = "linear_ar"

    def __init__(self, target: str = "growth", inputs: str = "univariate",
                 loss: str = "squared", horizon: int = 1) -> None:
        self.target = target
        self.inputs = inputs
        self.loss = loss
        self.horizon = horizon

    def _x(self, w: Windows) -> np.ndarray:
        return flat_features(self.transform_, w)

    def fit(self, train: Windows, validation: Windows | None = None) -> "LinearAR":
        if self.loss not in BASELINE_LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; expected one of {BASELINE_LOSSES}")
        self.transform_ = FeatureTransform(self.inputs == "multivariate", self.target,
                                           horizon=int(self.horizon)).fit(train)
        x, y = self._x(train), self.transform_.transform_y(train).astype(np.float64)
        self.keep_ = np.flatnonzero(x.std(axis=0) > 0)      # e.g. day 7's relative channel
        sw = scale_weights(train, train) if self.loss == "absolute_scaled" else None
        # one BLAS thread: the iterative LAD fit stops at a tolerance, and sums taken in another
        # order by more threads move its coefficients by ~1e-6 (the same fit must give the same
        # numbers in the study, in the export and on a machine with more cores)
        with threadpool_limits(limits=1, user_api="blas"):
            if self.loss == "squared":
                self.coef_ = least_squares(x[:, self.keep_], y)
            else:
                self.coef_ = least_absolute(x[:, self.keep_], y, sw)
        return self

    def predict(self, windows: Windows) -> np.ndarray:
        x = self._x(windows)[:, self.keep_]
        with threadpool_limits(limits=1, user_api="blas"):
            scaled = self.coef_[0] + x @ self.coef_[1:]
        return self.transform_.to_views(windows, scaled)


def flat_features(transform: FeatureTransform, w: Windows) -> np.ndarray:
    """The model inputs as one row per window: each day's time-varying channels, then the
    static ones (category, flags) once."""
    x = transform.transform_x(w).astype(np.float64)
    k = transform.n_scaled
    return np.concatenate([x[:, :, :k].reshape(len(w), -1), x[:, -1, k:]], axis=1)


def _design(x: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(x)), x])


def least_squares(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Intercept and coefficients of the least-squares fit (minimum-norm when rank-deficient,
    e.g. a full set of one-hot categories beside the intercept)."""
    return np.linalg.lstsq(_design(x), y, rcond=None)[0]


def least_absolute(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None,
                   iters: int = 100, tol: float = 1e-6) -> np.ndarray:
    """Least absolute deviations (median regression) by iteratively reweighted least squares.

    Minimises ``sum(weights * |y - b0 - x @ b|)``: each step solves a weighted least-squares
    problem (normal equations, a tiny ridge for the singular one-hot block) with weights
    ``weights / max(|residual|, 1e-6)``, until the coefficients change by less than ``tol``. scikit-learn's
    ``QuantileRegressor`` solves the same problem as a linear program, but on these
    collinear inputs its HiGHS solvers took 25-40 s per fit or failed ("numerical
    difficulties"); this converges in well under a second.
    """
    a = _design(x)
    w0 = np.ones(len(y)) if weights is None else np.asarray(weights, np.float64)
    ridge = 1e-8 * np.eye(a.shape[1])      # a full one-hot set beside the intercept is singular

    def solve(wt: np.ndarray) -> np.ndarray:
        aw = a * wt[:, None]
        g = a.T @ aw
        return np.linalg.solve(g + ridge * np.trace(g) / len(g), aw.T @ y)

    beta = solve(w0)
    for _ in range(iters):
        r = np.abs(y - a @ beta)
        new = solve(w0 / np.maximum(r, 1e-6))
        done = np.max(np.abs(new - beta)) <= tol * (1.0 + np.max(np.abs(beta)))
        beta = new
        if done:
            break
    return beta


class GradientBoosting(Forecaster):
    """Gradient-boosted trees on the multivariate features, early-stopped on validation.

    ``loss``: ``squared``, ``absolute`` or ``absolute_scaled`` (absolute error with windows
    weighted by :func:`scale_weights`, on training and validation windows alike). The number
    of trees (up to ``max_iter``) is chosen by early stopping on the validation windows
    (scikit-learn's ``X_val``), with ``n_iter_no_change`` rounds of patience. Features are
    binned once on the training windows (:func:`bin_edges`), without weights.
    """

    name = "gbm"

    def __init__(self, target: str = "growth", loss: str = "absolute", max_leaf_nodes: int = 31,
                 learning_rate: float = 0.05, max_iter: int = 1000, n_iter_no_change: int = 20,
                 seed: int = 0, horizon: int = 1) -> None:
        self.target = target
        self.loss = loss
        self.max_leaf_nodes = max_leaf_nodes
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.n_iter_no_change = n_iter_no_change
        self.seed = seed
        self.horizon = horizon

    def _x(self, w: Windows) -> np.ndarray:
        return bin_codes(flat_features(self.transform_, w), self.bin_edges_)

    def fit(self, train: Windows, validation: Windows | None = None) -> "GradientBoosting":
        if validation is None:
            raise ValueError("GradientBoosting.fit needs validation windows for early stopping")
        if self.loss not in BASELINE_LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; expected one of {BASELINE_LOSSES}")
        self.transform_ = FeatureTransform(True, self.target, horizon=int(self.horizon)).fit(train)
        self.bin_edges_ = bin_edges(flat_features(self.transform_, train))
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


def bin_edges(x: np.ndarray, max_bins: int = 255) -> np.ndarray:
    """Per feature, the quantile bin thresholds scikit-learn's histogram boosting would use
    without sample weights (``averaged_inverted_cdf`` percentiles; fewer distinct values: their
    midpoints), as rows padded with ``inf``.

    The trees are fitted on the bin codes (:func:`bin_codes`), at most ``max_bins`` distinct
    values per feature, so scikit-learn keeps them as they are: the same bins with or without
    sample weights. (With weights, scikit-learn 1.9 computes weighted percentiles in Python,
    about 45 s per fit on these 96 features; this takes milliseconds.)
    """
    rows = []
    for col in x.T:
        distinct = np.unique(col)
        if len(distinct) <= max_bins:
            edges = (distinct[:-1] + distinct[1:]) / 2
        else:
            pct = np.linspace(0, 100, num=max_bins + 1)[1:-1]
            edges = np.unique(np.percentile(col, pct, method="averaged_inverted_cdf"))
        rows.append(edges)
    out = np.full((x.shape[1], max(1, max(len(r) for r in rows))), np.inf)
    for j, r in enumerate(rows):
        out[j, :len(r)] = r
    return out


def bin_codes(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of every value: ``i`` where ``edges[i-1] < x <= edges[i]``."""
    return np.stack([np.searchsorted(edges[j], x[:, j], side="left")
                     for j in range(x.shape[1])], axis=1).astype(np.float64)


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

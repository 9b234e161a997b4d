"""Baselines scored on the same windows as the LSTMs (PROTOCOL section 5).

Every forecaster here and in :mod:`ytlstm.models` follows one interface, in scikit-learn's
style: configuration in the constructor, ``fit(train, validation=None)`` on
:class:`~ytlstm.windows.Windows`, ``predict(windows)`` returning views of the target day.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from threadpoolctl import threadpool_limits

from ytlstm.windows import FeatureTransform, Windows


class Forecaster:
    """Base class: ``fit`` returns ``self``; ``predict`` returns views of day 8."""

    name = "forecaster"

    def fit(self, train: Windows, validation: Windows | None = None) -> "Forecaster":
        return self

    def predict(self, windows: Windows) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class Naive(Forecaster):
    """Persistence: tomorrow's views are today's, ``y8 = y7``."""

    name = "naive"

    def predict(self, windows: Windows) -> np.ndarray:
        return windows.views[:, -1].astype(np.float64)


class Drift(Forecaster):
    """Last increment repeated: ``y8 = y7 + (y7 - y6)``."""

    name = "drift"

    def predict(self, windows: Windows) -> np.ndarray:
        v = windows.views
        return (v[:, -1] + (v[:, -1] - v[:, -2])).astype(np.float64)


class SzaboHuberman(Forecaster):
    """Constant scaling ``y8 = alpha * y7`` (Szabo & Huberman 2010).

    ``alpha`` minimises the mean relative squared error on training windows, the form used
    by Pinto, Almeida & Goncalves (2013): ``alpha = sum(r) / sum(r**2)`` with
    ``r = y7 / y8``.
    """

    name = "szabo_huberman"

    def __init__(self) -> None:
        self.alpha_: float | None = None

    def fit(self, train: Windows, validation: Windows | None = None) -> "SzaboHuberman":
        r = train.views[:, -1] / train.y
        self.alpha_ = float(np.sum(r) / np.sum(r * r))
        return self

    def predict(self, windows: Windows) -> np.ndarray:
        return self.alpha_ * windows.views[:, -1].astype(np.float64)


class LinearAR(Forecaster):
    """Linear autoregression on the LSTMs' own inputs and target transform.

    Ordinary least squares from the 7 days of (scaled) univariate channels to the scaled log
    growth of day 8: the linear model of Pinto et al. (2013), in the LSTMs' space.
    """

    name = "linear_ar"

    def __init__(self, multivariate: bool = False, target: str = "growth") -> None:
        self.multivariate = multivariate
        self.target = target
        self.transform_: FeatureTransform | None = None
        self.model_: LinearRegression | None = None

    def fit(self, train: Windows, validation: Windows | None = None) -> "LinearAR":
        self.transform_ = FeatureTransform(self.multivariate, self.target).fit(train)
        x = self.transform_.transform_x(train).reshape(len(train), -1)
        self.model_ = LinearRegression().fit(x, self.transform_.transform_y(train))
        return self

    def predict(self, windows: Windows) -> np.ndarray:
        x = self.transform_.transform_x(windows).reshape(len(windows), -1)
        return self.transform_.to_views(windows, self.model_.predict(x))


class GradientBoosting(Forecaster):
    """Gradient-boosted trees on the multivariate features (optional baseline)."""

    name = "gbm_multivariate"

    def __init__(self, max_iter: int = 300, learning_rate: float = 0.05, seed: int = 0,
                 target: str = "growth") -> None:
        self.target = target
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.seed = seed
        self.transform_: FeatureTransform | None = None
        self.model_: HistGradientBoostingRegressor | None = None

    def _x(self, w: Windows) -> np.ndarray:
        x = self.transform_.transform_x(w)
        k = self.transform_.n_scaled
        # the time-varying channels of each day, then the static ones once
        return np.concatenate([x[:, :, :k].reshape(len(w), -1), x[:, -1, k:]], axis=1)

    def fit(self, train: Windows, validation: Windows | None = None) -> "GradientBoosting":
        self.transform_ = FeatureTransform(True, self.target).fit(train)
        # one OpenMP thread: on these small tables more threads gain little, and on a busy
        # 2-core machine OpenMP's spin-waiting made the fit about 20 times slower
        with threadpool_limits(limits=1, user_api="openmp"):
            self.model_ = HistGradientBoostingRegressor(
                max_iter=self.max_iter, learning_rate=self.learning_rate, early_stopping=False,
                random_state=self.seed).fit(self._x(train), self.transform_.transform_y(train))
        return self

    def predict(self, windows: Windows) -> np.ndarray:
        with threadpool_limits(limits=1, user_api="openmp"):
            scaled = self.model_.predict(self._x(windows))
        return self.transform_.to_views(windows, scaled)


def all_baselines(gbm_seed: int = 0, target: str = "growth") -> list[Forecaster]:
    """The baselines of PROTOCOL section 5, in the order tables show them.

    The linear and tree models learn in the same target space as the LSTMs.
    """
    return [Naive(), Drift(), SzaboHuberman(), LinearAR(target=target),
            GradientBoosting(seed=gbm_seed, target=target)]

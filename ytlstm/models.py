"""LSTM forecasters (Keras 3 on TensorFlow), with the same fit/predict interface as the baselines.

One small network: an LSTM layer over the 7 input days and a dense output giving the scaled
log growth of day 8. Training uses Adam, mini-batches in a fixed order per seed, and
EarlyStopping on validation loss with the best weights restored. Seeds are set with
``keras.utils.set_random_seed`` and TensorFlow's deterministic ops are on, so one seed gives
the same predictions every time on the same machine.

This is the plain Keras path (``model.fit`` per network): the reference that ``make bench``
times, and the API for one network. The study trains its networks with the engine
(:mod:`ytlstm.engine`, through :func:`ytlstm.training.run_tasks`), which starts each network
from the same ``build_lstm`` initial weights and returns weights in the same layout.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from ytlstm.baselines import Forecaster
from ytlstm.config import StudyConfig
from ytlstm.windows import FeatureTransform, Windows

# Quiet TensorFlow's C++ logging, and keep oneDNN's reordered float sums out of the results.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _keras():
    """Import Keras (and TensorFlow) on first use, with deterministic ops."""
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    tf.config.experimental.enable_op_determinism()
    return keras


def build_lstm(n_steps: int, n_features: int, units: int = 32, dropout: float = 0.0,
               learning_rate: float = 1e-3, loss: str = "mse", n_outputs: int = 1):
    """A compiled ``Input -> LSTM(units) -> Dense(n_outputs)`` network (one output per
    forecast horizon; one by default)."""
    keras = _keras()
    model = keras.Sequential([
        keras.Input(shape=(n_steps, n_features)),
        keras.layers.LSTM(units, dropout=dropout, name="lstm"),
        keras.layers.Dense(n_outputs, name="out"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    return model


@dataclass
class TrainingLog:
    """What one training run did."""

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0            # 1-based epoch whose weights were kept
    epochs_run: int = 0
    seconds: float = 0.0


def fit_network(model, x, y, x_val, y_val, config: StudyConfig, seed: int,
                max_epochs: int | None = None, sample_weight=None, val_weight=None) -> TrainingLog:
    """Train with EarlyStopping (best weights restored); returns the log.

    ``sample_weight`` / ``val_weight`` weight the training / validation windows' losses."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                         restore_best_weights=True)
    start = time.perf_counter()
    val = (x_val, y_val) if val_weight is None else (x_val, y_val, np.asarray(val_weight, "float32"))
    sw = None if sample_weight is None else np.asarray(sample_weight, "float32")
    hist = model.fit(x, y, sample_weight=sw, validation_data=val, batch_size=config.batch_size,
                     epochs=max_epochs or config.max_epochs, shuffle=True, verbose=0,
                     callbacks=[stop])
    seconds = time.perf_counter() - start
    val = [float(v) for v in hist.history["val_loss"]]
    return TrainingLog(loss=[float(v) for v in hist.history["loss"]], val_loss=val,
                       best_epoch=int(np.argmin(val)) + 1, epochs_run=len(val), seconds=seconds)


class LSTMForecaster(Forecaster):
    """A univariate or multivariate LSTM forecaster for one seed.

    ``fit(train, validation)`` fits the feature transform on ``train``, builds the network
    and trains it with early stopping on ``validation``; ``predict`` returns views of day 8.
    """

    def __init__(self, config: StudyConfig | None = None, multivariate: bool = False,
                 seed: int = 0) -> None:
        self.config = config or StudyConfig()
        self.multivariate = multivariate
        self.seed = seed
        self.transform_: FeatureTransform | None = None
        self.model_ = None
        self.log_: TrainingLog | None = None

    @property
    def name(self) -> str:
        return "lstm_multivariate" if self.multivariate else "lstm_univariate"

    def build(self, transform: FeatureTransform):
        """Build (and seed) an untrained network for this transform's inputs."""
        _keras().utils.set_random_seed(self.seed)
        return build_lstm(self.config.window, transform.n_channels, self.config.units,
                          self.config.dropout, self.config.learning_rate, self.config.loss)

    def fit(self, train: Windows, validation: Windows | None = None,
            transform: FeatureTransform | None = None) -> "LSTMForecaster":
        if validation is None:
            raise ValueError("LSTMForecaster.fit needs validation windows for early stopping")
        self.transform_ = transform or FeatureTransform(self.multivariate,
                                                        self.config.target).fit(train)
        if self.model_ is None:
            self.model_ = self.build(self.transform_)
        self.log_ = fit_network(self.model_, self.transform_.transform_x(train),
                                self.transform_.transform_y(train),
                                self.transform_.transform_x(validation),
                                self.transform_.transform_y(validation), self.config, self.seed)
        return self

    def predict_scaled(self, windows: Windows) -> np.ndarray:
        """Predictions in the model's space (scaled log growth)."""
        x = self.transform_.transform_x(windows)
        return self.model_.predict(x, batch_size=4096, verbose=0).reshape(-1)

    def predict(self, windows: Windows) -> np.ndarray:
        return self.transform_.to_views(windows, self.predict_scaled(windows))

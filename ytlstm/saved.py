"""Saved models: write a fitted forecaster to a folder, load it back and predict.

A saved model is a folder holding ``metadata.json`` and the files the model needs, all of
them data, none of them code (no pickle; see :mod:`ytlstm.safeio`):

* a **baseline** (:mod:`ytlstm.baselines`): ``model.json`` (its class, constructor parameters
  and fitted attributes), ``model.npz`` (its arrays, if any) and one skops file per
  scikit-learn estimator it holds (``model.transform__x_scaler.skops``, ...);
* a **neural** model (univariate, multivariate or transfer-learned LSTM): the
  :class:`~ytlstm.windows.FeatureTransform` fitted on the training windows as
  ``transform.json`` and skops files, and one Keras file ``seed_<s>.keras`` per seed (read by
  :func:`_read_network`: Keras never deserializes it; the package builds its own Input, LSTM,
  Dense network after checking the file's ``config.json`` describes it, and gives it the
  weights read at their expected shapes, so no layer or code named in a file is used); the
  prediction is the seed ensemble ``expm1(mean over seeds of log1p(views))``, as
  :attr:`ytlstm.families.Fitted.ensemble`;
* the **per-cluster** model ``lstm_cluster``: ``metadata.json`` with the k-means centroids
  of the growth-curve shapes and one neural sub-folder per cluster (``cluster_<c>/``, or
  ``global/``, the global univariate LSTM, for the clusters too small to train).

``metadata.json`` records the model's name and kind, the window length, the input channel
names, the study's configuration and the model's chosen hyperparameters (``params``), the
data's content hash and country, the seeds, the forecast origin whose training windows
fitted it (``origin``, its dates in ``origin_info``, ``n_train_windows``) and the package
version. :func:`load_model` refuses a folder written by another major.minor
version of ytlstm, one with a file missing, and one holding any file it does not list or
whose kind is not JSON, ``.npz``, skops or ``.keras`` (e.g. a ``model.pkl``), or that is not
a regular file, with a one-line :class:`~ytlstm.errors.ModelError`, before reading any file but
``metadata.json``. Every file is then read with the limits and checks of :mod:`ytlstm.safeio`,
and every metadata number that sets a loop or an allocation (``window``, ``seeds``,
``outputs``, ``max_horizon``, ``levels``, centroids, LSTM units) is range-checked before use
(:data:`MAX_WINDOW`, :data:`MAX_SEEDS`...). Anything else a tampered folder makes fail while
loading is caught by :func:`load_model` and reported in one line naming the folder.

:func:`export_models` writes every final model of a :class:`~ytlstm.study.Study` under
``_build/models/<CC>/<model name>/``: the models of the last chronological forecast origin
(:func:`final_origin`, trained on the most data), every baseline family with its chosen
configuration and the four LSTMs, each checked to reproduce the study's forecasts of that
origin's test windows before it is written.

**Horizons and intervals** (:mod:`ytlstm.horizons`). When the study has a horizon stage, the
export also carries its models of that origin, for forecasts of day ``7 + h``, ``h = 1..H``:

* each baseline folder holds its direct model of every horizon as ``horizon_<h>.json``
  (+ ``.npz``, skops files: the same safe encoding as ``model.*``);
* two more neural folders, ``lstm_univariate_h`` and ``lstm_transfer_h``: the feature transform
  and one ``seed_<s>.keras`` per seed, either a network with one output per horizon
  (``form`` ``multi-output``) or the day-8 univariate networks run recursively, each day's
  forecast becoming the next window's day 7 (``recursive``,
  :func:`ytlstm.horizons.roll_forward`);
* every one of these folders holds ``calibration.json`` (version :data:`CALIBRATION_VERSION`,
  protocol v3's items 19, 20 and 23): the equal-tailed split-conformal bounds ``lower_z``,
  ``upper_z`` of the scaled score ``(actual - forecast) / s`` per horizon and level, from the
  study's test forecasts of that model at *every* origin
  (:func:`ytlstm.intervals.saved_calibration`), ``s`` being a window's MASE scale
  (:func:`ytlstm.evaluate.mase_scale`: the mean absolute daily increment of views over its
  input days, at least 1). The interval of a forecast ``p`` of a window with scale ``s`` and
  day-7 views ``y7`` is ``[max(p + lower_z s, y7), max(p + upper_z s, lower end)]``
  (:meth:`SavedModel.intervals`). A bound too few scores give is infinite, stored as JSON
  ``null``: a null ``lower_z`` is minus infinity (the lower end is ``y7``), a null
  ``upper_z`` plus infinity (no upper end). Version 2's calibration (``lower_q``,
  ``upper_q``: log-residual bounds from the origin's validation windows, folder format 2) is
  refused with a one-line error: re-export the models.

``metadata.json`` describes them in its ``horizons`` entry (``max_horizon``, ``form``,
``levels``, the files). A folder without that entry (an older export, a study with too few
windows beyond day 8, or a model that the horizon study does not have) forecasts day 8 only;
:meth:`SavedModel.check_horizon` says so in one line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ytlstm import safeio
from ytlstm.checks import require_windows
from ytlstm.config import StudyConfig
from ytlstm.errors import ModelError
from ytlstm.names import BASELINES, HORIZON_LSTMS
from ytlstm.outputs import BOOK_COUNTRY, MODELS_ROOT, default_models_dir

# ytlstm.baselines and ytlstm.windows (scikit-learn) are imported where they are used, so
# that importing this module (the command line does) stays cheap.
if TYPE_CHECKING:
    import pandas as pd

    from ytlstm.baselines import Forecaster
    from ytlstm.windows import FeatureTransform, Windows

#: Where ``ytlstm run`` and ``ytlstm export-models`` write the final models of the book's
#: country (US); another country's go to ``_build/models/<CC>/``
#: (:func:`ytlstm.outputs.default_models_dir`).
DEFAULT_MODELS_DIR = default_models_dir(BOOK_COUNTRY)
METADATA = "metadata.json"
#: Version of the folder layout (bumped if the layout changes). 1 held pickles; 2 holds none;
#: 3 carries version 3's interval calibration (:data:`CALIBRATION_VERSION`).
FORMAT = 3
ENSEMBLE_RULE = "expm1(mean over seeds of log1p(predicted views))"
#: Largest relative difference allowed between an exported model's forecasts of the final
#: origin's test windows and the study's (float32 networks run in another process; baselines
#: refitted here, whose iterative fits may differ in the last bits between processes).
REPRODUCE_RTOL = 1e-5
#: Neural models of the final origin that :func:`export_models` writes.
NEURAL_MODELS = ("lstm_univariate", "lstm_multivariate", "lstm_transfer", "lstm_cluster")
#: Networks of the horizon study that :func:`export_models` writes when the study has
#: horizons, and its baselines (every baseline).
HORIZON_NETWORKS = HORIZON_LSTMS
HORIZON_BASELINES = BASELINES
#: The file of a model's interval calibration (split-conformal bounds of scaled scores).
CALIBRATION = "calibration.json"
#: Version of ``calibration.json`` (protocol v3's intervals; version 2's held log-residual
#: bounds ``lower_q``, ``upper_q`` from the origin's validation windows, and is refused).
CALIBRATION_VERSION = 3
#: How a model forecasts horizons beyond 1 (``metadata.json``, ``horizons.form``).
HORIZON_FORMS = ("direct", "multi-output", "recursive")
CALIBRATION_RULE = ("equal-tailed split-conformal bounds lower_z, upper_z of the scaled score "
                    "(actual - forecast) / s over the study's test forecasts of every origin, per "
                    "horizon and level, s being the window's mean absolute daily increment of "
                    "views over its input days (at least 1); interval of a forecast p: "
                    "[max(p + lower_z * s, day 7's views), max(p + upper_z * s, lower end)]; "
                    "a null lower_z is -infinity and a null upper_z +infinity (too few scores "
                    "for the level)")


def _version() -> str:
    from ytlstm import __version__

    return __version__


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(str(version).split(".")[:2])


# --------------------------------------------------------------------------- loaded models

class SavedModel:
    """A model loaded from a folder; ``predict(windows)`` returns views of day 8."""

    kind = "model"

    def __init__(self, path: Path, metadata: dict) -> None:
        self.path = Path(path)
        self.metadata = metadata

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def window(self) -> int:
        """Number of input days."""
        return int(self.metadata["window"])

    def predict(self, windows: Windows) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    # -- horizons and intervals

    @property
    def horizon_info(self) -> dict | None:
        """The ``horizons`` entry of ``metadata.json`` (None: day 8 only)."""
        return self.metadata.get("horizons") or None

    @property
    def max_horizon(self) -> int:
        """The furthest horizon ``H`` this model forecasts (day ``7 + H``); 1 without horizon
        models."""
        info = self.horizon_info
        return int(info["max_horizon"]) if info else 1

    @property
    def levels(self) -> tuple[float, ...]:
        """Nominal coverages of the saved intervals (empty without a calibration)."""
        info = self.horizon_info
        return tuple(float(v) for v in info["levels"]) if info else ()

    def check_horizon(self, horizon: int, intervals: bool = False) -> None:
        """Raise :class:`ModelError` (one line) unless this model can forecast ``horizon``
        (with intervals if ``intervals``)."""
        horizon = int(horizon)
        if horizon < 1:
            raise ModelError(f"horizon {horizon}; expected a whole number >= 1")
        if horizon == 1 and not intervals:
            return
        asked = " ".join(["--horizon", str(horizon)] + (["--intervals"] if intervals else []))
        info = self.horizon_info
        if info is None:
            if self.name in HORIZON_BASELINES or self.name in HORIZON_NETWORKS:
                why = ("it was exported without them (an older export, or a study with too few "
                       "windows beyond day 8); re-export the models with `ytlstm export-models`")
            else:
                why = ("the horizon study has none of this model; use one of "
                       f"{', '.join(HORIZON_BASELINES + HORIZON_NETWORKS)}")
            raise ModelError(f"{self.path}: {self.name} has no horizon models or forecast "
                             f"intervals ({asked}): {why}")
        if horizon > self.max_horizon:
            raise ModelError(f"{self.path}: {self.name} has horizon models for horizons 1.."
                             f"{self.max_horizon} only (its study had too few windows further "
                             f"ahead); asked for {asked}")

    def load_horizon(self, horizon: int, intervals: bool = False) -> None:
        """:meth:`check_horizon`, then read what forecasting ``horizon`` needs (a baseline's
        ``horizon_<h>.*``), so that a broken file is found before any data is read."""
        self.check_horizon(horizon, intervals)
        if intervals:
            self.bounds(horizon)

    def predict_horizon(self, windows: Windows, horizon: int) -> np.ndarray:
        """Views of day ``7 + horizon``: the day-8 model for horizon 1, else the model of the
        horizon study at that horizon (:meth:`check_horizon` first)."""
        self.check_horizon(horizon)
        if int(horizon) == 1 and self.horizon_info is None:
            return self.predict(windows)
        return self._predict_horizon(windows, int(horizon))

    def _predict_horizon(self, windows: Windows, horizon: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def bounds(self, horizon: int) -> dict[float, tuple[float, float]]:
        """Level -> (``lower_z``, ``upper_z``), the saved scaled-score bounds of ``horizon``
        (``-inf``/``inf`` where the calibration had too few scores for the level)."""
        self.check_horizon(horizon, intervals=True)
        calib = _read_calibration(self.path, self.metadata)
        return {lv: calib[(int(horizon), lv)] for lv in self.levels}

    def intervals(self, windows: Windows, pred: np.ndarray,
                  horizon: int) -> dict[str, np.ndarray]:
        """Forecast intervals of ``pred`` (this model's forecasts of ``windows`` at
        ``horizon``): columns ``lower_<level>``, ``upper_<level>`` per saved level. For a
        window with scale ``s`` (:func:`ytlstm.evaluate.mase_scale`) and day-7 views ``y7``:
        ``[max(p + lower_z s, y7), max(p + upper_z s, lower end)]``
        (:func:`ytlstm.intervals.scaled_interval`, as the study's version-3 intervals)."""
        return scaled_intervals(windows.views, pred, self.bounds(horizon))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} from {self.path}>"


class BaselineModel(SavedModel):
    """A baseline forecaster rebuilt from its saved parameters and fitted attributes."""

    kind = "baseline"

    def __init__(self, path: Path, metadata: dict, forecaster: Forecaster) -> None:
        super().__init__(path, metadata)
        self.forecaster = forecaster
        self._by_horizon: dict[int, Forecaster] = {}

    def predict(self, windows: Windows) -> np.ndarray:
        if len(windows) == 0:
            return np.zeros(0)
        return np.asarray(self.forecaster.predict(windows), dtype=np.float64)

    def horizon_forecaster(self, horizon: int) -> Forecaster:
        """The direct forecaster of ``horizon`` (read from ``horizon_<h>.*`` on first use)."""
        from ytlstm.baselines import Forecaster

        horizon = int(horizon)
        self.check_horizon(horizon)
        if self.horizon_info is None:          # a day-8 model (horizon 1)
            return self.forecaster
        if horizon not in self._by_horizon:
            stem = self.horizon_info["stems"][str(horizon)]
            f = safeio.read(self.path, stem, self.metadata["files"])
            if not isinstance(f, Forecaster) or _forecaster_horizon(f) != horizon:
                got = _forecaster_horizon(f) if isinstance(f, Forecaster) else None
                raise ModelError(f"{self.path / (stem + '.json')}: holds a {type(f).__name__} "
                                 f"of horizon {got}; expected a fitted ytlstm forecaster of "
                                 f"horizon {horizon}")
            self._by_horizon[horizon] = f
        return self._by_horizon[horizon]

    def load_horizon(self, horizon: int, intervals: bool = False) -> None:
        super().load_horizon(horizon, intervals)
        self.horizon_forecaster(horizon)

    def _predict_horizon(self, windows: Windows, horizon: int) -> np.ndarray:
        if len(windows) == 0:
            return np.zeros(0)
        return np.asarray(self.horizon_forecaster(horizon).predict(windows), dtype=np.float64)


class NeuralModel(SavedModel):
    """An LSTM (one network per seed) and its fitted feature transform."""

    kind = "neural"

    def __init__(self, path: Path, metadata: dict, transform: FeatureTransform,
                 networks: list) -> None:
        super().__init__(path, metadata)
        self.transform = transform
        self.networks = networks

    @property
    def seeds(self) -> list[int]:
        return [int(s) for s in self.metadata["seeds"]]

    @property
    def outputs(self) -> int:
        """Outputs of each network: 1 (day 8), or one per horizon 1..H (``multi-output``)."""
        return int(self.metadata.get("outputs", 1))

    def predict_seeds(self, windows: Windows) -> np.ndarray:
        """Predicted views of day 8 per seed, shape ``(n_seeds, n_windows)``."""
        if self.outputs > 1:
            return self.predict_horizons_seeds(windows)[:, :, 0]
        return _seed_views(self.networks, self.transform, windows)

    def predict_horizons_seeds(self, windows: Windows, horizons: int | None = None) -> np.ndarray:
        """Predicted views of days 8..7+H per seed, ``(n_seeds, n_windows, H)`` (``H``:
        ``horizons``, default :attr:`max_horizon`)."""
        H = int(horizons or self.max_horizon)
        self.check_horizon(H)
        if self.outputs > 1:                    # one output per horizon
            return _seed_views(self.networks, self.transform, windows)[:, :, :H]
        from ytlstm.horizons import recursive_views

        return recursive_views(self.networks, self.transform, windows, H)

    def predict(self, windows: Windows) -> np.ndarray:
        """The seed ensemble: ``expm1(mean(log1p(views)))`` over seeds (a forecast below zero
        views counts as zero, as in :attr:`ytlstm.families.Fitted.ensemble`)."""
        return _seed_ensemble(self.predict_seeds(windows))

    def _predict_horizon(self, windows: Windows, horizon: int) -> np.ndarray:
        return _seed_ensemble(self.predict_horizons_seeds(windows, horizon)[:, :, horizon - 1])


class ClusterModel(SavedModel):
    """Per-cluster LSTMs: each window goes to the nearest growth-curve centroid's model."""

    kind = "cluster"

    def __init__(self, path: Path, metadata: dict, centroids: np.ndarray,
                 members: dict[int, NeuralModel]) -> None:
        super().__init__(path, metadata)
        self.centroids = centroids
        self.members = members

    def assign(self, windows: Windows) -> np.ndarray:
        """Cluster of each window from its input days (as :class:`ytlstm.clusters.ShapeClusters`)."""
        from ytlstm.clusters import shape_features

        f = shape_features(windows)
        d = ((f[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=-1)
        return np.argmin(d, axis=1).astype(np.int64)

    def predict(self, windows: Windows) -> np.ndarray:
        out = np.full(len(windows), np.nan)
        if len(windows) == 0:
            return out
        cluster = self.assign(windows)
        for c, member in self.members.items():
            m = cluster == c
            if m.any():
                out[m] = member.predict(windows.subset(m))
        return out


def scaled_intervals(views: np.ndarray, pred: np.ndarray,
                     bounds: dict[float, tuple[float, float]]) -> dict[str, np.ndarray]:
    """Columns ``lower_<level>``, ``upper_<level>`` of forecasts ``pred`` of windows whose input
    days' views are ``views`` (``(n, window)``), for scaled-score ``bounds`` (level ->
    (``lower_z``, ``upper_z``)): item 20's interval, the lower end at least day 7's views and
    the upper end at least the lower (an infinite bound gives an infinite end)."""
    import pandas as pd

    from ytlstm.evaluate import mase_scale
    from ytlstm.horizons import level_name
    from ytlstm.intervals import scaled_interval

    views = np.asarray(views, np.float64)
    g = pd.DataFrame({"y_pred": np.asarray(pred, np.float64).reshape(-1),
                      "scale": mase_scale(views), "y_last": views[:, -1]})
    out: dict[str, np.ndarray] = {}
    for lv, (lo, hi) in bounds.items():
        out[f"lower_{level_name(lv)}"], out[f"upper_{level_name(lv)}"] = \
            scaled_interval(g, lo, hi)
    return out


def _forecaster_horizon(f) -> int | None:
    """The horizon a baseline forecasts (a combination: its members', if they agree)."""
    members = getattr(f, "members", None)
    if members is not None:
        hs = {_forecaster_horizon(m) for m in members}
        return hs.pop() if len(hs) == 1 else None
    try:
        return int(getattr(f, "horizon", 1))
    except (TypeError, ValueError):
        return None


def _seed_ensemble(views: np.ndarray) -> np.ndarray:
    """The seed ensemble of the study (:func:`ytlstm.windows.seed_ensemble`)."""
    from ytlstm.windows import seed_ensemble

    return seed_ensemble(views)


def _seed_views(nets: list, transform: FeatureTransform, windows: Windows) -> np.ndarray:
    """Views per network: ``(n_seeds, n_windows)``, or ``(n_seeds, n_windows, H)`` for
    networks with one output per horizon (``transform.horizons == H``)."""
    from ytlstm.training import predict_batches

    H = int(getattr(transform, "horizons", 1))
    if len(windows) == 0:
        return np.zeros((len(nets), 0) + ((H,) if H > 1 else ()))
    x = transform.transform_x(windows)
    views = []
    for net in nets:
        raw = predict_batches(net, x, H)
        views.append(transform.to_views(windows, raw if H > 1 else raw.reshape(-1)))
    return np.stack(views)


# --------------------------------------------------------------------------- writing

def _atomic_folder(path: Path):
    """A fresh temporary folder beside ``path`` (normal permissions, see
    :func:`ytlstm.cache.temp_folder`); :func:`_publish` moves it into place."""
    from ytlstm.cache import temp_folder

    return temp_folder(path)


def _publish(tmp: Path, path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return path


def _metadata(name: str, kind: str, config: StudyConfig, extra: dict) -> dict:
    import sklearn

    meta = {
        "format": FORMAT, "name": name, "kind": kind, "package": "ytlstm",
        "package_version": _version(), "scikit_learn_version": sklearn.__version__,
        "window": int(config.window), "config": config.to_dict(),
    }
    meta.update(extra)
    return meta


def _write_json(meta: dict, path: Path) -> None:
    path.write_text(json.dumps(meta, indent=2, default=_json_default) + "\n", encoding="utf-8")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _baseline_channels(forecaster: Forecaster) -> list[str]:
    transform = getattr(forecaster, "transform_", None)
    return list(transform.channel_names) if transform is not None else ["views"]


def _write_baseline(folder: Path, forecaster: Forecaster, config: StudyConfig,
                    extra: dict, more_files: Sequence[str] = ()) -> None:
    files = safeio.write(folder, "model", forecaster) + list(more_files)
    meta = _metadata(forecaster.name, "baseline", config, {
        "channels": _baseline_channels(forecaster), "seeds": [],
        "class": f"{type(forecaster).__module__}.{type(forecaster).__qualname__}",
        "files": files, **extra})
    _write_json(meta, folder / METADATA)


def _write_neural(folder: Path, name: str, transform: FeatureTransform, networks: list,
                  seeds: Sequence[int], config: StudyConfig, extra: dict,
                  more_files: Sequence[str] = ()) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    files = safeio.write(folder, "transform", transform)
    for seed, net in zip(seeds, networks):
        net.save(folder / f"seed_{int(seed)}.keras")
        files.append(f"seed_{int(seed)}.keras")
    files += list(more_files)
    meta = _metadata(name, "neural", config, {
        "multivariate": bool(transform.multivariate), "target": transform.target_kind,
        "channels": list(transform.channel_names), "n_channels": int(transform.n_channels),
        "seeds": [int(s) for s in seeds], "ensemble": ENSEMBLE_RULE, "files": files, **extra})
    _write_json(meta, folder / METADATA)


def _same_transform(a: FeatureTransform, b: FeatureTransform) -> bool:
    return (a.multivariate == b.multivariate and a.target_kind == b.target_kind
            and a.y_mean == b.y_mean and a.y_std == b.y_std
            and np.array_equal(a.x_scaler.mean_, b.x_scaler.mean_)
            and np.array_equal(a.x_scaler.scale_, b.x_scaler.scale_)
            and a.channel_names == b.channel_names)


def save_model(model: Forecaster | Sequence[Forecaster], path: str | Path, *,
               name: str | None = None, data_hash: str | None = None,
               extra: dict | None = None) -> Path:
    """Save a fitted forecaster (a baseline or an :class:`~ytlstm.models.LSTMForecaster`) to
    the folder ``path`` (replaced if it exists); returns the folder.

    A list of ``LSTMForecaster`` fitted on the same training windows with different seeds is
    saved as one seed ensemble.
    """
    from ytlstm.baselines import Forecaster
    from ytlstm.models import LSTMForecaster

    path = Path(path)
    members = list(model) if isinstance(model, (list, tuple)) else [model]
    if not members:
        raise ValueError("save_model needs a fitted forecaster")
    info = {"data_hash": data_hash, **(extra or {})}
    tmp = _atomic_folder(path)
    try:
        if all(isinstance(m, LSTMForecaster) for m in members):
            first = members[0]
            if any(m.model_ is None or m.transform_ is None for m in members):
                raise ValueError("save_model: the LSTMForecaster is not fitted; call fit first")
            if any(not _same_transform(first.transform_, m.transform_) for m in members[1:]):
                raise ValueError("save_model: the forecasters were fitted on different data "
                                 "(their feature transforms differ); save them separately")
            _write_neural(tmp, name or first.name, first.transform_, [m.model_ for m in members],
                          [m.seed for m in members], first.config, info)
        elif len(members) == 1 and isinstance(members[0], Forecaster):
            b = members[0]
            config = StudyConfig(target=getattr(b, "target", StudyConfig.target))
            _write_baseline(tmp, b, config, {**info, "name": name or b.name})
        else:
            raise TypeError("save_model expects a fitted baseline or LSTMForecaster(s), got "
                            f"{type(model).__name__}")
        return _publish(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def final_origin(study):
    """The origin whose models are the study's final ones: the last chronological origin,
    trained on the most data (:attr:`ytlstm.study.Study.chronological_origins`)."""
    origins = study.chronological_origins
    if not origins:
        raise ModelError("the study has no chronological origin; nothing to export")
    return origins[-1]


def _chosen(study) -> dict[str, dict]:
    return study.chosen.get("chronological", {})


def refit_baselines(study, origin=None) -> dict[str, Forecaster]:
    """Every baseline family of the study with its chosen configuration, fitted on the
    training (and, for early stopping, validation) windows of ``origin`` (default: the final
    one, :func:`final_origin`), exactly as the study fitted it
    (:meth:`ytlstm.families.BaselineFamily.collect`). Returns model name -> forecaster."""
    from ytlstm.baselines import Combination
    from ytlstm.families import BaselineFamily, CombinationFamily, all_families

    o = origin or final_origin(study)
    config: StudyConfig = study.config
    chosen = _chosen(study)
    windows = study.windows
    train, val = windows.subset(o.train), windows.subset(o.validation)
    families = [f for f in all_families() if f.kind == "baseline"]
    by_name = {f.name: f for f in families}
    out: dict[str, Forecaster] = {}
    for fam in families:
        if isinstance(fam, BaselineFamily):
            forecaster = fam.make(chosen.get(fam.name, {}), config, {})
        elif isinstance(fam, CombinationFamily):
            forecaster = Combination(tuple(by_name[m].make(chosen.get(m, {}), config, {})
                                           for m in fam.members))
        else:  # pragma: no cover - a new kind of baseline family
            raise ModelError(f"cannot export baseline family {fam.name!r} "
                             f"({type(fam).__name__}): no forecaster to save")
        out[fam.name] = forecaster.fit(train, val)
    return out


def _network(weights: list, n_channels: int, window: int, units: int, n_outputs: int = 1):
    """A plain ``build_lstm`` network (the layout of :attr:`ytlstm.training.Trained.weights`)
    with the given weights (``n_outputs``: one per horizon for a multi-output network)."""
    from ytlstm.models import build_lstm

    net = build_lstm(window, n_channels, units, n_outputs=n_outputs)
    net.set_weights([np.asarray(w) for w in weights])
    return net


def _networks(runs, transform: FeatureTransform, config: StudyConfig, params: dict) -> list:
    return [_network(r.weights, transform.n_channels, config.window, int(params["units"]))
            for r in runs]


def _ensemble(nets: list, transform: FeatureTransform, windows: Windows) -> np.ndarray:
    """What :class:`NeuralModel` predicts, from networks not yet saved."""
    if len(windows) == 0:
        return np.zeros(0)
    return _seed_ensemble(_seed_views(nets, transform, windows))


def _check_reproduces(name: str, got: np.ndarray, expected: np.ndarray, o, rtol: float) -> None:
    """Refuse to save a model that does not give the study's forecasts of ``o``'s test
    windows (a stale cache or a bug in this module, never to be shipped silently)."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=rtol, atol=0.0):
        with np.errstate(divide="ignore", invalid="ignore"):
            worst = float(np.nanmax(np.abs(got - expected) / np.abs(expected))) \
                if got.shape == expected.shape and got.size else float("nan")
        raise ModelError(f"{name}: the exported model does not reproduce the study's forecasts "
                         f"of the {o.name} test windows (largest relative difference {worst:.3g}, "
                         f"tolerance {rtol:g}); re-run the study (`ytlstm run --force`)")


def _in_place(path: Path, write) -> Path:
    """Write a model folder atomically: ``write(tmp)`` fills a temporary folder that then
    replaces ``path``."""
    tmp = _atomic_folder(path)
    try:
        write(tmp)
        return _publish(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def export_models(study, out_dir: str | Path = DEFAULT_MODELS_DIR, say=None,
                  pred: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write every final model of ``study`` under ``out_dir/<model name>/``.

    The final models are those of the last chronological origin (:func:`final_origin`),
    trained on the most data. Baselines are refitted there with their chosen configuration
    (:func:`refit_baselines`); each LSTM's networks are rebuilt from the study's weights
    (:attr:`ytlstm.families.Fitted.runs`) with the feature transform refitted on the same
    training windows as in training (:func:`ytlstm.training.run_job`). Every model is checked
    to reproduce the study's forecasts of that origin's test windows before it is written
    (:class:`ModelError` otherwise). With a horizon study (:func:`horizon_study`), each
    baseline folder also gets its model of every horizon and ``calibration.json``, and the
    horizon networks (:data:`HORIZON_NETWORKS`) their own folders, each checked likewise at
    every horizon (see the module docstring); without one, horizon-network folders of an
    earlier export are removed. The calibration comes from the study's predictions table
    ``pred`` (:func:`ytlstm.predictions.predictions_table`, computed when not given; rows of
    models not exported, such as the combination of the best pair, are ignored). Returns model
    name -> folder.
    """
    from ytlstm.families import all_families
    from ytlstm.windows import FeatureTransform

    say = say or (lambda s: None)
    out_dir = Path(out_dir)
    config: StudyConfig = study.config
    windows = study.windows
    o = final_origin(study)
    fits = study.fits[o.name]
    chosen = _chosen(study)
    # the models are fitted on these windows (a study checks them first; this is for callers
    # of the Python API with a study of an origin's part left empty)
    require_windows(len(o.train), f"training windows of the study's {o.name}")
    require_windows(len(o.validation), f"validation windows of the study's {o.name}")
    test = windows.subset(o.test)
    common = {"data_hash": study.dataset.data_hash, "country": study.dataset.country,
              "data_files": dict(study.dataset.sha256), "split": "chronological",
              "origin": o.name, "origin_info": dict(o.info),
              "n_train_windows": int(len(o.train)),
              "n_validation_windows": int(len(o.validation))}
    written: dict[str, Path] = {}

    hz = horizon_study(study, o)
    if hz is not None and pred is None:
        from ytlstm.predictions import predictions_table

        pred = predictions_table(study)
    for name, forecaster in refit_baselines(study, o).items():
        _check_reproduces(name, forecaster.predict(test), fits[name].ensemble[o.test], o,
                          REPRODUCE_RTOL)
        params = ({m.name: dict(chosen.get(m.name, {})) for m in forecaster.members}
                  if name == "combination" else dict(chosen.get(name, {})))
        extra = {**common, "name": name, "params": params}
        written[name] = _in_place(out_dir / name, lambda tmp, n=name, f=forecaster, e=extra:
                                  _write_baseline_folder(tmp, n, f, config, e, hz, o, test,
                                                         pred=pred))

    train = windows.subset(o.train)
    multivariate = {f.name: bool(getattr(f, "multivariate", False))
                    for f in all_families() if f.kind == "lstm"}
    for name in NEURAL_MODELS:
        if name not in fits:
            continue
        fitted = fits[name]
        params = dict(fitted.params)
        if name == "lstm_cluster":
            written[name] = _in_place(out_dir / name, lambda tmp, f=fitted, p=params:
                                      _write_cluster(tmp, study, o, f, p, common, test))
            continue
        transform = FeatureTransform(multivariate[name], params["target"]).fit(train)
        nets = _networks(fitted.runs, transform, config, params)
        _check_reproduces(name, _ensemble(nets, transform, test), fitted.ensemble[o.test], o,
                          REPRODUCE_RTOL)
        written[name] = _in_place(out_dir / name, lambda tmp, n=name, t=transform, ns=nets,
                                  f=fitted, p=params: _write_neural(
                                      tmp, n, t, ns, f.seeds, config,
                                      {**common, "params": p, "units": int(p["units"]),
                                       "loss": p["loss"]}))
    if hz is None:
        # a folder of an earlier export with horizons would not be this study's
        for name in HORIZON_NETWORKS:
            if (out_dir / name / METADATA).is_file():
                shutil.rmtree(out_dir / name)
    else:
        for name in HORIZON_NETWORKS:
            if name in hz.fits[o.name]:
                written[name] = _export_horizon_network(study, o, name, hz, out_dir / name,
                                                        common, test, pred=pred)
    say(f"wrote {len(written)} models of the {o.name} ({o.info.get('test_first', '?')} to "
        f"{o.info.get('test_last', '?')}) to {out_dir}"
        + ("" if hz is None else f"; horizons 1..{hz.horizons} and intervals "
           f"({', '.join(_level_label(lv) for lv in config.interval_levels)})"))
    return written


# --------------------------------------------------------------------------- horizons

def horizon_study(study, origin=None):
    """The study's :class:`ytlstm.horizons.HorizonStudy` if it has models of ``origin``
    (default: the final one, :func:`final_origin`), else None (no horizon stage, or too few
    windows beyond day 8)."""
    hz = getattr(study, "horizons", None)
    o = origin or final_origin(study)
    if hz is None or o.name not in hz.fits or int(hz.horizons) < 2:
        return None
    return hz


def _level_label(level: float) -> str:
    return f"{round(100 * float(level)):d}%"


def _json_bound(value: float) -> float | None:
    """A bound as JSON holds it: a finite number, or null for an infinite one."""
    return float(value) if np.isfinite(value) else None


def _calibration(pred: pd.DataFrame, name: str, horizons: int,
                 levels: Sequence[float]) -> list[dict]:
    """The calibration rows of model ``name`` (:func:`ytlstm.intervals.saved_calibration` of
    the predictions table): every horizon 1..``horizons`` and level, infinite bounds as
    None."""
    from ytlstm.intervals import saved_calibration

    c = saved_calibration(pred, name, tuple(float(v) for v in levels))
    rows = []
    for h in range(1, int(horizons) + 1):
        for lv in levels:
            r = c[(c["horizon"] == h) & np.isclose(c["level"].astype(float), float(lv))]
            if len(r) != 1 or int(r["n_scores"].iloc[0]) < 1:
                raise ModelError(f"{name}: the predictions table has no test forecasts of "
                                 f"horizon {h} to calibrate the level-{lv} intervals with; "
                                 "expected the study's horizon_test rows of every origin "
                                 "(re-run the study: `ytlstm run --force`)")
            r = r.iloc[0]
            rows.append({"horizon": h, "level": float(lv),
                         "lower_z": _json_bound(r["lower_z"]),
                         "upper_z": _json_bound(r["upper_z"]),
                         "n_scores": int(r["n_scores"])})
    return rows


def _write_calibration(folder: Path, name: str, pred: pd.DataFrame, hz, o,
                       levels: Sequence[float]) -> str:
    """``calibration.json`` of model ``name`` (version :data:`CALIBRATION_VERSION`)."""
    test = pred[(pred["split"] == "horizon_test") & (pred["model"] == name)]
    _write_json({"version": CALIBRATION_VERSION, "model": name, "origin": o.name,
                 "calibrated_on": [str(v) for v in dict.fromkeys(test["origin"])],
                 "max_horizon": int(hz.horizons), "levels": [float(v) for v in levels],
                 "rule": CALIBRATION_RULE,
                 "bounds": _calibration(pred, name, int(hz.horizons), levels)},
                folder / CALIBRATION)
    return CALIBRATION


def _horizon_entry(hz, o, form: str, levels: Sequence[float], **more) -> dict:
    return {"max_horizon": int(hz.horizons), "form": form, "origin": o.name,
            "levels": [float(v) for v in levels], "calibration": CALIBRATION, **more}


def _write_baseline_folder(folder: Path, name: str, forecaster: Forecaster, config: StudyConfig,
                           extra: dict, hz, o, test: Windows, *,
                           pred: pd.DataFrame | None) -> None:
    """A baseline folder: the day-8 model and, with a horizon study, the model of every
    horizon (each read back from the folder and checked to give the study's horizon
    forecasts of ``o``'s test windows) and its calibration from the predictions table
    ``pred``."""
    more: list[str] = []
    if hz is not None and name in hz.fits[o.name]:
        fit = hz.fits[o.name][name]
        levels = tuple(config.interval_levels)
        stems = {}
        for h in range(1, int(hz.horizons) + 1):
            stem = f"horizon_{h}"
            files = safeio.write(folder, stem, fit.fitted[h - 1])
            back = safeio.read(folder, stem, files)
            _check_reproduces(f"{name} at horizon {h}", back.predict(test),
                              fit.ensemble[o.test, h - 1], o, REPRODUCE_RTOL)
            more += files
            stems[str(h)] = stem
        more.append(_write_calibration(folder, name, pred, hz, o, levels))
        extra = {**extra, "horizons": _horizon_entry(hz, o, "direct", levels, stems=stems)}
    _write_baseline(folder, forecaster, config, extra, more)


def _export_horizon_network(study, o, name: str, hz, path: Path, common: dict,
                            test: Windows, *, pred: pd.DataFrame) -> Path:
    """``lstm_univariate_h`` or ``lstm_transfer_h`` of origin ``o``: multi-output networks
    with the transform of their training (:func:`ytlstm.training.run_job`, one target column
    per horizon), or (``form`` recursive) the day-8 univariate networks; checked to reproduce
    the study's forecasts of ``o``'s test windows at every horizon before it is written, with
    its calibration from the predictions table ``pred``."""
    from ytlstm.windows import FeatureTransform

    config: StudyConfig = study.config
    fit = hz.fits[o.name][name]
    H = int(hz.horizons)
    params = dict(fit.params)
    form = params.get("form", "multi-output")
    if form not in ("multi-output", "recursive"):
        raise ModelError(f"{name}: unknown form {form!r} in the horizon study; expected "
                         "multi-output or recursive")
    train = study.windows.subset(o.train)
    units = int(params["units"])
    if form == "recursive":
        transform = FeatureTransform(False, params["target"]).fit(train)
        outputs = 1
    else:
        transform = FeatureTransform(name == "lstm_transfer_h", params["target"],
                                     horizons=H).fit(train, o.info["validation_first"])
        outputs = H
    nets = [_network(r.weights, transform.n_channels, config.window, units, outputs)
            for r in fit.runs]
    if form == "recursive":
        from ytlstm.horizons import recursive_views

        views = recursive_views(nets, transform, test, H)
    else:
        views = _seed_views(nets, transform, test)
    _check_reproduces(f"{name} at horizons 1..{H}", _seed_ensemble(views),
                      fit.ensemble[o.test], o, REPRODUCE_RTOL)
    levels = tuple(config.interval_levels)
    seeds = [int(r.seed) for r in fit.runs]
    extra = {**common, "params": params, "units": units, "loss": params["loss"],
             "outputs": outputs, "horizons": _horizon_entry(hz, o, form, levels)}

    def write(tmp: Path) -> None:
        _write_calibration(tmp, name, pred, hz, o, levels)
        _write_neural(tmp, name, transform, nets, seeds, config, extra, [CALIBRATION])

    return _in_place(path, write)


def _write_cluster(folder: Path, study, o, fitted, params: dict, common: dict,
                   test: Windows) -> None:
    """``lstm_cluster``: centroids plus one neural sub-folder per trained cluster and
    ``global/`` (the origin's global univariate LSTM) for the clusters too small to train."""
    from ytlstm.clusters import FEATURE_NAME
    from ytlstm.windows import FeatureTransform

    config: StudyConfig = study.config
    info = fitted.info
    windows = study.windows
    wc = np.asarray(info["window_cluster"])
    trained = [int(c) for c in info["trained"]]
    small = [int(c) for c in info["small"]]
    members: dict[str, str] = {}
    expected = fitted.ensemble[o.test]
    got = np.full(len(o.test), np.nan)
    wc_test = wc[o.test]
    neural = {**common, "params": params, "units": int(params["units"]), "loss": params["loss"]}
    for c in trained:
        rows = o.train[wc[o.train] == c]
        require_windows(len(rows), f"training windows in cluster {c} of the {o.name}")
        transform = FeatureTransform(False, params["target"]).fit(windows.subset(rows))
        runs = info["cluster_runs"][c]
        nets = _networks(runs, transform, config, params)
        m = wc_test == c
        got[m] = _ensemble(nets, transform, test.subset(m))
        _write_neural(folder / f"cluster_{c}", f"lstm_cluster/cluster_{c}", transform, nets,
                      [r.seed for r in runs], config,
                      {**neural, "n_train_windows": int(len(rows)),
                       "n_validation_windows": int((wc[o.validation] == c).sum())})
        members[str(c)] = f"cluster_{c}"
    if small:
        glob = study.fits[o.name]["lstm_univariate"]
        gparams = dict(glob.params)
        transform = FeatureTransform(False, gparams["target"]).fit(windows.subset(o.train))
        nets = _networks(glob.runs, transform, config, gparams)
        m = np.isin(wc_test, small)
        got[m] = _ensemble(nets, transform, test.subset(m))
        _write_neural(folder / "global", "lstm_cluster/global", transform, nets,
                      glob.seeds, config, {**neural, "params": gparams,
                                           "units": int(gparams["units"]),
                                           "loss": gparams["loss"]})
        for c in small:
            members[str(c)] = "global"
    _check_reproduces("lstm_cluster", got, expected, o, REPRODUCE_RTOL)
    meta = _metadata("lstm_cluster", "cluster", config, {
        "channels": ["views_inc", "views_rel", "views_log"], "seeds": list(config.seeds),
        "k": int(info["k"]), "centroids": np.asarray(info["centroids"]).tolist(),
        "cluster_feature": FEATURE_NAME, "members": members,
        "trained_clusters": trained, "small_clusters": small, "ensemble": ENSEMBLE_RULE,
        "files": sorted(set(members.values())), **common, "params": params})
    _write_json(meta, folder / METADATA)


# --------------------------------------------------------------------------- loading

#: Ranges of the metadata numbers that set a loop or an allocation when a model is loaded or
#: used: the window length, seeds (one network each), horizons, levels, clusters, units.
MAX_WINDOW = 60
MAX_SEEDS = 100
MAX_LEVELS = 10
MAX_CLUSTERS = 100
MAX_UNITS = 4096
MAX_CHANNELS = 10_000
#: The members of a ``.keras`` file the package writes; a network is read from them only.
KERAS_MEMBERS = frozenset({"config.json", "metadata.json", "model.weights.h5"})
#: The layers of :func:`ytlstm.models.build_lstm` as ``.keras`` names them.
KERAS_LAYERS = (("keras.layers", "InputLayer"), ("keras.layers", "LSTM"),
                ("keras.layers", "Dense"))


def _whole(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _read_metadata(path: Path, cluster_member: bool = False) -> dict:
    if not path.exists():
        raise ModelError(f"{path}: no such saved model folder")
    if not path.is_dir():
        raise ModelError(f"{path}: not a folder; expected a saved model folder with {METADATA}")
    mfile = path / METADATA
    if not mfile.exists() and not mfile.is_symlink():
        raise ModelError(f"{mfile}: file not found; expected a saved model folder "
                         "(written by `ytlstm export-models` or ytlstm.saved.save_model)")
    raw = safeio.read_bytes(mfile, safeio.MAX_JSON_BYTES)    # a regular file, not a link
    try:
        meta = safeio.parse_json(raw, str(mfile))
    except ModelError as e:
        raise ModelError(f"{mfile}: unreadable ({str(e).removeprefix(f'{mfile}: ')}); "
                         "expected the JSON metadata of a saved model") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{mfile}: not a JSON object; expected the metadata of a saved model")
    missing = [k for k in ("name", "kind", "package_version", "window", "files") if k not in meta]
    if missing:
        raise ModelError(f"{mfile}: missing field(s) {', '.join(missing)}")
    files = meta["files"]
    if not isinstance(files, list) or len(files) > safeio.MAX_FOLDER_ENTRIES or not all(
            isinstance(f, str) and f and "/" not in f and "\\" not in f and f not in (".", "..")
            and len(f) <= 255 for f in files):
        raise ModelError(f"{mfile}: field files is not a list of file names in the folder")
    if not isinstance(meta["kind"], str) or not isinstance(meta["name"], str) or \
            len(meta["name"]) > 200:
        raise ModelError(f"{mfile}: fields name and kind are not short strings")
    if cluster_member and meta["kind"] != "neural":
        raise ModelError(f"{mfile}: a {str(meta['kind'])[:40]} model inside a per-cluster "
                         "model; expected a neural one")
    # before anything but metadata.json is read: nothing the folder does not list, and
    # nothing but data (JSON, .npz, skops, .keras; sub-folders only for lstm_cluster)
    subfolders = set(files) if meta["kind"] == "cluster" else set()
    listed = [f for f in files if f not in subfolders]
    refused = [f for f in listed if not f.endswith(safeio.ALLOWED_SUFFIXES)]
    unexpected = safeio.unexpected_files(path, listed, subfolders)
    if refused or unexpected:
        names = sorted(set(refused) | set(unexpected))
        raise ModelError(f"{path}: unexpected file(s) {', '.join(names)[:300]}; a saved model "
                         "holds only metadata.json and the regular JSON, .npz, skops and "
                         ".keras files it lists (nothing was loaded; pickles are never loaded: "
                         "re-export the model with `ytlstm export-models`)")
    version = str(meta["package_version"])[:40]
    if _major_minor(version) != _major_minor(_version()):
        raise ModelError(f"{mfile}: saved by ytlstm {version}, this is ytlstm {_version()}; "
                         "expected the same major.minor version (re-export the models with "
                         "`ytlstm export-models`)")
    if meta.get("format", FORMAT) != FORMAT:
        raise ModelError(f"{mfile}: folder format {str(meta.get('format'))[:40]}; expected "
                         f"{FORMAT} (format {FORMAT}: forecast intervals calibrated on the "
                         "study's test forecasts of every origin, calibration.json version "
                         f"{CALIBRATION_VERSION}); re-export the models with `ytlstm "
                         "export-models`")
    if not _whole(meta["window"], 2, MAX_WINDOW):
        raise ModelError(f"{mfile}: window {str(meta['window'])[:40]}; expected a whole number "
                         f"of days from 2 to {MAX_WINDOW}")
    seeds = meta.get("seeds", [])
    if not isinstance(seeds, list) or len(seeds) > MAX_SEEDS or \
            not all(_whole(x, 0, 2**32 - 1) for x in seeds) or len(set(seeds)) != len(seeds):
        raise ModelError(f"{mfile}: seeds {str(seeds)[:60]}; expected at most {MAX_SEEDS} "
                         "distinct whole numbers from 0 to 2**32-1")
    absent = [f for f in files if not (path / f).exists()]
    if absent:
        raise ModelError(f"{path}: missing file(s) {', '.join(absent)[:300]} listed in "
                         f"{METADATA}")
    return meta


def _bound(value: Any, infinite: float) -> float:
    """A bound of ``calibration.json``: a finite JSON number, or null for ``infinite``."""
    if value is None:
        return infinite
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not np.isfinite(value):
        raise ValueError(str(value)[:40])
    return float(value)


def _read_calibration(path: Path, meta: dict) -> dict[tuple[int, float], tuple[float, float]]:
    """(horizon, level) -> (``lower_z``, ``upper_z``) from the folder's ``calibration.json``
    (version :data:`CALIBRATION_VERSION`; null bounds read as ``-inf``/``inf``), checked to
    hold exactly every horizon 1..H and level of ``metadata.json``, each with numbers or null
    and ``lower_z <= upper_z``."""
    info = meta["horizons"]
    f = path / CALIBRATION
    spec = safeio.load_json(f)
    if not isinstance(spec, dict):
        raise ModelError(f"{f}: not a JSON object; expected the interval calibration of the "
                         "model")
    H = int(info["max_horizon"])
    levels = [float(v) for v in info["levels"]]
    version = spec.get("version")
    if version != CALIBRATION_VERSION or isinstance(version, bool):
        if version is None and "quantiles" in spec:
            got = ("version 2's calibration (log-residual bounds lower_q, upper_q from the "
                   "origin's validation windows)")
        else:
            got = f"calibration version {str(version)[:20]}"
        raise ModelError(f"{f}: {got}; expected version {CALIBRATION_VERSION} (scaled-score "
                         "bounds lower_z, upper_z from the study's test forecasts of every "
                         "origin): re-export the models with `ytlstm export-models`")
    rows = spec.get("bounds")
    if not isinstance(rows, list) or len(rows) > safeio.MAX_HORIZON * MAX_LEVELS:
        raise ModelError(f"{f}: field bounds is not a list of at most "
                         f"{safeio.MAX_HORIZON * MAX_LEVELS} rows; expected one row per "
                         "horizon and level")
    out: dict[tuple[int, float], tuple[float, float]] = {}
    for r in rows:
        if not isinstance(r, dict):
            raise ModelError(f"{f}: a row of bounds is not a JSON object; expected horizon, "
                             "level, lower_z, upper_z, n_scores")
        h, lv = r.get("horizon"), r.get("level")
        if not _whole(h, 1, H):
            raise ModelError(f"{f}: horizon {str(h)[:40]}; expected a whole number from 1 to "
                             f"{H} (max_horizon of {METADATA})")
        if isinstance(lv, bool) or not isinstance(lv, (int, float)) or float(lv) not in levels:
            raise ModelError(f"{f}: level {str(lv)[:40]} at horizon {h}; expected one of the "
                             f"levels of {METADATA} ({', '.join(str(v) for v in levels)})")
        where = f"horizon {h}, level {float(lv)}"
        bounds = []
        for field, infinite in (("lower_z", -np.inf), ("upper_z", np.inf)):
            try:
                bounds.append(_bound(r.get(field), infinite))
            except ValueError:
                raise ModelError(f"{f}: {field} {str(r.get(field))[:40]!r} at {where}; "
                                 "expected a finite number, or null (an infinite bound: too "
                                 "few scores for the level)") from None
        lo, hi = bounds
        if lo > hi:
            raise ModelError(f"{f}: lower_z {lo} above upper_z {hi} at {where}; expected "
                             "lower_z <= upper_z")
        if not _whole(r.get("n_scores"), 0, 2**53):
            raise ModelError(f"{f}: n_scores {str(r.get('n_scores'))[:40]} at {where}; "
                             "expected a whole number >= 0")
        if (h, float(lv)) in out:
            raise ModelError(f"{f}: two rows of bounds for {where}; expected one")
        out[(h, float(lv))] = (lo, hi)
    absent = [(h, lv) for h in range(1, H + 1) for lv in levels if (h, lv) not in out]
    if absent:
        raise ModelError(f"{f}: no bounds for horizon {absent[0][0]} at level {absent[0][1]}; "
                         f"expected every horizon 1..{H} and level "
                         f"{', '.join(str(v) for v in levels)}")
    return out


def _check_horizon_entry(path: Path, meta: dict) -> None:
    """The ``horizons`` entry of ``metadata.json`` is complete, in range, and its files are
    listed."""
    mfile = path / METADATA
    outputs = meta.get("outputs", 1)
    if not _whole(outputs, 1, safeio.MAX_HORIZON):
        raise ModelError(f"{mfile}: field outputs {str(outputs)[:40]}; expected a whole number "
                         f"from 1 to {safeio.MAX_HORIZON}")
    info = meta.get("horizons")
    if info is None:
        return
    try:
        H, form = info["max_horizon"], str(info["form"])
        levels = [float(v) for v in info["levels"]]
        ok = (_whole(H, 1, safeio.MAX_HORIZON) and form in HORIZON_FORMS
              and 1 <= len(levels) <= MAX_LEVELS and all(0 < v < 1 for v in levels)
              and info["calibration"] == CALIBRATION and CALIBRATION in meta["files"])
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise ModelError(f"{mfile}: malformed horizons entry; expected max_horizon (1 to "
                         f"{safeio.MAX_HORIZON}), form ({', '.join(HORIZON_FORMS)}), 1 to "
                         f"{MAX_LEVELS} levels and calibration ({CALIBRATION}, listed in files)")
    kind = meta["kind"]
    outputs = int(meta.get("outputs", 1))
    if kind == "baseline":
        stems = info.get("stems")
        if (form != "direct" or not isinstance(stems, dict)
                or set(stems) != {str(h) for h in range(1, H + 1)}
                or not all(isinstance(v, str) and f"{v}.json" in meta["files"]
                           for v in stems.values())):
            raise ModelError(f"{mfile}: horizons entry of a baseline without a listed "
                             f"horizon_<h>.json for every horizon 1..{H}")
    elif kind == "neural":
        if (form == "multi-output" and outputs != H) or (form == "recursive" and outputs != 1) \
                or form == "direct":
            raise ModelError(f"{mfile}: a {form} network with {outputs} output(s) for horizons "
                             f"1..{H}; expected {H} outputs (multi-output) or 1 (recursive)")
    else:
        raise ModelError(f"{mfile}: a {str(kind)[:40]} model has no horizon models")
    _read_calibration(path, meta)


def _network_units(config: Any, f: Path, window: int, n_channels: int, outputs: int) -> int:
    """The LSTM units of a ``.keras`` configuration, checked to be the network
    :func:`ytlstm.models.build_lstm` writes for this window, channels and outputs."""
    def bad(what: str) -> ModelError:
        return ModelError(f"{f}: cannot be loaded ({what}; expected the package's Input, LSTM, "
                          "Dense network; nothing of it was run)")

    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise bad("no list of layers in config.json")
    got = [(x.get("module"), x.get("class_name")) for x in layers]
    top = (config.get("module"), config.get("class_name"))
    if top != ("keras", "Sequential") or tuple(got) != KERAS_LAYERS:
        names = ", ".join(str(c)[:30] for _, c in [top] + got)
        raise bad(f"layers {names[:200]}")
    inp, lstm, dense = (x.get("config") if isinstance(x.get("config"), dict) else {}
                        for x in layers)
    if inp.get("batch_shape") != [None, window, n_channels]:
        raise bad(f"input shape {str(inp.get('batch_shape'))[:60]}, not "
                  f"[None, {window}, {n_channels}] (window, channels of transform.json)")
    units = lstm.get("units")
    if not _whole(units, 1, MAX_UNITS):
        raise bad(f"LSTM units {str(units)[:40]}, not a whole number from 1 to {MAX_UNITS}")
    expected = {"activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
                "return_sequences": False, "return_state": False, "go_backwards": False,
                "stateful": False}
    odd = [k for k, v in expected.items() if lstm.get(k) != v]
    if dense.get("units") != outputs or dense.get("activation") != "linear" or \
            dense.get("use_bias") is not True or odd:
        raise bad(f"LSTM options {', '.join(odd) or 'as built'} and Dense units "
                  f"{str(dense.get('units'))[:20]} (activation "
                  f"{str(dense.get('activation'))[:20]}), not {outputs} linear output(s)")
    return units


def _h5_weights(raw: bytes, f: Path, shapes: dict[str, tuple[int, ...]]) -> list[np.ndarray]:
    """The float32 arrays at ``shapes``' paths of a Keras weights file, each checked to have
    its expected shape before it is read."""
    import io

    import h5py

    out = []
    try:
        with h5py.File(io.BytesIO(raw), "r") as h:
            for name, shape in shapes.items():
                ds = h.get(name)
                if not isinstance(ds, h5py.Dataset) or tuple(ds.shape) != shape or \
                        ds.dtype != np.float32:
                    got = (f"shape {tuple(ds.shape)} of {ds.dtype}"
                           if isinstance(ds, h5py.Dataset) else "nothing")
                    raise ModelError(f"{f}: cannot be loaded (weights {name}: {got}; expected "
                                     f"float32 of shape {shape})")
                out.append(np.asarray(ds[()], dtype=np.float32))
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001 - h5py: a malformed file
        raise ModelError(f"{f}: cannot be loaded (model.weights.h5: {type(e).__name__}: "
                         f"{' '.join(str(e).split())[:200]})") from None
    return out


def _read_network(f: Path, window: int, n_channels: int, outputs: int):
    """A network of a ``.keras`` file, rebuilt with :func:`ytlstm.models.build_lstm`: the
    archive is read in memory (never unpacked to disk; members and sizes bounded), its
    ``config.json`` checked to describe that network (nothing in it reaches Keras' loader, so
    it names no class or module that is looked up) and its weights read at their expected
    shapes."""
    data = safeio.read_bytes(f)
    zf = safeio.open_zip(data, str(f), set(KERAS_MEMBERS))
    config = safeio.parse_json(safeio.read_member(zf, "config.json", str(f)),
                               f"{f} (config.json)")
    units = _network_units(config, f, window, n_channels, outputs)
    shapes = {"layers/lstm/cell/vars/0": (n_channels, 4 * units),
              "layers/lstm/cell/vars/1": (units, 4 * units),
              "layers/lstm/cell/vars/2": (4 * units,),
              "layers/dense/vars/0": (units, outputs), "layers/dense/vars/1": (outputs,)}
    weights = _h5_weights(safeio.read_member(zf, "model.weights.h5", str(f)), f, shapes)
    return _network(weights, n_channels, window, units, outputs)


def _load_neural(path: Path, meta: dict) -> NeuralModel:
    from ytlstm.windows import FeatureTransform

    transform = safeio.read(path, "transform", meta["files"])
    if not isinstance(transform, FeatureTransform):
        raise ModelError(f"{path / 'transform.json'}: holds a {type(transform).__name__}; "
                         "expected a FeatureTransform")
    seeds = meta.get("seeds") or []
    if not seeds:
        raise ModelError(f"{path / METADATA}: no seeds; expected at least one network")
    outputs = int(meta.get("outputs", 1))
    if int(transform.horizons) != (outputs if outputs > 1 else 1):
        raise ModelError(f"{path / 'transform.json'}: a transform of {transform.horizons} "
                         f"horizon(s); expected {outputs} (outputs of {METADATA})")
    n_channels = int(transform.n_channels)
    if not 1 <= n_channels <= MAX_CHANNELS:
        raise ModelError(f"{path / 'transform.json'}: {n_channels} channels; expected 1 to "
                         f"{MAX_CHANNELS}")
    networks = []
    for s in seeds:
        f = path / f"seed_{int(s)}.keras"
        if f.name not in meta["files"]:
            raise ModelError(f"{f}: file not found (seed {s} of {METADATA})")
        networks.append(_read_network(f, int(meta["window"]), n_channels, outputs))
    return NeuralModel(path, meta, transform, networks)


def _load_cluster(path: Path, meta: dict) -> ClusterModel:
    mfile = path / METADATA
    try:
        centroids = np.asarray(meta["centroids"], dtype=np.float64)
        members = {int(c): sub for c, sub in meta["members"].items()}
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        raise ModelError(f"{mfile}: no valid centroids and members") from None
    if centroids.ndim != 2 or not 1 <= len(centroids) <= MAX_CLUSTERS or \
            not np.isfinite(centroids).all() or set(members) != set(range(len(centroids))):
        raise ModelError(f"{mfile}: {len(centroids)} centroids of shape "
                         f"{centroids.shape[1:]} but members for clusters "
                         f"{sorted(members)[:20]}; expected 1 to {MAX_CLUSTERS} finite "
                         "centroids and one member per cluster")
    if centroids.shape[1] != int(meta["window"]):
        raise ModelError(f"{mfile}: centroids of {centroids.shape[1]} values; expected "
                         f"{meta['window']} (one per input day: the growth-curve shape)")
    if not all(isinstance(s, str) for s in members.values()) or \
            not set(members.values()) <= set(meta["files"]):
        raise ModelError(f"{mfile}: members are not all folders listed in files")
    loaded = {sub: _load(path / sub, cluster_member=True)
              for sub in sorted(set(members.values()))}
    return ClusterModel(path, meta, centroids, {c: loaded[s] for c, s in members.items()})


def _load(path: Path, cluster_member: bool = False) -> SavedModel:
    meta = _read_metadata(path, cluster_member)
    _check_horizon_entry(path, meta)
    kind = meta["kind"]
    if kind == "baseline":
        from ytlstm.baselines import Forecaster

        f = safeio.read(path, "model", meta["files"])
        if not isinstance(f, Forecaster):
            raise ModelError(f"{path / 'model.json'}: holds a {type(f).__name__}; expected a "
                             "fitted ytlstm forecaster")
        return BaselineModel(path, meta, f)
    if kind == "neural":
        return _load_neural(path, meta)
    if kind == "cluster":
        return _load_cluster(path, meta)
    raise ModelError(f"{path / METADATA}: unknown model kind {kind[:40]!r}; expected baseline, "
                     "neural or cluster")


def load_model(path: str | Path) -> SavedModel:
    """Load a saved model folder; raises a one-line :class:`ModelError` naming the file if
    it is missing, incomplete, holds a file it should not (checked before anything is
    loaded), was written by another major.minor version of ytlstm, or holds anything that
    is malformed, out of range or refused (see :mod:`ytlstm.safeio`)."""
    path = Path(path)
    try:
        return _load(path)
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever else a tampered folder causes
        raise ModelError(f"{path}: cannot be loaded ({type(e).__name__}: "
                         f"{' '.join(str(e).split())[:200]})") from None


def available_models(models_dir: str | Path = DEFAULT_MODELS_DIR) -> list[str]:
    """Names of the saved model folders in ``models_dir``."""
    d = Path(models_dir)
    if not d.is_dir():
        return []
    return sorted(p.name for p in d.iterdir() if (p / METADATA).is_file())


def find_model(spec: str | Path, models_dir: str | Path | None = None) -> Path:
    """The folder of a model given by name (in ``models_dir``) or by path."""
    models_dir = Path(models_dir) if models_dir is not None else DEFAULT_MODELS_DIR
    p = Path(spec)
    if (p / METADATA).is_file():
        return p
    named = models_dir / str(spec)
    if (named / METADATA).is_file():
        return named
    if p.is_dir():
        return p  # load_model explains what is missing
    names = available_models(models_dir)
    have = (f"available: {', '.join(names)}" if names else
            f"{models_dir} holds no saved models (run `ytlstm run` or `ytlstm export-models`)")
    raise ModelError(f"no saved model {str(spec)!r}: neither a model folder nor a name in "
                     f"{models_dir} ({have})")

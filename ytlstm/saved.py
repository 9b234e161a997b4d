"""Saved models: write a fitted forecaster to a folder, load it back and predict.

A saved model is a folder holding ``metadata.json`` and the files the model needs, all of
them data, none of them code (no pickle; see :mod:`ytlstm.safeio`):

* a **baseline** (:mod:`ytlstm.baselines`): ``model.json`` (its class, constructor parameters
  and fitted attributes), ``model.npz`` (its arrays, if any) and one skops file per
  scikit-learn estimator it holds (``model.transform__x_scaler.skops``, ...);
* a **neural** model (univariate, multivariate or transfer-learned LSTM): the
  :class:`~ytlstm.windows.FeatureTransform` fitted on the training windows as
  ``transform.json`` and skops files, and one Keras file ``seed_<s>.keras`` per seed (loaded
  with ``safe_mode=True``: no Python code in a network is run); the prediction is the seed ensemble
  ``expm1(mean over seeds of log1p(views))``, as :attr:`ytlstm.families.Fitted.ensemble`;
* the **per-cluster** model ``lstm_cluster``: ``metadata.json`` with the k-means centroids
  of the growth-curve shapes and one neural sub-folder per cluster (``cluster_<c>/``, or
  ``global/``, the global univariate LSTM, for the clusters too small to train).

``metadata.json`` records the model's name and kind, the window length, the input channel
names, the study's configuration and the model's chosen hyperparameters (``params``), the
data's content hash and country, the seeds, the forecast origin whose training windows
fitted it (``origin``, its dates in ``origin_info``, ``n_train_windows``) and the package
version. :func:`load_model` refuses a folder written by another major.minor
version of ytlstm, one with a file missing, and one holding any file it does not list or
whose kind is not JSON, ``.npz``, skops or ``.keras`` (e.g. a ``model.pkl``), with a one-line
:class:`~ytlstm.errors.ModelError`, before reading any file but ``metadata.json``.

:func:`export_models` writes every final model of a :class:`~ytlstm.study.Study` under
``_build/models/<CC>/<model name>/``: the models of the last chronological forecast origin
(:func:`final_origin`, trained on the most data), every baseline family with its chosen
configuration and the four LSTMs, each checked to reproduce the study's forecasts of that
origin's test windows before it is written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ytlstm import safeio
from ytlstm.checks import require_windows
from ytlstm.config import StudyConfig
from ytlstm.errors import ModelError
from ytlstm.outputs import BOOK_COUNTRY, MODELS_ROOT, default_models_dir

# ytlstm.baselines and ytlstm.windows (scikit-learn) are imported where they are used, so
# that importing this module (the command line does) stays cheap.
if TYPE_CHECKING:
    from ytlstm.baselines import Forecaster
    from ytlstm.windows import FeatureTransform, Windows

#: Where ``ytlstm run`` and ``ytlstm export-models`` write the final models of the book's
#: country (US); another country's go to ``_build/models/<CC>/``
#: (:func:`ytlstm.outputs.default_models_dir`).
DEFAULT_MODELS_DIR = default_models_dir(BOOK_COUNTRY)
METADATA = "metadata.json"
#: Version of the folder layout (bumped if the layout changes). 1 held pickles; 2 holds none.
FORMAT = 2
ENSEMBLE_RULE = "expm1(mean over seeds of log1p(predicted views))"
#: Largest relative difference allowed between an exported model's forecasts of the final
#: origin's test windows and the study's (float32 networks run in another process; baselines
#: refitted here, whose iterative fits may differ in the last bits between processes).
REPRODUCE_RTOL = 1e-5
#: Neural models of the final origin that :func:`export_models` writes.
NEURAL_MODELS = ("lstm_univariate", "lstm_multivariate", "lstm_transfer", "lstm_cluster")


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

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} from {self.path}>"


class BaselineModel(SavedModel):
    """A baseline forecaster rebuilt from its saved parameters and fitted attributes."""

    kind = "baseline"

    def __init__(self, path: Path, metadata: dict, forecaster: Forecaster) -> None:
        super().__init__(path, metadata)
        self.forecaster = forecaster

    def predict(self, windows: Windows) -> np.ndarray:
        if len(windows) == 0:
            return np.zeros(0)
        return np.asarray(self.forecaster.predict(windows), dtype=np.float64)


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

    def predict_seeds(self, windows: Windows) -> np.ndarray:
        """Predicted views per seed, shape ``(n_seeds, n_windows)``."""
        if len(windows) == 0:
            return np.zeros((len(self.networks), 0))
        x = self.transform.transform_x(windows)
        return np.stack([self.transform.to_views(
            windows, net.predict(x, batch_size=4096, verbose=0).reshape(-1))
            for net in self.networks])

    def predict(self, windows: Windows) -> np.ndarray:
        """The seed ensemble: ``expm1(mean(log1p(views)))`` over seeds (a forecast below zero
        views counts as zero, as in :attr:`ytlstm.families.Fitted.ensemble`)."""
        return np.expm1(np.log1p(np.maximum(self.predict_seeds(windows), 0.0)).mean(axis=0))


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


# --------------------------------------------------------------------------- writing

def _atomic_folder(path: Path):
    """A fresh temporary folder beside ``path``; :func:`_publish` moves it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))


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
                    extra: dict) -> None:
    files = safeio.write(folder, "model", forecaster)
    meta = _metadata(forecaster.name, "baseline", config, {
        "channels": _baseline_channels(forecaster), "seeds": [],
        "class": f"{type(forecaster).__module__}.{type(forecaster).__qualname__}",
        "files": files, **extra})
    _write_json(meta, folder / METADATA)


def _write_neural(folder: Path, name: str, transform: FeatureTransform, networks: list,
                  seeds: Sequence[int], config: StudyConfig, extra: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    files = safeio.write(folder, "transform", transform)
    for seed, net in zip(seeds, networks):
        net.save(folder / f"seed_{int(seed)}.keras")
        files.append(f"seed_{int(seed)}.keras")
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


def _network(weights: list, n_channels: int, window: int, units: int):
    """A plain ``build_lstm`` network (the layout of :attr:`ytlstm.training.Trained.weights`)
    with the given weights."""
    from ytlstm.models import build_lstm

    net = build_lstm(window, n_channels, units)
    net.set_weights([np.asarray(w) for w in weights])
    return net


def _networks(runs, transform: FeatureTransform, config: StudyConfig, params: dict) -> list:
    return [_network(r.weights, transform.n_channels, config.window, int(params["units"]))
            for r in runs]


def _ensemble(nets: list, transform: FeatureTransform, windows: Windows) -> np.ndarray:
    """What :class:`NeuralModel` predicts, from networks not yet saved."""
    if len(windows) == 0:
        return np.zeros(0)
    x = transform.transform_x(windows)
    p = np.stack([transform.to_views(windows, n.predict(x, batch_size=4096, verbose=0)
                                     .reshape(-1)) for n in nets])
    return np.expm1(np.log1p(np.maximum(p, 0.0)).mean(axis=0))


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


def export_models(study, out_dir: str | Path = DEFAULT_MODELS_DIR,
                  say=None) -> dict[str, Path]:
    """Write every final model of ``study`` under ``out_dir/<model name>/``.

    The final models are those of the last chronological origin (:func:`final_origin`),
    trained on the most data. Baselines are refitted there with their chosen configuration
    (:func:`refit_baselines`); each LSTM's networks are rebuilt from the study's weights
    (:attr:`ytlstm.families.Fitted.runs`) with the feature transform refitted on the same
    training windows as in training (:func:`ytlstm.training.run_job`). Every model is checked
    to reproduce the study's forecasts of that origin's test windows before it is written
    (:class:`ModelError` otherwise). Returns model name -> folder.
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

    for name, forecaster in refit_baselines(study, o).items():
        _check_reproduces(name, forecaster.predict(test), fits[name].ensemble[o.test], o,
                          REPRODUCE_RTOL)
        params = ({m.name: dict(chosen.get(m.name, {})) for m in forecaster.members}
                  if name == "combination" else dict(chosen.get(name, {})))
        extra = {**common, "name": name, "params": params}
        written[name] = _in_place(out_dir / name, lambda tmp, f=forecaster, e=extra:
                                  _write_baseline(tmp, f, config, e))

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
    say(f"wrote {len(written)} models of the {o.name} ({o.info.get('test_first', '?')} to "
        f"{o.info.get('test_last', '?')}) to {out_dir}")
    return written


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

def _read_metadata(path: Path) -> dict:
    if not path.exists():
        raise ModelError(f"{path}: no such saved model folder")
    if not path.is_dir():
        raise ModelError(f"{path}: not a folder; expected a saved model folder with {METADATA}")
    mfile = path / METADATA
    if not mfile.is_file() or mfile.is_symlink():
        raise ModelError(f"{mfile}: file not found; expected a saved model folder "
                         "(written by `ytlstm export-models` or ytlstm.saved.save_model)")
    try:
        meta = json.loads(mfile.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{mfile}: unreadable ({' '.join(str(e).split())}); expected the "
                         "JSON metadata of a saved model") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{mfile}: not a JSON object; expected the metadata of a saved model")
    missing = [k for k in ("name", "kind", "package_version", "window", "files") if k not in meta]
    if missing:
        raise ModelError(f"{mfile}: missing field(s) {', '.join(missing)}")
    files = meta["files"]
    if not isinstance(files, list) or not all(isinstance(f, str) and f and "/" not in f
                                              and "\\" not in f and f not in (".", "..")
                                              for f in files):
        raise ModelError(f"{mfile}: field files is not a list of file names in the folder")
    # before anything but metadata.json is read: nothing the folder does not list, and
    # nothing but data (JSON, .npz, skops, .keras; sub-folders only for lstm_cluster)
    subfolders = set(files) if meta["kind"] == "cluster" else set()
    listed = [f for f in files if f not in subfolders]
    refused = [f for f in listed if not f.endswith(safeio.ALLOWED_SUFFIXES)]
    unexpected = safeio.unexpected_files(path, listed, subfolders)
    if refused or unexpected:
        names = sorted(set(refused) | set(unexpected))
        raise ModelError(f"{path}: unexpected file(s) {', '.join(names)}; a saved model holds "
                         "only metadata.json and the JSON, .npz, skops and .keras files it "
                         "lists (nothing was loaded; pickles are never loaded: re-export the "
                         "model with `ytlstm export-models`)")
    version = str(meta["package_version"])
    if _major_minor(version) != _major_minor(_version()):
        raise ModelError(f"{mfile}: saved by ytlstm {version}, this is ytlstm {_version()}; "
                         "expected the same major.minor version (re-export the models with "
                         "`ytlstm export-models`)")
    if meta.get("format", FORMAT) != FORMAT:
        raise ModelError(f"{mfile}: folder format {meta.get('format')}; expected {FORMAT} "
                         "(re-export the models with `ytlstm export-models`)")
    absent = [f for f in files if not (path / f).exists()]
    if absent:
        raise ModelError(f"{path}: missing file(s) {', '.join(absent)} listed in {METADATA}")
    return meta


def _load_neural(path: Path, meta: dict) -> NeuralModel:
    from ytlstm.models import _keras
    from ytlstm.windows import FeatureTransform

    transform = safeio.read(path, "transform", meta["files"])
    if not isinstance(transform, FeatureTransform):
        raise ModelError(f"{path / 'transform.json'}: holds a {type(transform).__name__}; "
                         "expected a FeatureTransform")
    seeds = meta.get("seeds") or []
    if not seeds:
        raise ModelError(f"{path / METADATA}: no seeds; expected at least one network")
    keras = _keras()
    networks = []
    for s in seeds:
        f = path / f"seed_{int(s)}.keras"
        if f.name not in meta["files"] or not f.is_file():
            raise ModelError(f"{f}: file not found (seed {s} of {METADATA})")
        try:
            # safe_mode: a network holding Python code (a Lambda layer) is refused, not run
            net = keras.models.load_model(f, compile=False, safe_mode=True)
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"{f}: cannot be loaded ({type(e).__name__}: "
                             f"{' '.join(str(e).split())[:200]})") from None
        expected = (None, int(meta["window"]), transform.n_channels)
        if tuple(net.input_shape) != expected:
            raise ModelError(f"{f}: network input shape {tuple(net.input_shape)}; expected "
                             f"{expected} (window, channels of transform.json)")
        networks.append(net)
    return NeuralModel(path, meta, transform, networks)


def load_model(path: str | Path) -> SavedModel:
    """Load a saved model folder; raises :class:`ModelError` if it is missing, incomplete,
    holds a file it should not (checked before anything is loaded), or was written by
    another major.minor version of ytlstm."""
    path = Path(path)
    meta = _read_metadata(path)
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
        try:
            centroids = np.asarray(meta["centroids"], dtype=np.float64)
            members = {int(c): sub for c, sub in meta["members"].items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ModelError(f"{path / METADATA}: no valid centroids and members") from None
        if centroids.ndim != 2 or set(members) != set(range(len(centroids))):
            raise ModelError(f"{path / METADATA}: {len(centroids)} centroids but members for "
                             f"clusters {sorted(members)}; expected one member per cluster")
        if not set(members.values()) <= set(meta["files"]):
            raise ModelError(f"{path / METADATA}: members {sorted(set(members.values()))} are "
                             "not all listed in files")
        loaded = {sub: load_model(path / sub) for sub in sorted(set(members.values()))}
        for sub, m in loaded.items():
            if not isinstance(m, NeuralModel):
                raise ModelError(f"{path / sub}: a {m.kind} model; expected a neural one")
        return ClusterModel(path, meta, centroids, {c: loaded[s] for c, s in members.items()})
    raise ModelError(f"{path / METADATA}: unknown model kind {kind!r}; expected baseline, "
                     "neural or cluster")


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

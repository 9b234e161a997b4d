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
  ``expm1(mean over seeds of log1p(views))``, as :attr:`ytlstm.study.NeuralResult.ensemble`;
* the **per-cluster** model ``lstm_cluster``: ``metadata.json`` with the k-means centroids
  of the growth-curve shapes and one neural sub-folder per cluster (``cluster_<c>/``, or
  ``global/``, the global univariate LSTM, for the clusters too small to train).

``metadata.json`` records the model's name and kind, the window length, the input channel
names, the study's configuration, the data's content hash, the seeds, the training windows
and the package version. :func:`load_model` refuses a folder written by another major.minor
version of ytlstm, one with a file missing, and one holding any file it does not list or
whose kind is not JSON, ``.npz``, skops or ``.keras`` (e.g. a ``model.pkl``), with a one-line
:class:`~ytlstm.errors.ModelError`, before reading any file but ``metadata.json``.

:func:`export_models` writes every final model of a :class:`~ytlstm.study.Study` (all
baselines and the chronological split's LSTMs) under ``_build/models/<CC>/<model name>/``.
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
#: Neural models of the chronological split that :func:`export_models` writes.
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
        """The seed ensemble: ``expm1(mean(log1p(views)))`` over seeds."""
        return np.expm1(np.log1p(self.predict_seeds(windows)).mean(axis=0))


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


def _network(weights: list, transform: FeatureTransform, config: StudyConfig):
    """The study's architecture with given weights."""
    from ytlstm.models import build_lstm

    net = build_lstm(config.window, transform.n_channels, config.units, config.dropout,
                     config.learning_rate, config.loss)
    net.set_weights([np.asarray(w) for w in weights])
    return net


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


def export_models(study, out_dir: str | Path = DEFAULT_MODELS_DIR,
                  say=None) -> dict[str, Path]:
    """Write every final model of ``study`` under ``out_dir/<model name>/``.

    Baselines are refitted on the chronological split's training windows, exactly as the
    study fitted them; each LSTM's networks are rebuilt from the study's weights with the
    feature transform refitted on the same training windows as in training
    (:func:`ytlstm.training.run_task`). Returns model name -> folder.
    """
    from ytlstm.windows import FeatureTransform

    try:
        from ytlstm.baselines import all_baselines
    except ImportError:
        all_baselines = None
    if all_baselines is None or not hasattr(study, "neural"):
        # the protocol-2 study (forecaster families, rolling origins) keeps its final models
        # in study.fits/study.chosen; exporting them is not written yet
        raise ModelError("saving the final models of this study is not implemented yet for "
                         "the forecaster families (ytlstm.saved.export_models); run with "
                         "--no-models")
    say = say or (lambda s: None)
    out_dir = Path(out_dir)
    config: StudyConfig = study.config
    split = study.splits["chronological"]
    windows = study.windows
    train_mask = split.mask("train")
    train = windows.subset(train_mask)
    # the models are fitted on these windows (a study checks them first; this is for callers
    # of the Python API with a study of a split part left empty)
    require_windows(int(train_mask.sum()), "training windows in the chronological split")
    require_windows(int(split.mask("validation").sum()),
                    "validation windows in the chronological split")
    common = {"data_hash": study.dataset.data_hash, "country": study.dataset.country,
              "data_files": dict(study.dataset.sha256), "split": "chronological",
              "split_info": dict(split.info), "n_train_windows": int(train_mask.sum())}
    written: dict[str, Path] = {}

    for b in all_baselines(config.gbm_seed, config.target):
        b.fit(train, windows.subset(split.mask("validation")))
        path = out_dir / b.name
        tmp = _atomic_folder(path)
        try:
            _write_baseline(tmp, b, config, common)
            written[b.name] = _publish(tmp, path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)

    neural = study.neural.get("chronological", {})
    for name in NEURAL_MODELS:
        if name not in neural:
            continue
        path = out_dir / name
        tmp = _atomic_folder(path)
        try:
            if name == "lstm_cluster":
                if study.clusters is None:
                    continue
                _write_cluster(tmp, study, train_mask, common)
            else:
                result = neural[name]
                multivariate = name != "lstm_univariate"
                transform = FeatureTransform(multivariate, config.target).fit(train)
                nets = [_network(r.weights, transform, config) for r in result.runs]
                _write_neural(tmp, name, transform, nets, [r.seed for r in result.runs], config,
                              common)
            written[name] = _publish(tmp, path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    say(f"wrote {len(written)} models to {out_dir}")
    return written


def _write_cluster(folder: Path, study, train_mask: np.ndarray, common: dict) -> None:
    """``lstm_cluster``: centroids plus one neural sub-folder per trained cluster and
    ``global/`` (the global univariate LSTM) for the clusters too small to train."""
    from ytlstm.windows import FeatureTransform

    config: StudyConfig = study.config
    cl = study.clusters
    windows = study.windows
    members: dict[str, str] = {}
    for c in cl.trained_clusters:
        sub = train_mask & (cl.window_cluster == c)
        require_windows(int(sub.sum()), f"training windows in cluster {c}")
        transform = FeatureTransform(False, config.target).fit(windows.subset(sub))
        runs = cl.cluster_runs[c]
        nets = [_network(r.weights, transform, config) for r in runs]
        _write_neural(folder / f"cluster_{c}", f"lstm_cluster/cluster_{c}", transform, nets,
                      [r.seed for r in runs], config,
                      {**common, "n_train_windows": int(sub.sum())})
        members[str(c)] = f"cluster_{c}"
    if cl.small_clusters:
        glob = study.neural["chronological"]["lstm_univariate"]
        transform = FeatureTransform(False, config.target).fit(windows.subset(train_mask))
        nets = [_network(r.weights, transform, config) for r in glob.runs]
        _write_neural(folder / "global", "lstm_cluster/global", transform, nets,
                      [r.seed for r in glob.runs], config, common)
        for c in cl.small_clusters:
            members[str(c)] = "global"
    meta = _metadata("lstm_cluster", "cluster", config, {
        "channels": ["views_inc", "views_rel", "views_log"], "seeds": list(config.seeds),
        "k": int(cl.k), "centroids": np.asarray(cl.centroids).tolist(),
        "cluster_feature": cl.feature_name, "members": members,
        "trained_clusters": [int(c) for c in cl.trained_clusters],
        "small_clusters": [int(c) for c in cl.small_clusters], "ensemble": ENSEMBLE_RULE,
        "files": sorted(set(members.values())), **common})
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

"""Fitted objects as data, never as code: JSON, ``.npz`` arrays and skops files.

Saved models (:mod:`ytlstm.saved`) are shared between people, so loading one must not run
code its author chose, which unpickling does. :func:`write` decomposes a fitted object
generically into

* ``<stem>.json``: a tree of plain JSON values describing the object;
* ``<stem>.npz``: its numeric (or string) arrays, read back with ``allow_pickle=False``;
* ``<stem>.<attribute>.skops``: each scikit-learn estimator it holds, written with
  :mod:`skops.io` and read back with an explicit list of trusted types
  (:data:`TRUSTED_SKOPS_TYPES`; skops refuses any other type it does not trust by default).

A **forecaster** (a :class:`ytlstm.baselines.Forecaster` subclass) is stored as its class,
its constructor parameters (the names of ``__init__``'s signature, read from the attributes
of the same name, as scikit-learn's ``get_params``) and every other instance attribute (the
fitted ones, ``alpha_``, ``transform_``, ``model_``...), each encoded by the same rules:
``None``, booleans, numbers and strings as JSON; NumPy arrays in the ``.npz``; lists, tuples
and dicts element by element; scikit-learn estimators as skops files; a ytlstm **dataclass**
(e.g. :class:`~ytlstm.windows.FeatureTransform`) field by field; a nested forecaster (e.g.
the members of a combination) recursively. Anything else cannot be saved (``TypeError`` at
save time, never a silent pickle).

:func:`read` rebuilds the object: classes are looked up by name only in ytlstm's own
modules (a forecaster must subclass ``Forecaster``, a dataclass must be one), constructed
with the saved parameters, then given the saved attributes.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ytlstm.cache import PACKAGE_DIR
from ytlstm.errors import ModelError

#: Suffixes of the files a saved model folder may hold (anything else is refused unread).
ALLOWED_SUFFIXES = (".json", ".npz", ".skops", ".keras")
#: Types skops does not trust by default that scikit-learn estimators of this package need
#: (the trees of HistGradientBoostingRegressor). Loading refuses every other untrusted type.
TRUSTED_SKOPS_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
#: NumPy dtype kinds stored in ``.npz`` (no object arrays: those need pickle).
_ARRAY_KINDS = "biufcmMUS"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


# --------------------------------------------------------------------------- writing

class _Writer:
    def __init__(self, folder: Path, stem: str) -> None:
        self.folder, self.stem = Path(folder), stem
        self.arrays: dict[str, np.ndarray] = {}
        self.files: list[str] = []

    def encode(self, value: Any, where: str) -> Any:
        from sklearn.base import BaseEstimator

        if value is None or isinstance(value, (bool, str)):
            return {"v": value}
        if isinstance(value, (int, float)) and not isinstance(value, np.generic):
            return {"v": value}
        if isinstance(value, np.generic):
            if value.dtype.kind not in _ARRAY_KINDS:
                raise TypeError(f"cannot save {where}: a NumPy {value.dtype} scalar")
            return {"np": value.dtype.str, "v": value.item() if value.dtype.kind not in "mM"
                    else str(value)}
        if isinstance(value, np.ndarray):
            arr = value
            if arr.dtype.kind == "O":
                if all(isinstance(x, str) for x in arr.ravel()):
                    arr = arr.astype(str)
                    key = f"a{len(self.arrays)}"
                    self.arrays[key] = arr
                    return {"npz": key, "object_str": True}
                raise TypeError(f"cannot save {where}: an array of Python objects")
            if arr.dtype.kind not in _ARRAY_KINDS:
                raise TypeError(f"cannot save {where}: an array of dtype {arr.dtype}")
            key = f"a{len(self.arrays)}"
            self.arrays[key] = arr
            return {"npz": key}
        if isinstance(value, (list, tuple)):
            return {"tuple" if isinstance(value, tuple) else "list":
                    [self.encode(x, f"{where}[{i}]") for i, x in enumerate(value)]}
        if isinstance(value, dict):
            return {"dict": [[self.encode(k, f"{where} key"), self.encode(v, f"{where}[{k!r}]")]
                             for k, v in value.items()]}
        if isinstance(value, BaseEstimator):
            import skops.io as sio

            rel = where[len(self.stem):] if where.startswith(self.stem) else where
            name = f"{self.stem}.{_file_part(rel)}.skops"
            if name in self.files:
                raise TypeError(f"cannot save {where}: two estimators would share {name}")
            sio.dump(value, self.folder / name)
            self.files.append(name)
            return {"skops": name}
        if _is_forecaster(value):
            params = _init_params(type(value))
            missing = [p for p in params if not hasattr(value, p)]
            if missing:
                raise TypeError(f"cannot save {where}: {type(value).__name__} does not keep its "
                                f"constructor parameter(s) {', '.join(missing)} as attributes")
            attrs = {k: v for k, v in vars(value).items() if k not in params}
            return {"forecaster": _class_path(type(value)),
                    "params": {p: self.encode(getattr(value, p), f"{where}.{p}")
                               for p in params},
                    "attrs": {k: self.encode(v, f"{where}.{k}") for k, v in attrs.items()}}
        if dataclasses.is_dataclass(value) and not isinstance(value, type) and \
                type(value).__module__.startswith("ytlstm."):
            return {"dataclass": _class_path(type(value)),
                    "fields": {f.name: self.encode(getattr(value, f.name), f"{where}.{f.name}")
                               for f in dataclasses.fields(value)}}
        raise TypeError(f"cannot save {where}: a {type(value).__module__}."
                        f"{type(value).__qualname__} (only JSON values, NumPy arrays, "
                        "scikit-learn estimators, ytlstm forecasters and dataclasses are saved)")


def _file_part(where: str) -> str:
    part = re.sub(r"[^A-Za-z0-9_]+", "_", where).strip("_")
    return part or "estimator"


def _is_forecaster(value: Any) -> bool:
    from ytlstm.baselines import Forecaster

    return isinstance(value, Forecaster)


def _init_params(cls: type) -> list[str]:
    """The constructor's named parameters (as scikit-learn's ``get_params``)."""
    sig = inspect.signature(cls.__init__)
    return [p.name for p in list(sig.parameters.values())[1:]
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def write(folder: str | Path, stem: str, obj: Any) -> list[str]:
    """Write ``obj`` as ``<stem>.json`` (+ ``<stem>.npz``, skops files) in ``folder``;
    returns the names of the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    w = _Writer(folder, stem)
    spec = {"format": 1, "object": w.encode(obj, stem)}
    if w.arrays:
        np.savez(folder / f"{stem}.npz", **w.arrays)
        w.files.append(f"{stem}.npz")
    (folder / f"{stem}.json").write_text(json.dumps(spec, indent=1, allow_nan=True) + "\n",
                                         encoding="utf-8")
    return [f"{stem}.json", *w.files]


# --------------------------------------------------------------------------- reading

def _resolve_class(path: Any, where: Path) -> type:
    """A class named ``module:qualname`` in ytlstm's own modules (nothing else is imported)."""
    if not isinstance(path, str) or path.count(":") != 1:
        raise ModelError(f"{where}: bad class name {path!r}")
    module, name = path.split(":")
    rel = module.split(".")
    if (rel[0] != "ytlstm" or not all(p.isidentifier() for p in rel)
            or not (PACKAGE_DIR.joinpath(*rel[1:]).with_suffix(".py")).is_file()
            or not name.isidentifier()):
        raise ModelError(f"{where}: class {path!r} is not one of ytlstm's own; refused")
    cls = getattr(importlib.import_module(module), name, None)
    if cls is None:
        raise ModelError(f"{where}: no class {name} in {module} (saved by another version?)")
    if not isinstance(cls, type):
        raise ModelError(f"{where}: {path} is not a class; refused")
    return cls


class _Reader:
    def __init__(self, folder: Path, stem: str, allowed_files: set[str]) -> None:
        self.folder, self.stem, self.allowed = folder, stem, allowed_files
        self.spec_file = folder / f"{stem}.json"
        npz = folder / f"{stem}.npz"
        self.arrays = None
        if npz.name in allowed_files and npz.is_file():
            try:
                with np.load(npz, allow_pickle=False) as z:
                    self.arrays = {k: z[k] for k in z.files}
            except Exception as e:  # noqa: BLE001 - any failure: an unusable file
                raise ModelError(f"{npz}: cannot be loaded ({type(e).__name__}: "
                                 f"{' '.join(str(e).split())[:200]})") from None

    def bad(self, what: str) -> ModelError:
        return ModelError(f"{self.spec_file}: {what}")

    def decode(self, spec: Any) -> Any:
        if not isinstance(spec, dict):
            raise self.bad(f"malformed entry {str(spec)[:60]!r}")
        if "v" in spec and "np" not in spec:
            v = spec["v"]
            if v is not None and not isinstance(v, (bool, int, float, str)):
                raise self.bad("malformed value")
            return v
        if "np" in spec:
            try:
                dt = np.dtype(spec["np"])
            except TypeError:
                raise self.bad(f"bad dtype {spec['np']!r}") from None
            if dt.kind not in _ARRAY_KINDS:
                raise self.bad(f"dtype {dt} refused")
            return np.array(spec["v"], dtype=dt)[()]
        if "npz" in spec:
            if self.arrays is None or spec["npz"] not in self.arrays:
                raise self.bad(f"array {spec['npz']!r} not in {self.stem}.npz")
            arr = self.arrays[spec["npz"]]
            return arr.astype(object) if spec.get("object_str") else arr
        if "list" in spec:
            return [self.decode(x) for x in spec["list"]]
        if "tuple" in spec:
            return tuple(self.decode(x) for x in spec["tuple"])
        if "dict" in spec:
            return {self.decode(k): self.decode(v) for k, v in spec["dict"]}
        if "skops" in spec:
            return self.skops(spec["skops"])
        if "forecaster" in spec:
            from ytlstm.baselines import Forecaster

            cls = _resolve_class(spec["forecaster"], self.spec_file)
            if not issubclass(cls, Forecaster):
                raise self.bad(f"{spec['forecaster']} is not a forecaster; refused")
            params = {k: self.decode(v) for k, v in spec.get("params", {}).items()}
            unknown = set(params) - set(_init_params(cls))
            if unknown:
                raise self.bad(f"{cls.__name__} takes no parameter(s) "
                               f"{', '.join(sorted(unknown))} (saved by another version?)")
            obj = cls(**params)
            for k, v in spec.get("attrs", {}).items():
                setattr(obj, str(k), self.decode(v))
            return obj
        if "dataclass" in spec:
            cls = _resolve_class(spec["dataclass"], self.spec_file)
            if not dataclasses.is_dataclass(cls):
                raise self.bad(f"{spec['dataclass']} is not a dataclass; refused")
            fields = {f.name: f for f in dataclasses.fields(cls)}
            values = {k: self.decode(v) for k, v in spec.get("fields", {}).items()}
            if set(values) - set(fields):
                raise self.bad(f"{cls.__name__} has no field(s) "
                               f"{', '.join(sorted(set(values) - set(fields)))}")
            obj = cls(**{k: v for k, v in values.items() if fields[k].init})
            for k, v in values.items():
                if not fields[k].init:
                    setattr(obj, k, v)
            return obj
        raise self.bad(f"unknown entry with keys {sorted(spec)}")

    def skops(self, name: Any) -> Any:
        import skops.io as sio

        if not isinstance(name, str) or not _SAFE_NAME.match(name) or name not in self.allowed:
            raise self.bad(f"skops file {name!r} is not a listed file of the folder")
        path = self.folder / name
        try:
            return sio.load(path, trusted=TRUSTED_SKOPS_TYPES)
        except Exception as e:  # noqa: BLE001 - untrusted types, corrupt file, ...
            raise ModelError(f"{path}: cannot be loaded ({type(e).__name__}: "
                             f"{' '.join(str(e).split())[:200]})") from None


def read(folder: str | Path, stem: str, allowed_files: set[str] | list[str]) -> Any:
    """The object :func:`write` stored as ``<stem>.*`` in ``folder``.

    ``allowed_files`` are the file names the folder's metadata lists; no other file is read.
    Raises :class:`~ytlstm.errors.ModelError` for anything malformed or refused.
    """
    folder = Path(folder)
    allowed = set(allowed_files)
    spec_file = folder / f"{stem}.json"
    if spec_file.name not in allowed or not spec_file.is_file():
        raise ModelError(f"{spec_file}: file not found; expected the JSON description of the "
                         "fitted object")
    try:
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{spec_file}: cannot be loaded ({' '.join(str(e).split())[:200]})"
                         ) from None
    if not isinstance(spec, dict) or "object" not in spec:
        raise ModelError(f"{spec_file}: cannot be loaded (not a saved object description)")
    reader = _Reader(folder, stem, allowed)
    try:
        return reader.decode(spec["object"])
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001 - a malformed description
        raise ModelError(f"{spec_file}: cannot be loaded ({type(e).__name__}: "
                         f"{' '.join(str(e).split())[:200]})") from None


def unexpected_files(folder: str | Path, listed: list[str] | set[str],
                     subfolders: set[str] = frozenset()) -> list[str]:
    """Entries of ``folder`` that a saved model may not hold (checked before reading any).

    Allowed: ``metadata.json``, the ``listed`` files if their suffix is one of
    :data:`ALLOWED_SUFFIXES`, and the named ``subfolders``. Symbolic links, hidden files and
    anything else (``*.pkl``, ``*.py``, ``*.h5``...) are unexpected.
    """
    folder = Path(folder)
    allowed = {"metadata.json", *listed}
    bad = []
    for p in sorted(folder.iterdir()):
        if p.is_symlink():
            bad.append(p.name)
        elif p.is_dir():
            if p.name not in subfolders:
                bad.append(p.name + "/")
        elif p.name not in allowed or not p.name.endswith(ALLOWED_SUFFIXES):
            bad.append(p.name)
    return bad

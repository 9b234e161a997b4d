"""Fitted objects as data, never as code: JSON, ``.npz`` arrays and skops files, read with limits.

Saved models (:mod:`ytlstm.saved`) are shared between people, so loading one must not run
code its author chose, which unpickling does, nor let a tampered file crash, hang or flood the
process. :func:`write` decomposes a fitted object generically into

* ``<stem>.json``: a tree of plain JSON values describing the object;
* ``<stem>.npz``: its numeric (or string) arrays, read back with ``allow_pickle=False``;
* ``<stem>.<attribute>.skops``: each scikit-learn estimator it holds, written with
  :mod:`skops.io`.

A **forecaster** (a :class:`ytlstm.baselines.Forecaster` subclass) is stored as its class,
its constructor parameters (the names of ``__init__``'s signature, read from the attributes
of the same name, as scikit-learn's ``get_params``) and every other instance attribute (the
fitted ones, ``alpha_``, ``transform_``, ``model_``...), each encoded by the same rules:
``None``, booleans, numbers and strings as JSON; NumPy arrays in the ``.npz``; lists, tuples
and dicts element by element; scikit-learn estimators as skops files; a ytlstm **dataclass**
(e.g. :class:`~ytlstm.windows.FeatureTransform`) field by field; a nested forecaster (e.g.
the members of a combination) recursively. Anything else cannot be saved (``TypeError`` at
save time, never a silent pickle).

**Reading** (:func:`read`) treats every file as hostile:

* *Classes* come only from :data:`ALLOWED_CLASSES`, the (module, class) pairs this package
  writes, looked up in modules the package imports itself: no name in a file makes Python
  import anything. skops files are audited before skops sees them: every (module, class)
  pair of their ``schema.json`` must be in :data:`SKOPS_TYPES` (what the package's scikit-learn
  estimators hold), every node kind in :data:`SKOPS_NODES`.
* *Files* are read by :func:`read_bytes`: regular files only (no symbolic link, FIFO or
  device; opened without blocking), at most :data:`MAX_JSON_BYTES` for JSON and
  :data:`MAX_FILE_BYTES` for the others. JSON nests at most :data:`MAX_JSON_DEPTH` levels.
  Archives (``.npz``, skops, ``.keras``) are read in memory and never unpacked to disk: at
  most :data:`MAX_MEMBERS` members, each at most :data:`MAX_MEMBER_BYTES` and all together
  at most :data:`MAX_UNPACKED_BYTES` once decompressed; every ``.npy`` member's header is
  read first (no object dtype, the declared shape no larger than the member).
* *Numbers that set a loop or an allocation* (a forecaster's ``horizon``, a transform's
  ``horizons``...) are checked against :data:`INT_LIMITS` before the object is built.
* *Gradient-boosted trees.* scikit-learn's ``TreePredictor`` walks its node array in compiled
  code without bounds checks. Rather than store the trees in a format of our own and walk
  them in Python (a second implementation of scikit-learn's prediction, which the export's
  reproduction check would have to keep equal to the last bit), every loaded
  ``HistGradientBoostingRegressor`` is checked to hold exactly what that walk relies on
  (:func:`check_gradient_boosting`): the node record dtype scikit-learn defines, one tree
  per iteration, each split node's children after it and inside the array (so no cycle: a
  walk ends within the tree's size), its feature index below ``n_features_in_`` (which
  scikit-learn checks every input against), leaf flags 0 or 1, no categorical split (the
  package never fits one, so the bitset arrays are never indexed), thresholds not NaN
  (``+inf`` is scikit-learn's split on missing values) and finite leaf values.

Anything refused or malformed is a one-line :class:`~ytlstm.errors.ModelError` naming the
file and what was wrong.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import json
import os
import re
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ytlstm.errors import ModelError

#: Suffixes of the files a saved model folder may hold (anything else is refused unread).
ALLOWED_SUFFIXES = (".json", ".npz", ".skops", ".keras")
#: The classes a saved model may name: (module, class) pairs of the objects this package
#: writes (forecasters, and the dataclasses they hold). Nothing else is ever looked up.
ALLOWED_CLASSES: dict[str, frozenset[tuple[str, str]]] = {
    "forecaster": frozenset(("ytlstm.baselines", c) for c in (
        "Naive", "Drift", "SzaboHuberman", "LinearAR", "GradientBoosting", "Combination")),
    "dataclass": frozenset({("ytlstm.windows", "FeatureTransform")}),
}
#: (module, class) pairs a skops file of this package holds (the feature scaler and encoder,
#: the gradient boosting model, its trees, binning, losses and random generator, NumPy values).
SKOPS_TYPES = frozenset({
    ("builtins", "dict"), ("builtins", "list"), ("builtins", "str"), ("builtins", "tuple"),
    ("builtins", "int"), ("builtins", "float"), ("builtins", "bool"),
    ("numpy", "ndarray"), ("numpy", "float64"), ("numpy", "float32"), ("numpy", "int64"),
    ("numpy", "int32"), ("numpy", "uint64"), ("numpy", "uint32"), ("numpy", "uint8"),
    ("numpy", "bool_"), ("numpy", "bool"),
    ("numpy.random._generator", "Generator"),
    ("sklearn._loss._loss", "CyAbsoluteError"), ("sklearn._loss._loss", "CyHalfSquaredError"),
    ("sklearn._loss.loss", "AbsoluteError"), ("sklearn._loss.loss", "HalfSquaredError"),
    ("sklearn._loss.link", "IdentityLink"), ("sklearn._loss.link", "Interval"),
    ("sklearn.ensemble._hist_gradient_boosting.binning", "_BinMapper"),
    ("sklearn.ensemble._hist_gradient_boosting.gradient_boosting",
     "HistGradientBoostingRegressor"),
    ("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor"),
    ("sklearn.preprocessing._data", "StandardScaler"),
    ("sklearn.preprocessing._encoders", "OneHotEncoder"),
})
#: skops node kinds (``__loader__``) those types are stored with.
SKOPS_NODES = frozenset({"DictNode", "ListNode", "JsonNode", "TypeNode", "TupleNode",
                         "NdArrayNode", "RandomGeneratorNode", "LossNode", "ObjectNode"})

#: Largest JSON file read (metadata, descriptions, calibration) and its deepest nesting.
MAX_JSON_BYTES = 8 * 2**20
MAX_JSON_DEPTH = 64
#: Largest ``.npz``, skops or ``.keras`` file read.
MAX_FILE_BYTES = 64 * 2**20
#: Archives: most members, largest member and largest total once decompressed.
MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 64 * 2**20
MAX_UNPACKED_BYTES = 128 * 2**20
#: Largest array element (a string of 256 characters).
MAX_ITEMSIZE = 1024
#: Most entries listed in a model folder.
MAX_FOLDER_ENTRIES = 10_000
#: Furthest horizon a saved model may hold (days after the last input day).
MAX_HORIZON = 365
#: Whole numbers of a forecaster or dataclass that set a loop or an allocation: their range.
INT_LIMITS = {"horizon": (1, MAX_HORIZON), "horizons": (1, MAX_HORIZON), "k": (1, 1_000),
              "max_iter": (1, 100_000), "max_leaf_nodes": (2, 100_000),
              "n_iter_no_change": (1, 100_000), "seed": (0, 2**32 - 1),
              "n_scaled": (0, 100_000), "n_trees_": (0, 100_000)}
#: Gradient boosting: most features, trees and nodes per tree.
MAX_FEATURES = 100_000
MAX_TREES = 100_000
MAX_NODES = 2**20
#: NumPy dtype kinds stored in ``.npz`` (no object arrays: those need pickle).
_ARRAY_KINDS = "biufcmMUS"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def _short(e: BaseException) -> str:
    """An exception as a few words on one line."""
    text = " ".join(str(e).split())[:200]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
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
    """``module:class`` of a class the package may save (:data:`ALLOWED_CLASSES`)."""
    if not any((cls.__module__, cls.__qualname__) in pairs for pairs in ALLOWED_CLASSES.values()):
        raise TypeError(f"cannot save a {cls.__module__}.{cls.__qualname__}: not one of the "
                        "classes a saved model may hold (ytlstm.safeio.ALLOWED_CLASSES)")
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


# --------------------------------------------------------------------------- files, JSON, archives

def read_bytes(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes (a symbolic link,
    FIFO, device or folder is refused; nothing blocks)."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ModelError(f"{path}: file not found") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot be opened ({_short(e)}); expected a regular file "
                         "(not a symbolic link)") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ModelError(f"{path}: not a regular file; a saved model holds only regular "
                             "files (no FIFO, device or link)")
        if st.st_size > limit:
            raise ModelError(f"{path}: {st.st_size} bytes; expected at most {limit}")
        chunks, n = [], 0
        while n <= limit:
            b = os.read(fd, min(1 << 20, limit + 1 - n))
            if not b:
                break
            chunks.append(b)
            n += len(b)
        if n > limit:
            raise ModelError(f"{path}: more than {limit} bytes; expected at most {limit}")
        return b"".join(chunks)
    except OSError as e:
        raise ModelError(f"{path}: cannot be read ({_short(e)})") from None
    finally:
        os.close(fd)


def json_depth(text: str) -> int:
    """Deepest nesting of arrays and objects in JSON ``text`` (strings ignored)."""
    b = np.frombuffer(_JSON_STRING.sub('""', text).encode("utf-8"), dtype=np.uint8)
    step = (b == ord("[")).astype(np.int64) + (b == ord("{")) - (b == ord("]")) - (b == ord("}"))
    return int(np.cumsum(step).max(initial=0))


def parse_json(data: bytes, where: str, limit: int = MAX_JSON_BYTES) -> Any:
    """``data`` parsed as JSON of at most ``limit`` bytes and :data:`MAX_JSON_DEPTH` levels."""
    if len(data) > limit:
        raise ModelError(f"{where}: {len(data)} bytes of JSON; expected at most {limit}")
    try:
        text = data.decode("utf-8")
        depth = json_depth(text)
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested {depth} levels deep, more than {MAX_JSON_DEPTH}")
        return json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ModelError(f"{where}: cannot be loaded ({_short(e)}); expected JSON") from None


def load_json(path: str | Path) -> Any:
    """A JSON file read with the limits of :func:`read_bytes` and :func:`parse_json`."""
    return parse_json(read_bytes(path, MAX_JSON_BYTES), str(path))


def open_zip(data: bytes, where: str, names: set[str] | None = None) -> zipfile.ZipFile:
    """An archive read in memory, checked before any member is: at most
    :data:`MAX_MEMBERS` members (exactly ``names`` if given), none encrypted, each at most
    :data:`MAX_MEMBER_BYTES` and all at most :data:`MAX_UNPACKED_BYTES` decompressed."""
    if data.count(b"PK\x01\x02") > MAX_MEMBERS:
        raise ModelError(f"{where}: more than {MAX_MEMBERS} archive members; refused")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError,
            NotImplementedError) as e:
        raise ModelError(f"{where}: cannot be loaded ({_short(e)}); expected a zip "
                         "archive") from None
    got = [i.filename for i in infos]
    if len(got) > MAX_MEMBERS:
        raise ModelError(f"{where}: {len(got)} archive members; expected at most {MAX_MEMBERS}")
    if len(set(got)) != len(got) or (names is not None and set(got) != names):
        want = f"exactly {', '.join(sorted(names))}" if names is not None else "unique names"
        raise ModelError(f"{where}: archive members {', '.join(sorted(got)[:5])}"
                         f"{'...' if len(got) > 5 else ''}; expected {want}")
    total = 0
    for i in infos:
        if i.flag_bits & 0x1 or i.compress_type not in (zipfile.ZIP_STORED,
                                                       zipfile.ZIP_DEFLATED):
            raise ModelError(f"{where}: archive member {i.filename} is encrypted or compressed "
                             "with an unsupported method; refused")
        if i.file_size > MAX_MEMBER_BYTES:
            raise ModelError(f"{where}: archive member {i.filename} unpacks to {i.file_size} "
                             f"bytes; expected at most {MAX_MEMBER_BYTES}")
        total += i.file_size
    if total > MAX_UNPACKED_BYTES:
        raise ModelError(f"{where}: archive unpacks to {total} bytes; expected at most "
                         f"{MAX_UNPACKED_BYTES}")
    return zf


def read_member(zf: zipfile.ZipFile, name: str, where: str) -> bytes:
    """One member of a checked archive (its size was bounded by :func:`open_zip`)."""
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise ModelError(f"{where}: archive member {name} cannot be read ({_short(e)})"
                         ) from None


def _simple_dtype(dt: np.dtype, structured: bool) -> bool:
    if dt.hasobject or dt.subdtype is not None or dt.itemsize > MAX_ITEMSIZE:
        return False
    if dt.names is not None:
        return structured and all(_simple_dtype(dt.fields[n][0], False) for n in dt.names)
    return dt.kind in _ARRAY_KINDS


def check_npy_members(zf: zipfile.ZipFile, where: str, members, structured: bool = False) -> None:
    """Read each ``.npy`` member's header: a plain dtype (no objects; structured records
    only if ``structured``) and a shape whose bytes fit in the member."""
    for info in members:
        try:
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dt = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _, dt = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"format version {version}")
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, TypeError,
                SyntaxError) as e:
            raise ModelError(f"{where}: array {info.filename} has no valid header "
                             f"({_short(e)})") from None
        if not _simple_dtype(dt, structured):
            raise ModelError(f"{where}: array {info.filename} of dtype {dt} refused; expected "
                             "numbers or short strings (never objects)")
        count = 1
        for s in shape:
            count *= int(s)
        if count * dt.itemsize > info.file_size:
            raise ModelError(f"{where}: array {info.filename} declares shape {tuple(shape)} "
                             f"({count * dt.itemsize} bytes) in a member of {info.file_size}")


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file (no pickle, headers checked, sizes bounded)."""
    path = Path(path)
    data = read_bytes(path)
    zf = open_zip(data, str(path))
    bad = [n for n in zf.namelist() if not n.endswith(".npy")]
    if bad:
        raise ModelError(f"{path}: member {bad[0][:80]} is not a .npy array")
    check_npy_members(zf, str(path), zf.infolist())
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 - any failure: an unusable file
        raise ModelError(f"{path}: cannot be loaded ({_short(e)})") from None


# --------------------------------------------------------------------------- skops files

_HGB = ("sklearn.ensemble._hist_gradient_boosting.gradient_boosting",
        "HistGradientBoostingRegressor")
_TREE = ("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor")


def _audit_skops(schema: Any, where: str) -> None:
    """Every (module, class) and node kind of a skops ``schema.json`` is one this package
    writes (before skops constructs, or imports, anything); a gradient boosting model only
    as the file's object itself and trees only inside it (so that every tree loaded is one
    :func:`check_gradient_boosting` checks)."""
    root = (schema.get("__module__"), schema.get("__class__")) if isinstance(schema, dict) \
        else None
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node or "__module__" in node or "__loader__" in node:
                pair = (node.get("__module__"), node.get("__class__"))
                if pair not in SKOPS_TYPES:
                    raise ModelError(f"{where}: type {str(pair[0])[:80]}.{str(pair[1])[:80]} "
                                     "is not one the package saves; refused (nothing was "
                                     "loaded)")
                if node.get("__loader__") not in SKOPS_NODES:
                    raise ModelError(f"{where}: skops node {str(node.get('__loader__'))[:40]!r} "
                                     "refused")
                if (pair == _HGB and node is not schema) or (pair == _TREE and root != _HGB):
                    raise ModelError(f"{where}: a {pair[1]} outside the file's gradient "
                                     "boosting model; refused")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def load_skops(path: str | Path) -> Any:
    """A skops file of this package's estimators: size and members bounded, types audited
    (:data:`SKOPS_TYPES`), array headers checked, trees checked
    (:func:`check_gradient_boosting`)."""
    import skops.io as sio

    path = Path(path)
    data = read_bytes(path)
    zf = open_zip(data, str(path))
    if "schema.json" not in zf.namelist():
        raise ModelError(f"{path}: no schema.json; expected a skops file")
    _audit_skops(parse_json(read_member(zf, "schema.json", str(path)), f"{path} (schema.json)",
                            MAX_MEMBER_BYTES), str(path))
    arrays = [i for i in zf.infolist() if i.filename != "schema.json"]
    bad = [i.filename for i in arrays if not i.filename.endswith(".npy")]
    if bad:
        raise ModelError(f"{path}: member {bad[0]} is not a .npy array; refused")
    check_npy_members(zf, str(path), arrays, structured=True)
    try:
        # the audit admitted only SKOPS_TYPES; skops is told to trust exactly those (the trees
        # among them, which skops never trusts by default, are checked right after)
        obj = sio.load(io.BytesIO(data), trusted=sorted(f"{m}.{c}" for m, c in SKOPS_TYPES))
    except Exception as e:  # noqa: BLE001 - untrusted types, corrupt file, ...
        raise ModelError(f"{path}: cannot be loaded ({_short(e)})") from None
    check_gradient_boosting(obj, path)
    return obj


def check_gradient_boosting(est: Any, path: str | Path) -> None:
    """Refuse a ``HistGradientBoostingRegressor`` whose trees scikit-learn's compiled walk
    could not follow safely (see the module docstring); anything else passes."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    if not isinstance(est, HistGradientBoostingRegressor):
        return

    def bad(what: str) -> ModelError:
        return ModelError(f"{path}: gradient boosting model with {what}; refused")

    n_feat = getattr(est, "n_features_in_", None)
    if not isinstance(n_feat, (int, np.integer)) or not 1 <= int(n_feat) <= MAX_FEATURES:
        raise bad(f"n_features_in_ {n_feat!r}")
    n_feat = int(n_feat)
    if getattr(est, "n_trees_per_iteration_", None) != 1:
        raise bad(f"{getattr(est, 'n_trees_per_iteration_', None)!r} trees per iteration "
                  "(expected 1)")
    if getattr(est, "_preprocessor", None) is not None:
        raise bad("a feature preprocessor")
    for owner in (est, getattr(est, "_bin_mapper", None)):
        cat = getattr(owner, "is_categorical_", None)
        if cat is not None and (not isinstance(cat, np.ndarray) or cat.dtype.kind not in "biu"
                                or cat.size > MAX_FEATURES or np.any(cat)):
            raise bad("categorical features (the package fits none)")
    base = getattr(est, "_baseline_prediction", None)
    if not isinstance(base, np.ndarray) or base.size != 1 or base.dtype.kind != "f" or \
            not np.isfinite(base).all():
        raise bad("a baseline prediction that is not one finite number")
    predictors = getattr(est, "_predictors", None)
    if not isinstance(predictors, list) or len(predictors) > MAX_TREES:
        raise bad("no list of trees")
    for t, it in enumerate(predictors):
        if not isinstance(it, list) or len(it) != 1 or type(it[0]) is not TreePredictor:
            raise bad(f"iteration {t} not one tree")
        p = it[0]
        nodes = getattr(p, "nodes", None)
        if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or \
                nodes.ndim != 1 or not 1 <= len(nodes) <= MAX_NODES:
            raise bad(f"tree {t}: a node array that is not scikit-learn's node records")
        for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets"):
            b = getattr(p, name, None)
            if not isinstance(b, np.ndarray) or b.dtype != np.uint32 or b.ndim != 2 or \
                    b.shape[1] != 8:
                raise bad(f"tree {t}: malformed {name}")
        n = len(nodes)
        leaf = nodes["is_leaf"]
        if not np.isin(leaf, (0, 1)).all() or not np.isin(nodes["missing_go_to_left"],
                                                          (0, 1)).all():
            raise bad(f"tree {t}: leaf or missing-value flags other than 0 and 1")
        if np.any(nodes["is_categorical"]):
            raise bad(f"tree {t}: a categorical split (the package fits none)")
        split = leaf == 0
        idx = np.arange(n, dtype=np.int64)[split]
        left = nodes["left"][split].astype(np.int64)
        right = nodes["right"][split].astype(np.int64)
        if np.any((left <= idx) | (left >= n) | (right <= idx) | (right >= n)):
            raise bad(f"tree {t}: a child index out of range (each split's children must "
                      f"follow it among the tree's {n} nodes)")
        feat = nodes["feature_idx"][split]
        if np.any((feat < 0) | (feat >= n_feat)):
            raise bad(f"tree {t}: a feature index outside 0..{n_feat - 1}")
        if np.isnan(nodes["num_threshold"][split]).any():
            raise bad(f"tree {t}: a NaN threshold")
        if not np.isfinite(nodes["value"][~split]).all():
            raise bad(f"tree {t}: a leaf value that is not finite")


# --------------------------------------------------------------------------- reading objects

def _resolve_class(path: Any, kind: str, where: Path) -> type:
    """The class ``module:qualname`` if it is in :data:`ALLOWED_CLASSES` [kind]; found in
    modules the package imports itself (no module is imported by name)."""
    from ytlstm import baselines, windows

    if not isinstance(path, str) or path.count(":") != 1:
        raise ModelError(f"{where}: bad class name {str(path)[:80]!r}")
    pair = tuple(path.split(":"))
    if pair not in ALLOWED_CLASSES[kind]:
        raise ModelError(f"{where}: class {path[:80]!r} is not one of ytlstm's own saved "
                         f"{kind} classes; refused")
    module = {"ytlstm.baselines": baselines, "ytlstm.windows": windows}[pair[0]]
    cls = getattr(module, pair[1], None)
    if not isinstance(cls, type):
        raise ModelError(f"{where}: no class {pair[1]} in {pair[0]} (saved by another version?)")
    return cls


def _check_int(name: str, value: Any, where: Path) -> None:
    if name in INT_LIMITS:
        lo, hi = INT_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
                not lo <= int(value) <= hi:
            raise ModelError(f"{where}: {name} {str(value)[:40]}; expected a whole number "
                             f"from {lo} to {hi}")


def _check_attr(cls: type, name: Any, where: Path) -> str:
    """An attribute name a saved object may set: an identifier, not private, not a method."""
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise ModelError(f"{where}: attribute {str(name)[:40]!r} refused")
    static = inspect.getattr_static(cls, name, None)
    if callable(static) or isinstance(static, (property, staticmethod, classmethod)):
        raise ModelError(f"{where}: attribute {name} would replace a method of "
                         f"{cls.__name__}; refused")
    return name


class _Reader:
    def __init__(self, folder: Path, stem: str, allowed_files: set[str]) -> None:
        self.folder, self.stem, self.allowed = folder, stem, allowed_files
        self.spec_file = folder / f"{stem}.json"
        npz = folder / f"{stem}.npz"
        self.arrays = load_npz(npz) if npz.name in allowed_files else None

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
                dt = np.dtype(str(spec["np"])[:20])
            except (TypeError, ValueError, SyntaxError):
                raise self.bad(f"bad dtype {str(spec['np'])[:20]!r}") from None
            if not _simple_dtype(dt, False) or dt.names is not None:
                raise self.bad(f"dtype {dt} refused")
            return np.array(spec["v"], dtype=dt)[()]
        if "npz" in spec:
            if self.arrays is None or spec["npz"] not in self.arrays:
                raise self.bad(f"array {str(spec['npz'])[:40]!r} not in {self.stem}.npz")
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

            cls = _resolve_class(spec["forecaster"], "forecaster", self.spec_file)
            if not issubclass(cls, Forecaster):
                raise self.bad(f"{spec['forecaster']} is not a forecaster; refused")
            params = {str(k): self.decode(v) for k, v in dict(spec.get("params", {})).items()}
            unknown = set(params) - set(_init_params(cls))
            if unknown:
                raise self.bad(f"{cls.__name__} takes no parameter(s) "
                               f"{', '.join(sorted(unknown))[:200]} (saved by another version?)")
            for k, v in params.items():
                _check_int(k, v, self.spec_file)
            obj = cls(**params)
            for k, v in dict(spec.get("attrs", {})).items():
                value = self.decode(v)
                _check_int(str(k), value, self.spec_file)
                setattr(obj, _check_attr(cls, k, self.spec_file), value)
            return obj
        if "dataclass" in spec:
            cls = _resolve_class(spec["dataclass"], "dataclass", self.spec_file)
            if not dataclasses.is_dataclass(cls):
                raise self.bad(f"{spec['dataclass']} is not a dataclass; refused")
            fields = {f.name: f for f in dataclasses.fields(cls)}
            values = {str(k): self.decode(v) for k, v in dict(spec.get("fields", {})).items()}
            if set(values) - set(fields):
                raise self.bad(f"{cls.__name__} has no field(s) "
                               f"{', '.join(sorted(set(values) - set(fields)))[:200]}")
            for k, v in values.items():
                _check_int(k, v, self.spec_file)
            obj = cls(**{k: v for k, v in values.items() if fields[k].init})
            for k, v in values.items():
                if not fields[k].init:
                    setattr(obj, k, v)
            return obj
        raise self.bad(f"unknown entry with keys {sorted(map(str, spec))[:5]}")

    def skops(self, name: Any) -> Any:
        if not isinstance(name, str) or not _SAFE_NAME.match(name) or name not in self.allowed \
                or not name.endswith(".skops"):
            raise self.bad(f"skops file {str(name)[:80]!r} is not a listed file of the folder")
        return load_skops(self.folder / name)


def read(folder: str | Path, stem: str, allowed_files: set[str] | list[str]) -> Any:
    """The object :func:`write` stored as ``<stem>.*`` in ``folder``.

    ``allowed_files`` are the file names the folder's metadata lists; no other file is read.
    Raises :class:`~ytlstm.errors.ModelError` for anything malformed or refused.
    """
    folder = Path(folder)
    allowed = set(allowed_files)
    spec_file = folder / f"{stem}.json"
    if spec_file.name not in allowed:
        raise ModelError(f"{spec_file}: file not found; expected the JSON description of the "
                         "fitted object")
    spec = load_json(spec_file)
    if not isinstance(spec, dict) or "object" not in spec:
        raise ModelError(f"{spec_file}: cannot be loaded (not a saved object description)")
    try:
        reader = _Reader(folder, stem, allowed)
        return reader.decode(spec["object"])
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001 - a malformed description
        raise ModelError(f"{spec_file}: cannot be loaded ({_short(e)})") from None


def unexpected_files(folder: str | Path, listed: list[str] | set[str],
                     subfolders: set[str] = frozenset()) -> list[str]:
    """Entries of ``folder`` that a saved model may not hold (checked before reading any).

    Allowed: ``metadata.json``, the ``listed`` files if their suffix is one of
    :data:`ALLOWED_SUFFIXES` and they are regular files, and the named ``subfolders``.
    Symbolic links, FIFOs, devices, hidden files and anything else (``*.pkl``, ``*.py``,
    ``*.h5``...) are unexpected; so is a folder of more than :data:`MAX_FOLDER_ENTRIES`.
    """
    folder = Path(folder)
    allowed = {"metadata.json", *listed}
    bad = []
    with os.scandir(folder) as it:
        for n, entry in enumerate(it):
            if n >= MAX_FOLDER_ENTRIES:
                return bad + [f"(more than {MAX_FOLDER_ENTRIES} entries)"]
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                if entry.name not in subfolders:
                    bad.append(entry.name + "/")
            elif not stat.S_ISREG(mode):
                bad.append(f"{entry.name} (not a regular file)")
            elif entry.name not in allowed or not entry.name.endswith(ALLOWED_SUFFIXES):
                bad.append(entry.name)
    return sorted(bad)

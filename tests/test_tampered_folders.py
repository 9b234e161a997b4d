"""Tampered copies of saved model folders (issue 24): never a crash, hang, flood or import.

The tests build their own small folders (a gradient boosting and a linear baseline fitted on
a tiny synthetic country, and a one-seed LSTM), then break a copy of one in a single way per
case and run ``python -m ytlstm predict`` on it in a subprocess under an address-space limit
(``RLIMIT_AS``) and a timeout. Every case must end with exit 2 (never a signal), exactly one
line on stderr naming the file and what was wrong, nothing on stdout, no ``--out`` file, no
file written anywhere else (the model folder, the working folder and ``TMPDIR`` are compared
before and after), and a peak memory below the limit.

The classes of tampering: out-of-range tree nodes (the segmentation faults and out-of-bounds
reads of scikit-learn's unchecked tree walk), class names that would import a module, archive
and array bombs, deep or large JSON, numbers that set a loop or an allocation, and files that
are not regular files. The pickles, Lambda layers, symbolic links and unlisted files of
tests/test_model_safety.py stay there.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from kaggle_files import make_rows, small_split, write_videos
from ytlstm.baselines import GradientBoosting, LinearAR
from ytlstm.errors import ModelError
from ytlstm.saved import load_model, save_model

#: Address-space limit of each run (TensorFlow reserves much virtual memory when imported).
AS_LIMIT = {"baseline": 3 * 2**30, "neural": 12 * 2**30}
#: Largest peak resident memory of a run (measured: refused folders 160-210 MiB, an intact
#: baseline 206 MiB, an intact LSTM with TensorFlow 800 MiB).
RSS_LIMIT = {"baseline": 400 * 2**20, "neural": 1200 * 2**20}
TIMEOUT = 120


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Saved folders of a fitted GBM, linear model and LSTM, and an input CSV."""
    from ytlstm.config import StudyConfig
    from ytlstm.models import LSTMForecaster

    root = tmp_path_factory.mktemp("tampered")
    ds, w, train, val = small_split(root / "data", seed=5)
    out = {
        "gbm": save_model(GradientBoosting(max_iter=15, target="drift").fit(train, val),
                          root / "gbm"),
        "linear_ar": save_model(LinearAR(target="drift").fit(train, val), root / "linear_ar"),
        "neural": save_model(LSTMForecaster(StudyConfig(units=4, max_epochs=1), seed=0).fit(
            train, val), root / "lstm"),
        "csv": write_videos(root / "in.csv", make_rows(n_videos=3, days=9)),
    }
    return out


def _snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for f in folders for p in sorted(Path(f).rglob("*"))}


#: Runs the command line and, at exit, writes the process's peak resident memory (VmHWM, kB:
#: this process's own, unlike ru_maxrss, which a forked child inherits from pytest).
_RUNNER = """
import atexit, sys
def _peak(path=sys.argv[1]):
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    with open(path, "w") as out:
        out.write(str(kb))
atexit.register(_peak)
sys.argv = ["ytlstm"] + sys.argv[2:]
from ytlstm.cli import main
sys.exit(main())
"""


def _predict(model: Path, csv: Path, work: Path, kind: str, *options: str):
    """Run ``ytlstm predict`` in a subprocess under the limits; returns (status, stdout,
    stderr, peak resident bytes, --out path)."""
    tmp, cwd = work / "tmp", work / "cwd"
    tmp.mkdir(parents=True)
    cwd.mkdir()
    out, peak = work / "forecast.csv", work / "peak_kb"
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(Path(__file__).parents[1]),
           "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT[kind], AS_LIMIT[kind]))

    before = _snapshot(model, cwd, tmp)
    with open(work / "stdout", "wb") as so, open(work / "stderr", "wb") as se:
        proc = subprocess.Popen([sys.executable, "-c", _RUNNER, str(peak), "predict",
                                 "--model", str(model), "--csv", str(csv), "--out", str(out),
                                 *options],
                                stdout=so, stderr=se, cwd=cwd, env=env, preexec_fn=limit)
        try:
            status = proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"predict hung for more than {TIMEOUT} s")
    assert _snapshot(model, cwd, tmp) == before, "files were written outside --out"
    assert status >= 0, f"killed by signal {-status}"
    err = (work / "stderr").read_text(errors="replace")
    assert peak.is_file(), err[-3000:]
    return status, (work / "stdout").read_text(), err, int(peak.read_text()) * 1024, out


def _refused(folders, folder: Path, tmp_path: Path, *parts: str, kind: str = "baseline",
             options: tuple = ()) -> str:
    code, out, err, rss, out_file = _predict(folder, folders["csv"], tmp_path / "run", kind,
                                             *options)
    lines = err.strip().splitlines()
    assert code == 2, err[-3000:]
    assert len(lines) == 1 and lines[0].startswith("ytlstm: error: "), err[-3000:]
    assert "Traceback" not in err
    for p in parts:
        assert p in lines[0], (p, lines[0])
    assert out == "" and not out_file.exists()
    assert rss < RSS_LIMIT[kind], f"peak memory {rss / 2**20:.0f} MiB"
    return lines[0]


def _copy(folders, name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folders[name], tmp_path / name))


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _put_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj))


# --------------------------------------------------------------------------- the harness

def test_an_intact_folder_forecasts_under_the_same_limits(folders, tmp_path):
    for kind, name in (("baseline", "gbm"), ("neural", "neural")):
        code, out, err, rss, out_file = _predict(folders[name], folders["csv"],
                                                 tmp_path / name, kind)
        assert code == 0, err[-3000:]
        assert len(out_file.read_text().splitlines()) == 4
        assert rss < RSS_LIMIT[kind]


def test_every_kind_of_fitted_baseline_passes_the_checks(tmp_path):
    """The audit and limits refuse nothing the package writes: every loss and target of the
    gradient boosting model and the multivariate linear model round-trip exactly."""
    ds, w, train, val = small_split(tmp_path / "data", seed=3)
    models = [GradientBoosting(max_iter=8, loss=loss, target=target)
              for loss in ("squared", "absolute", "absolute_scaled")
              for target in ("growth", "drift")]
    models += [LinearAR(inputs="multivariate", loss=loss)
               for loss in ("squared", "absolute", "absolute_scaled")]
    for i, m in enumerate(models):
        m.fit(train, val)
        back = load_model(save_model(m, tmp_path / f"m{i}"))
        np.testing.assert_array_equal(back.predict(w), m.predict(w), err_msg=repr(m))


# --------------------------------------------------------------------------- trees

def _edit_trees(folder: Path, edit) -> Path:
    """Apply ``edit(estimator)`` to the GBM of a copied folder and save it back with skops."""
    import skops.io as sio

    f = folder / "model.model.skops"
    est = sio.load(f, trusted=sio.get_untrusted_types(file=f))
    edit(est)
    sio.dump(est, f)
    return f


def _node_edit(field: str, value, tree: int = 0):
    def edit(est) -> None:
        nodes = est._predictors[tree][0].nodes
        split = int(np.flatnonzero(nodes["is_leaf"] == 0)[0])
        nodes[field][split] = value(len(nodes)) if callable(value) else value
    return edit


@pytest.mark.parametrize("field,value,what", [
    ("left", 10**9, "a child index out of range"),           # far out: a segfault before
    ("right", lambda n: n, "a child index out of range"),    # just past the end: junk read
    ("left", 0, "a child index out of range"),               # back to the root: a cycle
    ("feature_idx", 10**6, "a feature index outside"),
    ("feature_idx", -1, "a feature index outside"),
    ("num_threshold", float("nan"), "a NaN threshold"),
    ("is_categorical", 1, "a categorical split"),
    ("is_leaf", 7, "leaf or missing-value flags"),
])
def test_out_of_range_tree_nodes_are_refused(folders, tmp_path, field, value, what):
    folder = _copy(folders, "gbm", tmp_path)
    _edit_trees(folder, _node_edit(field, value, tree=3))
    _refused(folders, folder, tmp_path, "model.model.skops", "gradient boosting model",
             "tree 3", what)


def test_more_trees_per_iteration_are_refused(folders, tmp_path):
    folder = _copy(folders, "gbm", tmp_path)
    _edit_trees(folder, lambda est: setattr(est, "n_trees_per_iteration_", 10**9))
    _refused(folders, folder, tmp_path, "model.model.skops", "trees per iteration")


def test_trees_hidden_inside_another_object_are_refused(folders, tmp_path):
    """Trees are checked only as the file's gradient boosting model; one wrapped in a list
    (where the check would not look) is refused."""
    import skops.io as sio

    folder = _copy(folders, "gbm", tmp_path)
    f = folder / "model.model.skops"
    est = sio.load(f, trusted=sio.get_untrusted_types(file=f))
    est._predictors[0][0].nodes["left"][0] = 10**9
    sio.dump([est], f)
    _refused(folders, folder, tmp_path, "model.model.skops", "a HistGradientBoostingRegressor "
             "outside the file's gradient boosting model")


# --------------------------------------------------------------------------- imports

@pytest.mark.parametrize("entry,cls", [("forecaster", "ytlstm.__main__:main"),
                                       ("forecaster", "ytlstm.download:download"),
                                       ("forecaster", "ytlstm.baselines:np")])
def test_a_class_name_never_imports_a_module(folders, tmp_path, entry, cls):
    folder = _copy(folders, "linear_ar", tmp_path)
    spec = _json(folder / "model.json")
    spec["object"][entry] = cls
    _put_json(folder / "model.json", spec)
    _refused(folders, folder, tmp_path, "model.json", "is not one of ytlstm's own", "refused")
    before = set(sys.modules)
    with pytest.raises(ModelError, match="refused"):
        load_model(folder)
    assert not {m for m in set(sys.modules) - before if m.startswith("ytlstm")}


def test_a_dataclass_outside_the_allow_list_is_refused(folders, tmp_path):
    folder = _copy(folders, "linear_ar", tmp_path)
    spec = _json(folder / "model.json")
    spec["object"]["attrs"]["transform_"]["dataclass"] = "ytlstm.study:Study"
    _put_json(folder / "model.json", spec)
    _refused(folders, folder, tmp_path, "model.json", "ytlstm.study:Study",
             "is not one of ytlstm's own saved dataclass classes")


def _rezip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    path.write_bytes(buf.getvalue())


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_a_skops_type_naming_a_package_module_is_refused(folders, tmp_path):
    folder = _copy(folders, "linear_ar", tmp_path)
    f = folder / "model.transform__x_scaler.skops"
    m = _members(f)
    schema = json.loads(m["schema.json"])
    schema["__module__"], schema["__class__"] = "ytlstm.__main__", "main"
    m["schema.json"] = json.dumps(schema).encode()
    _rezip(f, m)
    _refused(folders, folder, tmp_path, f.name, "type ytlstm.__main__.main is not one the "
             "package saves")


# --------------------------------------------------------------------------- archives, arrays

def test_a_keras_file_of_large_zero_members_is_never_unpacked(folders, tmp_path):
    """Four members of 40 MB of zeros (a ~200 KB file): refused before any is read; no
    temporary folder anywhere."""
    folder = _copy(folders, "neural", tmp_path)
    f = folder / "seed_0.keras"
    m = _members(f)
    m.update({f"assets/big_{i}": bytes(40 * 2**20) for i in range(4)})
    _rezip(f, m)
    assert f.stat().st_size < 2 * 2**20
    _refused(folders, folder, tmp_path, "seed_0.keras", "archive members", kind="neural")


def test_a_keras_member_that_unpacks_too_large_is_refused(folders, tmp_path):
    folder = _copy(folders, "neural", tmp_path)
    f = folder / "seed_0.keras"
    m = _members(f)
    m["model.weights.h5"] = bytes(100 * 2**20)
    _rezip(f, m)
    _refused(folders, folder, tmp_path, "seed_0.keras", "model.weights.h5 unpacks to",
             kind="neural")


def _npy(shape_text: str, payload: bytes = b"\0" * 64) -> bytes:
    header = ("{'descr': '<f8', 'fortran_order': False, 'shape': %s, }" % shape_text)
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + payload


@pytest.mark.parametrize("shape", ["(10000000000,)", "(100000, 100000)"])
def test_an_npz_array_declaring_a_huge_shape_is_refused(folders, tmp_path, shape):
    folder = _copy(folders, "linear_ar", tmp_path)
    f = folder / "model.npz"
    m = _members(f)
    m[sorted(m)[0]] = _npy(shape)
    _rezip(f, m)
    _refused(folders, folder, tmp_path, "model.npz", "declares shape")


def test_a_skops_array_declaring_a_huge_shape_is_refused(folders, tmp_path):
    folder = _copy(folders, "gbm", tmp_path)
    f = folder / "model.model.skops"
    m = _members(f)
    m[next(n for n in sorted(m) if n.endswith(".npy"))] = _npy("(4000000000,)")
    _rezip(f, m)
    _refused(folders, folder, tmp_path, f.name, "declares shape")


def test_an_npz_object_array_is_refused(folders, tmp_path):
    folder = _copy(folders, "linear_ar", tmp_path)
    f = folder / "model.npz"
    m = _members(f)
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    m[sorted(m)[0]] = buf.getvalue()
    _rezip(f, m)
    _refused(folders, folder, tmp_path, "model.npz", "dtype object refused")


def test_an_archive_that_is_not_a_zip_is_refused(folders, tmp_path):
    folder = _copy(folders, "gbm", tmp_path)
    (folder / "model.model.skops").write_bytes(b"PK\x03\x04" + os.urandom(2000))
    _refused(folders, folder, tmp_path, "model.model.skops", "expected a zip archive")


# --------------------------------------------------------------------------- JSON

def test_deeply_nested_json_is_refused(folders, tmp_path):
    folder = _copy(folders, "linear_ar", tmp_path)
    (folder / "model.json").write_text('{"format": 1, "object": ' + "[" * 200_000
                                       + "]" * 200_000 + "}")
    _refused(folders, folder, tmp_path, "model.json", "nested", "levels deep")


def test_a_huge_metadata_file_is_refused(folders, tmp_path):
    folder = _copy(folders, "linear_ar", tmp_path)
    meta = _json(folder / "metadata.json")
    meta["padding"] = "x" * (9 * 2**20)
    _put_json(folder / "metadata.json", meta)
    _refused(folders, folder, tmp_path, "metadata.json", "expected at most")


# --------------------------------------------------------------------------- numbers

@pytest.mark.parametrize("field,value,what", [
    ("window", 10**9, "window 1000000000"),
    ("window", -3, "window -3"),
    ("outputs", 10**12, "field outputs"),
    ("horizons", {"max_horizon": 10**9, "form": "direct", "levels": [0.8],
                  "calibration": "calibration.json", "stems": {}}, "malformed horizons entry"),
    ("horizons", {"max_horizon": 2, "form": "direct", "levels": [0.5] * 100_000,
                  "calibration": "calibration.json", "stems": {}}, "malformed horizons entry"),
    ("seeds", list(range(200_000)), "seeds"),
])
def test_metadata_numbers_out_of_range_are_refused(folders, tmp_path, field, value, what):
    folder = _copy(folders, "linear_ar", tmp_path)
    meta = _json(folder / "metadata.json")
    meta[field] = value
    _put_json(folder / "metadata.json", meta)
    _refused(folders, folder, tmp_path, "metadata.json", what)


@pytest.mark.parametrize("where,name,value", [
    ("params", "horizon", 10**12),       # Drift-like loops over the horizon
    ("params", "horizon", True),
    ("transform", "horizons", 10**9),    # np.arange(1, horizons + 1)
    ("transform", "n_scaled", -5),
])
def test_forecaster_numbers_out_of_range_are_refused(folders, tmp_path, where, name, value):
    folder = _copy(folders, "linear_ar", tmp_path)
    spec = _json(folder / "model.json")
    target = (spec["object"]["params"] if where == "params"
              else spec["object"]["attrs"]["transform_"]["fields"])
    target[name] = {"v": value}
    _put_json(folder / "model.json", spec)
    _refused(folders, folder, tmp_path, "model.json", f"{name} ", "expected a whole number")


def test_an_attribute_replacing_a_method_is_refused(folders, tmp_path):
    folder = _copy(folders, "linear_ar", tmp_path)
    spec = _json(folder / "model.json")
    spec["object"]["attrs"]["predict"] = {"v": 1}
    _put_json(folder / "model.json", spec)
    _refused(folders, folder, tmp_path, "model.json", "attribute predict would replace a method")


def test_a_scaler_of_the_wrong_size_fails_in_one_line(folders, tmp_path):
    """A folder that loads but cannot predict (a tampered scaler) names the model folder."""
    import skops.io as sio

    folder = _copy(folders, "linear_ar", tmp_path)
    f = folder / "model.transform__x_scaler.skops"
    scaler = sio.load(f, trusted=sio.get_untrusted_types(file=f))
    scaler.mean_ = np.zeros(2)
    sio.dump(scaler, f)
    _refused(folders, folder, tmp_path, str(folder), "cannot forecast with this model")


# --------------------------------------------------------------------------- networks

def _keras_config(folder: Path, edit) -> None:
    f = folder / "seed_0.keras"
    m = _members(f)
    config = json.loads(m["config.json"])
    edit(config)
    m["config.json"] = json.dumps(config).encode()
    _rezip(f, m, zipfile.ZIP_STORED)


def test_a_network_of_a_million_units_is_refused_before_it_is_built(folders, tmp_path):
    folder = _copy(folders, "neural", tmp_path)
    _keras_config(folder, lambda c: c["config"]["layers"][1]["config"].update(units=10**6))
    _refused(folders, folder, tmp_path, "seed_0.keras", "LSTM units 1000000", kind="neural")


def test_network_weights_of_another_shape_are_refused(folders, tmp_path):
    folder = _copy(folders, "neural", tmp_path)
    _keras_config(folder, lambda c: c["config"]["layers"][1]["config"].update(units=5))
    _refused(folders, folder, tmp_path, "seed_0.keras", "weights layers/lstm/cell/vars/0",
             "expected float32 of shape", kind="neural")


def test_a_network_layer_naming_another_module_is_refused(folders, tmp_path):
    folder = _copy(folders, "neural", tmp_path)
    _keras_config(folder, lambda c: c["config"]["layers"][2].update(
        module="ytlstm.__main__", class_name="main"))
    _refused(folders, folder, tmp_path, "seed_0.keras", "expected the package's Input, LSTM, "
             "Dense network", kind="neural")


def test_seed_files_beyond_the_limit_are_refused(folders, tmp_path):
    folder = _copy(folders, "neural", tmp_path)
    meta = _json(folder / "metadata.json")
    meta["seeds"] = [0, 0]
    _put_json(folder / "metadata.json", meta)
    _refused(folders, folder, tmp_path, "metadata.json", "distinct whole numbers",
             kind="neural")


def _cluster(folders, tmp_path: Path, k: int = 2) -> Path:
    """A per-cluster folder laid out as the export writes it: centroids, and the neural
    folder as the member of every cluster."""
    from ytlstm.saved import _metadata
    from ytlstm.config import StudyConfig

    folder = tmp_path / "lstm_cluster"
    folder.mkdir()
    shutil.copytree(folders["neural"], folder / "global")
    meta = _metadata("lstm_cluster", "cluster", StudyConfig(), {
        "seeds": [0], "k": k, "centroids": np.full((k, 7), 0.5).tolist(),
        "members": {str(c): "global" for c in range(k)}, "files": ["global"]})
    _put_json(folder / "metadata.json", json.loads(json.dumps(meta, default=str)))
    return folder


def test_a_per_cluster_folder_forecasts(folders, tmp_path):
    code, _, err, _, out = _predict(_cluster(folders, tmp_path), folders["csv"],
                                    tmp_path / "run", "neural")
    assert code == 0, err[-3000:]
    assert len(out.read_text().splitlines()) == 4


def test_a_cluster_member_that_is_itself_per_cluster_is_refused(folders, tmp_path):
    """No recursion: the member of a per-cluster folder must be a neural one."""
    folder = _cluster(folders, tmp_path)
    inner = _json(folder / "metadata.json")
    inner["files"] = ["global"]
    _put_json(folder / "global" / "metadata.json", inner)
    _refused(folders, folder, tmp_path, "global/metadata.json", "a cluster model inside a "
             "per-cluster model", kind="neural")


def test_too_many_centroids_are_refused(folders, tmp_path):
    folder = _cluster(folders, tmp_path)
    meta = _json(folder / "metadata.json")
    meta["centroids"] = [[0.5] * 7] * 50_000
    meta["members"] = {str(c): "global" for c in range(50_000)}
    _put_json(folder / "metadata.json", meta)
    _refused(folders, folder, tmp_path, "metadata.json", "50000 centroids",
             f"expected 1 to {100} finite centroids", kind="neural")


def test_centroids_of_the_wrong_width_are_refused(folders, tmp_path):
    folder = _cluster(folders, tmp_path)
    meta = _json(folder / "metadata.json")
    meta["centroids"] = np.zeros((2, 5)).tolist()
    _put_json(folder / "metadata.json", meta)
    _refused(folders, folder, tmp_path, "metadata.json", "centroids of 5 values; expected 7",
             kind="neural")


# --------------------------------------------------------------------------- files

def test_a_fifo_in_place_of_a_file_never_blocks(folders, tmp_path):
    folder = _copy(folders, "linear_ar", tmp_path)
    (folder / "model.json").unlink()
    os.mkfifo(folder / "model.json")
    _refused(folders, folder, tmp_path, "model.json", "not a regular file")


@pytest.mark.parametrize("how", ["fifo", "symlink"])
def test_metadata_that_is_not_a_regular_file_is_refused(folders, tmp_path, how):
    folder = _copy(folders, "linear_ar", tmp_path)
    meta = folder / "metadata.json"
    if how == "fifo":
        meta.unlink()
        os.mkfifo(meta)
    else:
        target = tmp_path / "meta.json"
        meta.rename(target)
        os.symlink(target, meta)
    _refused(folders, folder, tmp_path, "metadata.json",
             "not a regular file" if how == "fifo" else "cannot be opened")


def test_a_symlink_to_a_file_outside_is_refused(folders, tmp_path):
    folder = _copy(folders, "linear_ar", tmp_path)
    (folder / "model.npz").unlink()
    os.symlink("/dev/zero", folder / "model.npz")
    _refused(folders, folder, tmp_path, "model.npz (not a regular file)", "nothing was loaded")


def test_a_traversing_file_name_is_refused(folders, tmp_path):
    folder = _copy(folders, "linear_ar", tmp_path)
    meta = _json(folder / "metadata.json")
    meta["files"].append("../../etc/passwd.json")
    _put_json(folder / "metadata.json", meta)
    _refused(folders, folder, tmp_path, "metadata.json",
             "field files is not a list of file names in the folder")

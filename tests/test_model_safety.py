"""A model folder received from someone else runs no code when loaded (issue 12, item 5).

Each test crafts a malicious file in a copy of a saved model folder whose loading would
create a marker file, then runs ``ytlstm predict`` on it: exit 2 with one line, and the
marker is never created. A saved folder holds only JSON, ``.npz``, skops and ``.keras`` files.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from kaggle_files import make_rows, small_split, write_videos
from ytlstm import safeio
from ytlstm.baselines import LinearAR
from ytlstm.errors import ModelError
from ytlstm.saved import load_model, save_model
from ytlstm.windows import FeatureTransform


class _Evil:
    """Unpickling this creates the marker file (a stand-in for any shell command)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("safety")
    ds, w, train, val = small_split(root / "data", seed=3)
    model = LinearAR(target="drift").fit(train, val)
    path = save_model(model, root / "linear_ar", data_hash=ds.data_hash)
    return {"root": root, "path": path, "train": train, "windows": w}


@pytest.fixture
def folder(fitted, tmp_path):
    return Path(shutil.copytree(fitted["path"], tmp_path / "shared_model"))


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "pwned"


@pytest.fixture
def csv(tmp_path):
    return write_videos(tmp_path / "in.csv", make_rows(n_videos=2, days=9))


def _refused(run_cli, folder: Path, csv: Path, marker: Path, *parts: str,
             options: tuple = ()) -> None:
    code, out, err = run_cli("predict", "--model", folder, "--csv", csv, *options)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ytlstm: error: "), err
    assert "Traceback" not in err
    for p in parts:
        assert p in lines[0], (p, lines[0])
    assert out == ""
    assert not marker.exists(), "loading the folder ran code"


def _meta(folder: Path) -> dict:
    return json.loads((folder / "metadata.json").read_text())


def _set_meta(folder: Path, meta: dict) -> None:
    (folder / "metadata.json").write_text(json.dumps(meta))


def test_saved_folder_holds_only_data_files(fitted):
    names = sorted(p.name for p in fitted["path"].iterdir())
    assert all(n.endswith((".json", ".npz", ".skops", ".keras")) for n in names), names
    assert "metadata.json" in names and "model.json" in names


def test_a_pickle_beside_the_model_is_refused_unread(folder, csv, marker, run_cli):
    (folder / "model.pkl").write_bytes(pickle.dumps(_Evil(marker)))
    _refused(run_cli, folder, csv, marker, "unexpected file(s) model.pkl", "nothing was loaded")


def test_a_pickle_listed_in_the_metadata_is_refused(folder, csv, marker, run_cli):
    (folder / "model.pkl").write_bytes(pickle.dumps(_Evil(marker)))
    meta = _meta(folder)
    meta["files"] = ["model.pkl"]
    _set_meta(folder, meta)
    _refused(run_cli, folder, csv, marker, "model.pkl")


def test_an_old_pickled_export_is_refused(folder, csv, marker, run_cli):
    """A folder of the first layout (format 1: model.pkl) is never unpickled."""
    for p in folder.iterdir():
        if p.name != "metadata.json":
            p.unlink()
    (folder / "model.pkl").write_bytes(pickle.dumps(_Evil(marker)))
    meta = _meta(folder)
    meta.update(format=1, files=["model.pkl"])
    _set_meta(folder, meta)
    _refused(run_cli, folder, csv, marker, "model.pkl", "ytlstm export-models")


@pytest.mark.parametrize("name", ["helper.py", "extra.json", ".hidden.npz", "weights.h5"])
def test_any_unlisted_file_is_refused(folder, csv, marker, run_cli, name):
    (folder / name).write_text("import os\n")
    _refused(run_cli, folder, csv, marker, "unexpected file(s)", name)


def test_a_symlink_is_refused(folder, csv, marker, run_cli, tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    os.symlink(target, folder / "other.json")
    _refused(run_cli, folder, csv, marker, "unexpected file(s) other.json")


def test_a_skops_file_with_an_untrusted_function_is_refused(folder, csv, marker, run_cli):
    """An estimator that would call os.system on its input (a FunctionTransformer) is not
    loaded: every type of the skops file must be one the package saves, audited before skops
    constructs (or imports) anything."""
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    scaler = next(p for p in folder.iterdir() if "x_scaler" in p.name)
    sio.dump(FunctionTransformer(func=os.system).fit(np.zeros((2, 1))), scaler)
    _refused(run_cli, folder, csv, marker, scaler.name, "FunctionTransformer is not one the "
             "package saves; refused")


@pytest.mark.parametrize("cls", ["os:system", "subprocess:Popen", "builtins:eval",
                                 "ytlstm.cli:main", "ytlstm.windows:Windows"])
def test_a_class_outside_the_forecasters_is_refused(folder, csv, marker, run_cli, cls):
    spec = json.loads((folder / "model.json").read_text())
    spec["object"]["forecaster"] = cls
    (folder / "model.json").write_text(json.dumps(spec))
    with pytest.raises(ModelError, match="refused|not a forecaster"):
        load_model(folder)
    _refused(run_cli, folder, csv, marker)


def test_a_keras_network_holding_python_code_is_refused(fitted, tmp_path, csv, marker,
                                                        run_cli):
    """A neural folder whose network has a Lambda layer (Python bytecode that would create
    the marker) is refused by Keras' safe mode; nothing of it runs."""
    from ytlstm.models import _keras
    from ytlstm.saved import _metadata
    from ytlstm.config import StudyConfig

    keras = _keras()
    transform = FeatureTransform(False, "drift").fit(fitted["train"])
    folder = tmp_path / "neural"
    files = safeio.write(folder, "transform", transform)
    path = str(marker)
    inp = keras.Input((7, transform.n_channels))
    evil = keras.layers.Lambda(lambda x: x[:, -1, :1] * 0 + float(len(open(path, "w").name)))
    keras.Model(inp, evil(inp)).save(folder / "seed_0.keras")
    marker.unlink()                       # building the network ran the lambda once
    meta = _metadata("lstm_univariate", "neural", StudyConfig(), {
        "seeds": [0], "files": files + ["seed_0.keras"], "channels": transform.channel_names,
        "n_channels": transform.n_channels})
    (folder / "metadata.json").write_text(json.dumps(meta, default=str))
    _refused(run_cli, folder, csv, marker, "seed_0.keras: cannot be loaded")


def test_npz_arrays_are_read_without_pickle(tmp_path):
    """An object array cannot be saved (it would need pickle) and is not read back."""
    with pytest.raises(TypeError, match="array of Python objects"):
        safeio.write(tmp_path, "x", np.array([object()], dtype=object))
    np.savez(tmp_path / "y.npz", a0=np.array([{"a": 1}], dtype=object))
    (tmp_path / "y.json").write_text(json.dumps({"format": 1, "object": {"npz": "a0"}}))
    with pytest.raises(ModelError, match="y.npz: array a0.npy of dtype object refused"):
        safeio.read(tmp_path, "y", ["y.json", "y.npz"])


def test_unsaveable_attributes_fail_at_save_time(fitted, tmp_path):
    model = LinearAR(target="drift").fit(fitted["train"])
    model.callback_ = print                    # not data: refused, never pickled
    with pytest.raises(TypeError, match="cannot save model.callback_"):
        save_model(model, tmp_path / "m")
    assert not (tmp_path / "m").exists()


# --------------------------------------------------------------------------- horizon models

def _with_horizons(folder: Path, model) -> None:
    """Give a copied baseline folder models of horizons 1 and 2 and an interval calibration,
    laid out as ``export_models`` writes them (both stems hold the day-8 model here)."""
    meta = _meta(folder)
    files = list(meta["files"])
    for h in (1, 2):
        files += safeio.write(folder, f"horizon_{h}", model)
    (folder / "calibration.json").write_text(json.dumps({"version": 3, "bounds": [
        {"horizon": h, "level": 0.8, "lower_z": -1.5, "upper_z": 2.0, "n_scores": 50}
        for h in (1, 2)]}))
    meta.update(files=files + ["calibration.json"], horizons={
        "max_horizon": 2, "form": "direct", "origin": "origin 1", "levels": [0.8],
        "calibration": "calibration.json", "stems": {"1": "horizon_1", "2": "horizon_2"}})
    _set_meta(folder, meta)


def test_horizon_models_are_data_too(fitted, folder, csv, marker, run_cli, tmp_path):
    """A folder with horizon models: horizon 1 with intervals works; a horizon stem that
    names a class outside the forecasters, a pickle in its place, or a forecaster of another
    horizon is refused with one line, and nothing runs."""
    from ytlstm.baselines import LinearAR as _LinearAR

    _with_horizons(folder, _LinearAR(target="drift").fit(fitted["train"]))
    out = tmp_path / "f.csv"
    code, _, err = run_cli("predict", "--model", folder, "--csv", csv, "--intervals",
                           "--out", out)
    assert code == 0, err
    assert open(out).readline().strip().endswith(",model,lower_80,upper_80")
    _refused(run_cli, folder, csv, marker, "horizon_2.json", "holds a LinearAR of horizon 1",
             "expected a fitted ytlstm forecaster of horizon 2", options=("--horizon", "2"))

    spec = json.loads((folder / "horizon_2.json").read_text())
    spec["object"]["forecaster"] = "os:system"
    (folder / "horizon_2.json").write_text(json.dumps(spec))
    _refused(run_cli, folder, csv, marker, "horizon_2.json", "is not one of ytlstm's own",
             options=("--horizon", "2", "--intervals"))

    meta = _meta(folder)
    for f in [f for f in meta["files"] if f.startswith("horizon_2.")]:
        (folder / f).unlink()
        meta["files"].remove(f)
    (folder / "horizon_2.pkl").write_bytes(pickle.dumps(_Evil(marker)))
    meta["files"].append("horizon_2.pkl")
    _set_meta(folder, meta)
    _refused(run_cli, folder, csv, marker, "horizon_2.pkl", "nothing was loaded")

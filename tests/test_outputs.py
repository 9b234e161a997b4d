"""Outputs per country, never clobbered (issue 12, item 2): default folders, ``run.json``,
refusals with exit 2 and one line unless ``--force``, and ``predict --country``.

(The full run that writes ``run.json`` is exercised by tests/test_resume.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kaggle_files import make_rows, write_country, write_videos
from ytlstm.baselines import Naive
from ytlstm.data import data_hash, find_country_files
from ytlstm.errors import DataError
from ytlstm.outputs import (RUN_FILE, check_folder, default_models_dir, default_results_dir,
                            read_run, write_run)
from ytlstm.saved import DEFAULT_MODELS_DIR, save_model


def test_default_folders_are_per_country():
    assert default_results_dir("US") == Path("_build/results")      # the book reads it
    assert default_results_dir("gb") == Path("_build/results/GB")
    assert default_models_dir("US") == Path("_build/models/US") == DEFAULT_MODELS_DIR
    assert default_models_dir("jp") == Path("_build/models/JP")


def test_run_json_round_trip(tmp_path):
    from ytlstm import __version__

    write_run(tmp_path, "gb", "abc", "results")
    rec = read_run(tmp_path)
    assert rec == {"country": "GB", "data_hash": "abc", "package": "ytlstm",
                   "package_version": __version__, "holds": "results"}
    assert read_run(tmp_path / "none") is None


def test_check_folder(tmp_path):
    check_folder(tmp_path / "new", "US", "h1", what="results", option="--out")   # no folder
    check_folder(tmp_path, "US", "h1", what="results", option="--out")           # no run.json
    write_run(tmp_path, "US", "h1", "results")
    check_folder(tmp_path, "US", "h1", what="results", option="--out")           # same run
    with pytest.raises(DataError) as e:
        check_folder(tmp_path, "GB", "h2", what="results", option="--out")
    msg = str(e.value)
    assert "\n" not in msg
    assert "holds the results of a US run" in msg and "this is a GB run" in msg
    assert "--force" in msg and "--out" in msg
    with pytest.raises(DataError, match="US run on other data.*--models-dir, or --force"):
        check_folder(tmp_path, "US", "h2", what="models", option="--models-dir")
    check_folder(tmp_path, "GB", "h2", what="results", option="--out", force=True)
    (tmp_path / RUN_FILE).write_text("{broken")
    with pytest.raises(DataError, match="run.json: unreadable"):
        check_folder(tmp_path, "US", "h1", what="results", option="--out")


def _one_line(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("which", ["--out", "--models-dir"])
def test_run_refuses_another_countrys_folder_before_computing(tmp_path, run_cli, which):
    files = write_country(tmp_path / "data", "GB", n_videos=3, days=9)
    owned = tmp_path / "owned"
    write_run(owned, "US", "somehash", "results" if which == "--out" else "models")
    before = {p.name: p.read_bytes() for p in owned.iterdir()}
    other = "--models-dir" if which == "--out" else "--out"
    code, _, err = run_cli("run", "--data-dir", files.folder, "--country", "GB", "--quiet",
                           "--cache-dir", tmp_path / "cache", which, owned,
                           other, tmp_path / "mine")
    line = _one_line(code, err)
    assert str(owned) in line and "US run" in line and "--force" in line
    assert not (tmp_path / "cache").exists(), "refused before anything was computed"
    assert {p.name: p.read_bytes() for p in owned.iterdir()} == before


def test_run_refuses_the_same_country_on_other_data(tmp_path, run_cli):
    files = write_country(tmp_path / "data", "GB", n_videos=3, days=9)
    out = tmp_path / "out"
    write_run(out, "GB", "0" * 64, "results")
    code, _, err = run_cli("run", "--data-dir", files.folder, "--country", "GB", "--quiet",
                           "--cache-dir", tmp_path / "cache", "--out", out, "--no-models")
    line = _one_line(code, err)
    assert "GB run on other data" in line
    assert data_hash(find_country_files(files.folder, "GB"))[:12] in line


def test_bad_config_file_is_one_line(tmp_path, run_cli):
    files = write_country(tmp_path / "data", "GB", n_videos=3, days=9)
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"no_such_field": 1}))
    code, _, err = run_cli("run", "--data-dir", files.folder, "--country", "GB", "--quiet",
                           "--config", cfg, "--out", tmp_path / "o", "--no-models")
    assert "c.json: no_such_field: unknown field" in _one_line(code, err)


# --------------------------------------------------------------------------- predict

@pytest.fixture
def in_tmp_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _save_naive(folder: Path, country: str | None) -> Path:
    extra = {"country": country} if country else {}
    return save_model(Naive(), folder / "naive", data_hash="h", extra=extra)


def test_predict_looks_in_the_countrys_models_folder(in_tmp_checkout, run_cli):
    _save_naive(in_tmp_checkout / "_build" / "models" / "GB", "GB")
    csv = write_videos(in_tmp_checkout / "in.csv", make_rows("GB", n_videos=2, days=9))
    code, out, err = run_cli("predict", "--model", "naive", "--csv", csv, "--country", "GB")
    assert code == 0, err
    assert err.strip().splitlines() == ["ytlstm: forecast 2 of 2 videos with naive"]
    # the default country is US, whose folder has no such model
    code, _, err = run_cli("predict", "--model", "naive", "--csv", csv)
    line = _one_line(code, err)
    assert str(Path("_build/models/US")) in line and "holds no saved models" in line


def test_predict_names_the_country_a_model_was_trained_on(in_tmp_checkout, run_cli):
    path = _save_naive(in_tmp_checkout / "models", "US")
    csv = write_videos(in_tmp_checkout / "in.csv", make_rows("GB", n_videos=2, days=9))
    code, out, err = run_cli("predict", "--model", path, "--csv", csv, "--country", "GB")
    assert code == 0, err
    lines = err.strip().splitlines()
    assert lines[0] == "ytlstm: note: naive was trained on US data, not GB (--country)"
    assert len(lines) == 2
    forecasts = np.array([ln.split(",")[4] for ln in out.strip().splitlines()[1:]], float)
    assert len(forecasts) == 2


# --------------------------------------------------------------------------- up-to-date stamps

def test_stamp_is_current_only_for_the_same_key_code_and_files(tmp_path):
    from ytlstm.outputs import STAMP, stamp_current, write_stamp

    files = [tmp_path / "a.csv", tmp_path / "sub" / "b.npz"]
    files[1].parent.mkdir()
    for i, f in enumerate(files):
        f.write_bytes(b"x" * (i + 1))
    assert not stamp_current(tmp_path, "k1")                 # no stamp yet
    write_stamp(tmp_path, "k1", files)
    rec = json.loads((tmp_path / STAMP).read_text())
    assert set(rec["files"]) == {"a.csv", "sub/b.npz"}
    assert "outputs.py" in rec["modules"]                     # the writer's own code
    assert stamp_current(tmp_path, "k1")
    assert not stamp_current(tmp_path, "k2")                 # another study
    files[0].write_bytes(b"y")                               # a file edited
    assert not stamp_current(tmp_path, "k1")
    files[0].write_bytes(b"x")
    assert stamp_current(tmp_path, "k1")
    files[1].unlink()                                        # a file deleted
    assert not stamp_current(tmp_path, "k1")
    files[1].write_bytes(b"xx")
    rec["modules"]["outputs.py"] = "0" * 64                   # the code that wrote it changed
    (tmp_path / STAMP).write_text(json.dumps(rec))
    assert not stamp_current(tmp_path, "k1")
    (tmp_path / STAMP).write_text("an older stamp: a bare key\n")
    assert not stamp_current(tmp_path, "k1")

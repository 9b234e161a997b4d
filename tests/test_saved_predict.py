"""Saved models and ``ytlstm predict``.

* Baselines saved with :func:`ytlstm.saved.save_model` load back and predict identically, and
  ``ytlstm predict`` on a CSV holding each video's days up to a window's last input day
  gives that window's prediction (fast, no TensorFlow).
* Every error path of ``ytlstm predict``: exit 2 and one line for bad input or a bad model,
  exit 1 with one line per kind of reason for videos that cannot be forecast (every video in
  the ``--skipped`` file).
* (slow) A small study (every forecast origin) is run and its final models (those of the
  last origin) exported with :func:`ytlstm.saved.export_models`; reloaded, every model
  reproduces the study's forecasts of that origin's test windows, through the Python API
  and through ``ytlstm predict``, and the refitted baselines equal the study's fits.
* (slow) The same export carries the horizon study's models of that origin (every baseline at
  every horizon, ``lstm_univariate_h``, ``lstm_transfer_h``) and their interval calibration
  (version 3: scaled-score bounds from the study's test forecasts of every origin); reloaded,
  they reproduce the study's horizon forecasts, their intervals are item 20's with those
  bounds, and ``ytlstm predict --horizon H --intervals`` gives them. ``--horizon`` outside
  1..7, or beyond what the saved models hold, and ``--intervals``/``--horizon`` with a model
  without horizon models are exit 2 with one line.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_files import COLUMNS, make_rows, video_id, write_country, write_videos
from ytlstm import __version__
import ytlstm.baselines as baselines_module
from ytlstm.baselines import Forecaster, GradientBoosting, LinearAR, Naive
from ytlstm.data import add_runs, clean, load_dataset, read_videos
from ytlstm.errors import ModelError
from ytlstm.predict import OUTPUT_COLUMNS, forecast, prediction_windows
from ytlstm.saved import CALIBRATION_RULE, load_model, save_model
from ytlstm.windows import chronological_split, make_windows


# --------------------------------------------------------------------------- helpers

def _date(row: dict[str, str]) -> dt.date:
    return dt.datetime.strptime(row["trending_date"], "%y.%d.%m").date()


def _rows_up_to(rows: list[dict[str, str]], cut: dict[str, dt.date]) -> list[dict[str, str]]:
    """The rows of the videos in ``cut``, each up to and including its cut date."""
    return [r for r in rows if r["video_id"] in cut and _date(r) <= cut[r["video_id"]]]


def _latest_window_per_video(windows, idx: np.ndarray, n: int) -> np.ndarray:
    """Among the windows ``idx``, the latest one of each of up to ``n`` videos."""
    latest: dict[str, int] = {}
    for i in np.asarray(idx):
        v = str(windows.video_id[i])
        if v not in latest or windows.target_date[i] > windows.target_date[latest[v]]:
            latest[v] = int(i)
    return np.array(sorted(latest.values())[:n])


def _test_windows(split) -> np.ndarray:
    return np.flatnonzero(split.part == "test")


def _cut_dates(windows, chosen: np.ndarray) -> dict[str, dt.date]:
    """Video -> its window's last input day (the day before the target)."""
    return {str(windows.video_id[i]):
            (pd.Timestamp(windows.target_date[i]) - pd.Timedelta(days=1)).date() for i in chosen}


def _one_line_error(code: int, err: str, *parts: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ytlstm: error: "), err
    for p in parts:
        assert p in lines[0], (p, lines[0])


def _synthetic(folder: Path, n_videos: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    days = rng.integers(8, 16, size=n_videos).tolist()
    first = rng.integers(0, 25, size=n_videos).tolist()
    return write_country(folder, "US", n_videos=n_videos, days=days, first_day=first)


# --------------------------------------------------------------------------- fast: baselines

def _every_baseline() -> list[Forecaster]:
    """One instance of every forecaster class in ytlstm.baselines (found generically, so new
    classes are covered), plus variants with non-default parameters."""
    out: list[Forecaster] = []
    for _, cls in sorted(vars(baselines_module).items()):
        if not (isinstance(cls, type) and issubclass(cls, Forecaster) and cls is not Forecaster
                and cls.__module__ == baselines_module.__name__):
            continue
        params = inspect.signature(cls.__init__).parameters
        if "members" in params:             # a combination of other forecasters
            out.append(cls(members=(Naive(), LinearAR(target="drift"))))
        elif cls is GradientBoosting:
            out.append(cls(max_iter=20, target="drift"))
        elif cls is LinearAR:
            out.append(cls(target="drift"))
        else:
            out.append(cls())
        if {"k", "damping"} <= set(params):  # the drift family
            variant = cls(k=3, damping=0.5)
            variant.name = f"{variant.name}_k3"
            out.append(variant)
    return out


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    """A small synthetic country, its windows and split, and saved fitted baselines."""
    root = tmp_path_factory.mktemp("baselines")
    files = _synthetic(root / "data", 40)
    ds = load_dataset(files.folder, "US")
    windows = make_windows(ds.frame)
    split = chronological_split(windows, ds.frame["date"].to_numpy())
    train = windows.subset(split.mask("train"))
    val = windows.subset(split.mask("validation"))
    fitted = {b.name: b.fit(train, val) for b in _every_baseline()}
    saved = {name: save_model(b, root / "models" / name, data_hash=ds.data_hash)
             for name, b in fitted.items()}
    return {"root": root, "files": files, "dataset": ds, "windows": windows, "split": split,
            "fitted": fitted, "saved": saved}


def test_saved_baselines_predict_like_the_fitted_ones(baselines):
    w = baselines["windows"]
    for name, b in baselines["fitted"].items():
        m = load_model(baselines["saved"][name])
        assert m.kind == "baseline" and m.name == name and m.window == 7
        np.testing.assert_array_equal(m.predict(w), b.predict(w))
        meta = json.loads((baselines["saved"][name] / "metadata.json").read_text())
        assert meta["package_version"] == __version__
        assert meta["data_hash"] == baselines["dataset"].data_hash
        assert meta["files"][0] == "model.json"
        assert all(f.endswith((".json", ".npz", ".skops")) for f in meta["files"]), meta["files"]
        assert sorted(p.name for p in baselines["saved"][name].iterdir()) == sorted(
            ["metadata.json", *meta["files"]])
    meta = json.loads((baselines["saved"]["linear_ar"] / "metadata.json").read_text())
    assert meta["channels"] == ["views_inc", "views_rel", "views_log"]


def test_prediction_windows_are_the_study_windows_without_target(tmp_path):
    """Dropping each video's last day, the last 7 days are the inputs of the window whose
    target was that day: identical arrays, y = NaN, target date the next day."""
    rows = make_rows(n_videos=6, days=[8, 9, 12, 7, 10, 15], first_day=[0, 2, 1, 0, 3, 0])
    frame, _ = clean(read_videos(write_videos(tmp_path / "pw.csv", rows)))
    frame = add_runs(frame)
    full = make_windows(frame)
    last_row = frame.groupby("video_id").tail(1)
    is_last = pd.MultiIndex.from_arrays([full.video_id, full.target_date]).isin(
        pd.MultiIndex.from_arrays([last_row["video_id"], last_row["date"]]))
    expected = full.subset(is_last)
    pw, skipped = prediction_windows(add_runs(frame.drop(index=last_row.index)), 7)
    assert list(pw.video_id) == list(expected.video_id)
    for k in ("counts", "age_days", "category_id", "comments_disabled", "ratings_disabled",
              "target_date"):
        np.testing.assert_array_equal(getattr(pw, k), getattr(expected, k), err_msg=k)
    assert np.isnan(pw.y).all()
    # the 7-day video has 6 days left: too short, with a reason naming the days
    short = video_id("US", 3)
    assert set(skipped) == {short}
    assert "only 6 consecutive trending day(s)" in skipped[short]


def test_predict_cli_reproduces_baseline_predictions(baselines, run_cli, tmp_path):
    w = baselines["windows"]
    chosen = _latest_window_per_video(w, _test_windows(baselines["split"]), 15)
    assert len(chosen) >= 5
    csv = write_videos(tmp_path / "new.csv",
                       _rows_up_to(baselines["files"].rows, _cut_dates(w, chosen)))
    for name in baselines["fitted"]:
        out = tmp_path / f"{name}.csv"
        code, stdout, err = run_cli("predict", "--model", name, "--csv", csv, "--out", out,
                                    "--models-dir", baselines["root"] / "models")
        assert code == 0, err
        assert err.strip().splitlines() == [f"ytlstm: forecast {len(chosen)} of {len(chosen)} "
                                             f"videos with {name} -> {out}"]
        got = pd.read_csv(out)
        assert tuple(got.columns) == OUTPUT_COLUMNS
        expected = baselines["fitted"][name].predict(w.subset(chosen))
        order = np.argsort(w.video_id[chosen])
        assert list(got["video_id"]) == list(w.video_id[chosen][order])
        np.testing.assert_allclose(got["forecast_views"], expected[order], rtol=1e-12)
        np.testing.assert_array_equal(got["views_last_day"], w.views[chosen, -1][order])
        td = pd.to_datetime(got["forecast_date"])
        assert (td - pd.to_datetime(got["last_date"]) == pd.Timedelta(days=1)).all()
        np.testing.assert_array_equal(td.to_numpy(), w.target_date[chosen][order])
        assert (got["model"] == name).all()


def test_predict_writes_csv_to_stdout_without_out(baselines, run_cli, tmp_path):
    csv = write_videos(tmp_path / "one.csv", make_rows(n_videos=2, days=9))
    code, out, err = run_cli("predict", "--model", baselines["saved"]["drift"], "--csv", csv)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == ",".join(OUTPUT_COLUMNS) and len(lines) == 3
    assert err.strip().splitlines() == ["ytlstm: forecast 2 of 2 videos with drift"]


# --------------------------------------------------------------------------- fast: error paths

def test_unforecastable_videos_exit_1_with_one_line_per_reason(baselines, run_cli, tmp_path):
    """Videos that cannot be forecast: one stderr line per kind of reason (count, examples),
    every video and its reason only in the --skipped file; exit 1."""
    rows = make_rows(n_videos=8, days=[9, 5, 10, 9, 8, 10, 9, 4])
    vid = [video_id("US", i) for i in range(8)]
    by = {v: [r for r in rows if r["video_id"] == v] for v in vid}
    # 2: a gap two days before the end
    gap_day = by[vid[2]][-3]
    # 3: views fall on the last day
    by[vid[3]][-1]["views"] = str(int(by[vid[3]][-2]["views"]) - 1)
    # 4: a malformed id on every row
    for r in by[vid[4]]:
        r["video_id"] = "bad id!"
    # 5: its last day flagged video_error_or_removed
    by[vid[5]][-1]["video_error_or_removed"] = "True"
    # 6: a repeated row (removed by cleaning, the video is still forecast)
    rows = [r for r in rows if r is not gap_day] + [dict(by[vid[6]][0])]
    out, skipped = tmp_path / "f.csv", tmp_path / "skipped.csv"
    csv = write_videos(tmp_path / "bad.csv", rows)
    code, stdout, err = run_cli("predict", "--model", baselines["saved"]["naive"], "--csv",
                                csv, "--out", out, "--skipped", skipped)
    assert code == 1, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0] == ("ytlstm: note: cleaning removed 10 of 64 rows (duplicate_video_date: 1, "
                        "malformed_video_id: 8, video_error_or_removed: 1)")
    short = sorted([vid[1], vid[2], vid[7]])
    assert lines[1] == ("ytlstm: note: cannot forecast 3 videos: fewer consecutive trending "
                        f"days at the end than the model's window (e.g. {', '.join(short)})")
    assert sorted(lines[2:5]) == sorted([
        "ytlstm: note: cannot forecast 1 video: every row removed by cleaning (e.g. bad id!)",
        f"ytlstm: note: cannot forecast 1 video: the latest rows removed by cleaning "
        f"(e.g. {vid[5]})",
        f"ytlstm: note: cannot forecast 1 video: views fell within the last days of the window "
        f"(a data error) (e.g. {vid[3]})"])
    assert lines[5] == f"ytlstm: note: 6 videos not forecast, each with its reason -> {skipped}"
    assert lines[-1] == f"ytlstm: forecast 2 of 8 videos with naive -> {out}"
    assert len(lines) == 7
    got = pd.read_csv(out)
    assert sorted(got["video_id"]) == sorted([vid[0], vid[6]])
    table = pd.read_csv(skipped, keep_default_na=False)
    assert list(table.columns) == ["video_id", "reason_kind", "reason"]
    reasons = dict(zip(table["video_id"], table["reason"]))
    kinds = dict(zip(table["video_id"], table["reason_kind"]))
    assert set(reasons) == {vid[1], vid[2], "bad id!", vid[3], vid[5], vid[7]}
    assert "only 5 consecutive trending day(s)" in reasons[vid[1]]
    assert "only 2 consecutive trending day(s)" in reasons[vid[2]]
    assert f"no row for {_date(gap_day)}" in reasons[vid[2]]
    assert "views fell from" in reasons[vid[3]] and kinds[vid[3]] == "views_fell"
    assert "all 8 of its row(s) were removed by cleaning (malformed_video_id: 8)" in \
        reasons["bad id!"]
    assert "removed by cleaning (video_error_or_removed)" in reasons[vid[5]]
    assert kinds[vid[5]] == "latest_rows_removed" and kinds[vid[7]] == "too_few_days"
    # without --skipped: the same summary and a pointer to the option, no list
    code, _, err = run_cli("predict", "--model", baselines["saved"]["naive"], "--csv", csv,
                           "--out", out)
    assert code == 1
    lines2 = err.strip().splitlines()
    assert lines2[:5] == lines[:5] and len(lines2) == 7
    assert lines2[5] == "ytlstm: note: every video not forecast and its reason: --skipped FILE"


def test_summary_lines_stay_few_for_many_videos(baselines, run_cli, tmp_path):
    """Hundreds of videos too short to forecast: one line for them, three examples."""
    rows = make_rows(n_videos=300, days=3)
    code, _, err = run_cli("predict", "--model", baselines["saved"]["naive"], "--csv",
                           write_videos(tmp_path / "many.csv", rows))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("ytlstm: note: cannot forecast 300 videos: fewer consecutive")
    assert lines[0].endswith(", ...)") and lines[0].count(", ") == 3


def test_skipped_in_missing_folder_exit_2(baselines, run_cli, good_csv, tmp_path):
    code, out, err = run_cli("predict", "--model", baselines["saved"]["naive"], "--csv",
                             good_csv, "--skipped", tmp_path / "no" / "s.csv")
    _one_line_error(code, err, "--skipped naming a CSV file in an existing folder")
    assert out == ""


def test_no_forecastable_video_still_writes_the_header(baselines, run_cli, tmp_path):
    csv = write_videos(tmp_path / "short.csv", make_rows(n_videos=1, days=3))
    out = tmp_path / "f.csv"
    code, _, err = run_cli("predict", "--model", baselines["saved"]["naive"], "--csv", csv,
                           "--out", out)
    assert code == 1
    assert out.read_text().strip() == ",".join(OUTPUT_COLUMNS)
    assert len(err.strip().splitlines()) == 3


@pytest.fixture
def model_copy(baselines, tmp_path):
    """A copy of the saved LinearAR baseline that a test may break."""
    import shutil

    return Path(shutil.copytree(baselines["saved"]["linear_ar"], tmp_path / "m"))


@pytest.fixture
def good_csv(tmp_path):
    return write_videos(tmp_path / "in.csv", make_rows(n_videos=2, days=9))


def test_missing_csv_exit_2(model_copy, run_cli, tmp_path):
    code, out, err = run_cli("predict", "--model", model_copy, "--csv", tmp_path / "nope.csv")
    _one_line_error(code, err, "nope.csv", "file not found", "Kaggle format")
    assert out == ""


def test_csv_is_a_folder_exit_2(model_copy, run_cli, tmp_path):
    code, _, err = run_cli("predict", "--model", model_copy, "--csv", tmp_path)
    _one_line_error(code, err, "is not a file")


@pytest.mark.parametrize("defect,parts", [
    ("missing_column", ("missing column(s) views",)),
    ("text_count", ("column likes", "not a whole number")),
    ("bad_date", ("column trending_date", "unparseable")),
    ("empty", ("file is empty",)),
    ("header_only", ("no data rows",)),
])
def test_bad_csv_exit_2(model_copy, run_cli, tmp_path, defect, parts):
    path = tmp_path / "in.csv"
    rows = make_rows(n_videos=2, days=9)
    if defect == "missing_column":
        write_videos(path, rows, [c for c in COLUMNS if c != "views"])
    elif defect == "text_count":
        rows[3]["likes"] = "many"
        write_videos(path, rows)
    elif defect == "bad_date":
        rows[0]["trending_date"] = "2017-11-14"
        write_videos(path, rows)
    elif defect == "empty":
        path.write_bytes(b"")
    else:
        path.write_text(",".join(COLUMNS) + "\n")
    code, out, err = run_cli("predict", "--model", model_copy, "--csv", path)
    _one_line_error(code, err, str(path), *parts)
    assert out == ""


def test_unknown_model_name_exit_2(baselines, good_csv, run_cli):
    code, _, err = run_cli("predict", "--model", "lstm_nothing", "--csv", good_csv,
                           "--models-dir", baselines["root"] / "models")
    _one_line_error(code, err, "no saved model 'lstm_nothing'", "available: ", "drift, ")


def test_empty_models_dir_exit_2(good_csv, run_cli, tmp_path):
    code, _, err = run_cli("predict", "--model", "naive", "--csv", good_csv, "--models-dir",
                           tmp_path / "none")
    _one_line_error(code, err, "holds no saved models", "ytlstm export-models")


def test_folder_without_metadata_exit_2(model_copy, good_csv, run_cli):
    (model_copy / "metadata.json").unlink()
    code, _, err = run_cli("predict", "--model", model_copy, "--csv", good_csv)
    _one_line_error(code, err, "metadata.json: file not found")


def test_malformed_metadata_exit_2(model_copy, good_csv, run_cli):
    (model_copy / "metadata.json").write_text('{"name": "x", ')
    code, _, err = run_cli("predict", "--model", model_copy, "--csv", good_csv)
    _one_line_error(code, err, "metadata.json: unreadable")


def test_metadata_missing_fields_exit_2(model_copy, good_csv, run_cli):
    (model_copy / "metadata.json").write_text('{"name": "x"}')
    code, _, err = run_cli("predict", "--model", model_copy, "--csv", good_csv)
    _one_line_error(code, err, "missing field(s) kind, package_version, window, files")


def test_missing_model_file_exit_2(model_copy, good_csv, run_cli):
    (model_copy / "model.json").unlink()
    code, _, err = run_cli("predict", "--model", model_copy, "--csv", good_csv)
    _one_line_error(code, err, "missing file(s) model.json")


def test_corrupt_model_description_exit_2(model_copy, good_csv, run_cli):
    (model_copy / "model.json").write_bytes(b"not JSON")
    code, _, err = run_cli("predict", "--model", model_copy, "--csv", good_csv)
    _one_line_error(code, err, "model.json: cannot be loaded")


def test_description_of_something_else_exit_2(model_copy, good_csv, run_cli):
    (model_copy / "model.json").write_text(json.dumps({"format": 1, "object": {"dict": []}}))
    code, _, err = run_cli("predict", "--model", model_copy, "--csv", good_csv)
    _one_line_error(code, err, "holds a dict; expected a fitted ytlstm forecaster")


@pytest.mark.parametrize("version", ["9.1.0", "0.9.0", "1.0"])
def test_incompatible_version_is_a_model_error(model_copy, good_csv, run_cli, version):
    meta = json.loads((model_copy / "metadata.json").read_text())
    meta["package_version"] = version
    (model_copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=f"saved by ytlstm {version}.*same major.minor"):
        load_model(model_copy)
    code, _, err = run_cli("predict", "--model", model_copy, "--csv", good_csv)
    _one_line_error(code, err, f"saved by ytlstm {version}", f"this is ytlstm {__version__}")


def test_same_major_minor_other_patch_loads(model_copy):
    meta = json.loads((model_copy / "metadata.json").read_text())
    major, minor, *_ = __version__.split(".")
    meta["package_version"] = f"{major}.{minor}.99"
    (model_copy / "metadata.json").write_text(json.dumps(meta))
    assert load_model(model_copy).name == "linear_ar"


def test_unknown_kind_exit_2(model_copy, good_csv, run_cli):
    meta = json.loads((model_copy / "metadata.json").read_text())
    meta["kind"] = "oracle"
    (model_copy / "metadata.json").write_text(json.dumps(meta))
    code, _, err = run_cli("predict", "--model", model_copy, "--csv", good_csv)
    _one_line_error(code, err, "unknown model kind 'oracle'")


def test_out_in_missing_folder_exit_2(model_copy, good_csv, run_cli, tmp_path):
    code, _, err = run_cli("predict", "--model", model_copy, "--csv", good_csv, "--out",
                           tmp_path / "no" / "f.csv")
    _one_line_error(code, err, "its folder does not exist")


def test_model_path_that_is_a_file_exit_2(model_copy, good_csv, run_cli):
    code, _, err = run_cli("predict", "--model", model_copy / "model.json", "--csv", good_csv)
    _one_line_error(code, err, "no saved model")


@pytest.mark.parametrize("value", ["0", "8", "-1", "two", "2.5", ""])
def test_horizon_outside_1_to_7_exit_2(model_copy, good_csv, run_cli, value):
    code, out, err = run_cli("predict", "--model", model_copy, "--csv", good_csv,
                             "--horizon", value)
    _one_line_error(code, err, f"--horizon {value}", "a whole number from 1 to 7")
    assert out == ""


@pytest.mark.parametrize("options", [("--horizon", "2"), ("--intervals",),
                                     ("--horizon", "7", "--intervals")])
def test_horizon_or_intervals_without_horizon_models_exit_2(model_copy, good_csv, run_cli,
                                                            tmp_path, options):
    """A folder saved without horizon models (save_model, or an export made before them)
    still forecasts day 8, and says in one line that it has nothing further."""
    out = tmp_path / "f.csv"
    code, stdout, err = run_cli("predict", "--model", model_copy, "--csv", good_csv, "--out",
                                out, *options)
    _one_line_error(code, err, "linear_ar has no horizon models or forecast intervals",
                    " ".join(options if options[0] == "--horizon" else ("--horizon 1",)
                             + options), "re-export the models with `ytlstm export-models`")
    assert stdout == "" and not out.exists()
    code, _, err = run_cli("predict", "--model", model_copy, "--csv", good_csv, "--horizon", "1")
    assert code == 0, err


def test_malformed_horizons_entry_exit_2(model_copy, good_csv, run_cli):
    meta = json.loads((model_copy / "metadata.json").read_text())
    meta["horizons"] = {"max_horizon": 3, "form": "direct", "levels": [0.8],
                        "calibration": "calibration.json"}      # not in files, no stems
    (model_copy / "metadata.json").write_text(json.dumps(meta))
    code, _, err = run_cli("predict", "--model", model_copy, "--csv", good_csv)
    _one_line_error(code, err, "malformed horizons entry")


def test_save_model_refuses_unfitted_or_foreign_objects(tmp_path):
    from ytlstm.models import LSTMForecaster

    with pytest.raises(ValueError, match="not fitted"):
        save_model(LSTMForecaster(), tmp_path / "m")
    with pytest.raises(TypeError, match="expects a fitted baseline"):
        save_model(object(), tmp_path / "m")
    assert not (tmp_path / "m").exists()
    assert list(tmp_path.iterdir()) == []      # no temporary folder left behind


# --------------------------------------------------------------------------- slow: a study

N_VIDEOS = 300
#: The small study of tests/test_study_small.py (its CONFIG and data) with two forecast
#: origins, so that the last one (the exported one) forecasts a few dozen test windows; at
#: that origin one cluster of growth curves is trained and the other served by the global
#: univariate LSTM, so both paths of lstm_cluster are saved and reloaded.
STUDY_CONFIG = dict(seeds=(0, 1), units_grid=(8,), loss_grid=("mae",), target_grid=("drift",),
                    max_epochs=3, patience=2, bootstrap_reps=50, v3_bootstrap_reps=500, cluster_k_grid=(2, 3),
                    min_windows_per_part=20, n_origins=2)
NEURAL = ("lstm_univariate", "lstm_multivariate", "lstm_transfer", "lstm_cluster")
BASELINES = ("naive", "drift", "szabo_huberman", "linear_ar", "gbm", "combination")
HORIZON_NETS = ("lstm_univariate_h", "lstm_transfer_h")
INTERVAL_COLUMNS = ("lower_80", "upper_80", "lower_95", "upper_95")


def _study_data(folder: Path):
    """tests/test_study_small.py's ``_dataset``: a few hundred videos trending 8 to 15 days
    each, starting over a month (deterministic)."""
    rng = np.random.default_rng(2024)
    days = rng.integers(8, 16, size=N_VIDEOS).tolist()
    first = rng.integers(0, 31, size=N_VIDEOS).tolist()
    return write_country(folder, "US", n_videos=N_VIDEOS, days=days, first_day=first,
                         gaps=["2017-11-30"])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The small study (2 seeds, 3 epochs, every origin) exported under ``models/``."""
    from ytlstm.config import StudyConfig
    from ytlstm.saved import export_models
    from ytlstm.study import run_study

    root = tmp_path_factory.mktemp("study")
    files = _study_data(root / "data")
    st = run_study(StudyConfig(**STUDY_CONFIG), data_dir=files.folder, cache_dir=root / "cache",
                   results_dir=root / "results", verbose=False, jobs=1)
    said: list[str] = []
    written = export_models(st, root / "models", say=said.append)
    o = st.chronological_origins[-1]
    return {"root": root, "files": files, "study": st, "written": written, "origin": o,
            "fits": st.fits[o.name], "said": said}


@pytest.mark.slow
def test_export_writes_every_final_model_with_metadata(study):
    st, written, o = study["study"], study["written"], study["origin"]
    assert len(st.chronological_origins) > 1 and o.name != st.chronological_origins[0].name
    assert set(written) == set(BASELINES) | set(NEURAL) | set(HORIZON_NETS)
    assert study["said"] == [f"wrote {len(written)} models of the {o.name} "
                             f"({o.info['test_first']} to {o.info['test_last']}) to "
                             f"{study['root'] / 'models'}; horizons 1..{st.horizons.horizons} "
                             "and intervals (80%, 95%)"]
    config = json.loads(json.dumps(st.config.to_dict()))
    chosen = st.chosen["chronological"]
    for name, path in written.items():
        if name in HORIZON_NETS:
            continue                # test_export_writes_the_horizon_models_and_calibration
        assert path == study["root"] / "models" / name
        meta = json.loads((path / "metadata.json").read_text())
        assert meta["name"] == name and meta["window"] == 7
        assert meta["config"] == config
        assert meta["data_hash"] == st.dataset.data_hash and meta["country"] == "US"
        assert meta["package_version"] == __version__
        assert meta["split"] == "chronological"
        assert meta["origin"] == o.name
        assert meta["origin_info"] == json.loads(json.dumps(o.info))
        assert meta["n_train_windows"] == len(o.train)
        assert meta["n_validation_windows"] == len(o.validation)
        kind = "baseline" if name in BASELINES else ("cluster" if name == "lstm_cluster"
                                                      else "neural")
        assert meta["kind"] == kind
        if name == "combination":
            assert meta["params"] == {"drift": chosen["drift"], "linear_ar": chosen["linear_ar"]}
        elif kind == "baseline":
            assert meta["params"] == chosen.get(name, {})
        else:
            assert meta["params"] == study["fits"][name].params
            assert meta["params"] == chosen["lstm_univariate" if name != "lstm_multivariate"
                                            else name]
        if kind == "neural":
            assert meta["seeds"] == [0, 1]
            assert sorted(p.name for p in path.iterdir()) == sorted(
                ["metadata.json", "seed_0.keras", "seed_1.keras", *meta["files"][:-2]])
            assert meta["files"][0] == "transform.json"
            assert not [p for p in path.iterdir() if p.suffix == ".pkl"]
            assert meta["multivariate"] == (name != "lstm_univariate")
            assert meta["target"] == meta["params"]["target"]
            assert meta["units"] == meta["params"]["units"]
            assert meta["n_channels"] == len(meta["channels"])
            assert meta["channels"][:3] == ["views_inc", "views_rel", "views_log"]
    info = study["fits"]["lstm_cluster"].info
    meta = json.loads((written["lstm_cluster"] / "metadata.json").read_text())
    assert info["trained"] and info["small"], (
        "the fixture should exercise both paths", info["sizes"])
    assert meta["members"] == {**{str(c): f"cluster_{c}" for c in info["trained"]},
                               **{str(c): "global" for c in info["small"]}}
    assert meta["k"] == info["k"]
    np.testing.assert_array_equal(meta["centroids"], info["centroids"])
    wc = info["window_cluster"]
    for c in info["trained"]:
        sub = json.loads((written["lstm_cluster"] / f"cluster_{c}" / "metadata.json").read_text())
        assert sub["n_train_windows"] == int((wc[o.train] == c).sum())
        assert sub["multivariate"] is False


@pytest.mark.slow
def test_refitted_baselines_equal_the_study_fits(study):
    """The baselines export_models saves, refitted at the last origin, give exactly the
    study's forecasts of every window (they are deterministic)."""
    from ytlstm.saved import refit_baselines

    st = study["study"]
    refit = refit_baselines(st)
    assert set(refit) == set(BASELINES)
    for name, f in refit.items():
        np.testing.assert_array_equal(f.predict(st.windows), study["fits"][name].ensemble,
                                      err_msg=name)


@pytest.mark.slow
def test_reloaded_models_reproduce_the_last_origin_predictions(study):
    st, o, fits = study["study"], study["origin"], study["fits"]
    test = st.windows.subset(o.test)
    for name, path in study["written"].items():
        if name in HORIZON_NETS:
            continue                # test_reloaded_horizon_models_reproduce_the_study
        m = load_model(path)
        np.testing.assert_allclose(m.predict(test), fits[name].ensemble[o.test], rtol=1e-5,
                                   err_msg=name)
    for name in ("lstm_univariate", "lstm_multivariate", "lstm_transfer"):
        m = load_model(study["written"][name])
        assert m.seeds == fits[name].seeds
        np.testing.assert_allclose(m.predict_seeds(test), fits[name].preds[:, o.test],
                                   rtol=1e-5, err_msg=name)
    cm = load_model(study["written"]["lstm_cluster"])
    np.testing.assert_array_equal(cm.assign(st.windows),
                                  fits["lstm_cluster"].info["window_cluster"])


@pytest.mark.slow
def test_export_refuses_a_model_that_does_not_reproduce_the_study(study, tmp_path):
    """A study whose recorded forecasts differ from what its models give (a stale or
    tampered cache) is not exported: a one-line ModelError, nothing written."""
    import copy

    from ytlstm.families import Fitted
    from ytlstm.saved import export_models

    st, o = study["study"], study["origin"]
    bad = copy.copy(st)
    naive = st.fits[o.name]["naive"]
    bad.fits = {**st.fits, o.name: {**st.fits[o.name], "naive": Fitted(
        "naive", naive.params, naive.preds * 1.01)}}
    with pytest.raises(ModelError, match=f"naive: the exported model does not reproduce the "
                                         f"study's forecasts of the {o.name} test windows"):
        export_models(bad, tmp_path / "models")
    assert not (tmp_path / "models" / "naive").exists()


@pytest.mark.slow
def test_predict_cli_reproduces_study_predictions_on_test_windows(study, run_cli, tmp_path):
    """``ytlstm predict`` on each test video's rows up to the last input day of its latest
    test window of the last origin gives the study's forecast of that window, as the
    predictions table records it."""
    from ytlstm.report import read_predictions

    st, o = study["study"], study["origin"]
    w = st.windows
    chosen = _latest_window_per_video(w, o.test, 25)
    assert len(chosen) >= 10
    csv = write_videos(tmp_path / "new.csv",
                       _rows_up_to(study["files"].rows, _cut_dates(w, chosen)))
    order = np.argsort(w.video_id[chosen])
    table = read_predictions(study["root"] / "results")
    table = table[(table["split"] == "test") & (table["origin"] == o.name)]
    for name in NEURAL + ("linear_ar", "gbm", "combination"):
        out = tmp_path / f"{name}.csv"
        code, _, err = run_cli("predict", "--model", name, "--csv", csv, "--out", out,
                               "--models-dir", study["root"] / "models")
        assert code == 0, err
        got = pd.read_csv(out)
        assert list(got["video_id"]) == list(w.video_id[chosen][order])
        expected = table[table["model"] == name].set_index("window")["y_pred"]
        np.testing.assert_allclose(got["forecast_views"], expected.loc[chosen[order]],
                                   rtol=1e-5, err_msg=name)


# --------------------------------------------------------------------------- slow: horizons

def _saved_bounds(st, name: str) -> pd.DataFrame:
    """The calibration a saved model carries (protocol v3, item 23): item 20's scaled-score
    bounds from the study's test forecasts of every origin."""
    from ytlstm.intervals import saved_calibration
    from ytlstm.predictions import predictions_table

    c = saved_calibration(predictions_table(st), name, tuple(st.config.interval_levels))
    return c.sort_values(["horizon", "level"]).reset_index(drop=True)


def _scaled(pred: np.ndarray, views: np.ndarray, lo: float, hi: float):
    """The interval of forecasts ``pred`` of windows with input views ``views``."""
    from ytlstm.evaluate import mase_scale

    s, y7 = mase_scale(views), views[:, -1]
    lower = np.maximum(pred + lo * s, y7)
    return lower, np.maximum(pred + hi * s, lower)


@pytest.mark.slow
def test_export_writes_the_horizon_models_and_calibration(study):
    st, o, written = study["study"], study["origin"], study["written"]
    hz = st.horizons
    assert hz is not None and hz.horizons >= 2, "the fixture should have a horizon study"
    H = hz.horizons
    levels = list(st.config.interval_levels)
    for name in BASELINES + HORIZON_NETS:
        path = written[name]
        meta = json.loads((path / "metadata.json").read_text())
        fit = hz.fits[o.name][name]
        info = meta["horizons"]
        form = "direct" if name in BASELINES else fit.params["form"]
        assert info == {"max_horizon": H, "form": form, "origin": o.name, "levels": levels,
                        "calibration": "calibration.json",
                        **({"stems": {str(h): f"horizon_{h}" for h in range(1, H + 1)}}
                           if name in BASELINES else {})}, name
        assert sorted(p.name for p in path.iterdir()) == sorted(["metadata.json",
                                                                 *meta["files"]]), name
        assert all(f.endswith((".json", ".npz", ".skops", ".keras")) for f in meta["files"])
        cal = json.loads((path / "calibration.json").read_text())
        assert cal["version"] == 3 and cal["rule"] == CALIBRATION_RULE
        assert cal["model"] == name and cal["origin"] == o.name and cal["max_horizon"] == H
        assert cal["calibrated_on"] == [x.name for x in st.chronological_origins]
        got = pd.DataFrame(cal["bounds"]).sort_values(["horizon", "level"])
        expected = _saved_bounds(st, name)
        assert len(got) == H * len(levels) == len(expected), name
        for col in ("horizon", "level", "n_scores"):
            np.testing.assert_array_equal(got[col].to_numpy(), expected[col].to_numpy(),
                                          err_msg=f"{name} {col}")
        # an infinite bound (too few scores) is null in JSON
        for col, inf in (("lower_z", -np.inf), ("upper_z", np.inf)):
            np.testing.assert_array_equal(got[col].astype(float).fillna(inf).to_numpy(),
                                          expected[col].to_numpy(), err_msg=f"{name} {col}")
        if name in BASELINES:
            assert meta["kind"] == "baseline" and meta["files"][0] == "model.json"
            assert {f"horizon_{h}.json" for h in range(1, H + 1)} <= set(meta["files"])
        else:
            assert meta["kind"] == "neural" and meta["seeds"] == [0, 1]
            assert meta["origin"] == o.name and meta["params"] == fit.params
            assert meta["outputs"] == (1 if form == "recursive" else H)
            assert meta["multivariate"] == (name == "lstm_transfer_h")
    assert hz.fits[o.name]["lstm_transfer_h"].params["form"] == "multi-output"
    for name in NEURAL:
        assert "horizons" not in json.loads((written[name] / "metadata.json").read_text())


@pytest.mark.slow
def test_reloaded_horizon_models_reproduce_the_study(study):
    """At every horizon, each reloaded horizon model gives the study's forecasts of the last
    origin's test windows, and its intervals are item 20's with the bounds of every origin's
    test forecasts (:func:`ytlstm.intervals.scaled_interval` of the horizon_test rows)."""
    from ytlstm.intervals import scaled_interval
    from ytlstm.predictions import predictions_table

    st, o = study["study"], study["origin"]
    hz = st.horizons
    w = st.windows
    test = w.subset(o.test)
    table = predictions_table(st)
    rows = table[(table["split"] == "horizon_test") & (table["origin"] == o.name)]
    for name in BASELINES + HORIZON_NETS:
        m = load_model(study["written"][name])
        assert m.max_horizon == hz.horizons and m.levels == (0.8, 0.95)
        fit = hz.fits[o.name][name]
        cal = _saved_bounds(st, name)
        for h in range(1, hz.horizons + 1):
            np.testing.assert_allclose(m.predict_horizon(test, h), fit.ensemble[o.test, h - 1],
                                       rtol=1e-5, err_msg=f"{name} horizon {h}")
            r = rows[(rows["model"] == name) & (rows["horizon"] == h)]
            assert len(r), (name, h)
            sub = w.subset(r["window"].to_numpy())
            pred = m.predict_horizon(sub, h)
            np.testing.assert_allclose(pred, r["y_pred"], rtol=1e-5)
            got = m.intervals(sub, pred, h)
            assert tuple(got) == INTERVAL_COLUMNS
            for lv, suffix in ((0.8, "80"), (0.95, "95")):
                q = cal[(cal["horizon"] == h) & np.isclose(cal["level"], lv)].iloc[0]
                assert m.bounds(h)[lv] == (q["lower_z"], q["upper_z"])
                lo, hi = scaled_interval(r, q["lower_z"], q["upper_z"])
                np.testing.assert_allclose(got[f"lower_{suffix}"], lo, rtol=1e-5,
                                           err_msg=f"{name} horizon {h} {lv}")
                np.testing.assert_allclose(got[f"upper_{suffix}"], hi, rtol=1e-5,
                                           err_msg=f"{name} horizon {h} {lv}")
    m = load_model(study["written"]["lstm_transfer_h"])
    np.testing.assert_allclose(m.predict(test), m.predict_horizon(test, 1), rtol=1e-12)
    with pytest.raises(ModelError, match=f"horizons 1..{hz.horizons} only"):
        m.predict_horizon(test, hz.horizons + 1)


@pytest.fixture(scope="module")
def held_back(study, tmp_path_factory):
    """A Kaggle-format CSV of test videos of the last origin, each cut at the last input day
    of its latest test window, and those windows (in video order)."""
    st, o = study["study"], study["origin"]
    w = st.windows
    chosen = _latest_window_per_video(w, o.test, 25)
    csv = write_videos(tmp_path_factory.mktemp("held_back") / "new.csv",
                       _rows_up_to(study["files"].rows, _cut_dates(w, chosen)))
    return csv, chosen[np.argsort(w.video_id[chosen])]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["naive", "gbm", "combination", "lstm_univariate_h",
                                  "lstm_transfer_h"])
def test_predict_cli_horizons_with_intervals(study, held_back, run_cli, tmp_path, name):
    """``ytlstm predict --horizon h --intervals`` gives the study's horizon-h forecast of each
    video's window (the horizon_test rows where the window has a horizon-h target) and its
    intervals by item 20's rule with the saved bounds of horizon h (scaled by the window's
    MASE scale, the lower end at least day 7's views); horizon 1 with --intervals uses the
    h = 1 bounds."""

    st, o = study["study"], study["origin"]
    hz, w = st.horizons, st.windows
    csv, windows = held_back
    fit = hz.fits[o.name][name]
    cal = _saved_bounds(st, name)
    rows = hz.table[(hz.table["split"] == "horizon_test") & (hz.table["origin"] == o.name)
                    & (hz.table["model"] == name)]
    for h in (1, 2, hz.horizons):
        out = tmp_path / f"{name}_{h}.csv"
        code, _, err = run_cli("predict", "--model", name, "--csv", csv, "--out", out,
                               "--models-dir", study["root"] / "models", "--horizon", h,
                               "--intervals")
        assert code == 0, err
        ahead = "" if h == 1 else f", {h} days after their last day"
        assert err.strip().splitlines() == [
            f"ytlstm: forecast {len(windows)} of {len(windows)} videos with {name}{ahead}, "
            f"with 80% and 95% intervals -> {out}"]
        got = pd.read_csv(out)
        assert tuple(got.columns) == OUTPUT_COLUMNS + INTERVAL_COLUMNS
        assert list(got["video_id"]) == list(w.video_id[windows])
        np.testing.assert_allclose(got["forecast_views"], fit.ensemble[windows, h - 1],
                                   rtol=1e-5, err_msg=f"{name} horizon {h}")
        days = pd.to_datetime(got["forecast_date"]) - pd.to_datetime(got["last_date"])
        assert (days == pd.Timedelta(days=h)).all()
        assert (got["lower_80"] <= got["upper_80"]).all()
        assert (got["lower_95"] <= got["upper_95"]).all()
        assert (got["lower_95"] <= got["lower_80"]).all()
        assert (got["upper_80"] <= got["upper_95"]).all()
        assert (got["lower_80"] >= got["views_last_day"]).all()
        for lv, suffix in ((0.8, "80"), (0.95, "95")):
            q = cal[(cal["horizon"] == h) & np.isclose(cal["level"], lv)].iloc[0]
            lo, hi = _scaled(fit.ensemble[windows, h - 1], w.views[windows].astype(float),
                             q["lower_z"], q["upper_z"])
            np.testing.assert_allclose(got[f"lower_{suffix}"], lo, rtol=1e-5)
            np.testing.assert_allclose(got[f"upper_{suffix}"], hi, rtol=1e-5)
        # the latest window of a video rarely has a target further ahead than day 8
        recorded = rows[rows["horizon"] == h].set_index("window")
        have = np.isin(windows, recorded.index)
        assert have.all() or h > 1, (name, h)
        np.testing.assert_allclose(got["forecast_views"].to_numpy()[have],
                                   recorded.loc[windows[have], "y_pred"].to_numpy(), rtol=1e-5,
                                   err_msg=f"{name} horizon {h}")
    # without --intervals: the same forecasts, the day-8 columns only
    out = tmp_path / f"{name}_plain.csv"
    code, _, err = run_cli("predict", "--model", name, "--csv", csv, "--out", out,
                           "--models-dir", study["root"] / "models", "--horizon", 2)
    assert code == 0, err
    got = pd.read_csv(out)
    assert tuple(got.columns) == OUTPUT_COLUMNS
    np.testing.assert_allclose(got["forecast_views"], fit.ensemble[windows, 1], rtol=1e-5)


@pytest.mark.slow
def test_predict_horizon_errors_with_the_exported_models(study, held_back, run_cli, tmp_path):
    import shutil

    csv, _ = held_back
    models = study["root"] / "models"
    # models of a study with horizons 1..2 only (few long runs), asked for horizon 3
    short = Path(shutil.copytree(models / "gbm", tmp_path / "gbm"))
    meta = json.loads((short / "metadata.json").read_text())
    meta["horizons"].update(max_horizon=2, stems={"1": "horizon_1", "2": "horizon_2"})
    (short / "metadata.json").write_text(json.dumps(meta))
    cal = json.loads((short / "calibration.json").read_text())
    cal.update(max_horizon=2, bounds=[q for q in cal["bounds"] if q["horizon"] <= 2])
    (short / "calibration.json").write_text(json.dumps(cal))
    code, out, err = run_cli("predict", "--model", short, "--csv", csv, "--horizon", 3,
                             "--intervals")
    _one_line_error(code, err, "gbm has horizon models for horizons 1..2 only",
                    "--horizon 3 --intervals")
    assert out == ""
    code, _, err = run_cli("predict", "--model", short, "--csv", csv, "--horizon", 2)
    assert code == 0, err
    for name, options in (("lstm_multivariate", ("--horizon", "2")),
                          ("lstm_cluster", ("--intervals",))):
        code, out, err = run_cli("predict", "--model", name, "--csv", csv, "--models-dir",
                                 models, *options)
        _one_line_error(code, err, f"{name} has no horizon models or forecast intervals",
                        "the horizon study has none of this model", "lstm_transfer_h")
        assert out == ""
    # an export made before the horizon models: day 8 only
    old = Path(shutil.copytree(models / "drift", tmp_path / "drift"))
    meta = json.loads((old / "metadata.json").read_text())
    del meta["horizons"]
    for f in [f for f in meta["files"] if f.startswith("horizon_") or f == "calibration.json"]:
        (old / f).unlink()
        meta["files"].remove(f)
    (old / "metadata.json").write_text(json.dumps(meta))
    code, _, err = run_cli("predict", "--model", old, "--csv", csv, "--horizon", 2)
    _one_line_error(code, err, "drift has no horizon models", "an older export")
    code, _, err = run_cli("predict", "--model", old, "--csv", csv)
    assert code == 0, err
    # a calibration that misses a horizon is refused when the folder is loaded
    broken = Path(shutil.copytree(models / "lstm_transfer_h", tmp_path / "transfer_h"))
    cal = json.loads((broken / "calibration.json").read_text())
    cal["bounds"] = [q for q in cal["bounds"] if q["horizon"] != 2]
    (broken / "calibration.json").write_text(json.dumps(cal))
    code, _, err = run_cli("predict", "--model", broken, "--csv", csv)
    _one_line_error(code, err, "calibration.json: no bounds for horizon 2")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lstm_transfer_h", "gbm"])
def test_export_refuses_horizon_models_that_do_not_reproduce_the_study(study, tmp_path, name):
    """Horizon forecasts of the study that its saved models do not give (a stale or tampered
    cache) stop the export of that model: a one-line ModelError, nothing written."""
    import copy

    from ytlstm.predictions import predictions_table
    from ytlstm.saved import _export_horizon_network, _write_baseline_folder

    st, o = study["study"], study["origin"]
    hz = copy.copy(st.horizons)
    fit = copy.copy(hz.fits[o.name][name])
    fit.preds = fit.preds.copy()
    fit.preds[:, :, -1] *= 1.01
    hz.fits = {**hz.fits, o.name: {**hz.fits[o.name], name: fit}}
    test = st.windows.subset(o.test)
    pred = predictions_table(st)
    where = (f"{name} at horizons 1..{hz.horizons}" if name in HORIZON_NETS
             else f"{name} at horizon {hz.horizons}")
    with pytest.raises(ModelError, match=f"{where}: the exported model does not reproduce"):
        if name in HORIZON_NETS:
            _export_horizon_network(st, o, name, hz, tmp_path / name, {}, test, pred=pred)
        else:
            forecaster = load_model(study["written"][name]).forecaster
            (tmp_path / name).mkdir()
            _write_baseline_folder(tmp_path / name, name, forecaster, st.config, {"name": name},
                                   hz, o, test, pred=pred)
    assert not (tmp_path / name / "metadata.json").exists()


@pytest.mark.slow
def test_ytlstm_run_exports_the_final_models_by_default(study, run_cli):
    """``ytlstm run`` (no ``--no-models``) on the cached study writes the same final models
    as :func:`ytlstm.saved.export_models`, with run.json, and ``predict`` can use them."""
    root = study["root"]
    cfg = root / "config.json"
    cfg.write_text(json.dumps(STUDY_CONFIG))
    models = root / "cli_models"
    code, out, err = run_cli("run", "--data-dir", study["files"].folder, "--config", cfg,
                             "--cache-dir", root / "cache", "--out", root / "cli_results",
                             "--models-dir", models)
    assert code == 0, err
    o = study["origin"]
    assert f"wrote {len(study['written'])} models of the {o.name}" in out
    assert (models / "run.json").is_file()
    assert sorted(p.name for p in models.iterdir() if p.is_dir()) == sorted(study["written"])
    test = study["study"].windows.subset(o.test)
    for name, path in study["written"].items():
        a = json.loads((models / name / "metadata.json").read_text())
        b = json.loads((path / "metadata.json").read_text())
        assert a == b, name
        np.testing.assert_array_equal(load_model(models / name).predict(test),
                                      load_model(path).predict(test), err_msg=name)


@pytest.mark.slow
def test_broken_neural_folders_are_model_errors(study, tmp_path, run_cli):
    import shutil

    uni = Path(shutil.copytree(study["written"]["lstm_univariate"], tmp_path / "uni"))
    (uni / "seed_1.keras").unlink()
    with pytest.raises(ModelError, match=r"missing file\(s\) seed_1.keras"):
        load_model(uni)
    (uni / "seed_1.keras").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="seed_1.keras: cannot be loaded"):
        load_model(uni)
    cl = Path(shutil.copytree(study["written"]["lstm_cluster"], tmp_path / "cl"))
    shutil.rmtree(cl / "global")
    code, _, err = run_cli("predict", "--model", cl, "--csv",
                           write_videos(tmp_path / "in.csv", make_rows(n_videos=1, days=9)))
    _one_line_error(code, err, "missing file(s) global")


@pytest.mark.slow
def test_save_and_load_an_lstm_forecaster(study, tmp_path):
    from ytlstm.models import LSTMForecaster

    st, o = study["study"], study["origin"]
    train, val = st.windows.subset(o.train), st.windows.subset(o.validation)
    config = st.config.replace(max_epochs=1)
    fitted = [LSTMForecaster(config, multivariate=True, seed=s).fit(train, val) for s in (0, 1)]
    path = save_model(fitted, tmp_path / "mine")
    m = load_model(path)
    assert m.name == "lstm_multivariate" and m.seeds == [0, 1]
    expected = np.expm1(np.mean([np.log1p(f.predict(st.windows)) for f in fitted], axis=0))
    np.testing.assert_allclose(m.predict(st.windows), expected, rtol=1e-6)
    other = LSTMForecaster(config, seed=2).fit(st.windows.subset(o.test), val)
    with pytest.raises(ValueError, match="different data"):
        save_model([fitted[0], other], tmp_path / "mixed")


# --------------------------------------------------------------------------- real data

@pytest.mark.integration
def test_real_data_forecasts_match_the_windows(real_data_dir, tmp_path):
    """On the real US file: fit the drift-target linear model on the chronological training
    windows, save and reload it, and forecast test videos from their rows up to a test
    window's last input day: the forecasts equal the model's predictions of those windows."""
    from ytlstm.data import find_country_files

    files = find_country_files(real_data_dir, "US")
    ds = load_dataset(real_data_dir, "US")
    w = make_windows(ds.frame)
    split = chronological_split(w, ds.frame["date"].to_numpy())
    model = LinearAR(target="drift").fit(w.subset(split.mask("train")))
    loaded = load_model(save_model(model, tmp_path / "linear_ar"))
    chosen = _latest_window_per_video(w, _test_windows(split), 200)
    cut = _cut_dates(w, chosen)
    raw = read_videos(files.videos)
    keep = raw["video_id"].isin(list(cut)) & (
        raw["date"] <= raw["video_id"].map({v: pd.Timestamp(d) for v, d in cut.items()}))
    result = forecast(loaded, raw[keep].reset_index(drop=True))
    order = np.argsort(w.video_id[chosen])
    # videos whose rows after cleaning end elsewhere are reported, never silently dropped
    assert set(result.table["video_id"]) | set(result.skipped) == set(cut)
    t = result.table.set_index("video_id")
    expected = pd.Series(model.predict(w.subset(chosen))[order], index=w.video_id[chosen][order])
    assert len(t) >= 150, result.skipped
    np.testing.assert_allclose(t["forecast_views"], expected[t.index], rtol=1e-12)

"""The forecast intervals a saved model carries (protocol v3, items 19, 20 and 23).

``calibration.json`` (version 3) holds, per horizon and level, the split-conformal bounds
``lower_z``, ``upper_z`` of the scaled score ``(actual - forecast) / s``; the interval of a
forecast ``p`` of a window with scale ``s`` (mean absolute daily increment of its 7 input
days' views, at least 1) and day-7 views ``y7`` is ``[max(p + lower_z s, y7), max(p + upper_z
s, lower end)]``, a null bound being infinite. These tests use hand-made calibrations on a
small saved baseline (fast, no study): the intervals are the ones the rule gives, through the
Python API and ``ytlstm predict``; a calibration that is not version 3's, or is tampered with
(a string for a number, lower above upper, a level or horizon the metadata does not have, a
horizon missing...), and a folder of format 2 are refused with exit 2 and one line naming the
file. The study's export is tested in tests/test_saved_predict.py (slow).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from kaggle_files import make_rows, small_split, write_videos
from ytlstm import safeio
from ytlstm.baselines import LinearAR
from ytlstm.errors import ModelError
from ytlstm.saved import CALIBRATION_VERSION, FORMAT, load_model, save_model

#: Hand-made bounds: level -> (lower_z, upper_z) (None: infinite).
BOUNDS = {0.8: (-2.0, 3.0), 0.95: (None, None)}
#: The last 7 days of the CLI's video: increments 10..60, mean 35 (its scale), day 7 310.
VIEWS = [10, 20, 100, 110, 130, 160, 200, 250, 310]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved_intervals")
    ds, w, train, val = small_split(root / "data", seed=3)
    model = LinearAR(target="drift").fit(train, val)
    return {"path": save_model(model, root / "linear_ar", data_hash=ds.data_hash),
            "model": model}


def _rows(bounds: dict = BOUNDS, horizons=(1, 2)) -> list[dict]:
    return [{"horizon": h, "level": lv, "lower_z": lo, "upper_z": hi, "n_scores": 60}
            for h in horizons for lv, (lo, hi) in bounds.items()]


def _write_calibration(folder: Path, spec) -> None:
    (folder / "calibration.json").write_text(json.dumps(spec))


@pytest.fixture
def folder(saved, tmp_path) -> Path:
    """A copy of the saved baseline with models of horizons 1 and 2 (both the day-8 model)
    and the hand-made calibration :data:`BOUNDS`, laid out as ``export_models`` writes it."""
    folder = Path(shutil.copytree(saved["path"], tmp_path / "linear_ar"))
    meta = json.loads((folder / "metadata.json").read_text())
    files = list(meta["files"])
    for h in (1, 2):
        files += safeio.write(folder, f"horizon_{h}", saved["model"])
    _write_calibration(folder, {"version": CALIBRATION_VERSION, "bounds": _rows()})
    meta.update(files=files + ["calibration.json"], horizons={
        "max_horizon": 2, "form": "direct", "origin": "origin 2", "levels": list(BOUNDS),
        "calibration": "calibration.json", "stems": {"1": "horizon_1", "2": "horizon_2"}})
    (folder / "metadata.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture
def csv(tmp_path) -> Path:
    """One video trending 9 days whose views are :data:`VIEWS`."""
    rows = make_rows(n_videos=1, days=len(VIEWS))
    for r, v in zip(rows, VIEWS):
        r.update(views=str(v), likes=str(v // 20), dislikes=str(v // 200),
                 comment_count=str(v // 100))
    return write_videos(tmp_path / "in.csv", rows)


def _one_line_error(code: int, err: str, *parts: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ytlstm: error: "), err
    for p in parts:
        assert p in lines[0], (p, lines[0])


def test_format_and_calibration_version():
    assert FORMAT == 3 and CALIBRATION_VERSION == 3


def test_intervals_follow_the_scaled_rule(folder):
    """Known bounds, windows of known scale and day-7 views: the intervals by hand."""
    m = load_model(folder)
    assert m.levels == (0.8, 0.95)
    assert m.bounds(2) == {0.8: (-2.0, 3.0), 0.95: (-np.inf, np.inf)}
    steep = [100, 110, 130, 160, 200, 250, 310]      # scale 35, day 7 310
    flat = [50] * 7                                  # no movement: scale 1 (at least 1)
    windows = SimpleNamespace(views=np.array([steep, steep, flat], float))
    pred = np.array([400.0, 300.0, 45.0])
    got = m.intervals(windows, pred, 2)
    assert list(got) == ["lower_80", "upper_80", "lower_95", "upper_95"]
    # 400 +- (2, 3) x 35 = [330, 505]; 300 - 70 = 230 is below day 7: [310, 405];
    # 45 - 2 and 45 + 3 are both below day 7 (50): [50, 50]
    np.testing.assert_allclose(got["lower_80"], [330.0, 310.0, 50.0])
    np.testing.assert_allclose(got["upper_80"], [505.0, 405.0, 50.0])
    # null bounds: the lower end is day 7's views, the upper end infinite
    np.testing.assert_array_equal(got["lower_95"], [310.0, 310.0, 50.0])
    assert np.isposinf(got["upper_95"]).all()


def test_predict_intervals_follow_the_scaled_rule(folder, csv, run_cli, tmp_path):
    """``ytlstm predict --intervals`` on a video of known views: scale 35, day 7 310."""
    out = tmp_path / "f.csv"
    code, _, err = run_cli("predict", "--model", folder, "--csv", csv, "--intervals",
                           "--out", out)
    assert code == 0, err
    got = pd.read_csv(out)
    assert len(got) == 1 and got["views_last_day"].iloc[0] == 310
    p = got["forecast_views"].to_numpy()
    lower = np.maximum(p - 2.0 * 35, 310)
    np.testing.assert_allclose(got["lower_80"], lower)
    np.testing.assert_allclose(got["upper_80"], np.maximum(p + 3.0 * 35, lower))
    np.testing.assert_allclose(got["lower_95"], [310.0])
    assert np.isposinf(got["upper_95"].astype(float)).all()


@pytest.mark.parametrize("edit,parts", [
    (lambda r: r[0].update(lower_z="-2.0"), ("lower_z '-2.0' at horizon 1, level 0.8",
                                            "expected a finite number, or null")),
    (lambda r: r[1].update(upper_z=True), ("upper_z 'True' at horizon 1, level 0.95",)),
    (lambda r: r[0].update(upper_z=float("inf")), ("upper_z 'inf'", "or null")),
    (lambda r: r[0].update(lower_z=float("nan")), ("lower_z 'nan'",)),
    (lambda r: r[2].update(lower_z=4.0, upper_z=1.0),
     ("lower_z 4.0 above upper_z 1.0 at horizon 2, level 0.8", "expected lower_z <= upper_z")),
    (lambda r: r[3].update(lower_z=1.0),                # null upper_z: +inf, fine
     None),
    (lambda r: r[3].update(upper_z=-1.0),               # null lower_z (-inf) <= -1: fine
     None),
    (lambda r: r[0].update(level=0.9), ("level 0.9 at horizon 1", "expected one of the levels "
                                        "of metadata.json (0.8, 0.95)")),
    (lambda r: r[0].update(level="0.8"), ("level 0.8 at horizon 1",)),
    (lambda r: r[0].update(horizon=3), ("horizon 3; expected a whole number from 1 to 2",)),
    (lambda r: r.pop(2), ("no bounds for horizon 2 at level 0.8",)),
    (lambda r: r.append(dict(r[0])), ("two rows of bounds for horizon 1, level 0.8",)),
    (lambda r: r[0].update(n_scores="many"), ("n_scores many at horizon 1, level 0.8",)),
    (lambda r: r.append("row"), ("a row of bounds is not a JSON object",)),
])
def test_a_tampered_calibration_is_refused(folder, csv, run_cli, edit, parts):
    rows = _rows()
    edit(rows)
    _write_calibration(folder, {"version": CALIBRATION_VERSION, "bounds": rows})
    code, out, err = run_cli("predict", "--model", folder, "--csv", csv, "--intervals")
    if parts is None:
        assert code == 0, err
        return
    _one_line_error(code, err, f"{folder / 'calibration.json'}: ", *parts)
    assert out == ""
    with pytest.raises(ModelError, match="calibration.json"):
        load_model(folder)


@pytest.mark.parametrize("spec,parts", [
    ({"quantiles": [{"horizon": 1, "level": 0.8, "lower_q": -0.1, "upper_q": 0.1,
                     "n_residuals": 50}]},
     ("version 2's calibration (log-residual bounds lower_q, upper_q",
      "expected version 3 (scaled-score bounds lower_z, upper_z from the study's test "
      "forecasts of every origin)", "re-export the models with `ytlstm export-models`")),
    ({"version": 4, "bounds": []}, ("calibration version 4; expected version 3",)),
    ({"version": True, "bounds": []}, ("calibration version True; expected version 3",)),
    ({"version": 3, "bounds": {"1": []}}, ("field bounds is not a list",)),
    ([1, 2], ("not a JSON object",)),
])
def test_a_calibration_of_another_version_is_refused(folder, csv, run_cli, spec, parts):
    _write_calibration(folder, spec)
    code, out, err = run_cli("predict", "--model", folder, "--csv", csv)
    _one_line_error(code, err, f"{folder / 'calibration.json'}: ", *parts)
    assert out == ""


def test_a_folder_of_format_2_is_refused(folder, csv, run_cli):
    """An export made before version 3's calibration (format 2, log-residual bounds)."""
    _write_calibration(folder, {"quantiles": [
        {"horizon": h, "level": lv, "lower_q": -0.1, "upper_q": 0.1, "n_residuals": 50}
        for h in (1, 2) for lv in BOUNDS]})
    meta = json.loads((folder / "metadata.json").read_text())
    meta["format"] = 2
    (folder / "metadata.json").write_text(json.dumps(meta))
    code, out, err = run_cli("predict", "--model", folder, "--csv", csv, "--intervals")
    _one_line_error(code, err, f"{folder / 'metadata.json'}: folder format 2; expected 3",
                    "calibration.json version 3",
                    "re-export the models with `ytlstm export-models`")
    assert out == ""


# --------------------------------------------------------------------------- writing

def _predictions(scores: dict[int, list[float]], model: str = "linear_ar") -> pd.DataFrame:
    """A predictions table with horizon_test rows of ``model`` whose scaled scores
    ``(y_true - y_pred) / scale`` are ``scores[h]`` at horizon ``h``, spread over two origins,
    plus rows the calibration must ignore (validation, another model)."""
    rows = []
    for h, zs in scores.items():
        for i, z in enumerate(zs):
            scale, y_pred = 10.0 * (i + 1), 1000.0
            base = {"origin": f"origin {1 + i % 2}", "window": i, "horizon": h,
                    "target_date": pd.Timestamp("2018-01-01") + pd.Timedelta(days=i),
                    "y_pred": y_pred, "y_true": y_pred + z * scale, "scale": scale,
                    "y_last": 900.0}
            rows.append({**base, "model": model, "split": "horizon_test"})
            rows.append({**base, "model": model, "split": "horizon_validation",
                         "y_true": 10**9})
            rows.append({**base, "model": "naive", "split": "horizon_test", "y_true": 0.0})
    return pd.DataFrame(rows)


def test_the_export_writes_every_origins_scaled_bounds(folder):
    """``calibration.json`` as the export writes it from a predictions table: the bounds are
    the order statistics of the scaled scores of every origin's test forecasts (9 scores:
    the 1st and 9th at 80%; too few at 95%, stored as null), read back by the loader."""
    from ytlstm.saved import CALIBRATION_RULE, _write_calibration

    pred = _predictions({1: [5, -1, 3, 9, -4, 2, 7, 0, 1],
                         2: [x / 2 for x in range(-4, 5)]})
    _write_calibration(folder, "linear_ar", pred, SimpleNamespace(horizons=2),
                       SimpleNamespace(name="origin 2"), (0.8, 0.95))
    cal = json.loads((folder / "calibration.json").read_text())
    assert cal["version"] == 3 and cal["rule"] == CALIBRATION_RULE
    assert cal["model"] == "linear_ar" and cal["origin"] == "origin 2"
    assert cal["calibrated_on"] == ["origin 1", "origin 2"]
    assert cal["max_horizon"] == 2 and cal["levels"] == [0.8, 0.95]
    assert cal["bounds"] == [
        {"horizon": 1, "level": 0.8, "lower_z": -4.0, "upper_z": 9.0, "n_scores": 9},
        {"horizon": 1, "level": 0.95, "lower_z": None, "upper_z": None, "n_scores": 9},
        {"horizon": 2, "level": 0.8, "lower_z": -2.0, "upper_z": 2.0, "n_scores": 9},
        {"horizon": 2, "level": 0.95, "lower_z": None, "upper_z": None, "n_scores": 9}]
    m = load_model(folder)
    assert m.bounds(1) == {0.8: (-4.0, 9.0), 0.95: (-np.inf, np.inf)}
    assert m.bounds(2)[0.8] == (-2.0, 2.0)


def test_the_export_refuses_a_model_without_test_forecasts(folder):
    from ytlstm.saved import _write_calibration

    pred = _predictions({1: [1.0, 2.0, 3.0]})          # nothing at horizon 2
    with pytest.raises(ModelError, match="linear_ar: the predictions table has no test "
                                         "forecasts of horizon 2"):
        _write_calibration(folder, "linear_ar", pred, SimpleNamespace(horizons=2),
                           SimpleNamespace(name="origin 2"), (0.8,))

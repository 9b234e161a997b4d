"""`ytlstm predict` with the study's own saved models reproduces the study's predictions.

Runs after the book build (marker ``book``): it loads the study from the result cache, the
predictions table ``_build/results/predictions.csv.gz`` and the models that `ytlstm run`
saved in ``_build/models/US``, the final models: those of the last chronological forecast
origin (:func:`ytlstm.saved.final_origin`). For real US videos of that origin's test block, a
CSV holds each video's rows up to the last input day of its latest test window, exactly as in
the Kaggle file; the forecasts must equal the study's forecasts of those windows by the models
of that origin (rows ``split == "test"`` and ``origin == <last origin>`` of the table).
The horizon models saved with them (``--horizon``, ``--intervals``) must give the horizon
study's forecasts of those windows at every horizon saved where the table has the window at
that horizon (rows ``split == "horizon_test"``), and intervals by protocol v3's rule (items 20
and 23) with the bounds that :func:`ytlstm.intervals.saved_calibration` gives from the table's
test forecasts of every origin.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ytlstm.cli import main
from ytlstm.config import DEFAULT_CACHE_DIR, DEFAULT_RESULTS_DIR
from ytlstm.data import find_country_files
from ytlstm.report import read_predictions
from ytlstm.study import run_study

pytestmark = pytest.mark.book
ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "_build" / "models" / "US"      # ytlstm.outputs.default_models_dir("US")
RESULTS = ROOT / DEFAULT_RESULTS_DIR


@pytest.fixture(scope="module")
def study(real_data_dir):
    study = run_study(data_dir=real_data_dir, cache_dir=ROOT / DEFAULT_CACHE_DIR, verbose=False)
    assert not study.cache_misses, "the study must come from the book build's cache"
    return study


@pytest.fixture(scope="module")
def origin(study):
    return study.chronological_origins[-1]


@pytest.fixture(scope="module")
def table(origin):
    """The last origin's test forecasts from the predictions table, by model and window."""
    p = read_predictions(RESULTS)
    p = p[(p["split"] == "test") & (p["origin"] == origin.name)]
    assert len(p), f"no test rows of {origin.name} in {RESULTS / 'predictions.csv.gz'}"
    return p.set_index(["model", "window"])["y_pred"]


@pytest.fixture(scope="module")
def held_back(study, origin, real_data_dir, tmp_path_factory):
    """A Kaggle-format CSV of 150 test videos of the last origin, cut at their latest test
    window's inputs."""
    w = study.windows
    test = np.asarray(origin.test)
    latest = pd.DataFrame({"i": test, "video": w.video_id[test], "date": w.target_date[test]})
    latest = latest.sort_values("date").groupby("video").tail(1).sort_values("video").head(150)
    cut = dict(zip(latest.video, pd.to_datetime(latest.date) - pd.Timedelta(days=1)))
    files = find_country_files(real_data_dir, "US")
    raw = pd.read_csv(files.videos, dtype=str, keep_default_na=False)
    day = pd.to_datetime(raw.trending_date, format="%y.%d.%m")
    keep = raw.video_id.isin(list(cut)) & (day <= raw.video_id.map(cut))
    path = tmp_path_factory.mktemp("predict") / "held_back.csv"
    raw[keep].to_csv(path, index=False)
    return path, latest.set_index("video")["i"]


def test_saved_models_are_the_last_origins(study, origin):
    for name in ("lstm_multivariate", "lstm_cluster", "drift", "combination"):
        meta = json.loads((MODELS / name / "metadata.json").read_text())
        assert meta["origin"] == origin.name, name
        assert meta["n_train_windows"] == len(origin.train), name
        assert meta["data_hash"] == study.dataset.data_hash, name


@pytest.mark.parametrize("model", ["lstm_multivariate", "lstm_transfer", "lstm_univariate",
                                   "lstm_cluster", "drift", "linear_ar", "gbm", "combination"])
def test_predict_reproduces_the_study(table, held_back, model, tmp_path, capsys):
    csv, window_of = held_back
    out = tmp_path / "forecasts.csv"
    code = main(["predict", "--model", model, "--csv", str(csv), "--out", str(out),
                 "--models-dir", str(MODELS)])
    assert code in (0, 1), capsys.readouterr().err
    got = pd.read_csv(out).set_index("video_id")
    assert len(got) >= 0.9 * len(window_of), "most held-back videos must be forecast"
    expected = table.loc[model].loc[window_of.loc[got.index].to_numpy()]
    np.testing.assert_allclose(got["forecast_views"].to_numpy(), expected.to_numpy(), rtol=1e-5)


@pytest.fixture(scope="module")
def predictions():
    return read_predictions(RESULTS)


@pytest.fixture(scope="module")
def horizon_table(origin, predictions):
    """The last origin's horizon forecasts, by model, horizon and window."""
    p = predictions
    p = p[(p["split"] == "horizon_test") & (p["origin"] == origin.name)]
    assert len(p), f"no horizon_test rows of {origin.name} in {RESULTS / 'predictions.csv.gz'}"
    return p.set_index(["model", "horizon", "window"]).sort_index()


def test_saved_horizon_models_are_the_last_origins(study, origin):
    hz = study.horizons
    assert hz is not None, "the study has no horizon stage"
    for name in ("lstm_univariate_h", "lstm_transfer_h", "gbm", "combination"):
        meta = json.loads((MODELS / name / "metadata.json").read_text())
        assert meta["horizons"]["origin"] == origin.name, name
        assert meta["horizons"]["max_horizon"] == hz.horizons, name
        assert meta["horizons"]["levels"] == list(study.config.interval_levels), name
    meta = json.loads((MODELS / "lstm_univariate_h" / "metadata.json").read_text())
    assert meta["horizons"]["form"] == hz.fits[origin.name]["lstm_univariate_h"].params["form"]


@pytest.mark.parametrize("model", ["lstm_transfer_h", "lstm_univariate_h", "gbm", "drift"])
def test_predict_horizons_with_intervals_reproduce_the_study(study, origin, horizon_table,
                                                            predictions, held_back, model,
                                                            tmp_path, capsys):
    from ytlstm.evaluate import mase_scale
    from ytlstm.intervals import saved_calibration

    csv, window_of = held_back
    hz = study.horizons
    fit = hz.fits[origin.name][model]
    cal = saved_calibration(predictions, model, tuple(study.config.interval_levels))
    saved = json.loads((MODELS / model / "calibration.json").read_text())
    assert saved["version"] == 3, model
    for r in saved["bounds"]:
        q = cal[(cal["horizon"] == r["horizon"]) & np.isclose(cal["level"], r["level"])]
        assert len(q) == 1 and int(q["n_scores"].iloc[0]) == r["n_scores"], (model, r)
        for col, inf in (("lower_z", -np.inf), ("upper_z", np.inf)):
            want = float(q[col].iloc[0])
            assert (r[col] is None and want == inf) or np.isclose(r[col], want, rtol=1e-9), \
                (model, r, col, want)
    for h in sorted({1, 2, hz.horizons}):
        out = tmp_path / f"h{h}.csv"
        code = main(["predict", "--model", model, "--csv", str(csv), "--out", str(out),
                     "--models-dir", str(MODELS), "--horizon", str(h), "--intervals"])
        assert code in (0, 1), capsys.readouterr().err
        got = pd.read_csv(out).set_index("video_id")
        assert list(got.columns[-4:]) == ["lower_80", "upper_80", "lower_95", "upper_95"]
        assert len(got) >= 0.9 * len(window_of), "most held-back videos must be forecast"
        windows = window_of.loc[got.index].to_numpy()
        np.testing.assert_allclose(got["forecast_views"].to_numpy(),
                                   fit.ensemble[windows, h - 1], rtol=1e-5, err_msg=f"h={h}")
        assert (got["lower_80"] <= got["upper_80"]).all() and \
            (got["lower_95"] <= got["upper_95"]).all()
        assert (got["lower_80"] >= got["views_last_day"]).all()
        rows = horizon_table.loc[(model, h)]
        have = np.isin(windows, rows.index)
        if h == 1:
            assert have.all()
        recorded = rows.loc[windows[have]]
        np.testing.assert_allclose(got["forecast_views"].to_numpy()[have],
                                   recorded["y_pred"].to_numpy(), rtol=1e-5, err_msg=f"h={h}")
        views = study.windows.views[windows].astype(float)
        s, y7 = mase_scale(views), views[:, -1]
        p = got["forecast_views"].to_numpy()
        for lv, tag in ((0.8, "80"), (0.95, "95")):
            q = cal[(cal["horizon"] == h) & np.isclose(cal["level"], lv)].iloc[0]
            lower = np.maximum(p + q["lower_z"] * s, y7)
            np.testing.assert_allclose(got[f"lower_{tag}"], lower, rtol=1e-9,
                                       err_msg=f"h={h} {lv}")
            np.testing.assert_allclose(got[f"upper_{tag}"],
                                       np.maximum(p + q["upper_z"] * s, lower), rtol=1e-9,
                                       err_msg=f"h={h} {lv}")

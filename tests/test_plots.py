"""The book's figure style (ytlstm.plots): phone-readable text, one colour per model, off-scale
models marked at the axis edge, intervals and legends off the data; configurations in words."""

from __future__ import annotations

import io
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from ytlstm import plots  # noqa: E402
from ytlstm.names import BASELINES, HORIZON_LSTMS, MODEL_LABELS, config_words  # noqa: E402

#: A phone's text column at a 390 px screen (CSS px, measured in Chromium), and the least
#: text size there.
PHONE_COLUMN, MIN_CSS_PX = 342, 9.0


@pytest.fixture(autouse=True)
def _style():
    plots.set_style()
    yield
    plt.close("all")


def phone_px(fig) -> float:
    """The smallest text of ``fig``, in CSS px, with its PNG drawn at most PHONE_COLUMN wide."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight",
                metadata={plots.PNG_TEXT_KEY: f"{plots.png_text_px(fig):.2f}"})
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        text_px, width = float(im.text[plots.PNG_TEXT_KEY]), im.width
    return plots.phone_text_px(text_px, width, min(width, PHONE_COLUMN))


def intervals(models, values):
    v = np.asarray(values, float)
    return pd.DataFrame({"model": models, "vs_reference": v, "vs_reference_lo": v - 0.05,
                         "vs_reference_hi": v + 0.05, "rel_mae": v, "rel_mae_lo": v - 0.05,
                         "rel_mae_hi": v + 0.05, "reference": "drift"})


def horizon_tables():
    rows, tests = [], []
    for h in range(1, 8):
        for m in ("naive", "drift", "gbm", "lstm_univariate_h", "lstm_transfer_h"):
            rows.append({"model": m, "horizon": h, "rel_mae": 1.0 if m == "naive" else 0.8 + 0.01 * h})
        tests.append({"horizon": h, "lstm": "lstm_univariate_h", "baseline": "drift", "ratio": 0.97,
                      "ratio_lo": 0.9, "ratio_hi": 1.05, "p_holm": 0.01 if h == 1 else 0.8})
    cov = pd.DataFrame([{"model": m, "horizon": h, "level": lv, "coverage": lv - 0.01 * h}
                        for m in ("naive", "drift") for h in range(1, 8) for lv in (0.8, 0.95)])
    return pd.DataFrame(rows), pd.DataFrame(tests), cov


def figures():
    metrics, tests, cov = horizon_tables()
    models = ["naive", "drift", "gbm", "linear_ar", "lstm_univariate", "lstm_multivariate"]
    fig, ax = plt.subplots()
    runs = [SimpleNamespace(val_loss=[0.5, 0.4, 0.45], loss=[0.6, 0.5, 0.4], best_epoch=2)]
    plots.learning_curves(ax, runs, "Univariate LSTM: learning curves (first origin)", loss="mse")
    return {
        "relative": plots.relative_figure(intervals(models, [1.0, 1.0, 1.55, 0.98, 0.95, 0.97]),
                                          "Next-day views: every model against the best baseline"),
        "results": plots.results_figure(intervals(models, [1.0, 0.9, 2.5, 0.92, 0.88, 0.89]),
                                        "All models on the common test windows"),
        "skill": plots.skill_by_horizon(metrics, tests, "How far ahead do the forecasts stay useful?"),
        "coverage": plots.coverage_by_horizon(cov, ["naive", "drift"], "Do the intervals cover?"),
        "curves": fig,
    }


@pytest.mark.parametrize("name", ["relative", "results", "skill", "coverage", "curves"])
def test_figure_text_is_readable_in_a_phone_column(name):
    fig = figures()[name]
    assert plots.smallest_text_pt(fig) >= plots.MIN_FONT_PT
    assert fig.get_figwidth() == pytest.approx(plots.WIDTH)
    assert phone_px(fig) >= MIN_CSS_PX
    for ax in fig.axes:       # legends are the figure's, outside every plot area
        assert ax.get_legend() is None, name


def test_the_rule_fails_a_wide_figure_with_small_text():
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot([1, 2], [3, 4], label="a line")
    ax.legend(fontsize=8)
    assert plots.smallest_text_pt(fig) == 8
    assert phone_px(fig) < 5


def test_one_colour_per_model_and_none_is_the_actual_values():
    assert set(plots.MODEL_COLORS) == set(MODEL_LABELS)
    for group in (set(MODEL_LABELS) - set(HORIZON_LSTMS), set(BASELINES) | set(HORIZON_LSTMS)):
        colours = [plots.color(m) for m in group]
        assert len(set(colours)) == len(colours), group
    assert plots.ACTUAL not in plots.MODEL_COLORS.values()
    assert plots.color("gbm") != plots.ACTUAL


def test_an_off_scale_model_is_marked_at_the_edge_not_stretching_the_axis():
    fig = figures()["relative"]
    ax = fig.axes[0]
    left, right = ax.get_xlim()
    assert right <= 1.3 + 1e-9 and right < 1.55
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["155%, off scale"], notes
    # the models that matter fill the axis: 95% and 105% are far apart
    assert (1.05 - 0.90) / (right - left) > 0.3


def test_skill_by_horizon_shows_the_intervals_and_the_significant_horizons():
    fig = figures()["skill"]
    assert len(fig.axes) == 2
    bars = fig.axes[1].containers
    assert len(bars) == 1 and len(bars[0].lines[2][0].get_segments()) == 7
    labels = [" ".join(t.get_text().split()) for t in fig.legends[0].get_texts()]
    assert "Holm-adjusted p < 0.05" in labels
    assert any("95% interval" in lb for lb in labels)


def test_loss_curves_name_their_loss():
    fig = figures()["curves"]
    assert fig.axes[0].get_ylabel().startswith("MSE loss")


def test_configurations_in_words():
    assert config_words('{"target": "drift", "loss": "mae_scaled", "units": 32}') == \
        "drift target, MAE loss weighted by scale, 32 units"
    assert config_words({"k": 3, "stat": "median", "damping": 0.8}) == \
        "the median of the last 3 daily increases, damped by 0.8 a day"
    assert config_words({"k": 1, "stat": "mean", "damping": 1.0}) == "the last daily increase, undamped"
    assert config_words({"target": "growth", "inputs": "univariate", "loss": "absolute",
                         "max_leaf_nodes": 15}) == \
        "growth target, views only, absolute-error loss, at most 15 leaves a tree"
    assert config_words({"members": ["drift", "linear_ar"]}) == \
        "mean of Drift (tuned) and Linear autoregression"
    assert "{" not in config_words({"units": 16, "new_field": 2})


def test_by_origin_figure_draws_each_models_interval_side_by_side():
    rows = [{"model": m, "origin": f"origin {o}", "rel_mae": 0.2 + 0.01 * i, "rel_mae_lo": 0.1,
             "rel_mae_hi": 0.3} for o in (1, 2) for i, m in enumerate(("drift", "gbm", "lstm_univariate"))]
    fig = plots.by_origin_figure(pd.DataFrame(rows), ["drift", "gbm", "lstm_univariate"], "Per origin")
    ax = fig.axes[0]
    assert len(ax.containers) == 3                     # one set of error bars per model
    xs = [c.lines[0].get_xdata()[0] for c in ax.containers]
    assert len(set(xs)) == 3                           # side by side, not on top of each other
    assert [t.get_text() for t in ax.get_xticklabels()] == ["origin 1", "origin 2"]
    assert phone_px(fig) >= MIN_CSS_PX


def test_the_alt_text_names_the_off_scale_model_and_its_value():
    from ytlstm import alt

    text = alt.describe(figures()["relative"])
    assert "marked: Gradient boosting 155%, off scale" in text, text

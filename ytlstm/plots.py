"""One figure style for the whole book: readable sizes, a colour-blind-safe palette, fixed model colours."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import seaborn as sns  # noqa: E402

#: Okabe-Ito colour-blind-safe palette.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000"]
#: The same colour for a model in every chapter.
MODEL_COLORS = {
    "naive": "#999999",
    "drift": "#E69F00",
    "szabo_huberman": "#F0E442",
    "linear_ar": "#56B4E9",
    "gbm_multivariate": "#000000",
    "lstm_univariate": "#0072B2",
    "lstm_multivariate": "#D55E00",
    "lstm_cluster": "#009E73",
    "lstm_transfer": "#CC79A7",
}


def set_style() -> None:
    """Apply the book's style (call once per chapter)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=OKABE_ITO)
    plt.rcParams.update({
        "figure.figsize": (8, 4.5), "figure.dpi": 110, "savefig.dpi": 110,
        "axes.titlesize": 13, "axes.titleweight": "bold", "axes.labelsize": 11,
        "legend.fontsize": 9, "legend.frameon": True, "figure.autolayout": False,
    })


def color(model: str) -> str:
    return MODEL_COLORS.get(model, "#777777")


def views_axis(ax, axis: str = "y", log: bool = True) -> None:
    """Log scale with readable tick labels (1k, 10k, 1M) for view counts."""
    a = ax.yaxis if axis == "y" else ax.xaxis
    if log:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    a.set_major_formatter(mticker.FuncFormatter(human))


def human(x: float, _pos=None) -> str:
    """1234567 -> '1.2M'."""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            v = x / div
            return f"{v:.0f}{suffix}" if v >= 10 or v == int(v) else f"{v:.1f}{suffix}"
    return f"{x:.0f}"

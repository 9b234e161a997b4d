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


def learning_curves(ax, result, title: str, color_: str | None = None) -> None:
    """Validation loss per epoch for every seed of a NeuralResult; dots mark the best epoch."""
    c = color_ or color(result.name)
    for i, r in enumerate(result.runs):
        ep = range(1, len(r.val_loss) + 1)
        ax.plot(ep, r.val_loss, color=c, alpha=0.8, lw=1.2,
                label="validation loss (one line per seed)" if i == 0 else None)
        ax.plot(ep, r.loss, color=c, alpha=0.35, lw=1, ls="--",
                label="training loss" if i == 0 else None)
        ax.plot(r.best_epoch, r.val_loss[r.best_epoch - 1], "o", color=c, ms=5,
                label="best epoch (weights kept)" if i == 0 else None)
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (scaled log space)")
    ax.legend()


def model_bars(ax, table, metric: str = "rel_mae", title: str = "") -> None:
    """Horizontal bars of a metric with its bootstrap interval, one bar per model."""
    from ytlstm.report import label

    t = table.iloc[::-1]
    y = range(len(t))
    err = [t[metric] - t[f"{metric}_lo"], t[f"{metric}_hi"] - t[metric]]
    ax.barh(list(y), t[metric], xerr=err, color=[color(m) for m in t["model"]],
            edgecolor="black", lw=0.5, capsize=3)
    ax.set_yticks(list(y), [label(m) for m in t["model"]])
    ax.set_title(title)
    return ax


def example_videos(study, n: int = 3) -> list[str]:
    """The test videos with the most test windows (ties by id): a deterministic choice."""
    import pandas as pd

    m = study.splits["chronological"].mask("test")
    counts = pd.Series(study.windows.video_id[m]).value_counts()
    counts = counts.sort_index().sort_values(ascending=False, kind="mergesort")
    return list(counts.index[:n])


def forecasts_for_videos(study, models: list[str], videos: list[str], title_model: str):
    """One panel per video: true views of day 8 and each model's one-day-ahead forecast."""
    import numpy as np

    from ytlstm.report import label

    w = study.windows
    test = study.splits["chronological"].mask("test")
    preds = study.predictions("chronological")
    titles = study.dataset.frame.drop_duplicates("video_id").set_index("video_id")["title"]
    fig, axes = plt.subplots(len(videos), 1, figsize=(8, 2.9 * len(videos)), sharex=False)
    for ax, vid in zip(np.atleast_1d(axes), videos):
        m = test & (w.video_id == vid)
        order = np.argsort(w.target_date[m])
        dates = w.target_date[m][order]
        ax.plot(dates, w.y[m][order], "k-o", ms=3, lw=1.5, label="actual views")
        for name in models:
            ax.plot(dates, preds[name][m][order], "-", color=color(name), lw=1.3, alpha=0.9,
                    label=label(name))
        t = str(titles.get(vid, vid))
        ax.set_title(t[:70] + ("…" if len(t) > 70 else ""), fontsize=11)
        ax.set_ylabel("views")
        ax.yaxis.set_major_formatter(mticker.FuncFormatter(human))
        ax.tick_params(axis="x", labelrotation=20)
    np.atleast_1d(axes)[0].legend(loc="upper left")
    np.atleast_1d(axes)[-1].set_xlabel("target date (day 8)")
    fig.suptitle(f"One-day-ahead forecasts on test days: {title_model}", fontweight="bold")
    fig.tight_layout()
    return fig


def error_distribution(study, models: list[str], title: str):
    """Distribution of the percentage error of day 8's views on the test windows, per model."""
    import numpy as np
    import pandas as pd

    from ytlstm.report import label

    w = study.windows
    m = study.splits["chronological"].mask("test")
    preds = study.predictions("chronological")
    df = pd.concat([pd.DataFrame({"model": label(k),
                                  "error": 100 * (preds[k][m] - w.y[m]) / w.y[m]}) for k in models])
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(models) + 1.8))
    sns.boxplot(data=df, x="error", y="model", hue="model", showfliers=False, whis=(5, 95),
                palette=[color(k) for k in models], legend=False, ax=ax)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("forecast error on day 8 (% of actual views); boxes: quartiles, whiskers: 5-95%")
    ax.set_ylabel("")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def results_figure(table, title: str, metric: str = "rel_mae"):
    """Relative MAE with 95% bootstrap intervals for each model in ``table``."""
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(table) + 1.5))
    model_bars(ax, table, metric, title)
    ax.axvline(1.0, color="black", lw=0.8, ls=":")
    ax.set_xlabel("relative MAE on test windows (MAE / MAE of naive; below 1 beats naive)")
    fig.tight_layout()
    return fig

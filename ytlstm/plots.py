"""One figure style for the whole book: text readable on a phone, a colour-blind-safe palette,
one colour per model, legends outside the data.

Figures are :data:`WIDTH` inches wide with no text below :data:`MIN_FONT_PT` points, so that
shown in a phone's text column (342 CSS px at a 390 px screen) the smallest text is still
about 9 CSS px. :func:`set_style` also writes the size of the smallest text of every
figure a chapter shows into its PNG (:data:`PNG_TEXT_KEY`), and the browser tests check it
against the size the figure is drawn at (tests/test_browser.py).
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import matplotlib.ticker as mticker
import seaborn as sns

from ytlstm.names import MODEL_LABELS, label, loss_words

#: Okabe-Ito colour-blind-safe palette.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000"]
#: The actual (observed) values: black, and no model is drawn in black.
ACTUAL = "#000000"
#: One colour per model (keys: :data:`ytlstm.names.MODEL_LABELS`), the same in every chapter.
#: The horizon study's networks (``*_h``) take their day-8 family's colour: the two never
#: share a figure.
MODEL_COLORS = {
    "naive": "#999999",
    "drift": "#E69F00",
    "szabo_huberman": "#B8A000",
    "linear_ar": "#56B4E9",
    "gbm": "#7E57C2",
    "combination": "#882255",
    "lstm_univariate": "#0072B2",
    "lstm_multivariate": "#D55E00",
    "lstm_cluster": "#009E73",
    "lstm_transfer": "#CC79A7",
    "lstm_random_start": "#8C564B",
    "lstm_univariate_h": "#0072B2",
    "lstm_transfer_h": "#CC79A7",
    "best_pair": "#44AA99",
}
assert set(MODEL_COLORS) == set(MODEL_LABELS), "a model without a colour (or a colour without a model)"
#: Line styles that tell learned models from simple ones in the horizon figures.
DASHED = ("naive", "szabo_huberman", "combination")

#: Width of every figure (inches) and its smallest text (points): see the module docstring.
WIDTH = 5.2
MIN_FONT_PT = 10.0
DPI = 130
#: PNG text chunk holding the height in image pixels of a figure's smallest text.
PNG_TEXT_KEY = "ytlstm-min-text-px"


def set_style() -> None:
    """Apply the book's style (call once per chapter)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=OKABE_ITO)
    plt.rcParams.update({
        "figure.figsize": (WIDTH, 3.6), "figure.dpi": DPI, "savefig.dpi": DPI,
        "savefig.pad_inches": 0.02,     # the layout pads already: no wider PNG than needed
        "figure.constrained_layout.use": True, "figure.autolayout": False,
        "font.size": MIN_FONT_PT, "axes.titlesize": 11.5, "axes.titleweight": "bold",
        "axes.labelsize": 10.5, "xtick.labelsize": MIN_FONT_PT, "ytick.labelsize": MIN_FONT_PT,
        "legend.fontsize": MIN_FONT_PT, "legend.title_fontsize": MIN_FONT_PT,
        "figure.titlesize": 12, "figure.titleweight": "bold", "legend.frameon": True,
    })
    install_png_text_size()


def color(model: str) -> str:
    return MODEL_COLORS.get(model, "#777777")


def wrap(text: str, width: int = 48) -> str:
    """Break a long title or axis label into lines of at most ``width`` characters."""
    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def short(model: str, width: int = 22) -> str:
    """A model's label wrapped for a category axis."""
    return wrap(label(model), width)


def legend_below(fig, ncols: int | None = None, axes=None):
    """One legend for the figure, under the plots (never on the data); entries of every
    panel (or of ``axes``), each label once; by default in as many columns as fit."""
    handles, labels = [], []
    for ax in (axes if axes is not None else fig.axes):
        for h, lb in zip(*ax.get_legend_handles_labels()):
            if lb not in labels and not lb.startswith("_"):
                handles.append(h)
                labels.append(lb)
    if ncols is None:
        longest = max((len(lb) for lb in labels), default=0)
        ncols = 3 if longest <= 14 else 2 if longest <= 26 else 1
    labels = [wrap(lb, 60 // ncols - 4) for lb in labels]     # never wider than the figure
    return fig.legend(handles, labels, loc="outside lower center", ncols=min(ncols, max(len(labels), 1)),
                      frameon=False)


def percent_axis(axis) -> None:
    """Percent tick labels at round steps (90%, 95%, 100%: never 97.5% shown as 98%)."""
    axis.set_major_locator(mticker.MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: f"{100 * v:.4g}%"))


def smallest_text_pt(fig) -> float | None:
    """Size in points of the smallest visible non-empty text of ``fig`` (None: no text)."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and t.get_figure() is not None]
    return min(sizes) if sizes else None


def png_text_px(fig) -> float | None:
    """Height in PNG pixels of the smallest text of ``fig`` saved at its dpi."""
    pt = smallest_text_pt(fig)
    return None if pt is None else pt * fig.dpi / 72


def phone_text_px(text_px: float, natural_width: float, shown_width: float) -> float:
    """CSS px of text ``text_px`` image pixels high in an image ``natural_width`` pixels wide
    drawn ``shown_width`` CSS px wide."""
    return text_px * shown_width / natural_width


def install_png_text_size() -> None:
    """In IPython, make every figure's PNG carry :data:`PNG_TEXT_KEY` (its smallest text in
    pixels); outside IPython, or without the inline backend's PNG formatter, do nothing."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - IPython is a dependency of the book
        return
    ip = get_ipython()
    if ip is None:
        return
    import matplotlib

    if "inline" in str(matplotlib.get_backend()):
        # pyplot loads its backend lazily: load it now, so that it registers IPython's figure
        # formatters before this function replaces the PNG one
        import matplotlib_inline.backend_inline  # noqa: F401
    png = ip.display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(Figure)
    except KeyError:       # the inline backend does not show figures as PNG here
        return

    def with_text_size(fig):
        px = png_text_px(fig)
        meta = {PNG_TEXT_KEY: f"{px:.2f}"} if px is not None else {}
        return print_figure(fig, "png", bbox_inches="tight", base64=True, metadata=meta)

    png.for_type(Figure, with_text_size)


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
            return f"{v:.0f}{suffix}" if v == int(v) else f"{v:.3g}{suffix}"
    return f"{x:.0f}" if x == int(x) else f"{x:.3g}"


def learning_curves(ax, runs, title: str, color_: str = "#0072B2", loss: str | None = None) -> None:
    """Validation loss per epoch for every seed's network; dots mark the best epoch. ``loss``
    (a grid's loss name) labels the axis, so curves of different losses are never read as one."""
    c = color_
    for i, r in enumerate(runs):
        ep = range(1, len(r.val_loss) + 1)
        ax.plot(ep, r.val_loss, color=c, alpha=0.8, lw=1.2,
                label="validation loss (one line per seed)" if i == 0 else None)
        ax.plot(ep, r.loss, color=c, alpha=0.35, lw=1, ls="--",
                label="training loss" if i == 0 else None)
        ax.plot(r.best_epoch, r.val_loss[r.best_epoch - 1], "o", color=c, ms=5,
                label="best epoch (weights kept)" if i == 0 else None)
    ax.set_title(wrap(title))
    ax.set_xlabel("epoch")
    what = f"{loss_words(loss)} loss" if loss else "loss"
    ax.set_ylabel(wrap(f"{what} (scaled log space)", 34))
    legend_below(ax.figure, axes=[ax])


def plain_title(title: str, video_id: str, width: int = 60) -> str:
    """A video title the default font can draw: characters it lacks (CJK, emoji) are dropped."""
    kept = " ".join("".join(c if ord(c) < 0x2000 else " " for c in title).split()).strip(" -|")
    if len(kept) > width:
        kept = kept[:width].rstrip() + "..."
    return f"{kept} ({video_id})" if kept else f"video {video_id}"


def example_videos(pred, n: int = 3) -> list[str]:
    """The test videos with the most test windows (ties by id): a deterministic choice."""
    t = pred[(pred["split"] == "test") & (pred["model"] == "naive")]
    counts = t["video_id"].value_counts()
    counts = counts.sort_index().sort_values(ascending=False, kind="mergesort")
    return list(counts.index[:n])


def forecasts_for_videos(pred, titles, models: list[str], videos: list[str], title_model: str):
    """One panel per video: true views of day 8 and each model's one-day-ahead forecast."""
    t = pred[pred["split"] == "test"]
    fig, axes = plt.subplots(len(videos), 1, figsize=(WIDTH, 2.5 * len(videos) + 1.4))
    for ax, vid in zip(np.atleast_1d(axes), videos):
        v = t[t["video_id"] == vid].sort_values("target_date")
        truth = v[v["model"] == "naive"]
        ax.plot(truth["target_date"], truth["y_true"], "-o", color=ACTUAL, ms=3, lw=1.5,
                label="actual views")
        for name in models:
            m = v[v["model"] == name]
            ax.plot(m["target_date"], m["y_pred"], "-", color=color(name), lw=1.5, alpha=0.9,
                    label=label(name))
        ax.set_title(wrap(plain_title(str(titles.get(vid, "")), vid, 40), 50), fontsize=MIN_FONT_PT)
        ax.set_ylabel("views")
        ax.yaxis.set_major_formatter(mticker.FuncFormatter(human))
        ax.xaxis.set_major_locator(mticker.MaxNLocator(4))
        ax.tick_params(axis="x", labelrotation=20)
    np.atleast_1d(axes)[-1].set_xlabel("target date (day 8)")
    fig.suptitle(wrap(f"One-day-ahead forecasts on test days: {title_model}"))
    legend_below(fig)
    return fig


def error_distribution(pred, models: list[str], title: str):
    """Distribution of the percentage error of day 8's views on the test windows, per model:
    ``e = actual - forecast`` as in the Methods' equation, in % of the actual views."""
    t = pred[pred["split"] == "test"]
    errors = [100 * (g["y_true"] - g["y_pred"]) / g["y_true"]
              for g in (t[t["model"] == k] for k in models)]
    fig, ax = plt.subplots(figsize=(WIDTH, 0.5 * len(models) + 1.9))
    pos = np.arange(len(models))[::-1]
    box = ax.boxplot(errors, positions=pos, orientation="horizontal", whis=(5, 95),
                     showfliers=False, patch_artist=True, widths=0.6,
                     medianprops={"color": "black"})
    for patch, k in zip(box["boxes"], models):
        patch.set_facecolor(color(k))
        patch.set_alpha(0.8)
    ax.set_yticks(pos, [short(k) for k in models])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(wrap("error on day 8, actual − forecast (% of actual views); boxes: "
                       "quartiles, whiskers: 5-95%", 50))
    fig.suptitle(wrap(title))
    return fig


def _interval_rows(ax, t, col: str, left: float | None = None, right: float | None = None,
                   ref: float = 1.0, value_fmt: str = "{:.0%}") -> tuple[float, float]:
    """One row per model of ``t`` (top to bottom): ``col`` with its 95% interval
    (``col_lo``, ``col_hi``) as a dot and a bar in the model's colour. The axis spans the
    models whose value is within ``right`` (default: all of them); a model beyond is marked
    at the edge with its value, and an interval running past the edge ends in an arrow."""
    t = t.iloc[::-1]
    y = np.arange(len(t))
    v, lo, hi = t[col].to_numpy(), t[f"{col}_lo"].to_numpy(), t[f"{col}_hi"].to_numpy()
    inside = v <= right if right is not None else np.ones(len(v), bool)
    hi_in = hi[inside].max() if inside.any() else ref
    r = float(max(hi_in, ref) + 0.04 * (max(hi_in, ref) - min(lo.min(), ref)) + 0.01)
    if right is not None:
        r = min(r, right)
    lft = float(min(lo[inside].min() if inside.any() else ref, ref))
    lft = lft - 0.04 * (r - lft) - 0.01
    if left is not None:
        lft = min(lft, left)
    for i, m in enumerate(t["model"]):
        c = color(m)
        if v[i] > r:
            ax.plot([r], [y[i]], ">", color=c, ms=9, clip_on=False)
            ax.annotate(value_fmt.format(v[i]) + ", off scale", xy=(r, y[i]), xytext=(-10, 0),
                        textcoords="offset points", ha="right", va="center",
                        fontsize=MIN_FONT_PT, color="black",
                        bbox={"fc": "white", "ec": "none", "pad": 1})
            continue
        ax.errorbar(v[i], y[i], xerr=[[v[i] - lo[i]], [min(hi[i], r) - v[i]]], fmt="o",
                    ms=7, color=c, ecolor=c, capsize=4, lw=2)
        if hi[i] > r:
            ax.plot([r], [y[i]], ">", color=c, ms=7, clip_on=False)
    ax.set_xlim(lft, r)
    ax.set_yticks(y, [short(m) for m in t["model"]])
    return lft, r


def relative_figure(table, title: str, xlabel: str | None = None, clip: float = 1.3):
    """Each model's pooled MAE relative to the reference (the best baseline), with its 95%
    interval, on an axis that spans the differences (not 0 to 1), one row per model; a model
    more than ``clip`` times the reference is marked at the axis edge with its value."""
    fig, ax = plt.subplots(figsize=(WIDTH, 0.42 * len(table) + 2.2))
    _interval_rows(ax, table, "vs_reference", left=0.88, right=clip)
    ax.axvline(1.0, color="black", lw=1, ls="-")
    ax.axvline(0.9, color="black", lw=0.8, ls=":", label="90%: the LSTMs' target")
    ref = label(str(table["reference"].iloc[0]))
    ax.set_xlabel(wrap(xlabel or f"test MAE relative to the best baseline ({ref}); below 100% "
                       "is better", 42))
    percent_axis(ax.xaxis)
    fig.suptitle(wrap(title))
    legend_below(fig)
    return fig


def results_figure(table, title: str, metric: str = "rel_mae", clip: float | None = None):
    """Relative MAE (MAE / naive's) with 95% intervals, zoomed on the models' range; a model
    above ``clip`` (default: 1.5 times the median model's) is marked at the axis edge with
    its value, so naive (1 by definition) does not squeeze the others together."""
    fig, ax = plt.subplots(figsize=(WIDTH, 0.42 * len(table) + 1.8))
    v = table[metric].to_numpy(dtype=float)
    near = v <= 1.5 * np.median(v)
    if clip is None and not near.all():
        clip = 1.03 * float(table[f"{metric}_hi"].to_numpy(dtype=float)[near].max())
    _interval_rows(ax, table, metric, right=clip, ref=min(1.0, clip or 1.0),
                   value_fmt="{:.2f}")
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xlabel(wrap("relative MAE on test windows (MAE / MAE of naive; below 1 beats naive)",
                       42))
    fig.suptitle(wrap(title))
    return fig


def origins_timeline(origins, title: str = "Rolling forecast origins"):
    """One row per origin: its training, validation (early stopping) and test dates."""
    import matplotlib.dates as mdates
    import pandas as pd

    fig, ax = plt.subplots(figsize=(WIDTH, 0.5 * len(origins) + 2.4))
    parts = (("train", "training", "#56B4E9"), ("validation", "validation (early stopping)",
                                               "#E69F00"), ("test", "test block", "#D55E00"))
    for i, o in enumerate(origins):
        y = len(origins) - 1 - i
        for key, name, col in parts:
            a = pd.Timestamp(o.info[f"{key}_first"])
            b = pd.Timestamp(o.info[f"{key}_last"]) + pd.Timedelta(days=1)
            ax.barh(y, b - a, left=a, color=col, edgecolor="black", lw=0.4,
                    label=name if i == 0 else None)
    ax.set_yticks(range(len(origins)), [o.name for o in origins][::-1])
    ax.set_xlabel("target date")
    ax.xaxis.set_major_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_title(wrap(title))
    legend_below(fig)
    return fig


def by_origin_figure(table, models: list[str], title: str):
    """Relative MAE per origin (test block), one line per model; with ``rel_mae_lo`` and
    ``rel_mae_hi`` in ``table``, each point's 95% interval (models side by side)."""
    fig, ax = plt.subplots(figsize=(WIDTH, 4.6))
    origins = list(dict.fromkeys(table["origin"]))
    bars = {"rel_mae_lo", "rel_mae_hi"} <= set(table.columns)
    for k, m in enumerate(models):
        t = table[table["model"] == m].set_index("origin").reindex(origins)
        x = np.arange(len(origins)) + (0.28 * (k / max(len(models) - 1, 1) - 0.5) if bars else 0)
        if bars:
            ax.errorbar(x, t["rel_mae"], yerr=[t["rel_mae"] - t["rel_mae_lo"],
                                               t["rel_mae_hi"] - t["rel_mae"]],
                        fmt="-o", ms=4, lw=1.2, capsize=2, color=color(m), label=label(m))
        else:
            ax.plot(x, t["rel_mae"], "-o", color=color(m), label=label(m))
    ax.set_xticks(range(len(origins)), origins)
    ax.set_ylabel(wrap("relative MAE (MAE / naive's)", 34))
    ax.set_xlabel("forecast origin (test block)")
    ax.set_title(wrap(title))
    legend_below(fig)
    return fig


# --------------------------------------------------------------------------- horizons

def skill_by_horizon(metrics, tests, title: str, leave_out=("naive", "szabo_huberman")):
    """Top: relative MAE (against naive at the same horizon) by horizon, one line per model
    (naive, 1 by definition, and models far above the others are left out so the differences
    show). Bottom: the best LSTM's MAE over the best baseline's at each horizon with its 95%
    bootstrap interval (``tests``, :func:`ytlstm.report.horizon_tests`); horizons where the
    difference is significant after Holm's adjustment are marked."""
    from ytlstm.names import order

    two = len(tests) > 0
    fig, axes = plt.subplots(2 if two else 1, 1, figsize=(WIDTH, 7.4 if two else 4.6),
                             sharex=True, height_ratios=[3, 2] if two else None)
    axes = list(np.atleast_1d(axes))
    ax = axes[0]
    for m in order(metrics["model"].unique()):
        if m in leave_out:
            continue
        t = metrics[metrics["model"] == m].sort_values("horizon")
        ax.plot(t["horizon"], t["rel_mae"], "--" if m in DASHED else "-", marker="o", ms=4,
                color=color(m), lw=2.4 if m.startswith("lstm") else 1.5, label=label(m))
    ax.set_ylabel(wrap("test MAE / naive's MAE at the same horizon", 30))
    ax.set_title(wrap(title))
    if two:
        lstm, base = str(tests["lstm"].iloc[0]), str(tests["baseline"].iloc[0])
        bx = axes[1]
        t = tests.sort_values("horizon")
        sig = (t["p_holm"] < 0.05).to_numpy()
        r = t["ratio"].to_numpy()
        bx.errorbar(t["horizon"], r, yerr=[r - t["ratio_lo"], t["ratio_hi"] - r], fmt="o",
                    color=color(lstm), ecolor=color(lstm), capsize=4, lw=2, ms=6,
                    label=f"{label(lstm)} / {label(base)}, 95% interval")
        if sig.any():
            bx.plot(t["horizon"][sig], r[sig], "s", mfc="none", mec="black", ms=13,
                    label="Holm-adjusted p < 0.05")
        bx.axhline(1.0, color="black", lw=1)
        bx.set_ylabel(wrap("MAE ratio, best LSTM / best baseline", 26))
        percent_axis(bx.yaxis)
    axes[-1].set_xlabel("forecast horizon h (days after the last input day)")
    axes[-1].set_xticks(sorted(metrics["horizon"].unique()))
    legend_below(fig)
    return fig


def coverage_by_horizon(coverage, models: list[str], title: str):
    """Empirical coverage of the 80% and 95% intervals by horizon, with the nominal levels
    and the +-3 point goal band (one panel per level, stacked)."""
    levels = sorted(coverage["level"].unique())
    fig, axes = plt.subplots(len(levels), 1, figsize=(WIDTH, 2.6 * len(levels) + 1.8),
                             sharex=True)
    axes = list(np.atleast_1d(axes))
    for ax, lv in zip(axes, levels):
        ax.axhspan(lv - 0.03, lv + 0.03, color="#DDDDDD", label="nominal +- 3 points")
        ax.axhline(lv, color="black", lw=1)
        for m in models:
            t = coverage[(coverage["model"] == m) & (coverage["level"] == lv)].sort_values("horizon")
            ax.plot(t["horizon"], t["coverage"], "-o", ms=4, color=color(m), label=label(m))
        ax.set_title(f"{lv:.0%} intervals", fontsize=11)
        ax.set_ylabel(wrap("share of test targets inside", 20))
        ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0, decimals=0))
    axes[-1].set_xlabel("forecast horizon h (days)")
    fig.suptitle(wrap(title))
    legend_below(fig)
    return fig


def fan_charts(pred, windows, model: str, cases: list[tuple[str, int]], titles: dict, title: str):
    """For a few (video, window) cases, one panel each: the 7 input days, the forecasts of
    horizons 1..H with their 80% and 95% intervals, and what happened."""
    n = len(cases)
    fig, axes = plt.subplots(n, 1, figsize=(WIDTH, 2.4 * n + 1.6), squeeze=False)
    for ax, (vid, win) in zip(axes[:, 0], cases):
        rows = pred[(pred["split"] == "horizon_test") & (pred["model"] == model)
                    & (pred["window"] == win)].sort_values("horizon")
        inputs = windows.views[win]
        days_in = np.arange(1, len(inputs) + 1)
        h = rows["horizon"].to_numpy() + len(inputs)
        ax.fill_between(h, rows["lower_95"], rows["upper_95"], color=color(model), alpha=0.18,
                        label="95% interval")
        ax.fill_between(h, rows["lower_80"], rows["upper_80"], color=color(model), alpha=0.35,
                        label="80% interval")
        ax.plot(days_in, inputs, "-o", color=ACTUAL, ms=3, label="input days")
        ax.plot(h, rows["y_true"], "o", color=ACTUAL, mfc="white", ms=5, label="actual")
        ax.plot(h, rows["y_pred"], "-", color=color(model), lw=2, label="forecast")
        ax.set_title(plain_title(titles.get(vid, vid), vid, 36), fontsize=MIN_FONT_PT)
        ax.set_xticks(range(1, int(h.max()) + 1, 2))
        ax.set_ylabel("views")
        views_axis(ax, log=False)
    axes[-1, 0].set_xlabel("day of the window")
    fig.suptitle(wrap(f"{title}: {label(model)}"))
    legend_below(fig)
    return fig


# --------------------------------------------------------------------------- data chapter

COUNT_LABELS = {"views": "views", "likes": "likes", "dislikes": "dislikes",
                "comment_count": "comments"}


def missing_dates(frame) -> list:
    """Calendar dates between the first and last trending date that have no row at all."""
    import pandas as pd

    have = pd.DatetimeIndex(frame["date"].unique())
    every = pd.date_range(have.min(), have.max(), freq="D")
    return list(every.difference(have))


def date_ranges(dates) -> list[tuple]:
    """Consecutive dates grouped into (first, last) pairs."""
    import pandas as pd

    out: list[list] = []
    for d in sorted(pd.Timestamp(x) for x in dates):
        if out and (d - out[-1][1]).days == 1:
            out[-1][1] = d
        else:
            out.append([d, d])
    return [(a, b) for a, b in out]


def trending_per_date(frame, target_dates, window: int = 7):
    """Videos on the Trending list per date and windows whose target falls on that date;
    calendar dates without data are shaded."""
    import numpy as np
    import pandas as pd

    per_day = frame.groupby("date").size()
    targets = (pd.Series(1, index=pd.DatetimeIndex(np.asarray(target_dates))).groupby(level=0)
               .size().reindex(per_day.index, fill_value=0))
    every = pd.date_range(per_day.index.min(), per_day.index.max(), freq="D")
    per_day, targets = per_day.reindex(every), targets.reindex(every)     # NaN breaks the lines
    fig, ax = plt.subplots(figsize=(WIDTH, 4.4))
    ax.plot(every, per_day.values, ".-", color=OKABE_ITO[0], lw=1, ms=3,
            label="videos trending that day (rows)")
    ax.plot(every, targets.values, ".-", color=OKABE_ITO[1], lw=1, ms=3,
            label=f"usable windows with their target (day {window + 1}) that day")
    for i, (a, b) in enumerate(date_ranges(missing_dates(frame))):
        ax.axvspan(a - pd.Timedelta(hours=12), b + pd.Timedelta(hours=12), color=OKABE_ITO[3],
                   alpha=0.3, lw=0, label="no data collected" if i == 0 else None)
    ax.set_ylim(0, np.nanmax(per_day.values) * 1.05)
    ax.set_xlabel("trending date")
    ax.set_ylabel("count per day")
    ax.set_title("Daily coverage of the collection")
    ax.tick_params(axis="x", labelrotation=30)
    legend_below(fig)
    return fig


def trending_durations(frame, window: int = 7):
    """How long videos stay trending: run lengths, and total trending days per video."""
    import numpy as np

    runs = frame.groupby("run_id")["run_length"].first()
    per_video = frame.groupby("video_id").size()
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 6.2), sharex=True)
    for ax, values, what, title in (
            (axes[0], runs, "runs", "Consecutive days on the list (runs)"),
            (axes[1], per_video, "videos", "Total trending days per video")):
        counts = values.value_counts().sort_index()
        long = counts.index >= window + 1
        ax.bar(counts.index[~long], counts.values[~long], width=0.85, color="#999999",
               label=f"shorter than {window + 1} days")
        ax.bar(counts.index[long], counts.values[long], width=0.85, color=OKABE_ITO[0],
               label=f"{window + 1} days or more")
        ax.axvline(window + 0.5, color="black", ls="--", lw=1,
                   label=f"{window + 1}-day threshold ({window} in + 1 out)")
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(f"number of {what}")
        ax.set_xlim(0, int(values.max()) + 1)
    axes[-1].set_xlabel("days")
    fig.suptitle("How long videos stay on the Trending list")
    legend_below(fig, axes=[axes[0]])
    return fig


def curve_videos(frame, n: int = 5, min_days: int = 14) -> list[str]:
    """Videos with at least ``min_days`` trending days, at evenly spaced quantiles of their
    first-day views (ties by id): a deterministic, representative choice."""
    import numpy as np

    per = frame.groupby("video_id").agg(days=("date", "size"), first=("views", "first"))
    per = per[per["days"] >= min_days].sort_index().sort_values("first", kind="mergesort")
    pos = np.round(np.linspace(0.05, 0.95, n) * (len(per) - 1)).astype(int)
    return list(per.index[pos])


def view_curves(frame, videos: list[str], min_days: int = 8):
    """Views against days since first trending: every video with ``min_days`` or more trending
    days in grey, ``videos`` highlighted. A day without data breaks the line."""
    import numpy as np

    f = frame[["video_id", "date", "views"]].copy()
    f["day"] = (f["date"] - f.groupby("video_id")["date"].transform("min")).dt.days
    many = f.groupby("video_id")["date"].transform("size") >= min_days
    grid = f[many].pivot(index="video_id", columns="day", values="views")
    grid = grid.reindex(columns=range(int(grid.columns.max()) + 2))   # last column: NaN separator
    x = np.tile(grid.columns.to_numpy(dtype=float), len(grid))
    fig, ax = plt.subplots(figsize=(WIDTH, 5.6))
    ax.plot(x, grid.to_numpy(dtype=float).ravel(), "-", color="#BBBBBB", lw=0.5, alpha=0.35,
            rasterized=True, label=f"all {len(grid):,} videos with {min_days}+ trending days")
    titles = frame.drop_duplicates("video_id").set_index("video_id")["title"]
    for i, vid in enumerate(videos):
        g = f[f["video_id"] == vid]
        s = g.set_index("day")["views"].reindex(range(int(g["day"].max()) + 1))
        ax.plot(s.index, s.values, "-o", ms=3, lw=1.8, color=OKABE_ITO[i % len(OKABE_ITO)],
                label=plain_title(str(titles.get(vid, "")), vid, width=30))
    views_axis(ax)
    ax.set_xlim(-0.5, grid.columns.max() - 0.5)
    ax.set_xlabel("days since the video first trended")
    ax.set_ylabel("views (cumulative, log scale)")
    ax.set_title("View counts of trending videos")
    legend_below(fig)
    return fig


def growth_by_day(frame, min_pairs: int = 30):
    """Daily relative view increase v_t / v_(t-1) - 1 inside runs, by day of the run.

    One row per day of the run (1 = first trending day, so day 2 is the first with an
    increase): quartiles, 5% and 95% quantiles and the number of (video, day) pairs; days
    with fewer than ``min_pairs`` pairs are left out.
    """
    import pandas as pd

    inside = frame["day_in_run"] > 0
    g = (frame["views"] / frame["views"].shift() - 1)[inside]
    day = frame.loc[inside, "day_in_run"] + 1
    q = g.groupby(day).quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack()
    q.columns = ["q05", "q25", "median", "q75", "q95"]
    q["pairs"] = g.groupby(day).size()
    q.index.name = "day"
    return q[q["pairs"] >= min_pairs]


def growth_decay(table):
    """Median and interquartile band of the daily relative view increase by day of the run."""
    fig, ax = plt.subplots(figsize=(WIDTH, 4.4))
    x = table.index
    ax.fill_between(x, table["q05"].clip(lower=1e-4), table["q95"], color=OKABE_ITO[0],
                    alpha=0.12, lw=0, label="5% to 95% of videos")
    ax.fill_between(x, table["q25"], table["q75"], color=OKABE_ITO[0], alpha=0.3, lw=0,
                    label="interquartile range")
    ax.plot(x, table["median"], "-o", color=OKABE_ITO[0], ms=4, lw=2, label="median")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(
        lambda v, _p: f"{100 * v:g}%"))
    ax.set_ylim(bottom=min(1e-3, table["q05"].clip(lower=1e-4).min() * 0.8))
    ax.set_xlabel(wrap("day of the trending run (1 = first day on the list)", 50))
    ax.set_ylabel(wrap("daily view increase (% of previous day's views)", 30))
    ax.set_title("Daily growth of views decays within a run")
    ax.xaxis.set_major_locator(mticker.MultipleLocator(2))
    legend_below(fig)
    return fig


def count_matrix(sample, columns=("views", "likes", "dislikes", "comment_count")):
    """Pairwise log-log density (hexbin, lower), correlation of logs (upper), histograms
    (diagonal) of the counts in ``sample`` (one row per video)."""
    import numpy as np

    logs = np.log10(1 + sample[list(columns)].astype(float))
    corr = logs.corr()
    n = len(columns)
    fig, axes = plt.subplots(n, n, figsize=(WIDTH, WIDTH + 0.4))
    lims = {c: (np.floor(logs[c].min()), np.ceil(logs[c].max())) for c in columns}
    fmt = mticker.FuncFormatter(lambda v, _p: human(10 ** v))
    for i, ci in enumerate(columns):
        for j, cj in enumerate(columns):
            ax = axes[i, j]
            if i == j:
                ax.hist(logs[ci], bins=40, color=OKABE_ITO[0], alpha=0.8)
                ax.set_yticks([])
            elif i > j:
                ax.hexbin(logs[cj], logs[ci], gridsize=35, bins="log", cmap="Blues",
                          mincnt=1, linewidths=0)
                ax.set_ylim(*lims[ci])
            else:
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"r = {corr.loc[ci, cj]:.2f}\n{COUNT_LABELS.get(ci, ci)},\n"
                        f"{COUNT_LABELS.get(cj, cj)}", ha="center", va="center",
                        fontsize=MIN_FONT_PT, transform=ax.transAxes,
                        color=plt.get_cmap("Blues")(0.35 + 0.65 * max(corr.loc[ci, cj], 0)))
                continue
            ax.set_xlim(*lims[cj])
            ax.xaxis.set_major_locator(mticker.MultipleLocator(3))
            ax.xaxis.set_major_formatter(fmt)
            if i != j:
                ax.yaxis.set_major_locator(mticker.MultipleLocator(3))
                ax.yaxis.set_major_formatter(fmt)
            ax.tick_params(labelsize=MIN_FONT_PT)
            if i == n - 1:
                ax.set_xlabel(COUNT_LABELS.get(cj, cj) + " + 1")
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(COUNT_LABELS.get(ci, ci) + " + 1")
            elif i != j:
                ax.set_yticklabels([])
    axes[0, 0].set_ylabel("videos\n(histogram)")
    fig.suptitle(wrap("Views, likes, dislikes and comments (one day per video)"))
    return fig


# --------------------------------------------------------------------------- countries, protocol v3

#: One marker and colour per country in the figures that compare them.
COUNTRY_STYLE = {"US": ("o", "#0072B2"), "GB": ("s", "#D55E00")}


def _ratio_rows(ax, y, v, lo, hi, right, style, name):
    """Points with 95% intervals on a ratio axis; points beyond ``right`` are marked at it."""
    marker, col = style
    for i in range(len(y)):
        if v[i] > right:
            ax.plot([right], [y[i]], ">", color=col, ms=8, clip_on=False)
            ax.annotate(f"{v[i]:.0%}, off scale", xy=(right, y[i]), xytext=(-10, 0),
                        textcoords="offset points", ha="right", va="center",
                        fontsize=MIN_FONT_PT, color=col,
                        bbox={"fc": "white", "ec": "none", "pad": 1})
            continue
        ax.errorbar(v[i], y[i], xerr=[[v[i] - lo[i]], [min(hi[i], right) - v[i]]],
                    fmt=marker, ms=6, color=col, ecolor=col, capsize=3, lw=1.6,
                    label=name if i == 0 else None)


def _country_rows(ax, table, models: list[str], right: float) -> None:
    """Each country's ratios (``ratio``, ``ratio_lo``, ``ratio_hi``) per model, side by side."""
    from ytlstm.names import country_name

    countries = list(dict.fromkeys(table["country"]))
    for k, c in enumerate(countries):
        g = table[table["country"] == c].set_index("model").reindex(models)
        ok = g["ratio"].notna().to_numpy()
        y = np.arange(len(models))[ok] + (k - (len(countries) - 1) / 2) * 0.25
        _ratio_rows(ax, y, g["ratio"].to_numpy()[ok], g["ratio_lo"].to_numpy()[ok],
                    g["ratio_hi"].to_numpy()[ok], right,
                    COUNTRY_STYLE.get(c, ("D", "#777777")), country_name(c))


def countries_figure(table, title: str, clip: float = 1.3):
    """Every model's test MAE relative to its country's best baseline, with 95% two-way
    bootstrap intervals, one marker per country (``countries.csv``); a model more than
    ``clip`` times its baseline is marked at the axis edge with its value."""
    from ytlstm.names import order

    t = table[table["model"] != "naive"]
    models = order(t["model"].unique())[::-1]
    on_scale = t[t["ratio"] <= clip]
    right = float(min(max(on_scale["ratio_hi"].max(), 1.05) + 0.02, clip))
    left = float(min(on_scale["ratio_lo"].min(), 0.9) - 0.02)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.5 * len(models) + 2.2))
    _country_rows(ax, t, models, right)
    ax.set_xlim(left, right)
    ax.set_yticks(np.arange(len(models)), [short(m) for m in models])
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xlabel(wrap("test MAE relative to the country's best baseline (below 100% is "
                       "better)", 42))
    percent_axis(ax.xaxis)
    fig.suptitle(wrap(title))
    legend_below(fig)
    return fig


def equivalence_figure(verdicts, title: str, margin: float = 0.05):
    """Protocol v3: each LSTM family's (and the combination's) ratio to the best baseline on
    MAE and on MASE, per country, with 95% intervals and the equivalence band; one panel per
    metric, stacked."""
    from ytlstm.names import METRIC_NAMES, order

    models = order(verdicts["model"].unique())[::-1]
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 2 * (0.5 * len(models) + 1.2) + 1.0),
                             sharex=True)
    right = float(min(max(verdicts["ratio_hi"].max(), 1 + margin) + 0.02, 1.3))
    left = float(min(verdicts["ratio_lo"].min(), 1 / (1 + margin)) - 0.02)
    for ax, metric in zip(axes, ("mae", "mase")):
        ax.axvspan(1 / (1 + margin), 1 + margin, color="#DDDDDD", zorder=0,
                   label=f"equivalence margin ({margin:.0%})")
        ax.axvline(1.0, color="black", lw=1)
        _country_rows(ax, verdicts[verdicts["metric"] == metric], models, right)
        ax.set_xlim(left, right)
        ax.set_yticks(np.arange(len(models)), [short(m) for m in models])
        ax.set_title(METRIC_NAMES[metric])
    percent_axis(axes[-1].xaxis)
    axes[-1].set_xlabel(wrap("model's error over the best baseline's (below 100% is better)", 42))
    fig.suptitle(wrap(title))
    legend_below(fig, axes=[axes[0]])
    return fig


#: One colour per interval method (protocol v3, items 19-23), none of them a model's.
METHOD_COLORS = {"v2": "#999999", "v3": "#0072B2", "v3_log": "#56B4E9", "v3_aci": "#009E73",
                 "cqr": "#D55E00"}


def coverage_by_origin_and_size(table, model: str, baseline: str, title: str):
    """Coverage of the intervals of ``model`` under every method (and of the quantile peer,
    the conformalised quantile boosting of ``baseline``) per forecast origin (left) and per
    decile of video size (right), one row of panels per level, with the nominal level and the
    +-5 point band of the per-origin target (``intervals_v3.csv``)."""
    from ytlstm.names import method_label

    levels = sorted(table["level"].unique())
    fig, axes = plt.subplots(len(levels), 2, figsize=(WIDTH, 2.5 * len(levels) + 2.2),
                             sharey="row", squeeze=False)
    for r, lv in enumerate(levels):
        for c, by in enumerate(("origin", "decile")):
            ax = axes[r, c]
            ax.axhspan(lv - 0.05, lv + 0.05, color="#EEEEEE", label="nominal +- 5 points")
            ax.axhline(lv, color=ACTUAL, lw=1, label="nominal")
            for method in METHOD_COLORS:
                m = baseline if method == "cqr" else model
                t = table[(table["model"] == m) & (table["method"] == method)
                          & (table["level"] == lv) & (table["by"] == by)]
                if not len(t):
                    continue
                t = t.sort_values(by)
                x = (t["origin"].str.replace("origin ", "", regex=False).astype(int)
                     if by == "origin" else t["decile"])
                ax.plot(x, t["coverage"], "-o", ms=3.5, color=METHOD_COLORS[method],
                        label=method_label(method))
            ax.set_title(f"{lv:.0%}, by {'origin' if by == 'origin' else 'size'}",
                         fontsize=MIN_FONT_PT + 0.5)
            ax.set_xlabel("forecast origin" if by == "origin" else
                          wrap("size decile (day-7 views; 1 = smallest)", 22))
            if by == "decile":
                ax.set_xticks(range(1, 11, 3))
            else:
                ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
            percent_axis(ax.yaxis)
        axes[r, 0].set_ylabel(wrap("share of test targets inside", 18))
    fig.suptitle(wrap(f"{title}: {label(model)}"))
    legend_below(fig, ncols=1)
    return fig

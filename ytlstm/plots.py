"""One figure style for the whole book: readable sizes, a colour-blind-safe palette, fixed model colours."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import matplotlib.ticker as mticker
import seaborn as sns

#: Okabe-Ito colour-blind-safe palette.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
             "#000000"]
#: The same colour for a model in every chapter.
MODEL_COLORS = {
    "naive": "#999999",
    "drift": "#E69F00",
    "szabo_huberman": "#F0E442",
    "linear_ar": "#56B4E9",
    "gbm": "#000000",
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
#: Line styles that tell learned models from simple ones in the horizon figures.
DASHED = ("naive", "szabo_huberman", "combination")


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
            return f"{v:.0f}{suffix}" if v == int(v) else f"{v:.3g}{suffix}"
    return f"{x:.0f}" if x == int(x) else f"{x:.3g}"


def learning_curves(ax, runs, title: str, color_: str = "#0072B2") -> None:
    """Validation loss per epoch for every seed's network; dots mark the best epoch."""
    c = color_
    for i, r in enumerate(runs):
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
    import numpy as np

    from ytlstm.names import label

    t = pred[pred["split"] == "test"]
    fig, axes = plt.subplots(len(videos), 1, figsize=(8, 2.9 * len(videos)), sharex=False)
    for ax, vid in zip(np.atleast_1d(axes), videos):
        v = t[t["video_id"] == vid].sort_values("target_date")
        truth = v[v["model"] == "naive"]
        ax.plot(truth["target_date"], truth["y_true"], "k-o", ms=3, lw=1.5, label="actual views")
        for name in models:
            m = v[v["model"] == name]
            ax.plot(m["target_date"], m["y_pred"], "-", color=color(name), lw=1.3, alpha=0.9,
                    label=label(name))
        ax.set_title(plain_title(str(titles.get(vid, "")), vid), fontsize=11)
        ax.set_ylabel("views")
        ax.yaxis.set_major_formatter(mticker.FuncFormatter(human))
        ax.tick_params(axis="x", labelrotation=20)
    np.atleast_1d(axes)[0].legend(loc="upper left")
    np.atleast_1d(axes)[-1].set_xlabel("target date (day 8)")
    fig.suptitle(f"One-day-ahead forecasts on test days: {title_model}", fontweight="bold")
    fig.tight_layout()
    return fig


def error_distribution(pred, models: list[str], title: str):
    """Distribution of the percentage error of day 8's views on the test windows, per model:
    ``e = actual - forecast`` as in the Methods' equation, in % of the actual views."""
    import numpy as np

    from ytlstm.names import label

    t = pred[pred["split"] == "test"]
    errors = [100 * (g["y_true"] - g["y_pred"]) / g["y_true"]
              for g in (t[t["model"] == k] for k in models)]
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(models) + 1.8))
    pos = np.arange(len(models))[::-1]
    box = ax.boxplot(errors, positions=pos, orientation="horizontal", whis=(5, 95),
                     showfliers=False, patch_artist=True, widths=0.6,
                     medianprops={"color": "black"})
    for patch, k in zip(box["boxes"], models):
        patch.set_facecolor(color(k))
        patch.set_alpha(0.8)
    ax.set_yticks(pos, [label(k) for k in models])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("error on day 8, actual − forecast (% of actual views); boxes: quartiles, "
                  "whiskers: 5-95%")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def relative_figure(table, title: str, xlabel: str | None = None, clip: float = 1.6):
    """Each model's pooled MAE relative to the reference (the best baseline), with its 95%
    interval, on an axis that spans the differences (not 0 to 1), one row per model."""
    import numpy as np

    from ytlstm.names import label

    t = table.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(t) + 1.6))
    y = np.arange(len(t))
    v, lo, hi = t["vs_reference"].to_numpy(), t["vs_reference_lo"].to_numpy(), t["vs_reference_hi"].to_numpy()
    # the axis spans the differences that matter; models far worse are marked at its edge
    right = float(min(max(hi.max(), 1.05) + 0.02, clip))
    left = float(min(lo.min(), 0.88) - 0.02)
    for i, m in enumerate(t["model"]):
        if v[i] > right:
            ax.annotate(f"{v[i]:.0%}, off scale", xy=(right, y[i]), xytext=(-8, 0),
                        textcoords="offset points", ha="right", va="center", fontsize=9,
                        color="black", arrowprops={"arrowstyle": "->", "color": "black"})
            continue
        ax.errorbar(v[i], y[i], xerr=[[v[i] - lo[i]], [min(hi[i], right) - v[i]]], fmt="o",
                    ms=7, color=color(m), ecolor=color(m), capsize=4, lw=2)
    ax.set_xlim(left, right)
    ax.set_yticks(y, [label(m) for m in t["model"]])
    ax.axvline(1.0, color="black", lw=1, ls="-")
    ax.axvline(0.9, color="black", lw=0.8, ls=":", label="90%: the LSTMs' target")
    ref = label(str(table["reference"].iloc[0]))
    ax.set_xlabel(xlabel or f"test MAE relative to the best baseline ({ref}); below 100% is better")
    ax.xaxis.set_major_formatter(mticker.PercentFormatter(1.0, decimals=0))
    ax.legend(loc="best")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def results_figure(table, title: str, metric: str = "rel_mae"):
    """Relative MAE (MAE / naive's) with 95% intervals, zoomed on the models' range."""
    import numpy as np

    from ytlstm.names import label

    t = table.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(t) + 1.6))
    y = np.arange(len(t))
    v, lo, hi = (t[metric].to_numpy(), t[f"{metric}_lo"].to_numpy(), t[f"{metric}_hi"].to_numpy())
    for i, m in enumerate(t["model"]):
        ax.errorbar(v[i], y[i], xerr=[[v[i] - lo[i]], [hi[i] - v[i]]], fmt="o", ms=7,
                    color=color(m), ecolor=color(m), capsize=4, lw=2)
    ax.set_yticks(y, [label(m) for m in t["model"]])
    ax.set_xlabel("relative MAE on test windows (MAE / MAE of naive; below 1 beats naive)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def origins_timeline(origins, title: str = "Rolling forecast origins"):
    """One row per origin: its training, validation (early stopping) and test dates."""
    import pandas as pd

    fig, ax = plt.subplots(figsize=(8, 0.55 * len(origins) + 1.8))
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
    ax.set_title(title, pad=30)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def by_origin_figure(table, models: list[str], title: str):
    """Relative MAE per origin (test block), one line per model."""
    from ytlstm.names import label

    fig, ax = plt.subplots(figsize=(8, 4))
    for m in models:
        t = table[table["model"] == m]
        ax.plot(t["origin"], t["rel_mae"], "-o", color=color(m), label=label(m))
    ax.set_ylabel("relative MAE (MAE / naive's)")
    ax.set_xlabel("forecast origin (test block)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- horizons

def skill_by_horizon(metrics, tests, title: str, leave_out=("naive", "szabo_huberman")):
    """Relative MAE (against naive at the same horizon) by horizon, one line per model (naive,
    1 by definition, and models far above the others are left out so the differences show);
    the horizons where the best LSTM's difference from the best baseline is significant after
    Holm's adjustment are marked."""
    from ytlstm.names import label, order

    fig, ax = plt.subplots(figsize=(8, 4.8))
    for m in order(metrics["model"].unique()):
        if m in leave_out:
            continue
        t = metrics[metrics["model"] == m].sort_values("horizon")
        ax.plot(t["horizon"], t["rel_mae"], "--" if m in DASHED else "-", marker="o", ms=4,
                color=color(m), lw=2.4 if m.startswith("lstm") else 1.5, label=label(m))
    if len(tests):
        sig = tests[tests["p_holm"] < 0.05]
        lstm = str(tests["lstm"].iloc[0])
        pts = metrics[(metrics["model"] == lstm) & metrics["horizon"].isin(sig["horizon"])]
        if len(pts):
            ax.plot(pts["horizon"], pts["rel_mae"], "s", mfc="none", mec="black", ms=12,
                    label=f"{label(lstm)} vs best baseline: Holm p < 0.05")
    ax.set_xlabel("forecast horizon h (days after the last input day)")
    ax.set_ylabel("test MAE / naive's MAE at the same horizon")
    ax.set_xticks(sorted(metrics["horizon"].unique()))
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def coverage_by_horizon(coverage, models: list[str], title: str):
    """Empirical coverage of the 80% and 95% intervals by horizon, with the nominal levels
    and the +-3 point goal band."""
    from ytlstm.names import label

    levels = sorted(coverage["level"].unique())
    fig, axes = plt.subplots(1, len(levels), figsize=(9, 4), sharex=True)
    axes = list(np.atleast_1d(axes))
    for ax, lv in zip(axes, levels):
        ax.axhspan(lv - 0.03, lv + 0.03, color="#DDDDDD", label="nominal +- 3 points")
        ax.axhline(lv, color="black", lw=1)
        for m in models:
            t = coverage[(coverage["model"] == m) & (coverage["level"] == lv)].sort_values("horizon")
            ax.plot(t["horizon"], t["coverage"], "-o", ms=4, color=color(m), label=label(m))
        ax.set_title(f"{lv:.0%} intervals")
        ax.set_xlabel("forecast horizon h (days)")
        ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0, decimals=0))
    axes[0].set_ylabel("share of test targets inside the interval")
    axes[-1].legend(fontsize=8, loc="lower left")
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


def fan_charts(pred, windows, model: str, cases: list[tuple[str, int]], titles: dict, title: str):
    """For a few (video, window) cases: the 7 input days, the forecasts of horizons 1..H with
    their 80% and 95% intervals, and what happened."""
    from ytlstm.names import label

    n = len(cases)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.0), squeeze=False)
    for ax, (vid, win) in zip(axes[0], cases):
        rows = pred[(pred["split"] == "horizon_test") & (pred["model"] == model)
                    & (pred["window"] == win)].sort_values("horizon")
        inputs = windows.views[win]
        days_in = np.arange(1, len(inputs) + 1)
        h = rows["horizon"].to_numpy() + len(inputs)
        ax.fill_between(h, rows["lower_95"], rows["upper_95"], color=color(model), alpha=0.18,
                        label="95% interval")
        ax.fill_between(h, rows["lower_80"], rows["upper_80"], color=color(model), alpha=0.35,
                        label="80% interval")
        ax.plot(days_in, inputs, "-o", color="black", ms=3, label="input days")
        ax.plot(h, rows["y_true"], "o", color="black", mfc="white", ms=5, label="actual")
        ax.plot(h, rows["y_pred"], "-", color=color(model), lw=2, label="forecast")
        ax.set_title(plain_title(titles.get(vid, vid), vid, 22), fontsize=9)
        ax.set_xlabel("day of the window")
        ax.set_xticks(range(1, int(h.max()) + 1, 2))
        views_axis(ax, log=False)
    axes[0][0].set_ylabel("views (cumulative)")
    axes[0][-1].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{title}: {label(model)}", fontweight="bold")
    fig.tight_layout()
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
    fig, ax = plt.subplots(figsize=(8, 3.9))
    ax.plot(every, per_day.values, ".-", color=OKABE_ITO[0], lw=1, ms=3,
            label="videos trending that day (rows)")
    ax.plot(every, targets.values, ".-", color=OKABE_ITO[1], lw=1, ms=3,
            label=f"usable windows with their target (day {window + 1}) that day")
    for i, (a, b) in enumerate(date_ranges(missing_dates(frame))):
        ax.axvspan(a - pd.Timedelta(hours=12), b + pd.Timedelta(hours=12), color=OKABE_ITO[3],
                   alpha=0.3, lw=0, label="no data collected" if i == 0 else None)
    ax.set_ylim(0, np.nanmax(per_day.values) * 1.3)
    ax.set_xlabel("trending date")
    ax.set_ylabel("count per day")
    ax.set_title("Daily coverage of the collection")
    ax.legend(loc="upper center", ncols=2, fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def trending_durations(frame, window: int = 7):
    """How long videos stay trending: run lengths, and total trending days per video."""
    import numpy as np

    runs = frame.groupby("run_id")["run_length"].first()
    per_video = frame.groupby("video_id").size()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.9), sharex=True)
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
        ax.set_xlabel("days")
        ax.set_ylabel(f"number of {what}")
        ax.set_xlim(0, int(values.max()) + 1)
    axes[0].legend(fontsize=8)
    fig.suptitle("How long videos stay on the Trending list", fontweight="bold")
    fig.tight_layout()
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
    fig, ax = plt.subplots(figsize=(8, 4.8))
    ax.plot(x, grid.to_numpy(dtype=float).ravel(), "-", color="#BBBBBB", lw=0.5, alpha=0.35,
            rasterized=True, label=f"all {len(grid):,} videos with {min_days}+ trending days")
    titles = frame.drop_duplicates("video_id").set_index("video_id")["title"]
    for i, vid in enumerate(videos):
        g = f[f["video_id"] == vid]
        s = g.set_index("day")["views"].reindex(range(int(g["day"].max()) + 1))
        ax.plot(s.index, s.values, "-o", ms=3, lw=1.8, color=OKABE_ITO[i % len(OKABE_ITO)],
                label=plain_title(str(titles.get(vid, "")), vid, width=32))
    views_axis(ax)
    ax.set_xlim(-0.5, grid.columns.max() - 0.5)
    ax.set_xlabel("days since the video first trended")
    ax.set_ylabel("views (cumulative, log scale)")
    ax.set_title("View counts of trending videos")
    ax.legend(fontsize=7.5, loc="lower right")
    fig.tight_layout()
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
    fig, ax = plt.subplots(figsize=(8, 4.2))
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
    ax.set_xlabel("day of the trending run (1 = first day on the list)")
    ax.set_ylabel("daily view increase (% of previous day's views)")
    ax.set_title("Daily growth of views decays within a run")
    ax.xaxis.set_major_locator(mticker.MultipleLocator(2))
    ax.legend()
    fig.tight_layout()
    return fig


def count_matrix(sample, columns=("views", "likes", "dislikes", "comment_count")):
    """Pairwise log-log density (hexbin, lower), correlation of logs (upper), histograms
    (diagonal) of the counts in ``sample`` (one row per video)."""
    import numpy as np

    logs = np.log10(1 + sample[list(columns)].astype(float))
    corr = logs.corr()
    n = len(columns)
    fig, axes = plt.subplots(n, n, figsize=(8.5, 8.5))
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
                ax.text(0.5, 0.5, f"r = {corr.loc[ci, cj]:.2f}\n({COUNT_LABELS.get(ci, ci)}, "
                        f"{COUNT_LABELS.get(cj, cj)})", ha="center", va="center",
                        fontsize=12, transform=ax.transAxes,
                        color=plt.get_cmap("Blues")(0.35 + 0.65 * max(corr.loc[ci, cj], 0)))
                continue
            ax.set_xlim(*lims[cj])
            ax.xaxis.set_major_locator(mticker.MultipleLocator(2))
            ax.xaxis.set_major_formatter(fmt)
            if i != j:
                ax.yaxis.set_major_locator(mticker.MultipleLocator(2))
                ax.yaxis.set_major_formatter(fmt)
            ax.tick_params(labelsize=8)
            if i == n - 1:
                ax.set_xlabel(COUNT_LABELS.get(cj, cj) + " + 1")
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(COUNT_LABELS.get(ci, ci) + " + 1")
            elif i != j:
                ax.set_yticklabels([])
    axes[0, 0].set_ylabel("videos\n(histogram)")
    fig.suptitle("Views, likes, dislikes and comments (one day per video)", fontweight="bold")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- countries, protocol v3

#: One marker and colour per country in the figures that compare them.
COUNTRY_STYLE = {"US": ("o", "#0072B2"), "GB": ("s", "#D55E00")}


def _ratio_rows(ax, y, v, lo, hi, right, style, name):
    """Points with 95% intervals on a ratio axis; points beyond ``right`` are marked at it."""
    marker, col = style
    for i in range(len(y)):
        if v[i] > right:
            ax.annotate(f"{v[i]:.0%}, off scale", xy=(right, y[i]), xytext=(-6, 0),
                        textcoords="offset points", ha="right", va="center", fontsize=9,
                        color=col, arrowprops={"arrowstyle": "->", "color": col})
            continue
        ax.errorbar(v[i], y[i], xerr=[[v[i] - lo[i]], [min(hi[i], right) - v[i]]],
                    fmt=marker, ms=6, color=col, ecolor=col, capsize=3, lw=1.6,
                    label=name if i == 0 else None)


def countries_figure(table, title: str, clip: float = 1.5):
    """Every model's test MAE relative to its country's best baseline, with 95% two-way
    bootstrap intervals, one marker per country (``countries.csv``)."""
    from ytlstm.answers import country_name
    from ytlstm.names import label, order

    t = table[table["model"] != "naive"]
    models = order(t["model"].unique())[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(models) + 2.0))
    countries = list(dict.fromkeys(t["country"]))
    on_scale = t[t["ratio"] <= clip]       # models far worse are marked at the axis edge
    right = float(min(max(on_scale["ratio_hi"].max(), 1.05) + 0.02, clip))
    left = float(min(on_scale["ratio_lo"].min(), 0.9) - 0.02)
    for k, c in enumerate(countries):
        g = t[t["country"] == c].set_index("model").reindex(models)
        ok = g["ratio"].notna().to_numpy()
        y = np.arange(len(models))[ok] + (k - (len(countries) - 1) / 2) * 0.25
        _ratio_rows(ax, y, g["ratio"].to_numpy()[ok], g["ratio_lo"].to_numpy()[ok],
                    g["ratio_hi"].to_numpy()[ok], right,
                    COUNTRY_STYLE.get(c, ("D", "#777777")), country_name(c))
    ax.set_xlim(left, right)
    ax.set_yticks(np.arange(len(models)), [label(m) for m in models])
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xlabel("test MAE relative to the country's best baseline (below 100% is better)")
    ax.xaxis.set_major_formatter(mticker.PercentFormatter(1.0, decimals=0))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=len(countries),
              frameon=False)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def equivalence_figure(verdicts, title: str, margin: float = 0.05):
    """Protocol v3: each LSTM family's (and the combination's) ratio to the best baseline on
    MAE and on MASE, per country, with 95% intervals and the equivalence band."""
    from ytlstm.answers import METRIC_NAMES, country_name
    from ytlstm.names import label, order

    metrics = ("mae", "mase")
    models = order(verdicts["model"].unique())[::-1]
    countries = list(dict.fromkeys(verdicts["country"]))
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.55 * len(models) + 2.2), sharey=True)
    right = float(min(max(verdicts["ratio_hi"].max(), 1 + margin) + 0.03, 1.6))
    left = float(min(verdicts["ratio_lo"].min(), 1 / (1 + margin)) - 0.03)
    for ax, metric in zip(axes, metrics):
        ax.axvspan(1 / (1 + margin), 1 + margin, color="#DDDDDD", zorder=0,
                   label=f"equivalence margin ({margin:.0%})")
        ax.axvline(1.0, color="black", lw=1)
        for k, c in enumerate(countries):
            g = verdicts[(verdicts["country"] == c) & (verdicts["metric"] == metric)]
            g = g.set_index("model").reindex(models)
            ok = g["ratio"].notna().to_numpy()
            y = np.arange(len(models))[ok] + (k - (len(countries) - 1) / 2) * 0.25
            _ratio_rows(ax, y, g["ratio"].to_numpy()[ok], g["ratio_lo"].to_numpy()[ok],
                        g["ratio_hi"].to_numpy()[ok], right,
                        COUNTRY_STYLE.get(c, ("D", "#777777")), country_name(c))
        ax.set_xlim(left, right)
        ax.xaxis.set_major_formatter(mticker.PercentFormatter(1.0, decimals=0))
        ax.set_xlabel(f"{METRIC_NAMES[metric]}: model / best baseline")
        ax.set_title(METRIC_NAMES[metric], fontsize=11)
    axes[0].set_yticks(np.arange(len(models)), [label(m) for m in models])
    handles, labels_ = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="lower center", ncol=3, frameon=False)
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig

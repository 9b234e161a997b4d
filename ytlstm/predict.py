"""Forecast the next day's views of videos with a saved model (``ytlstm predict``).

The input is daily statistics in the Kaggle format (``XXvideos.csv``, one or many videos,
any country), read, validated and cleaned exactly as the study's data
(:func:`ytlstm.data.read_videos`, :func:`~ytlstm.data.clean`, :func:`~ytlstm.data.add_runs`).
Each video's **last** ``window`` (7) consecutive trending days are the inputs of one window
with no target (:func:`prediction_windows`); the forecast is for the day after the last one,
or with ``horizon`` h for ``h`` days after it (day ``7 + h``, by the model of the horizon
study at that horizon, :meth:`ytlstm.saved.SavedModel.predict_horizon`). ``intervals`` adds
the split-conformal forecast intervals saved with the model (columns ``lower_80``,
``upper_80``, ``lower_95``, ``upper_95`` for the study's levels).

A video gets no forecast, with a reason (a :class:`Reason`: its text and its kind, one of
:data:`SKIP_KINDS`), when its last run of consecutive days is shorter than the window, when
views fall inside those days (a data error, as in the study), when cleaning removed its rows
(all of them, or its latest ones), or when the model gives no finite forecast.
:func:`skip_summary` sums them up in one line per kind (``ytlstm predict`` prints these;
``--skipped FILE`` writes every video and its reason, :func:`skipped_table`).

Any failure of the model itself while forecasting (a tampered folder that loaded but cannot
predict) is a one-line :class:`~ytlstm.errors.ModelError` naming the model's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ytlstm.data import (COUNT_COLUMNS, VIDEO_ID_PATTERN, CleaningReport, add_runs, clean,
                         read_videos)
from ytlstm.errors import DataError, ModelError
from ytlstm.windows import COUNT_FEATURES, Windows

#: Columns of the forecast table, in order (``intervals`` appends ``lower_<level>``,
#: ``upper_<level>`` for each level of the model's calibration, :func:`interval_columns`).
OUTPUT_COLUMNS = ("video_id", "last_date", "forecast_date", "views_last_day", "forecast_views",
                  "model")


def interval_columns(levels) -> tuple[str, ...]:
    """``lower_80, upper_80, lower_95, upper_95`` for levels 0.8 and 0.95."""
    out: list[str] = []
    for lv in levels:
        out += [f"lower_{round(100 * float(lv)):d}", f"upper_{round(100 * float(lv)):d}"]
    return tuple(out)


#: Kinds of reasons a video gets no forecast, and how :func:`skip_summary` words them.
SKIP_KINDS = {
    "too_few_days": "fewer consecutive trending days at the end than the model's window",
    "views_fell": "views fell within the last days of the window (a data error)",
    "all_rows_removed": "every row removed by cleaning",
    "latest_rows_removed": "the latest rows removed by cleaning",
    "no_finite_forecast": "the model gave no finite forecast",
}


class Reason(str):
    """Why a video gets no forecast: the text, with its :data:`SKIP_KINDS` key as ``kind``."""

    kind: str

    def __new__(cls, text: str, kind: str) -> "Reason":
        if kind not in SKIP_KINDS:
            raise ValueError(f"unknown kind of reason {kind!r}")
        obj = super().__new__(cls, text)
        obj.kind = kind
        return obj


def skip_summary(skipped: dict[str, str], examples: int = 3) -> list[str]:
    """One line per kind of reason, most frequent first: the count, the kind and the first
    ``examples`` videos, e.g. ``"3 videos: every row removed by cleaning (e.g. a, b, c)"``."""
    groups: dict[str, list[str]] = {}
    for video, reason in skipped.items():
        groups.setdefault(getattr(reason, "kind", "other"), []).append(video)
    lines = []
    for kind, videos in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        shown = ", ".join(videos[:examples]) + (", ..." if len(videos) > examples else "")
        lines.append(f"{len(videos)} video{'s' if len(videos) != 1 else ''}: "
                     f"{SKIP_KINDS.get(kind, 'other reasons')} (e.g. {shown})")
    return lines


def skipped_table(skipped: dict[str, str]) -> pd.DataFrame:
    """Every video with no forecast: ``video_id``, ``reason_kind``, ``reason``."""
    return pd.DataFrame({"video_id": list(skipped),
                         "reason_kind": [getattr(r, "kind", "other") for r in skipped.values()],
                         "reason": [str(r) for r in skipped.values()]},
                        columns=["video_id", "reason_kind", "reason"])


def _day(d) -> str:
    return str(pd.Timestamp(d).date())


def prediction_windows(frame: pd.DataFrame, window: int = 7) -> tuple[Windows, dict[str, str]]:
    """Each video's last ``window`` consecutive trending days as one window with ``y = NaN``.

    ``frame`` is the output of :func:`ytlstm.data.add_runs`. Inputs are built as in
    :func:`ytlstm.windows.make_windows`; ``target_date`` is the day after the last input day.
    Returns the windows (one per video that can be forecast, in video order) and, for every
    other video, the reason it cannot be.
    """
    skipped: dict[str, str] = {}
    vid = frame["video_id"].to_numpy()
    dates = frame["date"].to_numpy()
    views = frame["views"].to_numpy()
    day = frame["day_in_run"].to_numpy()
    dec = frame["views_decrease"].to_numpy(dtype=bool)
    last = np.flatnonzero(np.r_[vid[1:] != vid[:-1], True]) if len(frame) else np.zeros(0, int)
    keep = []
    for L in last:
        n_run = int(day[L]) + 1
        v = str(vid[L])
        if n_run < window:
            first = L - n_run + 1
            span = (_day(dates[L]) if n_run == 1
                    else f"{_day(dates[first])} to {_day(dates[L])}")
            reason = (f"only {n_run} consecutive trending day(s) at the end ({span}); "
                      f"{window} are needed")
            if first > 0 and vid[first - 1] == vid[L]:
                missing = pd.Timestamp(dates[first]) - pd.Timedelta(days=1)
                reason += f" (no row for {_day(missing)})"
            skipped[v] = Reason(reason, "too_few_days")
            continue
        idx = np.arange(L - window + 1, L + 1)
        falls = idx[1:][dec[idx[1:]]]
        if falls.size:
            j = int(falls[0])
            skipped[v] = Reason(f"views fell from {int(views[j - 1])} on {_day(dates[j - 1])} "
                                f"to {int(views[j])} on {_day(dates[j])} within its last "
                                f"{window} days (a data error; no forecast is made from such "
                                "days)", "views_fell")
            continue
        keep.append(L)
    last_rows = np.asarray(keep, dtype=np.int64)
    idx = last_rows[:, None] + np.arange(-window + 1, 1)[None, :]
    counts = frame[list(COUNT_FEATURES)].to_numpy(dtype=np.float64)
    publish = frame["publish_time"].dt.tz_localize(None).dt.normalize().to_numpy()
    age = (dates - publish).astype("timedelta64[D]").astype(np.float64)
    windows = Windows(
        counts=counts[idx].reshape(len(keep), window, len(COUNT_FEATURES)),
        age_days=np.clip(age[idx], 0, None).reshape(len(keep), window),
        category_id=frame["category_id"].to_numpy()[last_rows],
        comments_disabled=frame["comments_disabled"].to_numpy()[last_rows],
        ratings_disabled=frame["ratings_disabled"].to_numpy()[last_rows],
        y=np.full(len(keep), np.nan),
        video_id=vid[last_rows],
        run_id=frame["run_id"].to_numpy()[last_rows],
        target_date=(dates[last_rows] + np.timedelta64(1, "D")).astype(dates.dtype),
    )
    return windows, skipped


def removal_rules(raw: pd.DataFrame) -> pd.Series:
    """The cleaning rule that removes each row (``""`` for kept rows), in the order of
    :data:`ytlstm.data.CLEANING_RULES` (the first rule that applies)."""
    rule = pd.Series("", index=raw.index, dtype=object)
    counts = raw[list(COUNT_COLUMNS)]
    for name, bad in (
            ("duplicate_video_date", raw.duplicated(["video_id", "date"], keep="first")),
            ("malformed_video_id", ~raw["video_id"].str.match(VIDEO_ID_PATTERN)),
            ("video_error_or_removed", raw["video_error_or_removed"]),
            ("missing_count", counts.isna().any(axis=1)),
            ("negative_count", (counts < 0).any(axis=1))):
        rule[(rule == "") & bad.to_numpy()] = name
    return rule


def _cleaning_reasons(raw: pd.DataFrame, kept: pd.DataFrame) -> dict[str, str]:
    """Videos whose rows cleaning removed entirely, or whose latest rows it removed."""
    rule = removal_rules(raw)
    out: dict[str, str] = {}
    kept_last = kept.groupby("video_id")["date"].max() if len(kept) else pd.Series(dtype=object)
    for v, g in raw.groupby("video_id", sort=True):
        r = rule[g.index]
        if (r == "").any() and str(v) in kept_last.index:
            last_raw, last_kept = g["date"].max(), kept_last[str(v)]
            if last_raw > last_kept:
                late = sorted(set(r[(g["date"] > last_kept).to_numpy()]) - {""})
                out[str(v)] = Reason(f"its latest row(s), after {_day(last_kept)} up to "
                                     f"{_day(last_raw)}, were removed by cleaning "
                                     f"({', '.join(late)}); the forecast would not be for the "
                                     "day after its last row", "latest_rows_removed")
            continue
        rules = ", ".join(f"{k}: {n}" for k, n in r.value_counts().sort_index().items())
        out[str(v)] = Reason(f"all {len(g)} of its row(s) were removed by cleaning ({rules})",
                             "all_rows_removed")
    return out


@dataclass
class Forecasts:
    """The forecast table (one row per video), the videos with no forecast and why, and the
    cleaning report of the input."""

    table: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)
    report: CleaningReport | None = None

    @property
    def n_videos(self) -> int:
        return len(self.table) + len(self.skipped)


def forecast(model, raw: pd.DataFrame, source: str = "", horizon: int = 1,
             intervals: bool = False) -> Forecasts:
    """Forecast every video of ``raw`` (the output of :func:`ytlstm.data.read_videos`).

    ``horizon`` h: the views of ``h`` days after each video's last day (1: the next day, by
    the model's day-8 forecaster, as before horizons existed). ``intervals``: add the saved
    forecast intervals (:meth:`ytlstm.saved.SavedModel.intervals`). Both beyond the default
    need a model saved with horizon models (:meth:`~ytlstm.saved.SavedModel.check_horizon`
    raises a one-line :class:`~ytlstm.errors.ModelError` otherwise, before the data is read).
    """
    horizon = int(horizon)
    plain = horizon == 1 and not intervals       # exactly the day-8 forecast
    if not plain:
        model.check_horizon(horizon, intervals)
    columns = list(OUTPUT_COLUMNS) + (list(interval_columns(model.levels)) if intervals else [])
    kept, report = clean(raw, source)
    skipped = _cleaning_reasons(raw, kept)
    kept = kept[~kept["video_id"].isin(list(skipped))]
    windows, too_short = (prediction_windows(add_runs(kept), model.window) if len(kept)
                          else (None, {}))
    skipped.update(too_short)
    rows = pd.DataFrame(columns=columns)
    if windows is not None and len(windows):
        pred = _model_call(model, lambda: np.asarray(
            model.predict(windows) if plain else model.predict_horizon(windows, horizon),
            dtype=np.float64))
        if pred.shape != (len(windows),):
            raise ModelError(f"{getattr(model, 'path', model.name)}: the model gave "
                             f"{pred.shape} forecasts for {len(windows)} videos")
        ok = np.isfinite(pred)
        for v in windows.video_id[~ok]:
            skipped[str(v)] = Reason("the model gave no finite forecast", "no_finite_forecast")
        last = windows.target_date - np.timedelta64(1, "D")
        target = last + np.timedelta64(horizon, "D")
        cols = {"video_id": windows.video_id, "last_date": [_day(d) for d in last],
                "forecast_date": [_day(d) for d in target],
                "views_last_day": windows.views[:, -1].astype(np.int64), "forecast_views": pred,
                "model": model.name}
        if intervals:
            cols.update(_model_call(model, lambda: model.intervals(windows, pred, horizon)))
        rows = pd.DataFrame(cols)[columns][ok].reset_index(drop=True)
    skipped = dict(sorted(skipped.items()))
    return Forecasts(rows, skipped, report)


def _model_call(model, call):
    """``call()``, any failure of the model a one-line :class:`ModelError` naming its folder
    (a tampered model that loaded may still fail when used)."""
    try:
        return call()
    except (DataError, ModelError):
        raise
    except Exception as e:  # noqa: BLE001 - whatever a malformed model raises
        raise ModelError(f"{getattr(model, 'path', model.name)}: cannot forecast with this "
                         f"model ({type(e).__name__}: {' '.join(str(e).split())[:200]})"
                         ) from None


def forecast_csv(model, path: str | Path, horizon: int = 1,
                 intervals: bool = False) -> Forecasts:
    """Read, validate and clean a Kaggle-format CSV, then :func:`forecast` its videos."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found" if not path.exists() else "is not a file",
                        expected="a CSV file of daily video statistics in the Kaggle format "
                                 "(the columns of XXvideos.csv)")
    if horizon != 1 or intervals:
        model.load_horizon(horizon, intervals)   # a model that cannot: before reading the data
    return forecast(model, read_videos(path), str(path), horizon, intervals)

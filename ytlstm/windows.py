"""Sliding windows (7 days in, views of day 8 out), the splits, and the feature transform.

Windows are built without a Python loop per window: every row whose ``day_in_run`` is at
least ``window`` is a target, and its inputs are the ``window`` rows before it in the same
run (a run is a stretch of consecutive trending dates, so no window crosses a missing day).
Windows holding a day on which views fell (a data error, PROTOCOL section 2) are excluded
and counted.

Models learn in a transformed space: per step the daily log increment of views, the log
views relative to the last input day and the log level; the target is the log growth from day 7 to day 8,
``log1p(v8) - log1p(v7)``. :meth:`FeatureTransform.to_views` maps predictions back to
raw views, on which every metric is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.preprocessing import OneHotEncoder, StandardScaler

COUNT_FEATURES = ("views", "likes", "dislikes", "comment_count")
#: Per-step channels made from each count (see :func:`_log_channels`).
LOG_CHANNELS = ("inc", "rel", "log")


@dataclass
class Windows:
    """All windows of a dataset as arrays (one row per window).

    ``counts`` has shape ``(n, window, 4)`` (views, likes, dislikes, comment_count of the
    input days), ``age_days`` ``(n, window)`` days since publication on each input day;
    ``category_id``, ``comments_disabled`` and ``ratings_disabled`` are those of the last
    input day. ``y`` holds the views of the target day.
    """

    counts: np.ndarray
    age_days: np.ndarray
    category_id: np.ndarray
    comments_disabled: np.ndarray
    ratings_disabled: np.ndarray
    y: np.ndarray
    video_id: np.ndarray
    run_id: np.ndarray
    target_date: np.ndarray
    excluded_views_decrease: int = 0
    #: day of the run of the target day (1-based: the first possible target is day window+1)
    target_day: np.ndarray | None = None
    #: views of the days after the inputs, ``(n, H)``: column ``h-1`` is horizon ``h`` (the
    #: target day ``window + h``), NaN where the run ends earlier or views fell; column 0 is ``y``
    future: np.ndarray | None = None
    #: dates of those days, ``(n, H)`` ``datetime64[ns]``, NaT where unavailable
    future_date: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    @property
    def views(self) -> np.ndarray:
        """Views of the input days, shape ``(n, window)``."""
        return self.counts[:, :, 0]

    def subset(self, mask: np.ndarray) -> "Windows":
        """The windows selected by a boolean mask or an index array."""
        kw = {k: getattr(self, k)[mask] for k in (
            "counts", "age_days", "category_id", "comments_disabled", "ratings_disabled", "y",
            "video_id", "run_id", "target_date")}
        opt = {k: None if getattr(self, k) is None else getattr(self, k)[mask]
               for k in ("target_day", "future", "future_date")}
        return Windows(**kw, excluded_views_decrease=0, **opt)

    @property
    def max_horizon(self) -> int:
        """The furthest horizon these windows carry targets for (1 without ``future``)."""
        return 1 if self.future is None else int(self.future.shape[1])

    def horizon_target(self, h: int) -> np.ndarray:
        """Views of the target day of horizon ``h`` (``y`` for ``h == 1``), NaN if unavailable."""
        if h == 1:
            return np.asarray(self.y, dtype=np.float64)
        if self.future is None or h > self.future.shape[1]:
            raise ValueError(f"these windows carry no targets for horizon {h}")
        return self.future[:, h - 1]

    def frame(self) -> pd.DataFrame:
        """A small table: video, target date, last input views and target views."""
        return pd.DataFrame({"video_id": self.video_id, "target_date": self.target_date,
                             "views_day7": self.views[:, -1], "views_day8": self.y})


def make_windows(frame: pd.DataFrame, window: int = 7, max_horizon: int = 1) -> Windows:
    """Every (window + 1)-day stretch of a run, stride 1, as arrays.

    ``frame`` is the output of :func:`ytlstm.data.add_runs` (sorted by video and date). With
    ``max_horizon`` H > 1 each window also carries ``future``: the views of the H days after
    its inputs while its run goes on and views do not fall (horizon h needs window + h
    consecutive days; a fall on a later day ends the window's future there).
    """
    day = frame["day_in_run"].to_numpy()
    targets = np.flatnonzero(day >= window)
    idx = targets[:, None] + np.arange(-window, 0)[None, :]          # (n, window) input rows
    dec = frame["views_decrease"].to_numpy()
    # falls inside the window: at input days 2..window or at the target day
    has_fall = dec[idx[:, 1:]].any(axis=1) | dec[targets]
    keep_t, keep_i = targets[~has_fall], idx[~has_fall]
    counts = frame[list(COUNT_FEATURES)].to_numpy(dtype=np.float64)
    dates = frame["date"].to_numpy()
    publish = frame["publish_time"].dt.tz_localize(None).dt.normalize().to_numpy()
    age = (dates - publish).astype("timedelta64[D]").astype(np.float64)
    last = keep_i[:, -1]
    future = future_date = None
    if max_horizon > 1:
        run = frame["run_id"].to_numpy()
        n_rows = len(frame)
        future = np.full((len(keep_t), max_horizon), np.nan)
        future_date = np.full((len(keep_t), max_horizon), np.datetime64("NaT"), "datetime64[ns]")
        future[:, 0] = counts[keep_t, 0]
        future_date[:, 0] = dates[keep_t]
        alive = np.ones(len(keep_t), bool)
        for h in range(2, max_horizon + 1):
            rows = keep_t + h - 1
            ok = rows < n_rows
            rows_c = np.where(ok, rows, 0)
            alive &= ok & (run[rows_c] == run[keep_t]) & ~dec[rows_c]
            future[alive, h - 1] = counts[rows_c[alive], 0]
            future_date[alive, h - 1] = dates[rows_c[alive]]
    return Windows(
        counts=counts[keep_i],
        age_days=np.clip(age[keep_i], 0, None),
        category_id=frame["category_id"].to_numpy()[last],
        comments_disabled=frame["comments_disabled"].to_numpy()[last],
        ratings_disabled=frame["ratings_disabled"].to_numpy()[last],
        y=counts[keep_t, 0],
        video_id=frame["video_id"].to_numpy()[keep_t],
        run_id=frame["run_id"].to_numpy()[keep_t],
        target_date=dates[keep_t],
        excluded_views_decrease=int(has_fall.sum()),
        target_day=day[keep_t].astype(np.int64) + 1,
        future=future, future_date=future_date,
    )


# --------------------------------------------------------------------------- splits

@dataclass
class Split:
    """Which windows are train, validation and test, and how that was decided."""

    kind: str                        # "chronological" or "video"
    part: np.ndarray                 # per window: "train" | "validation" | "test"
    info: dict = field(default_factory=dict)

    def mask(self, name: str) -> np.ndarray:
        return self.part == name

    def counts(self) -> dict[str, int]:
        return {p: int((self.part == p).sum()) for p in ("train", "validation", "test")}


def chronological_split(windows: Windows, trending_dates: np.ndarray, test_frac: float = 0.2,
                        val_frac: float = 0.1) -> Split:
    """PROTOCOL section 4: by the target's date.

    The distinct trending dates of the dataset are sorted; the last ``ceil(test_frac * n)``
    are test dates, the ``ceil(val_frac * n)`` before them validation dates, the rest
    training dates. A window belongs to the part of its target date.
    """
    dates = np.unique(np.asarray(trending_dates, dtype="datetime64[ns]"))
    n = len(dates)
    n_test = int(np.ceil(test_frac * n))
    n_val = int(np.ceil(val_frac * n))
    test_start = dates[n - n_test]
    val_start = dates[n - n_test - n_val]
    t = windows.target_date.astype("datetime64[ns]")
    part = np.where(t >= test_start, "test", np.where(t >= val_start, "validation", "train"))

    def day(d) -> str:
        return str(pd.Timestamp(d).date())

    info = {
        "n_dates": n, "n_train_dates": n - n_test - n_val, "n_validation_dates": n_val,
        "n_test_dates": n_test,
        "train_first": day(dates[0]), "train_last": day(dates[n - n_test - n_val - 1]),
        "validation_first": day(val_start), "validation_last": day(dates[n - n_test - 1]),
        "test_first": day(test_start), "test_last": day(dates[-1]),
    }
    return Split("chronological", part.astype(object), info)


def video_split(windows: Windows, test_frac: float = 0.2, val_frac: float = 0.1,
                seed: int = 2018) -> Split:
    """Robustness split: whole videos go to one part, so test videos are never trained on.

    Videos that have windows are shuffled with ``seed``; the first ``test_frac`` of them are
    test videos, the next ``val_frac`` validation videos.
    """
    videos = np.unique(windows.video_id)
    order = np.random.default_rng(seed).permutation(len(videos))
    n_test = int(round(test_frac * len(videos)))
    n_val = int(round(val_frac * len(videos)))
    role = np.empty(len(videos), dtype=object)
    role[order[:n_test]] = "test"
    role[order[n_test:n_test + n_val]] = "validation"
    role[order[n_test + n_val:]] = "train"
    part = role[np.searchsorted(videos, windows.video_id)]
    info = {"n_videos": int(len(videos)), "n_test_videos": n_test, "n_validation_videos": n_val,
            "n_train_videos": int(len(videos) - n_test - n_val), "seed": seed}
    return Split("video", part, info)


# --------------------------------------------------------------------------- features

def seed_ensemble(views: np.ndarray) -> np.ndarray:
    """The forecast of several seeds' networks: ``expm1`` of the mean over seeds (axis 0) of
    ``log1p(views)``, forecasts below zero counted as zero."""
    return np.expm1(np.log1p(np.maximum(views, 0.0)).mean(axis=0))


def _log_channels(c: np.ndarray) -> list[np.ndarray]:
    """Daily log increment (0 on the first day), log relative to the last day, log level."""
    log = np.log1p(c)
    inc = np.diff(log, axis=1, prepend=log[:, :1])
    return [inc, log - log[:, -1:], log]


@dataclass
class FeatureTransform:
    """Windows -> model inputs ``(n, window, channels)`` and targets, fitted on training windows.

    Univariate channels (views only): the daily log increment, log views relative to day 7,
    and log views. Multivariate adds the same three channels for likes, dislikes and comments, log days since
    publication, a one-hot category and the two "disabled" flags (all known on day 7).
    The views channels come first in both, so a univariate network's input weights map onto
    the first rows of a multivariate network's (see :mod:`ytlstm.transfer`).
    Standardisation, the category encoder and the target scale are fitted by :meth:`fit`
    on training windows only. With ``horizons`` H > 1 the target has one column per horizon
    ``h = 1..H`` (the log views of day ``window + h`` minus day 7's, or minus the drift
    forecast extended ``h`` days), each scaled on its own available training targets; with
    ``horizon`` h > 1 (and one column) the single target is that of horizon h (fit it on
    windows that have one).
    """

    multivariate: bool = False
    target_kind: str = "growth"      # "growth" (from day 7) or "drift" (from the drift forecast)
    horizons: int = 1                # targets: horizons 1..horizons (one column each when > 1)
    horizon: int = 1                 # with one target column: its horizon (day window + horizon)
    x_scaler: StandardScaler | None = None
    y_mean: float | np.ndarray = 0.0
    y_std: float | np.ndarray = 1.0
    encoder: OneHotEncoder | None = None
    n_scaled: int = 0

    # -- raw (unscaled) channels
    def _channels(self, w: Windows) -> np.ndarray:
        chans = _log_channels(w.views)
        if self.multivariate:
            for j in range(1, len(COUNT_FEATURES)):
                chans += _log_channels(w.counts[:, :, j])
            chans.append(np.log1p(w.age_days))
        return np.stack(chans, axis=-1)

    def _static(self, w: Windows) -> np.ndarray:
        cat = self.encoder.transform(w.category_id.reshape(-1, 1))
        flags = np.stack([w.comments_disabled, w.ratings_disabled], axis=1).astype(np.float64)
        return np.concatenate([cat, flags], axis=1)

    def reference(self, w: Windows) -> np.ndarray:
        """The log forecast the model corrects: day 7's views, or the drift forecast
        (``(n,)``; ``(n, horizons)`` for several horizons: drift extended ``h`` days)."""
        v = w.views
        if self.target_kind not in ("growth", "drift"):
            raise ValueError(f"unknown target_kind {self.target_kind!r}; expected growth or drift")
        if self.horizons > 1 or self.horizon > 1:
            h = (np.arange(1, self.horizons + 1) if self.horizons > 1
                 else np.array([self.horizon]))[None, :]
            step = np.maximum(v[:, -1] - v[:, -2], 0.0)[:, None]
            if self.target_kind == "growth":
                step = 0.0 * step
            ref = np.log1p(v[:, -1:] + h * step)
            return ref if self.horizons > 1 else ref[:, 0]
        if self.target_kind == "growth":
            return np.log1p(v[:, -1])
        return np.log1p(np.maximum(2 * v[:, -1] - v[:, -2], v[:, -1]))

    def target(self, w: Windows) -> np.ndarray:
        """Log of the target day's views minus the reference (log growth, or log ratio to
        drift); ``(n, horizons)`` with NaN where a horizon's target is unavailable."""
        if self.horizons > 1:
            fut = np.column_stack([w.horizon_target(h) for h in range(1, self.horizons + 1)])
            return np.log1p(fut) - self.reference(w)
        return np.log1p(w.horizon_target(self.horizon)) - self.reference(w)

    def fit(self, w: Windows, targets_before=None) -> "FeatureTransform":
        """Fit the scalers (and the category encoder) on training windows ``w``.

        ``targets_before`` (a date, the origin's first validation date): the target scaling
        reads only the targets dated before it, so that no scaler sees a target of the
        validation or test period (protocol v3, item 20). Targets that are missing (NaN) are
        left out of the scaling."""
        ch = self._channels(w)
        self.n_scaled = ch.shape[-1]
        self.x_scaler = StandardScaler().fit(ch.reshape(-1, self.n_scaled))
        t = self.target(w)
        if targets_before is not None:
            before = np.datetime64(targets_before, "ns")
            dates = (w.future_date[:, :self.horizons] if self.horizons > 1 else
                     (w.future_date[:, self.horizon - 1] if self.horizon > 1
                      else w.target_date.astype("datetime64[ns]")))
            t = np.where(dates < before, t, np.nan)
        if self.horizons > 1:
            std = np.nanstd(t, axis=0)
            self.y_mean = np.nanmean(t, axis=0)
            self.y_std = np.where(std > 0, std, 1.0)
        elif np.isnan(t).any():
            self.y_mean, self.y_std = float(np.nanmean(t)), float(np.nanstd(t) or 1.0)
        else:
            self.y_mean, self.y_std = float(t.mean()), float(t.std() or 1.0)
        if self.multivariate:
            self.encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False,
                                         dtype=np.float64).fit(w.category_id.reshape(-1, 1))
        return self

    def transform_x(self, w: Windows) -> np.ndarray:
        ch = self._channels(w)
        n, steps, k = ch.shape
        x = self.x_scaler.transform(ch.reshape(-1, k)).reshape(n, steps, k)
        if self.multivariate:
            st = self._static(w)
            x = np.concatenate([x, np.repeat(st[:, None, :], steps, axis=1)], axis=-1)
        return x.astype(np.float32)

    def transform_y(self, w: Windows) -> np.ndarray:
        return ((self.target(w) - self.y_mean) / self.y_std).astype(np.float32)

    def to_views(self, w: Windows, y_scaled: np.ndarray) -> np.ndarray:
        """Scaled log-growth predictions -> views of the target day (``(n, horizons)`` for
        several horizons)."""
        if self.horizons > 1:
            growth = (np.asarray(y_scaled, dtype=np.float64).reshape(len(w), self.horizons)
                      * self.y_std + self.y_mean)
            return np.expm1(self.reference(w) + growth)
        growth = np.asarray(y_scaled, dtype=np.float64).reshape(-1) * self.y_std + self.y_mean
        return np.expm1(self.reference(w) + growth)

    @property
    def channel_names(self) -> list[str]:
        names = [f"views_{k}" for k in LOG_CHANNELS]
        if self.multivariate:
            for c in COUNT_FEATURES[1:]:
                names += [f"{c}_{k}" for k in LOG_CHANNELS]
            names.append("age_log")
            names += [f"category_{int(c)}" for c in self.encoder.categories_[0]]
            names += ["comments_disabled", "ratings_disabled"]
        return names

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

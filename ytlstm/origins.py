"""Rolling forecast origins over the test period, and the break date (protocol v2, items 1, 5).

The test period (the last ``test_frac`` of trending dates) is cut into ``n_blocks`` consecutive
blocks with nearly equal numbers of trending dates. At the first date of each block (its
origin) every model is refitted on the windows whose target date precedes the origin: the
last ``ceil(val_frac * n_dates)`` trending dates before it are validation (early-stopping)
dates, all earlier dates training. The first origin's training and validation windows are
those of :func:`ytlstm.windows.chronological_split`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ytlstm.windows import Split, Windows, chronological_split, make_windows, video_split


@dataclass
class Origin:
    """One fit-and-forecast step: which windows train, validate and are forecast."""

    name: str                          # "origin 1" .. "origin B", or "video"
    split: str                         # "chronological" or "video"
    train: np.ndarray                  # window indices
    validation: np.ndarray
    test: np.ndarray
    info: dict = field(default_factory=dict)


def _day(d) -> str:
    return str(pd.Timestamp(d).date())


def rolling_origins(windows: Windows, trending_dates: np.ndarray, test_frac: float = 0.2,
                    val_frac: float = 0.1, n_blocks: int = 4) -> list[Origin]:
    """The origins of the chronological design (see the module docstring)."""
    dates = np.unique(np.asarray(trending_dates, dtype="datetime64[ns]"))
    n = len(dates)
    n_test = int(np.ceil(test_frac * n))
    n_val = int(np.ceil(val_frac * n))
    if n_blocks < 1 or n_test < n_blocks or n - n_test - n_val < 1:
        raise ValueError(f"{n} trending dates cannot hold {n_blocks} test blocks "
                         f"({n_test} test and {n_val} validation dates)")
    blocks = np.array_split(dates[n - n_test:], n_blocks)
    t = windows.target_date.astype("datetime64[ns]")
    out = []
    for b, block in enumerate(blocks):
        start, last = block[0], block[-1]
        before = dates[dates < start]
        val_dates, train_dates = before[-n_val:], before[:-n_val]
        val_start = val_dates[0]
        train = np.flatnonzero(t < val_start)
        val = np.flatnonzero((t >= val_start) & (t < start))
        test = np.flatnonzero((t >= start) & (t <= last))
        out.append(Origin(f"origin {b + 1}", "chronological", train, val, test, {
            "origin": b + 1, "train_first": _day(train_dates[0]), "train_last": _day(train_dates[-1]),
            "validation_first": _day(val_start), "validation_last": _day(val_dates[-1]),
            "test_first": _day(start), "test_last": _day(last),
            "n_train_dates": len(train_dates), "n_validation_dates": len(val_dates),
            "n_test_dates": len(block)}))
    return out


def video_origin(split: Split) -> Origin:
    """The split by video as a single origin."""
    return Origin("video", "video", np.flatnonzero(split.mask("train")),
                  np.flatnonzero(split.mask("validation")), np.flatnonzero(split.mask("test")),
                  dict(split.info))


def origins_table(origins: list[Origin], windows: Windows) -> pd.DataFrame:
    """Dates and window counts of every chronological origin."""
    rows = []
    for o in origins:
        rows.append({"origin": o.name, **{k: v for k, v in o.info.items() if k != "origin"},
                     "n_train_windows": len(o.train), "n_validation_windows": len(o.validation),
                     "n_test_windows": len(o.test),
                     "n_test_videos": int(pd.unique(windows.video_id[o.test]).size)})
    return pd.DataFrame(rows)


def break_date(frame: pd.DataFrame) -> pd.Timestamp | None:
    """The trending date whose list shares the smallest fraction of the previous date's videos.

    A rule on the whole file (no date picked by hand): ``frame`` has ``video_id`` and ``date``
    (one row per video and trending date). ``None`` with fewer than three dates.
    """
    sets = frame.groupby("date")["video_id"].agg(lambda s: set(s)).sort_index()
    if len(sets) < 3:
        return None
    share = {}
    prev = None
    for d, ids in sets.items():
        if prev:
            share[d] = len(ids & prev) / len(prev)
        prev = ids
    return pd.Timestamp(pd.Series(share).idxmin())


def study_design(frame: pd.DataFrame, config, check=None):
    """The windows of a dataset's frame, its two splits, every origin and the break date.

    ``check(split)`` (e.g. the minimum-windows check) runs on both splits before the origins
    are cut. Returns ``(windows, {"chronological": ..., "video": ...}, origins, break_date)``.
    """
    w = make_windows(frame, config.window, getattr(config, "max_horizon", 1))
    dates = frame["date"].to_numpy()
    splits = {"chronological": chronological_split(w, dates, config.test_frac, config.val_frac),
              "video": video_split(w, config.test_frac, config.val_frac, config.video_split_seed)}
    if check is not None:
        for s in splits.values():
            check(s)
    origins = rolling_origins(w, dates, config.test_frac, config.val_frac, config.n_origins)
    return w, splits, origins + [video_origin(splits["video"])], break_date(frame)

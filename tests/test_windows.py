"""Windows, splits and the feature transform on small hand-built frames.

The frames are built like the raw output of ``ytlstm.data.read_videos``/``clean`` and passed
through :func:`ytlstm.data.add_runs`, so the windows see exactly what the study gives them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ytlstm.data import add_runs, summarise_runs
from ytlstm.windows import (FeatureTransform, Windows, chronological_split, make_windows,
                            video_split)

DAY0 = pd.Timestamp("2018-01-01")


def video_rows(vid: str, days: list[int], views: list[float] | None = None, *,
               category: int = 10, publish_day: int = -3, seed: int = 0) -> pd.DataFrame:
    """Rows of one video on the given day offsets (counts grow unless ``views`` is given)."""
    rng = np.random.default_rng(seed)
    n = len(days)
    if views is None:
        views = np.cumsum(rng.integers(100, 5000, size=n)) + 1000
    views = np.asarray(views, dtype=np.int64)
    return pd.DataFrame({
        "video_id": vid,
        "date": [DAY0 + pd.Timedelta(days=d) for d in days],
        "publish_time": pd.Timestamp(DAY0 + pd.Timedelta(days=publish_day), tz="UTC"),
        "category_id": category,
        "views": views,
        "likes": (views // 10 + rng.integers(0, 50, size=n)).astype(np.int64),
        "dislikes": (views // 100 + rng.integers(0, 5, size=n)).astype(np.int64),
        "comment_count": (views // 50 + rng.integers(0, 9, size=n)).astype(np.int64),
        "comments_disabled": False,
        "ratings_disabled": False,
    })


def frame_of(*parts: pd.DataFrame) -> pd.DataFrame:
    return add_runs(pd.concat(parts, ignore_index=True))


def random_frame(n_videos: int = 40, n_dates: int = 31, seed: int = 1) -> pd.DataFrame:
    """Videos with one or two runs each, spread over ``n_dates`` dates, a few categories."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_videos):
        start = int(rng.integers(0, n_dates - 8))
        length = int(rng.integers(8, min(16, n_dates - start) + 1))
        days = list(range(start, start + length))
        if i % 5 == 0 and length >= 12:          # a missing day splits the video in two runs
            del days[length // 2]
        parts.append(video_rows(f"vid{i:08d}", days, category=[1, 10, 24][i % 3],
                                publish_day=start - int(rng.integers(0, 20)), seed=seed + i))
    return frame_of(*parts)


# --------------------------------------------------------------------------- make_windows

def test_no_window_crosses_a_missing_day_or_a_video_boundary():
    # video A: days 0..9, a gap at 10, days 11..20 (two runs of 10 -> 3 + 3 windows);
    # video B: days 21..25 only (5 days, no window even though A's days run right before it);
    # video C: days 26..33 (8 days -> 1 window), sorted right after B
    a = video_rows("AAAAAAAAAAA", list(range(0, 10)) + list(range(11, 21)),
                   views=1_000_000 + 1000 * np.arange(20), publish_day=-30)
    b = video_rows("BBBBBBBBBBB", list(range(21, 26)), views=2_000_000 + 1000 * np.arange(5),
                   publish_day=-30)
    c = video_rows("CCCCCCCCCCC", list(range(26, 34)), views=3_000_000 + 1000 * np.arange(8),
                   publish_day=-30)
    w = make_windows(frame_of(a, b, c), window=7)
    assert len(w) == 3 + 3 + 0 + 1
    assert list(w.video_id) == ["AAAAAAAAAAA"] * 6 + ["CCCCCCCCCCC"]
    # consecutive days: the age on the input days goes up by one, and the target is the next day
    assert np.all(np.diff(w.age_days, axis=1) == 1)
    last_input = DAY0 + pd.to_timedelta(w.age_days[:, -1] - 30, unit="D")
    assert np.all(pd.to_datetime(w.target_date) - last_input == pd.Timedelta(days=1))
    # every input day and the target come from the window's own video (views encode the video)
    owner = {"AAAAAAAAAAA": 1, "CCCCCCCCCCC": 3}
    expected = np.array([owner[v] for v in w.video_id])
    assert np.all(w.views // 1_000_000 == expected[:, None])
    assert np.all(w.y // 1_000_000 == expected)
    # no window of A spans the gap: its targets are days 7..9 and 18..20
    days = (pd.to_datetime(w.target_date[:6]) - DAY0).days
    assert list(days) == [7, 8, 9, 18, 19, 20]
    # and two runs means two run ids
    assert len(set(w.run_id[:6])) == 2


@pytest.mark.parametrize("length", range(1, 16))
def test_stride_one_a_run_of_length_L_gives_L_minus_7_windows(length):
    w = make_windows(frame_of(video_rows("AAAAAAAAAAA", list(range(length)))), window=7)
    assert len(w) == max(0, length - 7)
    if len(w):
        # stride 1: the targets are the consecutive days 7..L-1
        days = (pd.to_datetime(w.target_date) - DAY0).days
        assert list(days) == list(range(7, length))


def test_window_inputs_and_target_are_the_right_rows():
    views = 1000 + 10 * np.arange(12) ** 2
    frame = frame_of(video_rows("AAAAAAAAAAA", list(range(12)), views=views))
    w = make_windows(frame, window=7)
    for k in range(len(w)):
        np.testing.assert_array_equal(w.views[k], views[k:k + 7])
        assert w.y[k] == views[k + 7]
        np.testing.assert_array_equal(w.counts[k, :, 1], frame["likes"].to_numpy()[k:k + 7])


def test_target_day_never_enters_the_inputs():
    frame = random_frame(seed=3)
    w = make_windows(frame)
    # change everything about the last day of every run (only ever a target, never an input)
    last = frame["day_in_run"] == frame["run_length"] - 1
    changed = frame.copy()
    for c in ("views", "likes", "dislikes", "comment_count"):
        changed.loc[last, c] = changed.loc[last, c] * 3 + 7      # still increasing views
    changed.loc[last, "category_id"] = 99
    changed.loc[last, "comments_disabled"] = True
    changed.loc[last, "ratings_disabled"] = True
    w2 = make_windows(changed)
    assert len(w2) == len(w)
    hit = np.isin(w.target_date, frame.loc[last, "date"].to_numpy()) & (w.y != w2.y)
    assert hit.sum() == int((frame.loc[last, "day_in_run"] >= 7).sum()) > 0
    np.testing.assert_array_equal(w.counts, w2.counts)
    np.testing.assert_array_equal(w.age_days, w2.age_days)
    np.testing.assert_array_equal(w.category_id, w2.category_id)
    np.testing.assert_array_equal(w.comments_disabled, w2.comments_disabled)
    for multi in (False, True):
        for kind in ("growth", "drift"):
            t = FeatureTransform(multi, kind).fit(w)
            np.testing.assert_array_equal(t.transform_x(w), t.transform_x(w2))
            # and replacing y directly does not change the inputs either
            w3 = w.subset(np.arange(len(w)))
            w3.y = w3.y * 5 + 1
            np.testing.assert_array_equal(t.transform_x(w), t.transform_x(w3))
            assert not np.array_equal(t.transform_y(w), t.transform_y(w3))


@pytest.mark.parametrize("fall_at, excluded_targets", [
    (1, [7]),             # fall from day 0 to day 1: only the window with inputs 0..6
    (5, [7, 8, 9, 10, 11]),
    (7, [7, 8, 9, 10, 11]),   # fall on day 7: the target of one window, an input of the rest
    (11, [11]),           # fall on the last day: only the window whose target it is
])
def test_windows_with_a_views_decrease_are_excluded_and_counted(fall_at, excluded_targets):
    views = 10_000 + 1000 * np.arange(12)
    views[fall_at] = views[fall_at - 1] - 1
    ok = video_rows("BBBBBBBBBBB", list(range(12)), seed=5)          # 5 clean windows
    frame = frame_of(video_rows("AAAAAAAAAAA", list(range(12)), views=views), ok)
    w = make_windows(frame)
    assert w.excluded_views_decrease == len(excluded_targets)
    assert len(w) + w.excluded_views_decrease == 5 + 5
    days_a = (pd.to_datetime(w.target_date[w.video_id == "AAAAAAAAAAA"]) - DAY0).days
    assert sorted(set(range(7, 12)) - set(days_a)) == excluded_targets
    # no kept window has a fall anywhere in its 8 days
    full = np.concatenate([w.views, w.y[:, None]], axis=1)
    assert np.all(np.diff(full, axis=1) >= 0)
    # the data stage's run summary counts the same windows
    assert summarise_runs(frame).windows_with_decrease == w.excluded_views_decrease


# --------------------------------------------------------------------------- splits

def test_chronological_split_dates_follow_the_protocol():
    frame = random_frame(n_videos=60, n_dates=31, seed=7)
    dates = frame["date"].to_numpy()
    w = make_windows(frame)
    s = chronological_split(w, dates, 0.2, 0.1)
    uniq = np.sort(frame["date"].unique())
    n = len(uniq)
    assert n == 31
    n_test, n_val = math.ceil(0.2 * n), math.ceil(0.1 * n)
    assert (n_test, n_val) == (7, 4)
    assert s.info["n_test_dates"] == n_test and s.info["n_validation_dates"] == n_val
    assert s.info["n_train_dates"] == n - n_test - n_val
    day = lambda d: str(pd.Timestamp(d).date())  # noqa: E731
    assert s.info["test_first"] == day(uniq[n - n_test]) and s.info["test_last"] == day(uniq[-1])
    assert s.info["validation_first"] == day(uniq[n - n_test - n_val])
    assert s.info["validation_last"] == day(uniq[n - n_test - 1])
    assert s.info["train_first"] == day(uniq[0])
    assert s.info["train_last"] == day(uniq[n - n_test - n_val - 1])
    # each window's part is decided by its target date alone
    test_dates, val_dates = set(uniq[n - n_test:]), set(uniq[n - n_test - n_val:n - n_test])
    for t, p in zip(w.target_date, s.part):
        expected = "test" if t in test_dates else "validation" if t in val_dates else "train"
        assert p == expected
    assert all(v > 0 for v in s.counts().values())
    assert sum(s.counts().values()) == len(w)


def test_chronological_split_uses_all_trending_dates_not_only_window_targets():
    # the dates come from the dataset: dates on which no window ends still count
    frame = random_frame(n_videos=30, n_dates=31, seed=8)
    w = make_windows(frame)
    extra = np.concatenate([frame["date"].to_numpy(),
                            np.array([DAY0 + pd.Timedelta(days=d) for d in range(40, 50)],
                                     dtype="datetime64[ns]")])
    s = chronological_split(w, extra, 0.2, 0.1)
    uniq = np.unique(extra)
    n = len(uniq)
    assert s.info["n_dates"] == frame["date"].nunique() + 10 == n
    assert s.info["test_first"] == str(pd.Timestamp(uniq[n - math.ceil(0.2 * n)]).date())
    assert s.counts()["test"] < s.counts()["train"]


def test_video_split_keeps_each_video_in_one_part():
    w = make_windows(random_frame(n_videos=80, seed=9))
    s = video_split(w, 0.2, 0.1, seed=2018)
    parts_per_video = pd.Series(s.part).groupby(w.video_id).nunique()
    assert parts_per_video.max() == 1
    roles = pd.Series(s.part).groupby(w.video_id).first().value_counts()
    n = len(np.unique(w.video_id))
    assert roles["test"] == round(0.2 * n) and roles["validation"] == round(0.1 * n)
    # reproducible with the seed, different with another
    np.testing.assert_array_equal(s.part, video_split(w, 0.2, 0.1, seed=2018).part)
    assert not np.array_equal(s.part, video_split(w, 0.2, 0.1, seed=1).part)


# --------------------------------------------------------------------------- features

def _views_channels(w: Windows) -> np.ndarray:
    """The univariate channels computed independently of the package."""
    log = np.log1p(w.views.astype(float))
    inc = np.concatenate([np.zeros((len(w), 1)), np.diff(log, axis=1)], axis=1)
    return np.stack([inc, log - log[:, -1:], log], axis=-1)


def test_feature_transform_is_fitted_on_training_windows_only():
    frame = random_frame(n_videos=60, seed=10)
    w = make_windows(frame)
    s = chronological_split(w, frame["date"].to_numpy())
    train = w.subset(s.mask("train"))
    t = FeatureTransform(False, "growth").fit(train)
    ch = _views_channels(train).reshape(-1, 3)
    np.testing.assert_allclose(t.x_scaler.mean_, ch.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t.x_scaler.scale_, ch.std(axis=0), rtol=1e-12)
    growth = np.log1p(train.y) - np.log1p(train.views[:, -1])
    assert t.y_mean == pytest.approx(growth.mean(), rel=1e-12)
    assert t.y_std == pytest.approx(growth.std(), rel=1e-12)
    # the statistics of all windows differ (so the check above can tell them apart)
    all_ch = _views_channels(w).reshape(-1, 3)
    assert not np.allclose(t.x_scaler.mean_, all_ch.mean(axis=0))
    # the category encoder knows only training categories; an unseen one encodes as zeros
    tm = FeatureTransform(True, "growth").fit(train)
    assert set(tm.encoder.categories_[0]) == set(train.category_id)
    other = w.subset(np.arange(3))
    other.category_id = np.array([777, 777, 777])
    x = tm.transform_x(other)
    ncat = len(tm.encoder.categories_[0])
    np.testing.assert_array_equal(x[:, :, tm.n_scaled:tm.n_scaled + ncat], 0)
    assert x.shape[-1] == tm.n_channels == len(tm.channel_names)


@pytest.mark.parametrize("multivariate", [False, True])
@pytest.mark.parametrize("kind", ["growth", "drift"])
def test_to_views_inverts_transform_y(multivariate, kind):
    w = make_windows(random_frame(seed=11))
    t = FeatureTransform(multivariate, kind).fit(w.subset(np.arange(len(w) // 2)))
    np.testing.assert_allclose(t.to_views(w, t.transform_y(w)), w.y, rtol=1e-5)


def test_unknown_target_kind_is_rejected():
    w = make_windows(random_frame(seed=12))
    with pytest.raises(ValueError, match="target_kind"):
        FeatureTransform(False, "nonsense").fit(w)


@pytest.mark.parametrize("kind", ["growth", "drift"])
def test_views_channels_identical_in_univariate_and_multivariate(kind):
    frame = random_frame(seed=13)
    w = make_windows(frame)
    train = w.subset(np.arange(len(w)) % 3 != 0)
    uni = FeatureTransform(False, kind).fit(train)
    multi = FeatureTransform(True, kind).fit(train)
    xu, xm = uni.transform_x(w), multi.transform_x(w)
    assert xu.shape[-1] == 3 == uni.n_channels
    assert xm.shape[-1] > 3
    np.testing.assert_array_equal(xm[:, :, :3], xu)
    assert multi.channel_names[:3] == uni.channel_names
    np.testing.assert_array_equal(multi.transform_y(w), uni.transform_y(w))


# --------------------------------------------------------------------------- horizons

def test_future_holds_the_next_days_until_the_run_ends_or_views_fall():
    # video A: days 0..11 (one run of 12), views fall on day 10; video B right after it
    views = 1000 + 10 * np.arange(12) ** 2
    views[10] = views[9] - 1
    a = video_rows("AAAAAAAAAAA", list(range(12)), views=views)
    b = video_rows("BBBBBBBBBBB", list(range(12, 22)), views=5_000_000 + np.arange(10))
    w = make_windows(frame_of(a, b), window=7, max_horizon=4)
    wa = w.subset(w.video_id == "AAAAAAAAAAA")
    # targets day 7, 8, 9 (day 10 falls, so windows ending there or after it are excluded)
    assert list((pd.to_datetime(wa.target_date) - DAY0).days) == [7, 8, 9]
    np.testing.assert_array_equal(wa.future[:, 0], wa.y)
    # the first window: days 7, 8, 9 then the fall on day 10 ends its future
    np.testing.assert_array_equal(wa.future[0, :3], views[7:10])
    assert np.isnan(wa.future[0, 3]) and np.isnat(wa.future_date[0, 3])
    assert np.isnan(wa.future[2, 1])                   # day 10 fell
    assert (pd.Timestamp(wa.future_date[0, 2]) - DAY0).days == 9
    # never B's views in A's future, and B's last window has no future past its run
    assert np.all(np.nan_to_num(wa.future) < 5_000_000)
    wb = w.subset(w.video_id == "BBBBBBBBBBB")
    assert np.isnan(wb.future[-1, 1:]).all()
    assert wb.horizon_target(2)[0] == 5_000_000 + 8


def test_several_horizons_scale_each_horizon_and_round_trip():
    w = make_windows(random_frame(), window=7, max_horizon=3)
    for kind in ("growth", "drift"):
        one = FeatureTransform(True, kind).fit(w)
        three = FeatureTransform(True, kind, horizons=3).fit(w)
        y = three.transform_y(w)
        assert y.shape == (len(w), 3)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(w.future))
        np.testing.assert_allclose(y[:, 0], one.transform_y(w), rtol=1e-6, atol=1e-6)
        assert abs(np.nanmean(y[:, 2])) < 1e-6 and abs(np.nanstd(y[:, 2]) - 1) < 1e-5
        np.testing.assert_allclose(three.to_views(w, y), w.future, rtol=1e-5)

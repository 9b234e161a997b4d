"""Rolling forecast origins over the test period, and the break date (protocol v2, items 1, 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ytlstm.origins import break_date, origins_table, rolling_origins, video_origin
from ytlstm.windows import Windows, chronological_split, video_split

DAY0 = np.datetime64("2018-01-01", "ns")


def windows_on_dates(n_dates: int = 53, n: int = 900, seed: int = 0, skip=(17,)):
    """Windows with random target dates among ``n_dates`` trending dates (one date, ``skip``,
    is a trending date without any window)."""
    rng = np.random.default_rng(seed)
    all_dates = DAY0 + np.arange(n_dates).astype("timedelta64[D]")
    pool = np.delete(np.arange(n_dates), list(skip))
    t = all_dates[np.sort(rng.choice(pool, size=n))]
    v = np.cumsum(rng.uniform(10, 100, size=(n, 7)), axis=1)
    w = Windows(counts=np.stack([v, v / 10, v / 100, v / 50], axis=-1),
                age_days=np.tile(np.arange(1.0, 8.0), (n, 1)), category_id=np.full(n, 10),
                comments_disabled=np.zeros(n, bool), ratings_disabled=np.zeros(n, bool),
                y=v[:, -1] * 1.1, video_id=np.array([f"v{i % 97:03d}" for i in range(n)]),
                run_id=np.arange(n), target_date=t)
    # trending dates as the frame has them: repeated, unsorted
    trending = np.concatenate([all_dates, all_dates[::-1]])
    return w, trending, all_dates


@pytest.mark.parametrize("n_dates, n_blocks", [(53, 4), (40, 4), (61, 3), (50, 1)])
def test_blocks_are_consecutive_and_cover_the_test_period_exactly(n_dates, n_blocks):
    w, trending, dates = windows_on_dates(n_dates)
    origins = rolling_origins(w, trending, 0.2, 0.1, n_blocks)
    assert [o.name for o in origins] == [f"origin {b + 1}" for b in range(n_blocks)]
    assert all(o.split == "chronological" for o in origins)
    n_test = int(np.ceil(0.2 * n_dates))
    test_dates = dates[n_dates - n_test:]
    # each block is a run of consecutive trending dates, the next one starts right after
    covered = []
    for o in origins:
        first, last = np.datetime64(o.info["test_first"]), np.datetime64(o.info["test_last"])
        block = dates[(dates >= first) & (dates <= last)]
        assert len(block) == o.info["n_test_dates"]
        covered += list(block)
    np.testing.assert_array_equal(np.array(covered, dtype="datetime64[ns]"), test_dates)
    sizes = [o.info["n_test_dates"] for o in origins]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n_test
    # the test windows: disjoint, in order, together exactly the windows of the test period
    tests = np.concatenate([o.test for o in origins])
    assert len(np.unique(tests)) == len(tests)
    np.testing.assert_array_equal(np.sort(tests),
                                  np.flatnonzero(w.target_date >= test_dates[0]))
    for a, b in zip(origins, origins[1:]):
        assert w.target_date[a.test].max() < w.target_date[b.test].min()


def test_train_and_validation_precede_each_origin():
    w, trending, dates = windows_on_dates(53)
    n_val = int(np.ceil(0.1 * 53))
    origins = rolling_origins(w, trending, 0.2, 0.1, 4)
    n_train = []
    for o in origins:
        start = np.datetime64(o.info["test_first"])
        t_tr, t_va = w.target_date[o.train], w.target_date[o.validation]
        assert t_tr.max() < t_va.min() and t_va.max() < start
        # validation: the last n_val trending dates before the origin; training: all earlier
        before = dates[dates < start]
        assert o.info["n_validation_dates"] == n_val
        assert o.info["validation_first"] == str(pd.Timestamp(before[-n_val]).date())
        assert o.info["validation_last"] == str(pd.Timestamp(before[-1]).date())
        np.testing.assert_array_equal(
            o.validation, np.flatnonzero((w.target_date >= before[-n_val]) &
                                         (w.target_date < start)))
        np.testing.assert_array_equal(o.train, np.flatnonzero(w.target_date < before[-n_val]))
        assert o.info["n_train_dates"] == len(before) - n_val
        assert not set(o.train) & set(o.validation) and not set(o.validation) & set(o.test)
        n_train.append(len(o.train))
    assert n_train == sorted(n_train) and n_train[0] < n_train[-1]   # training grows


@pytest.mark.parametrize("test_frac, val_frac", [(0.2, 0.1), (0.25, 0.15)])
def test_first_origin_is_the_chronological_split(test_frac, val_frac):
    w, trending, _ = windows_on_dates(53)
    split = chronological_split(w, trending, test_frac, val_frac)
    first = rolling_origins(w, trending, test_frac, val_frac, 4)[0]
    np.testing.assert_array_equal(first.train, np.flatnonzero(split.mask("train")))
    np.testing.assert_array_equal(first.validation, np.flatnonzero(split.mask("validation")))
    assert set(first.test) <= set(np.flatnonzero(split.mask("test")))
    for k in ("train_first", "train_last", "validation_first", "validation_last", "test_first",
              "n_train_dates", "n_validation_dates"):
        assert first.info[k] == split.info[k], k


def test_too_few_dates_for_the_blocks_is_an_error():
    w, trending, _ = windows_on_dates(12, n=100, skip=())
    with pytest.raises(ValueError, match="cannot hold 4 test blocks"):
        rolling_origins(w, trending, 0.2, 0.1, 4)          # 3 test dates
    with pytest.raises(ValueError, match="test blocks"):
        rolling_origins(w, trending, 0.2, 0.1, 0)


def test_origins_table_and_video_origin():
    w, trending, _ = windows_on_dates(53)
    origins = rolling_origins(w, trending, 0.2, 0.1, 4)
    table = origins_table(origins, w)
    assert list(table["origin"]) == [o.name for o in origins]
    assert list(table["n_test_windows"]) == [len(o.test) for o in origins]
    assert list(table["n_train_windows"]) == [len(o.train) for o in origins]
    assert (table["n_test_videos"] <= 97).all()
    split = video_split(w, 0.2, 0.1, seed=1)
    vo = video_origin(split)
    assert vo.name == "video" and vo.split == "video"
    np.testing.assert_array_equal(vo.test, np.flatnonzero(split.mask("test")))
    np.testing.assert_array_equal(vo.train, np.flatnonzero(split.mask("train")))


# --------------------------------------------------------------------------- break date

def _frame(lists: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(v, pd.Timestamp(d)) for d, ids in lists.items() for v in ids]
    return pd.DataFrame(rows, columns=["video_id", "date"]).sample(frac=1, random_state=0)


def test_break_date_is_the_date_with_the_smallest_overlap():
    lists = {
        "2018-01-01": list("abcdefghij"),
        "2018-01-02": list("abcdefghik"),        # 9 of 10 kept
        "2018-01-03": list("abcdefgxyz"),        # 7 of 10
        "2018-01-04": list("abcpqrstuv"),        # 3 of 10: the break
        "2018-01-05": list("abcpqrstuw"),        # 9 of 10
        "2018-01-06": list("pqrstuwmno"),        # 7 of 10
    }
    assert break_date(_frame(lists)) == pd.Timestamp("2018-01-04")


def test_break_date_uses_the_share_of_the_previous_list():
    # 2 of the previous 4 (0.5) versus 4 of the previous 10 (0.4): the share, not the count
    lists = {
        "2018-02-01": list("abcd"),
        "2018-02-02": list("abxyzuvwst"),        # 2 / 4 = 0.5
        "2018-02-03": list("xyzuqqqq"),          # 4 / 10 = 0.4 (q counted once)
        "2018-02-04": list("xyzu"),              # 4 / 5 = 0.8
    }
    assert break_date(_frame(lists)) == pd.Timestamp("2018-02-03")


def test_break_date_needs_three_dates():
    assert break_date(_frame({"2018-01-01": ["a"], "2018-01-02": ["b"]})) is None

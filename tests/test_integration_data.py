"""The data stage on the real US file: the facts of shared/data/youtube-new/README.md.

The folder comes from ``$YTLSTM_DATA_DIR`` (the ``real_data_dir`` fixture fails, never skips,
when it is unset).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ytlstm.data import (REQUIRED_COLUMNS, add_runs, find_country_files, load_dataset,
                         read_videos)
from ytlstm.windows import make_windows

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def us_files(real_data_dir):
    return find_country_files(real_data_dir, "US")


@pytest.fixture(scope="module")
def raw(us_files) -> pd.DataFrame:
    return read_videos(us_files.videos)


@pytest.fixture(scope="module")
def dataset(real_data_dir):
    return load_dataset(real_data_dir, "US")


def test_shape_matches_an_independent_reader(us_files, raw):
    # pandas' own C parser, not ytlstm's: same records, same order, same raw values
    ref = pd.read_csv(us_files.videos, dtype=str, keep_default_na=False)
    assert ref.shape == (40_949, 16)
    assert tuple(ref.columns) == REQUIRED_COLUMNS
    assert len(raw) == 40_949
    for c in ("video_id", "trending_date", "title", "channel_title", "description"):
        assert (raw[c].to_numpy() == ref[c].to_numpy()).all(), c
    for c in ("views", "likes", "dislikes", "comment_count"):
        np.testing.assert_array_equal(raw[c].to_numpy(), ref[c].astype("int64").to_numpy())


def test_readme_facts(raw):
    assert raw["video_id"].nunique() == 6_351
    assert raw["date"].nunique() == 205
    assert raw.duplicated(["video_id", "date"]).sum() == 50
    assert (raw["description"] == "").sum() == 570
    assert str(raw["date"].min().date()) == "2017-11-14"
    assert str(raw["date"].max().date()) == "2018-06-14"


def test_missing_collection_days(raw):
    present = set(raw["date"].dt.date)
    every_day = pd.date_range(raw["date"].min(), raw["date"].max(), freq="D").date
    missing = sorted(str(d) for d in set(every_day) - present)
    assert missing == ["2018-01-10", "2018-01-11"] + [f"2018-04-{d:02d}" for d in range(8, 14)]


def test_views_decreases_between_consecutive_observations(raw):
    s = raw.sort_values(["video_id", "date"], kind="mergesort")
    assert int((s.groupby("video_id")["views"].diff() < 0).sum()) == 35


def test_runs_after_deduplication_only(raw, dataset):
    dedup = add_runs(raw.drop_duplicates(["video_id", "date"], keep="first"))
    longest = dedup.groupby("video_id")["run_length"].max()
    assert int((longest >= 8).sum()) == 1_742
    assert int((dedup["day_in_run"] >= 7).sum()) == 8_448
    assert dataset.runs.windows_before_row_removal == 8_448


def test_full_cleaning_accounts_for_every_row(dataset):
    r = dataset.report
    assert r.rows_in == 40_949
    assert r.removed["duplicate_video_date"] == 50
    assert r.rows_in == r.rows_kept + sum(r.removed.values())
    assert r.rows_kept == len(dataset.frame)
    assert dataset.frame.duplicated(["video_id", "date"]).sum() == 0
    assert dataset.frame["views"].dtype == np.int64 and (dataset.frame["views"] >= 0).all()
    assert not dataset.frame["video_error_or_removed"].any()


def test_windows_after_cleaning(dataset):
    s = dataset.runs
    assert s.windows_possible == s.windows_before_row_removal - s.windows_lost_to_removed_rows
    # independently: a run of length L gives max(0, L - 7) windows
    lengths = dataset.frame.groupby("run_id")["run_length"].first()
    assert s.windows_possible == int(np.clip(lengths - 7, 0, None).sum())
    w = make_windows(dataset.frame, window=7)
    assert len(w) == s.windows_possible - s.windows_with_decrease == s.windows_usable
    assert w.excluded_views_decrease == s.windows_with_decrease
    assert s.n_trending_dates == 205


def test_cli_json_on_real_data(real_data_dir):
    p = subprocess.run([sys.executable, "-m", "ytlstm", "data", "--data-dir", str(real_data_dir),
                        "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["rows_in"] == 40_949
    assert report["rows_in"] == report["rows_kept"] + sum(report["removed"].values())
    assert report["removed"]["duplicate_video_date"] == 50
    assert report["runs"]["windows_before_row_removal"] == 8_448

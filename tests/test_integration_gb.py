"""The data stage on the real Great Britain file: the facts of shared/data/youtube-new/README.md,
and the GB study's tables beside the US ones (the book's replication)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ytlstm.data import add_runs, find_country_files, load_dataset, read_videos

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def raw(real_data_dir) -> pd.DataFrame:
    return read_videos(find_country_files(real_data_dir, "GB").videos)


@pytest.fixture(scope="module")
def dataset(real_data_dir):
    return load_dataset(real_data_dir, "GB")


def test_gb_readme_facts(raw):
    assert len(raw) == 38_916
    assert raw["video_id"].nunique() == 3_272
    assert raw["date"].nunique() == 205
    assert str(raw["date"].min().date()) == "2017-11-14"
    assert str(raw["date"].max().date()) == "2018-06-14"
    assert raw.duplicated(["video_id", "date"]).sum() == 174
    assert int(raw["video_error_or_removed"].sum()) == 69
    assert (raw["description"] == "").sum() == 612


def test_gb_missing_dates_are_the_us_ones(raw):
    present = set(raw["date"].dt.date)
    every_day = pd.date_range(raw["date"].min(), raw["date"].max(), freq="D").date
    missing = sorted(str(d) for d in set(every_day) - present)
    assert missing == ["2018-01-10", "2018-01-11"] + [f"2018-04-{d:02d}" for d in range(8, 14)]


def test_gb_views_decreases_and_runs(raw, dataset):
    dedup = add_runs(raw.drop_duplicates(["video_id", "date"], keep="first"))
    s = dedup.sort_values(["video_id", "date"], kind="mergesort")
    assert int((s.groupby("video_id")["views"].diff() < 0).sum()) == 34
    longest = dedup.groupby("video_id")["run_length"].max()
    assert int((longest >= 8).sum()) == 2_036
    assert int((dedup["day_in_run"] >= 7).sum()) == 17_318
    assert dataset.runs.windows_before_row_removal == 17_318
    r = dataset.report
    assert r.rows_in == 38_916 and r.rows_in == r.rows_kept + sum(r.removed.values())

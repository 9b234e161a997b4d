"""Real-world shapes of the Kaggle country files, on synthetic files (issue 12, item 6).

Each test writes a Kaggle-format country with one defect seen in the real files and checks
what the loader does with it: Excel pseudo-ids as video ids, UTF-8 cut inside a multibyte
character, CRLF line ends, a category id missing from the JSON, duplicate (video, date) rows
whose views differ, a collection that starts months later, and zero or a dozen windows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kaggle_files import (COLUMNS, CATEGORIES, csv_text, make_rows, video_id, write_categories,
                          write_country, write_videos)
from ytlstm.data import load_dataset, read_videos
from ytlstm.windows import chronological_split, make_windows, video_split


def _frame_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


@pytest.mark.parametrize("pseudo", ["#NAME?", "#VALUE!", "#NOME?"])
def test_excel_pseudo_ids_are_removed_and_counted(tmp_path, pseudo):
    """Excel turned ids starting with '-' or '=' into error strings; in the real files one
    pseudo-id stands for many videos, so it repeats on a date. Every such row is removed
    (as a repeated (video, date) or as a malformed id) and the other videos are untouched."""
    rows = make_rows("FR", n_videos=6, days=10)
    hit = {video_id("FR", 1), video_id("FR", 4)}
    for r in rows:
        if r["video_id"] in hit:
            r["video_id"] = pseudo
    files = write_country(tmp_path, "FR", rows=rows)
    ds = load_dataset(files.folder, "FR")
    rep = ds.report
    assert rep.removed["duplicate_video_date"] == 10        # two videos share one pseudo-id
    assert rep.removed["malformed_video_id"] == 10
    assert rep.rows_kept == 40 and rep.rows_in == 60
    assert pseudo not in set(ds.frame["video_id"])
    assert ds.runs.n_videos == 4
    assert len(make_windows(ds.frame)) == 4 * 3


def _corrupt_title(files_dir, country: str, cut_at: int, crlf: bool = False):
    """A country file whose row ``cut_at`` has a title ending in the first byte(s) of a
    multibyte UTF-8 character (the real files hold such truncated titles)."""
    rows = make_rows(country, n_videos=3, days=9)
    marker = "\u2603CUT\u2603"
    rows[cut_at]["title"] = "動画" + marker
    text = csv_text(rows, line_end="\r\n" if crlf else "\n").encode("utf-8")
    cut = "動".encode("utf-8")[:2]                          # 2 of its 3 bytes
    text = text.replace(marker.encode("utf-8"), cut)
    path = files_dir / f"{country}videos.csv"
    files_dir.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text)
    write_categories(files_dir / f"{country}_category_id.json")
    return rows, path


@pytest.mark.parametrize("cut_at", [0, 13, 26])               # first, middle and last row
def test_utf8_cut_inside_a_multibyte_character(tmp_path, cut_at):
    rows, path = _corrupt_title(tmp_path, "JP", cut_at)
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    ds = load_dataset(tmp_path, "JP")
    assert ds.report.rows_in == ds.report.rows_kept == len(rows)
    titles = read_videos(path)["title"]
    assert titles.iloc[cut_at] == "動画\ufffd"                # the broken character is replaced
    assert len(make_windows(ds.frame)) == 3 * 2


def test_crlf_line_ends_read_like_lf(tmp_path):
    rows = make_rows("GB", n_videos=4, days=9, newline_in_description=True)
    lf = write_videos(tmp_path / "lf" / "GBvideos.csv", rows)
    crlf = write_videos(tmp_path / "crlf" / "GBvideos.csv", rows, line_end="\r\n")
    assert b"\r\n" in crlf.read_bytes()
    _frame_equal(read_videos(lf), read_videos(crlf))
    for d in ("lf", "crlf"):
        write_categories(tmp_path / d / "GB_category_id.json")
    a, b = load_dataset(tmp_path / "lf", "GB"), load_dataset(tmp_path / "crlf", "GB")
    _frame_equal(a.frame, b.frame)
    assert a.report.to_dict() | {"file": ""} == b.report.to_dict() | {"file": ""}


def test_crlf_with_a_cut_multibyte_character(tmp_path):
    rows, path = _corrupt_title(tmp_path, "KR", 5, crlf=True)
    ds = load_dataset(tmp_path, "KR")
    assert ds.report.rows_kept == len(rows)


def test_category_id_missing_from_the_json(tmp_path):
    """The real files have rows of category 29 whose JSON has no id 29: kept, named Unknown."""
    rows = make_rows("CA", n_videos=4, days=9)
    for r in rows:
        if r["video_id"] == video_id("CA", 2):
            r["category_id"] = "29"
    files = write_country(tmp_path, "CA", rows=rows)
    assert 29 not in CATEGORIES
    assert '"29"' not in files.categories.read_text()
    ds = load_dataset(files.folder, "CA")
    assert ds.report.rows_kept == len(rows)
    v = ds.frame[ds.frame["video_id"] == video_id("CA", 2)]
    assert set(v["category_id"]) == {29} and set(v["category"]) == {"Unknown"}
    assert 29 not in ds.categories
    w = make_windows(ds.frame)
    assert len(w) == 4 * 2 and 29 in set(w.category_id)


@pytest.mark.parametrize("order", ["original_first", "changed_first"])
def test_duplicate_video_date_rows_with_other_views_keep_the_first_in_the_file(tmp_path,
                                                                                 order):
    """Of repeated (video, trending date) rows the first in the file is kept (book/data.md)."""
    rows = make_rows("MX", n_videos=2, days=9)
    k = 4
    dup = dict(rows[k])
    dup["views"] = str(int(dup["views"]) + 12345)
    rows.insert(k if order == "changed_first" else k + 1, dup)
    files = write_country(tmp_path, "MX", rows=rows)
    ds = load_dataset(files.folder, "MX")
    assert ds.report.removed["duplicate_video_date"] == 1
    day = pd.to_datetime(rows[k]["trending_date"], format="%y.%d.%m")
    kept = ds.frame[(ds.frame["video_id"] == dup["video_id"]) & (ds.frame["date"] == day)]
    assert len(kept) == 1
    first = dup if order == "changed_first" else rows[k]
    assert int(kept["views"].iloc[0]) == int(first["views"])


def test_a_collection_that_starts_months_later(tmp_path):
    """Nothing assumes the US file's dates: a country collected from March 2018 splits by its
    own dates."""
    rng = np.random.default_rng(5)
    n = 60
    files = write_country(tmp_path, "RU", n_videos=n, start="2018-03-02",
                          days=rng.integers(8, 14, size=n).tolist(),
                          first_day=rng.integers(0, 40, size=n).tolist())
    ds = load_dataset(files.folder, "RU")
    assert ds.runs.first_date >= "2018-03-02"
    w = make_windows(ds.frame)
    split = chronological_split(w, ds.frame["date"].to_numpy())
    assert split.info["train_first"] == ds.runs.first_date
    assert split.info["test_last"] == ds.runs.last_date
    counts = split.counts()
    assert all(counts[p] > 0 for p in counts) and sum(counts.values()) == len(w)
    assert (pd.to_datetime(w.target_date) >= pd.Timestamp("2018-03-09")).all()


@pytest.mark.parametrize("n_long", [0, 12])
def test_zero_and_a_dozen_windows(tmp_path, run_cli, n_long):
    """The loader and the windows cope with (almost) no 7+1 windows; ``ytlstm data`` reports
    the count (``ytlstm run`` then refuses: tests/test_too_little_data.py)."""
    days = [3 + i % 5 for i in range(40)] + [8] * n_long
    first = [i % 30 for i in range(40)] + [(5 * i) % 30 for i in range(n_long)]
    files = write_country(tmp_path, "IN", n_videos=len(days), days=days, first_day=first)
    ds = load_dataset(files.folder, "IN")
    assert ds.runs.windows_usable == n_long
    w = make_windows(ds.frame)
    assert len(w) == n_long
    chrono = chronological_split(w, ds.frame["date"].to_numpy())
    assert sum(chrono.counts().values()) == n_long
    assert sum(video_split(w).counts().values()) == n_long
    code, out, err = run_cli("data", "--data-dir", files.folder, "--country", "IN", "--json")
    assert code == 0, err
    assert json.loads(out)["runs"]["windows_usable"] == n_long
    assert list(COLUMNS) == list(pd.read_csv(files.videos, nrows=0).columns)

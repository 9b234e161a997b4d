"""Unit tests of the data stage (ytlstm.data) on small synthetic Kaggle-format files."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from kaggle_files import (COLUMNS, CATEGORIES, TITLE_WORDS, csv_text, make_rows, video_id,
                          write_bytes, write_videos)
from ytlstm.data import (CLEANING_RULES, CleaningReport, add_runs, clean, find_country_files,
                         load_categories, load_dataset, read_videos)
from ytlstm.errors import DataError
from ytlstm.windows import make_windows


def accounted(report: CleaningReport) -> bool:
    return report.rows_in == report.rows_kept + sum(report.removed.values())


# --------------------------------------------------------------------------- parsing

def test_trending_date_is_year_day_month(kaggle):
    rows = make_rows(n_videos=1, days=1)
    rows[0]["trending_date"] = "18.01.02"          # 1 February 2018, not 2 January
    files = kaggle(rows=rows)
    df = read_videos(files.videos)
    assert df["date"].iloc[0] == pd.Timestamp("2018-02-01")
    assert df["trending_date"].iloc[0] == "18.01.02"


def test_synthetic_dates_round_trip(kaggle):
    files = kaggle(n_videos=2, days=5, start="2017-12-30")
    df = read_videos(files.videos)
    assert sorted(df["date"].dt.date.unique()) == [dt.date(2017, 12, 30) + dt.timedelta(days=k)
                                                   for k in range(5)]


def test_publish_time_is_utc(kaggle):
    rows = make_rows(n_videos=1, days=2)
    rows[0]["publish_time"] = "2017-11-13T17:13:01.000Z"
    rows[1]["publish_time"] = "2017-11-13T19:13:01.000+02:00"   # same instant, other offset
    df = read_videos(kaggle(rows=rows).videos)
    assert str(df["publish_time"].dt.tz) == "UTC"
    assert (df["publish_time"] == pd.Timestamp("2017-11-13 17:13:01", tz="UTC")).all()


def test_types_and_values(kaggle):
    files = kaggle(n_videos=2, days=3)
    df = read_videos(files.videos)
    first = files.rows[0]
    assert len(df) == len(files.rows) == 6
    assert df["video_id"].iloc[0] == first["video_id"]
    assert df["views"].iloc[0] == int(first["views"])
    assert df["category_id"].dtype == np.int64
    for c in ("comments_disabled", "ratings_disabled", "video_error_or_removed"):
        assert df[c].dtype == bool and not df[c].any()
    assert df["title"].iloc[0] == first["title"]          # quotes and commas survive
    assert df["description"].iloc[0] == first["description"]


def test_columns_found_by_name_in_any_order(kaggle, tmp_path):
    rows = make_rows(n_videos=2, days=9)
    ref = load_dataset(kaggle(rows=rows).folder)
    shuffled = list(reversed(COLUMNS)) + ["extra_column"]
    other = tmp_path / "other"
    write_videos(other / "USvideos.csv", rows, shuffled)
    (other / "US_category_id.json").write_bytes(ref_categories(ref))
    ds = load_dataset(other)
    pd.testing.assert_frame_equal(ds.frame, ref.frame)
    assert ds.report.to_dict() | {"file": ""} == ref.report.to_dict() | {"file": ""}


def ref_categories(ds) -> bytes:
    return open(ds.files["categories"], "rb").read()


def test_booleans_accept_true_false_any_case(kaggle):
    rows = make_rows(n_videos=1, days=4)
    for r, v in zip(rows, ["True", "false", "TRUE", "False"]):
        r["comments_disabled"] = v
    df = read_videos(kaggle(rows=rows).videos)
    assert df["comments_disabled"].tolist() == [True, False, True, False]


def test_bom_crlf_and_blank_lines(kaggle, tmp_path):
    rows = make_rows(n_videos=2, days=3)
    text = "\ufeff" + csv_text(rows, line_end="\r\n") + "\r\n\r\n"
    path = write_bytes(tmp_path / "x" / "USvideos.csv", text.encode("utf-8"))
    df = read_videos(path)
    assert len(df) == 6 and df["video_id"].iloc[0] == rows[0]["video_id"]


def test_embedded_newlines_keep_records_and_line_numbers(kaggle):
    rows = make_rows(n_videos=2, days=4, newline_in_description=True)
    rows[5]["views"] = "many"
    files = kaggle(rows=rows)
    with pytest.raises(DataError) as e:
        read_videos(files.videos)
    # each record spans 3 lines: data row 6 starts on line 1 + 5*3 + 1 = 17
    assert "data row 6 (line 17), column views" in str(e.value)
    rows[5]["views"] = "1000"
    df = read_videos(kaggle(rows=rows).videos)
    assert len(df) == len(rows)
    assert df["description"].iloc[0].endswith("\nsecond real line\r\nthird, with a comma")


def test_categories(kaggle):
    files = kaggle()
    cats = load_categories(files.categories)
    assert cats == CATEGORIES
    ds = load_dataset(files.folder)
    assert set(ds.frame["category"]) <= set(CATEGORIES.values())


def test_unknown_category_is_labelled_not_dropped(kaggle):
    rows = make_rows(n_videos=1, days=3)
    rows[0]["category_id"] = "99"
    ds = load_dataset(kaggle(rows=rows).folder)
    assert ds.report.rows_kept == 3
    assert (ds.frame["category"] == "Unknown").sum() == 1


# --------------------------------------------------------------------------- cleaning

def test_each_rule_exact_counts(kaggle):
    rows = make_rows(n_videos=4, days=10)          # 40 rows
    assert len(rows) == 40
    rows[1]["video_id"] = "bad id!!!!!"            # malformed: 11 chars, bad alphabet
    rows[2]["video_id"] = "short"                  # malformed: too short
    rows[3]["video_error_or_removed"] = "True"
    rows[5]["video_error_or_removed"] = "True"
    rows[6]["views"] = ""                          # missing
    rows[7]["comment_count"] = ""                  # missing
    rows[9]["dislikes"] = "-3"                     # negative
    rows[10]["views"] = "-1"                       # negative
    rows[11]["likes"] = "-7"                       # negative
    rows.insert(13, dict(rows[12]))                # duplicate of a good row
    dup = dict(rows[20])
    dup["views"] = "123"                           # duplicate with other counts
    rows.insert(21, dup)
    bad_dup = dict(rows[30])
    bad_dup["video_error_or_removed"] = "True"     # both duplicate and flagged
    rows.insert(31, bad_dup)
    ds = load_dataset(kaggle(rows=rows).folder)
    r = ds.report
    assert r.rows_in == 43
    assert r.removed == {"duplicate_video_date": 3, "malformed_video_id": 2,
                         "video_error_or_removed": 2, "missing_count": 2, "negative_count": 3}
    assert list(r.removed) == list(CLEANING_RULES)
    assert r.rows_kept == 43 - 12 == len(ds.frame)
    assert accounted(r)
    # the first of a duplicated pair is kept
    kept = ds.frame.set_index(["video_id", "date"])
    first = rows[20]
    day = dt.datetime.strptime(first["trending_date"], "%y.%d.%m")
    key = (first["video_id"], pd.Timestamp(day))
    assert kept.loc[key, "views"] == int(first["views"])


def test_rule_order_first_rule_counts(kaggle):
    rows = make_rows(n_videos=1, days=5)
    rows[1].update(video_id="not-an-id", views="-5")           # malformed and negative
    rows[2].update(video_error_or_removed="True", likes="")     # flagged and missing
    rows[3].update(views="", dislikes="-1")                     # missing and negative
    ds = load_dataset(kaggle(rows=rows).folder)
    assert ds.report.removed == {"duplicate_video_date": 0, "malformed_video_id": 1,
                                 "video_error_or_removed": 1, "missing_count": 1,
                                 "negative_count": 0}
    assert ds.report.rows_kept == 2 and accounted(ds.report)


def test_clean_keeps_integer_counts(kaggle):
    df = read_videos(kaggle(n_videos=2, days=3).videos)
    kept, report = clean(df, source="x")
    assert report.file == "x" and report.rows_kept == 6
    for c in ("views", "likes", "dislikes", "comment_count"):
        assert kept[c].dtype == np.int64


def test_report_table_and_check():
    r = CleaningReport(file="f", rows_in=10, rows_kept=7,
                       removed={"duplicate_video_date": 2, "negative_count": 1})
    r.check()
    table = r.table()
    assert table["rows"].tolist()[:4] == [10, 2, 1, 7]
    bad = CleaningReport(file="f", rows_in=10, rows_kept=8, removed={"negative_count": 1})
    with pytest.raises(AssertionError):
        bad.check()


def test_all_rows_removed_is_an_error(kaggle):
    rows = make_rows(n_videos=1, days=3)
    for r in rows:
        r["video_error_or_removed"] = "True"
    with pytest.raises(DataError, match=r"all 3 data rows were removed by cleaning "
                                         r"\(3 video_error_or_removed\)"):
        load_dataset(kaggle(rows=rows).folder)


# --------------------------------------------------------------------------- runs

def test_missing_day_cuts_runs(kaggle):
    # video 0: 20 days with the collection missing day 5 -> runs of 5 and 14 days
    # video 1: 6 days, untouched by the gap (starts after it) -> one run of 6
    files = kaggle(n_videos=2, days=[20, 6], first_day=[0, 8], gaps=["2017-11-19"])
    ds = load_dataset(files.folder)
    s = ds.runs
    assert s.n_videos == 2 and s.n_runs == 3
    assert s.run_length_counts == {5: 1, 6: 1, 14: 1}
    assert s.videos_with_full_window == 1
    assert s.windows_possible == 14 - 7 == s.windows_before_row_removal
    assert s.n_trending_dates == 20 - 1
    v0 = ds.frame[ds.frame["video_id"] == video_id("US", 0)]
    assert v0["day_in_run"].tolist() == list(range(5)) + list(range(14))
    assert v0["run_id"].nunique() == 2


def test_removed_row_cuts_run_and_is_counted_in_windows(kaggle):
    rows = make_rows(n_videos=1, days=20)
    rows[10]["video_error_or_removed"] = "True"          # runs of 10 and 9 days remain
    ds = load_dataset(kaggle(rows=rows).folder)
    s = ds.runs
    assert s.run_length_counts == {9: 1, 10: 1}
    assert s.windows_before_row_removal == 20 - 7
    assert s.windows_possible == (10 - 7) + (9 - 7)
    assert s.windows_lost_to_removed_rows == 13 - 5
    assert s.windows_possible == s.windows_before_row_removal - s.windows_lost_to_removed_rows


def test_duplicate_rows_do_not_lengthen_runs(kaggle):
    files = kaggle(n_videos=1, days=9, duplicates=3)
    ds = load_dataset(files.folder)
    assert ds.report.rows_in == 12 and ds.report.removed["duplicate_video_date"] == 3
    assert ds.runs.run_length_counts == {9: 1}
    assert ds.runs.windows_before_row_removal == ds.runs.windows_possible == 2


def test_views_decrease_counted_flagged_and_windows_excluded(kaggle):
    rows = make_rows(n_videos=1, days=20)
    rows[5]["views"] = str(int(rows[4]["views"]) - 1)     # falls below day 4's views
    ds = load_dataset(kaggle(rows=rows).folder)
    assert ds.report.views_decreases == 1
    assert ds.frame["views_decrease"].tolist() == [k == 5 for k in range(20)]
    s = ds.runs
    # targets t = 7..19; the fall at row 5 is inside windows with t - 6 <= 5, i.e. t = 7..11
    assert s.windows_possible == 13
    assert s.windows_with_decrease == 5
    assert s.windows_usable == 8
    w = make_windows(ds.frame, window=7)
    assert len(w) == 8 and w.excluded_views_decrease == 5
    # the row itself is kept: a decrease is flagged, not removed
    assert ds.report.rows_kept == 20


def test_decrease_across_a_gap_is_not_a_decrease(kaggle):
    rows = make_rows(n_videos=1, days=6, gaps=["2017-11-17"])    # days 0,1,2 | 4,5
    rows[3]["views"] = "1"                                         # first day after the gap
    ds = load_dataset(kaggle(rows=rows).folder)
    assert ds.report.views_decreases == 0
    assert ds.runs.run_length_counts == {2: 1, 3: 1}


def test_add_runs_sorts_by_video_and_date(kaggle):
    rows = make_rows(n_videos=3, days=4)
    df = read_videos(kaggle(rows=list(reversed(rows))).videos)
    out = add_runs(clean(df)[0])
    keys = list(zip(out["video_id"], out["date"]))
    assert keys == sorted(keys)
    assert out["run_length"].tolist() == [4] * 12
    assert out["day_in_run"].tolist() == [0, 1, 2, 3] * 3


# --------------------------------------------------------------------------- files

@pytest.mark.parametrize("suffix", ["", ".xz", ".gz", ".bz2", ".zip"])
def test_compressed_files_load_identically(kaggle, tmp_path, suffix):
    rows = make_rows(n_videos=3, days=10, duplicates=2)
    rows[4]["views"] = "-2"
    plain = load_dataset(kaggle(rows=rows).folder)
    files = kaggle(rows=rows, compression=suffix) if suffix else None
    if suffix:
        (files.folder / "USvideos.csv").unlink()
        assert files.videos.name == f"USvideos.csv{suffix}"
    ds = load_dataset(tmp_path / "data")
    assert ds.files["videos"].endswith(f"USvideos.csv{suffix}")
    pd.testing.assert_frame_equal(ds.frame, plain.frame)
    assert ds.report.removed == plain.report.removed
    assert ds.report.rows_in == len(rows) == 32


def test_find_country_files_prefers_plain_csv(kaggle):
    files = kaggle()
    kaggle(compression=".xz")
    assert find_country_files(files.folder).videos.name == "USvideos.csv"


def test_corrupt_archive_is_a_data_error(kaggle):
    files = kaggle(compression=".xz")
    data = files.videos.read_bytes()
    files.videos.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"USvideos\.csv\.xz: cannot be decompressed"):
        load_dataset(files.folder)


def test_zip_with_two_csv_files_is_a_data_error(kaggle):
    files = kaggle(compression=".zip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.csv", "x")
        z.writestr("b.csv", "y")
    files.videos.write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="zip holds 2 CSV files; expected exactly one"):
        load_dataset(files.folder)


def test_data_hash_changes_with_content(kaggle):
    a = load_dataset(kaggle(n_videos=1, days=8).folder)
    b = load_dataset(kaggle(n_videos=1, days=9).folder)
    assert a.data_hash != b.data_hash
    assert set(a.sha256) == {"USvideos.csv", "US_category_id.json"}


# --------------------------------------------------------------------------- countries

@pytest.mark.parametrize("country", sorted(TITLE_WORDS))
def test_every_country_loads_with_the_same_code(kaggle, country):
    files = kaggle(country, n_videos=3, days=9, duplicates=1)
    ds = load_dataset(files.folder, country.lower())
    assert ds.country == country
    assert ds.report.rows_in == 28 and ds.report.rows_kept == 27 and accounted(ds.report)
    assert ds.runs.windows_possible == 3 * 2
    word = TITLE_WORDS[country]
    assert ds.frame["title"].str.startswith(word).all()      # non-ASCII titles intact


def test_japanese_titles_survive_exactly(kaggle):
    rows = make_rows("JP", n_videos=1, days=2)
    rows[0]["title"] = "【公式】テスト動画 – “引用”, 第1話"
    ds = load_dataset(kaggle("JP", rows=rows).folder, "JP")
    assert ds.frame["title"].iloc[0] == rows[0]["title"]


def test_invalid_utf8_in_a_description_is_replaced_not_fatal(tmp_path):
    rows = make_rows("GB", n_videos=2, days=9)
    rows[3]["description"] = "broken BYTES here"
    data = csv_text(rows).encode("utf-8").replace(b"BYTES", b"\xff\xfe\xc3(")
    folder = tmp_path / "gb"
    write_bytes(folder / "GBvideos.csv", data)
    from kaggle_files import write_categories
    write_categories(folder / "GB_category_id.json")
    ds = load_dataset(folder, "GB")
    assert ds.report.rows_in == 18 == ds.report.rows_kept
    desc = ds.frame.loc[ds.frame["description"].str.startswith("broken"), "description"]
    assert len(desc) == 1 and "\ufffd" in desc.iloc[0]


def test_latin1_file_loads_with_replacement(tmp_path):
    rows = make_rows("FR", n_videos=1, days=3)
    folder = tmp_path / "fr"
    write_videos(folder / "FRvideos.csv", rows, encoding="latin-1")
    from kaggle_files import write_categories
    write_categories(folder / "FR_category_id.json")
    ds = load_dataset(folder, "FR")
    assert ds.report.rows_kept == 3
    assert ds.frame["title"].str.contains("\ufffd").all()      # é was not UTF-8


def test_utf16_file_with_bom_loads(tmp_path):
    rows = make_rows("KR", n_videos=1, days=3)
    folder = tmp_path / "kr"
    write_videos(folder / "KRvideos.csv", rows, encoding="utf-16")
    from kaggle_files import write_categories
    write_categories(folder / "KR_category_id.json")
    ds = load_dataset(folder, "KR")
    assert ds.report.rows_kept == 3
    assert ds.frame["title"].str.startswith(TITLE_WORDS["KR"]).all()


# --------------------------------------------------------------------------- fatal values

@pytest.mark.parametrize("column,value,problem", [
    ("views", "12.5", "not a whole number: '12.5'"),
    ("views", "1e6", "not a whole number: '1e6'"),
    ("likes", "inf", "not a whole number: 'inf'"),
    ("likes", "nan", "not a whole number: 'nan'"),
    ("views", "9" * 16, "number out of range"),
    ("category_id", "", "missing category_id"),
    ("category_id", "music", "not a whole number: 'music'"),
    ("comments_disabled", "maybe", "not a boolean: 'maybe'"),
    ("trending_date", "17.32.11", "unparseable trending_date '17.32.11'"),
    ("publish_time", "", "unparseable publish_time ''"),
])
def test_bad_values_raise_with_row_and_column(kaggle, column, value, problem):
    rows = make_rows(n_videos=2, days=3)
    rows[3][column] = value
    files = kaggle(rows=rows)
    with pytest.raises(DataError) as e:
        read_videos(files.videos)
    msg = str(e.value)
    assert str(files.videos) in msg
    assert f"data row 4 (line 5), column {column}" in msg
    assert problem in msg and "; expected " in msg
    assert "\n" not in msg


def test_largest_allowed_count_is_exact(kaggle):
    rows = make_rows(n_videos=1, days=2)
    rows[1]["views"] = "9" * 15
    df = read_videos(kaggle(rows=rows).videos)
    assert int(df["views"].iloc[1]) == 999_999_999_999_999


def test_long_bad_value_is_shortened_in_message(kaggle):
    rows = make_rows(n_videos=1, days=2)
    rows[1]["likes"] = "x" * 500
    with pytest.raises(DataError) as e:
        read_videos(kaggle(rows=rows).videos)
    assert len(str(e.value)) < 400

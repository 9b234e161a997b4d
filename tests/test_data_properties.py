"""Property-based robustness of the data stage (hypothesis).

Randomly built and corrupted Kaggle-format files either load with every row accounted for
(``rows_in == rows_kept + sum(removed)``, ``rows_in`` = the number of data records written,
and the removals equal those of an independent re-implementation of the rules) or raise
:class:`DataError` (CLI: exit 2, one line). No other exception is acceptable.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import random
import re
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaggle_files import (COLUMNS, TEXT_COLUMNS, TITLE_WORDS, csv_text, make_rows, write_bytes,
                          write_categories)
from ytlstm.cli import main
from ytlstm.data import CLEANING_RULES, COUNT_COLUMNS, load_dataset, read_videos
from ytlstm.errors import DataError

#: examples per property; raise it for a longer hunt, e.g. YTLSTM_HYPOTHESIS_EXAMPLES=2000
MAX_EXAMPLES = int(os.environ.get("YTLSTM_HYPOTHESIS_EXAMPLES", "40"))
SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ID_RE = re.compile(r"[A-Za-z0-9_-]{11}")
# any text a field may hold in a real file: no NUL (that is binary) and no lone surrogates
FIELD_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                     max_size=30)
MALFORMED_IDS = ["", "abc", "x" * 12, "bad id!!!!!", "#NAME?", "ÄÖÜäöü12345", "abcdefghij.",
                 " " * 11]


# --------------------------------------------------------------------------- helpers

@st.composite
def base_rows(draw) -> tuple[str, list[dict[str, str]]]:
    country = draw(st.sampled_from(sorted(TITLE_WORDS)))
    n = draw(st.integers(1, 4))
    days = draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))
    first = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    gaps = draw(st.sets(st.integers(0, 15), max_size=3))
    start = dt.date(2017, 11, 14)
    rows = make_rows(country, n, days, start, first,
                     gaps=[start + dt.timedelta(days=g) for g in gaps],
                     duplicates=draw(st.integers(0, 2)),
                     newline_in_description=draw(st.booleans()))
    return country, rows


MUTATION = st.one_of(
    st.tuples(st.just("malformed_id"), st.sampled_from(MALFORMED_IDS)),
    st.tuples(st.just("error_flag"), st.sampled_from(["True", "true", "1"])),
    st.tuples(st.just("missing_count"), st.sampled_from(COUNT_COLUMNS)),
    st.tuples(st.just("negative_count"),
              st.tuples(st.sampled_from(COUNT_COLUMNS), st.integers(-10**12, -1))),
    st.tuples(st.just("duplicate"), st.sampled_from(COUNT_COLUMNS)),
    st.tuples(st.just("text"),
              st.tuples(st.sampled_from(sorted(TEXT_COLUMNS) + ["thumbnail_link"]), FIELD_TEXT)),
    st.tuples(st.just("padded_count"), st.sampled_from(COUNT_COLUMNS)),
    st.tuples(st.just("huge_count"),
              st.tuples(st.sampled_from(COUNT_COLUMNS), st.integers(16, 40))),
)


def mutate(rows: list[dict[str, str]], edits: list[tuple[int, tuple]]) -> list[dict[str, str]]:
    rows = [dict(r) for r in rows]
    for pos, (kind, arg) in edits if rows else []:
        i = pos % len(rows)
        r = rows[i]
        if kind == "malformed_id":
            r["video_id"] = arg
        elif kind == "error_flag":
            r["video_error_or_removed"] = arg
        elif kind == "missing_count":
            r[arg] = ""
        elif kind == "negative_count":
            r[arg[0]] = str(arg[1])
        elif kind == "duplicate":
            copy = dict(r)
            copy[arg] = str(int(copy[arg]) + 1) if copy[arg].lstrip("-").isdigit() else copy[arg]
            rows.insert(i + 1, copy)
        elif kind == "text":
            r[arg[0]] = arg[1]
        elif kind == "padded_count":
            r[arg] = f"  {r[arg]} "
        elif kind == "huge_count":
            r[arg[0]] = "9" * arg[1]
    return rows


def expected_removals(rows: list[dict[str, str]]) -> tuple[dict[str, int], int]:
    """The cleaning rules of PROTOCOL section 2, re-implemented row by row."""
    removed = dict.fromkeys(CLEANING_RULES, 0)
    seen: set[tuple[str, str]] = set()
    kept = 0
    for r in rows:
        key = (r["video_id"].strip(), r["trending_date"].strip())
        counts = [r[c].strip() for c in COUNT_COLUMNS]
        if key in seen:
            removed["duplicate_video_date"] += 1
            continue
        seen.add(key)
        if not ID_RE.fullmatch(r["video_id"].strip()):
            removed["malformed_video_id"] += 1
        elif r["video_error_or_removed"].strip().lower() in ("true", "1"):
            removed["video_error_or_removed"] += 1
        elif any(c == "" for c in counts):
            removed["missing_count"] += 1
        elif any(int(c) < 0 for c in counts):
            removed["negative_count"] += 1
        else:
            kept += 1
    return removed, kept


def write_folder(folder: Path, country: str, data: bytes, suffix: str = "") -> Path:
    write_categories(folder / f"{country}_category_id.json")
    return write_bytes(folder / f"{country}videos.csv{suffix}", data)


def run_cli_json(folder: Path, country: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["data", "--data-dir", str(folder), "--country", country, "--json"])
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str, folder: Path) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("ytlstm: error: ")
    assert str(folder) in err and "Traceback" not in err


# --------------------------------------------------------------------------- properties

@SETTINGS
@given(base=base_rows(), edits=st.lists(st.tuples(st.integers(0, 10**6), MUTATION), max_size=8),
       shuffle=st.randoms(use_true_random=False), extra_column=st.booleans(),
       line_end=st.sampled_from(["\n", "\r\n"]), bom=st.booleans(),
       suffix=st.sampled_from(["", ".gz", ".xz", ".zip"]))
def test_row_corruption_is_accounted_exactly(base, edits, shuffle, extra_column, line_end, bom,
                                             suffix):
    country, rows = base
    rows = mutate(rows, edits)
    columns = list(COLUMNS) + (["extra"] if extra_column else [])
    shuffle.shuffle(columns)
    text = ("\ufeff" if bom else "") + csv_text(rows, columns, line_end=line_end)
    huge = any(len(r[c].strip()) > 15 for r in rows for c in COUNT_COLUMNS)
    removed, kept = expected_removals(rows) if not huge else (None, None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_folder(folder, country, text.encode("utf-8"), suffix)
        if not rows:                                   # every day was a gap
            with pytest.raises(DataError, match="has a header but no data rows"):
                load_dataset(folder, country)
            return
        if huge:
            with pytest.raises(DataError, match=r"data row \d+ \(line \d+\), column \w+: "
                                                r"number out of range"):
                load_dataset(folder, country)
            return
        if kept == 0:
            with pytest.raises(DataError, match=f"all {len(rows)} data rows were removed"):
                load_dataset(folder, country)
            return
        ds = load_dataset(folder, country)
    r = ds.report
    assert r.rows_in == len(rows)
    assert r.removed == removed
    assert r.rows_kept == kept == len(ds.frame)
    assert r.rows_in == r.rows_kept + sum(r.removed.values())
    s = ds.runs
    assert s.windows_possible == s.windows_before_row_removal - s.windows_lost_to_removed_rows
    assert s.windows_possible == int((ds.frame["day_in_run"] >= 7).sum())
    assert 0 <= s.windows_possible <= s.windows_before_row_removal
    # text fields survive exactly (the writer quoted them; commas, quotes, newlines included)
    assert set(ds.frame["title"]) <= {x["title"] for x in rows}
    assert set(ds.frame["description"]) <= {x["description"] for x in rows}


BYTE_EDITS = st.lists(st.tuples(
    st.sampled_from(["insert", "delete", "replace"]),
    st.floats(0, 1, exclude_max=True),
    st.sampled_from([b'"', b"\n", b"\r", b",", b";", b"'", b"\xff", b"\xc3", b"\xe9", b"\\",
                     b"-", b"7", b" ", b"\x1a", b"\xef\xbb\xbf"]),
), min_size=1, max_size=3)


def edit_bytes(data: bytes, edits) -> bytes:
    for kind, where, piece in edits:
        i = int(where * len(data))
        if kind == "insert":
            data = data[:i] + piece + data[i:]
        elif kind == "delete":
            data = data[:i] + data[i + 1:]
        else:
            data = data[:i] + piece + data[i + 1:]
    return data


@SETTINGS
@given(base=base_rows(), edits=BYTE_EDITS)
def test_byte_corruption_loads_accounted_or_exits_2(base, edits):
    country, rows = base
    data = edit_bytes(csv_text(rows).encode("utf-8"), edits)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_folder(folder, country, data)
        code, out, err = run_cli_json(folder, country)
    if code == 2:
        assert_one_line_error(code, err, folder)
        return
    assert code == 0 and err == ""
    report = json.loads(out)
    assert report["rows_in"] == len(rows), (edits, report)
    assert report["rows_in"] == report["rows_kept"] + sum(report["removed"].values())
    assert list(report["removed"]) == list(CLEANING_RULES)


@SETTINGS
@given(data=st.binary(max_size=3000), suffix=st.sampled_from(["", ".gz", ".xz", ".bz2", ".zip"]),
       raw_archive=st.booleans())
def test_arbitrary_bytes_never_crash(data, suffix, raw_archive):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_categories(folder / "US_category_id.json")
        path = folder / f"USvideos.csv{suffix}"
        if raw_archive:
            path.write_bytes(data)                     # not a valid archive, most likely
        else:
            write_bytes(path, data)
        code, out, err = run_cli_json(folder, "US")
    assert code == 2
    assert_one_line_error(code, err, folder)


@SETTINGS
@given(value=st.one_of(FIELD_TEXT, st.integers(-10**18, 10**18).map(str),
                       st.from_regex(r"\s*[+-]?[0-9]{1,20}\s*", fullmatch=True)),
       column=st.sampled_from(COUNT_COLUMNS))
def test_count_values_parse_exactly_or_raise(value, column):
    rows = make_rows(n_videos=1, days=2)
    rows[1][column] = value
    v = value.strip()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_folder(Path(tmp), "US", csv_text(rows).encode("utf-8"))
        if v and not re.fullmatch(r"[+-]?[0-9]+", v):
            with pytest.raises(DataError, match=f"data row 2 \\(line 3\\), column {column}: "
                                                "not a whole number"):
                read_videos(path)
            return
        if v and len(v.lstrip("+-")) > 15:
            with pytest.raises(DataError, match="number out of range"):
                read_videos(path)
            return
        df = read_videos(path)
    if v:
        assert df[column].iloc[1] == int(v)
    else:
        assert pd.isna(df[column].iloc[1])


@SETTINGS
@given(day=st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)), junk=FIELD_TEXT,
       use_junk=st.booleans())
def test_trending_dates_round_trip_or_raise(day, junk, use_junk):
    rows = make_rows(n_videos=1, days=2)
    value = junk if use_junk else day.strftime("%y.%d.%m")
    rows[1]["trending_date"] = value
    try:
        expected = dt.datetime.strptime(value.strip(), "%y.%d.%m")
    except ValueError:
        expected = None
    with tempfile.TemporaryDirectory() as tmp:
        path = write_folder(Path(tmp), "US", csv_text(rows).encode("utf-8"))
        try:
            df = read_videos(path)
        except DataError as e:
            assert "column trending_date" in str(e) and "%y.%d.%m" in str(e)
            assert expected is None, f"{value!r} is a valid %y.%d.%m date but was rejected"
            return
    assert expected is not None, f"{value!r} accepted as {df['date'].iloc[1]}"
    assert df["date"].iloc[1] == pd.Timestamp(expected)


@SETTINGS
@given(rows_seed=st.integers(0, 2**32 - 1), n_dups=st.integers(1, 5))
def test_duplicated_rows_anywhere_are_counted(rows_seed, n_dups):
    rows = make_rows(n_videos=3, days=9)
    rng = random.Random(rows_seed)
    copies = [dict(rng.choice(rows)) for _ in range(n_dups)]
    for c in copies:
        rows.insert(rng.randrange(len(rows) + 1), c)
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(Path(tmp), "US", csv_text(rows).encode("utf-8"))
        ds = load_dataset(tmp)
    assert ds.report.removed["duplicate_video_date"] == n_dups
    assert ds.report.rows_kept == 27 and ds.runs.windows_possible == 3 * 2

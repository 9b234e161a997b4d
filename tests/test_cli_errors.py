"""Bad input on the command line: exit status 2, one line on stderr naming the file, the
place and what was expected, never a traceback. Also ``ytlstm data --json`` on good input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from kaggle_files import COLUMNS, csv_text, make_rows, write_country, write_videos

# --------------------------------------------------------------------------- the cases
# Each case writes a country folder with one defect and names what the message must hold:
# the file (a path relative to the folder, or "" for the folder itself) and substrings.


def _rows_with(row: int, column: str, value: str) -> list[dict[str, str]]:
    rows = make_rows(n_videos=2, days=4)
    rows[row][column] = value
    return rows


def missing_folder(d: Path) -> None:
    pass  # nothing written


def missing_videos(d: Path) -> None:
    write_country(d).videos.unlink()


def missing_categories(d: Path) -> None:
    write_country(d).categories.unlink()


def malformed_category_json(d: Path) -> None:
    write_country(d).categories.write_text('{"kind": "x", "items": [{"id": "1",')


def category_json_without_items(d: Path) -> None:
    write_country(d).categories.write_text('{"kind": "x"}')


def empty_file(d: Path) -> None:
    write_country(d).videos.write_bytes(b"")


def header_only(d: Path) -> None:
    write_country(d).videos.write_text(",".join(COLUMNS) + "\n")


def missing_column(d: Path) -> None:
    write_country(d)
    write_videos(d / "USvideos.csv", make_rows(), [c for c in COLUMNS if c != "dislikes"])


def non_numeric_count(d: Path) -> None:
    write_country(d, rows=_rows_with(4, "views", "12k"))


def bad_trending_date(d: Path) -> None:
    write_country(d, rows=_rows_with(2, "trending_date", "2017-11-16"))


def bad_publish_time(d: Path) -> None:
    write_country(d, rows=_rows_with(6, "publish_time", "13/11/2017 17:13"))


def semicolon_delimiter(d: Path) -> None:
    write_country(d)
    write_videos(d / "USvideos.csv", make_rows(), delimiter=";")


def binary_garbage(d: Path) -> None:
    write_country(d).videos.write_bytes(bytes(range(256)) * 40)


def binary_garbage_without_nul(d: Path) -> None:
    write_country(d).videos.write_bytes(bytes(range(1, 256)) * 40)


def too_many_fields(d: Path) -> None:
    lines = csv_text(make_rows()).split("\n")
    lines[3] += ",surplus"
    write_country(d).videos.write_text("\n".join(lines))


def too_few_fields(d: Path) -> None:
    lines = csv_text(make_rows()).split("\n")
    lines[3] = lines[3].rsplit(",", 1)[0]
    write_country(d).videos.write_text("\n".join(lines))


def corrupt_gzip(d: Path) -> None:
    files = write_country(d, compression=".gz")
    files.videos.write_bytes(files.videos.read_bytes()[:40])


def duplicated_column(d: Path) -> None:
    write_country(d)
    write_videos(d / "USvideos.csv", make_rows(), list(COLUMNS) + ["views"])


CASES = {
    # name: (writer, file named in the message, substrings the message must hold)
    "missing folder": (missing_folder, "", ["data folder does not exist", "expected a folder"]),
    "missing videos file": (missing_videos, "USvideos.csv",
                            ["file not found", "expected one of USvideos.csv"]),
    "missing category file": (missing_categories, "US_category_id.json",
                              ["file not found", "expected the Kaggle category file"]),
    "malformed category JSON": (malformed_category_json, "US_category_id.json",
                                ["line 1 column", "malformed JSON", 'expected a JSON object']),
    "category JSON without items": (category_json_without_items, "US_category_id.json",
                                    ['no "items" list', "expected"]),
    "empty file": (empty_file, "USvideos.csv", ["file is empty", "expected a header line"]),
    "header only": (header_only, "USvideos.csv",
                    ["has a header but no data rows", "expected at least one data row"]),
    "missing column": (missing_column, "USvideos.csv",
                       ["line 1 (header)", "missing column(s) dislikes",
                        "expected the Kaggle columns"]),
    "duplicated column": (duplicated_column, "USvideos.csv",
                          ["line 1 (header)", "views appear more than once"]),
    "non-numeric count": (non_numeric_count, "USvideos.csv",
                          ["data row 5 (line 6), column views", "'12k'",
                           "expected a whole number"]),
    "unparseable trending_date": (bad_trending_date, "USvideos.csv",
                                  ["data row 3 (line 4), column trending_date", "'2017-11-16'",
                                   "expected a date like 17.14.11 (format %y.%d.%m)"]),
    "unparseable publish_time": (bad_publish_time, "USvideos.csv",
                                 ["data row 7 (line 8), column publish_time",
                                  "'13/11/2017 17:13'", "expected an ISO-8601 time"]),
    "semicolon delimiter": (semicolon_delimiter, "USvideos.csv",
                            ["line 1 (header)", "wrong delimiter",
                             "expected comma-separated columns"]),
    "binary garbage": (binary_garbage, "USvideos.csv",
                       ["binary data", "NUL byte at byte 1", "expected a comma-separated text"]),
    "binary garbage without NUL": (binary_garbage_without_nul, "USvideos.csv",
                                   ["does not look like text", "expected a UTF-8"]),
    "too many fields": (too_many_fields, "USvideos.csv",
                        ["data row 3 (line 4)", "has 17 fields", "expected 16"]),
    "too few fields": (too_few_fields, "USvideos.csv",
                       ["data row 3 (line 4)", "has 15 fields", "expected 16"]),
    "corrupt gzip": (corrupt_gzip, "USvideos.csv.gz",
                     ["cannot be decompressed", "expected a valid .gz archive"]),
}


def check_one_line_error(code: int, out: str, err: str, path: Path,
                         substrings: list[str]) -> None:
    assert code == 2, (code, out, err)
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert err.startswith("ytlstm: error: ")
    assert str(path) in err, f"{path} not named in {err!r}"
    for s in substrings:
        assert s in err, f"{s!r} not in {err!r}"


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exit_2_one_line(tmp_path, run_cli, name):
    writer, file, substrings = CASES[name]
    folder = tmp_path / "data"
    writer(folder)
    code, out, err = run_cli("data", "--data-dir", folder)
    check_one_line_error(code, out, err, folder / file if file else folder, substrings)


def _subprocess(*args: object, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "ytlstm", *map(str, args)], capture_output=True,
                          text=True, env=full_env, timeout=120)


@pytest.mark.parametrize("name", ["missing folder", "non-numeric count", "binary garbage",
                                  "too many fields"])
def test_bad_input_via_subprocess(tmp_path, name):
    writer, file, substrings = CASES[name]
    folder = tmp_path / "data"
    writer(folder)
    p = _subprocess("data", "--data-dir", folder)
    check_one_line_error(p.returncode, p.stdout, p.stderr, folder / file if file else folder,
                         substrings)


def test_data_dir_from_environment(tmp_path):
    folder = tmp_path / "nowhere"
    p = _subprocess("data", env={"YTLSTM_DATA_DIR": str(folder)})
    check_one_line_error(p.returncode, p.stdout, p.stderr, folder, ["data folder does not exist"])


# --------------------------------------------------------------------------- good input

def test_data_json(kaggle, run_cli):
    rows = make_rows(n_videos=3, days=10, duplicates=2)
    rows[4]["views"] = "-5"
    rows[7]["video_error_or_removed"] = "True"
    files = kaggle(rows=rows)
    code, out, err = run_cli("data", "--data-dir", files.folder, "--json")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert report["rows_in"] == 32
    assert report["removed"] == {"duplicate_video_date": 2, "malformed_video_id": 0,
                                 "video_error_or_removed": 1, "missing_count": 0,
                                 "negative_count": 1}
    assert report["rows_kept"] == 28
    assert report["rows_in"] == report["rows_kept"] + sum(report["removed"].values())
    assert report["country"] == "US"
    assert set(report["sha256"]) == {"USvideos.csv", "US_category_id.json"}
    runs = report["runs"]
    assert runs["windows_possible"] == (runs["windows_before_row_removal"]
                                        - runs["windows_lost_to_removed_rows"])


def test_data_json_via_subprocess_other_country(kaggle):
    files = kaggle("JP", n_videos=2, days=9, compression=".xz")
    p = _subprocess("data", "--data-dir", files.folder, "--country", "jp", "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["country"] == "JP" and report["rows_in"] == 18 == report["rows_kept"]
    assert report["file"].endswith("JPvideos.csv.xz")


def test_data_text_report(kaggle, run_cli):
    files = kaggle(n_videos=2, days=9, duplicates=1)
    code, out, err = run_cli("data", "--data-dir", files.folder)
    assert code == 0 and err == ""
    assert "duplicate_video_date" in out and "rows kept" in out
    assert "2 videos" in out and "usable windows" in out


# --------------------------------------------------------------------------- download

def test_download_if_missing_with_files_present(kaggle, run_cli):
    files = kaggle()
    code, out, err = run_cli("download", "--if-missing", "--data-dir", files.folder)
    assert code == 0 and err == ""
    assert str(files.folder) in out


def test_download_offline_is_one_line_exit_2(tmp_path, run_cli, monkeypatch):
    def fail(slug):
        raise ConnectionError("no network")

    monkeypatch.setitem(sys.modules, "kagglehub",
                        types.SimpleNamespace(dataset_download=fail))
    dest = tmp_path / "raw"
    code, out, err = run_cli("download", "--if-missing", "--data-dir", dest)
    assert code == 2 and "Traceback" not in err
    assert err.startswith("ytlstm: error: datasnaek/youtube-new: download failed")
    assert "ConnectionError: no network" in err and str(dest) in err
    assert err.count("\n") == 1

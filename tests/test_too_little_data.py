"""Too little data is a clear error (issue 12, item 1).

:func:`ytlstm.checks.require_enough_windows` (unit tests), and ``ytlstm run`` on synthetic
countries with no usable 7+1 window and with a dozen: exit 2, one line naming the country,
the file, the windows per part and the minimum, no traceback, nothing written.
"""

from __future__ import annotations

import pytest

from kaggle_files import make_rows, write_country
from ytlstm.checks import (MIN_WINDOWS_PER_PART, NotEnoughWindows, require_enough_windows,
                           require_windows)
from ytlstm.config import StudyConfig
from ytlstm.errors import DataError


def test_the_default_minimum_is_100_per_part():
    assert MIN_WINDOWS_PER_PART == 100 == StudyConfig().min_windows_per_part


def test_enough_windows_pass():
    require_enough_windows("US", "USvideos.csv", {"train": 100, "validation": 100, "test": 100},
                           100)
    require_enough_windows("US", None, {"train": 5, "validation": 1, "test": 2}, 1)


@pytest.mark.parametrize("counts", [
    {"train": 0, "validation": 0, "test": 0},
    {"train": 5000, "validation": 99, "test": 5000},
    {"train": 5000, "validation": 5000},                     # a missing part counts as 0
])
def test_too_few_in_any_part_is_a_one_line_data_error(counts):
    with pytest.raises(DataError) as e:
        require_enough_windows("jp", "data/raw/JPvideos.csv", counts, 100)
    msg = str(e.value)
    assert "\n" not in msg
    total = sum(counts.values())
    parts = " / ".join(f"{p} {counts.get(p, 0)}" for p in ("train", "validation", "test"))
    assert msg == (f"JP: data/raw/JPvideos.csv: {total} usable 7+1 windows ({parts}); "
                   "the study needs at least 100 per part")
    assert isinstance(e.value, NotEnoughWindows)
    assert e.value.country == "JP" and e.value.minimum == 100
    assert e.value.path == "data/raw/JPvideos.csv"


def test_the_message_names_another_split_and_window_length():
    with pytest.raises(NotEnoughWindows, match=r"^KR: f.csv: 3 usable 5\+1 windows in the video "
                                               r"split \(train 1 / validation 1 / test 1\)"):
        require_enough_windows("KR", "f.csv", {"train": 1, "validation": 1, "test": 1}, 2,
                               window=5, split="video")


def test_minimum_must_be_positive():
    with pytest.raises(ValueError):
        require_enough_windows("US", None, {}, 0)


def test_require_windows():
    require_windows(1, "training windows")
    with pytest.raises(DataError, match="^0 training windows in cluster 2; at least 1 needed"):
        require_windows(0, "training windows in cluster 2")


# --------------------------------------------------------------------------- the command line

def _few_windows_country(folder, country: str, n_long: int):
    """Many videos trending 3 to 7 days (no 7+1 window) over two months, and ``n_long``
    videos trending exactly 8 days (one usable window each), spread over the same period."""
    short = [3 + i % 5 for i in range(60)]
    days = short + [8] * n_long
    first = [i % 55 for i in range(60)] + [(7 * i) % 50 for i in range(n_long)]
    rows = make_rows(country, n_videos=len(days), days=days, first_day=first)
    return write_country(folder, country, rows=rows)


def _one_line(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ytlstm: error: "), err
    return lines[0]


@pytest.mark.parametrize("country,n_long", [("JP", 0), ("KR", 12)])
def test_run_with_too_few_windows_exits_2_with_one_line(tmp_path, run_cli, country, n_long):
    files = _few_windows_country(tmp_path / "data", country, n_long)
    out, models = tmp_path / "results", tmp_path / "models"
    code, _, err = run_cli("run", "--data-dir", files.folder, "--country", country, "--quiet",
                           "--cache-dir", tmp_path / "cache", "--out", out,
                           "--models-dir", models)
    line = _one_line(code, err)
    assert line.startswith(f"ytlstm: error: {country}: "), line
    assert files.videos.name in line
    assert f"{n_long} usable 7+1 windows (train " in line
    assert "/ validation " in line and "/ test " in line
    assert "the study needs at least 100 per part" in line
    assert not out.exists() and not models.exists(), "nothing is written for a refused run"

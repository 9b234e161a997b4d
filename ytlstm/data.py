"""Load, validate and clean one country of the Kaggle "Trending YouTube Video Statistics" data.

The entry point is :func:`load_dataset`. It finds ``XXvideos.csv`` (plain or compressed with
xz, gzip, bz2 or zip) and ``XX_category_id.json`` in a folder, parses and validates every
column, applies the cleaning rules of PROTOCOL.md section 2 with a :class:`CleaningReport`
that accounts for every row, and cuts each video's history into runs of consecutive
trending dates.

Fatal problems (a missing file or column, text or an out-of-range number where a count is
expected, a date that does not parse, a row with more or fewer fields than the header, a file
that is not a comma-separated text table) raise :class:`~ytlstm.errors.DataError` naming the
file, the row (``data row N (line L)``, L counting physical lines, since quoted fields may
span several) or column, and what was expected. Rows that are merely bad
(a duplicate, a malformed id, a negative count) are removed and counted.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import json
import lzma
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ytlstm.errors import DataError

#: Columns every country file has (the Kaggle files have exactly these 16).
REQUIRED_COLUMNS = (
    "video_id", "trending_date", "title", "channel_title", "category_id", "publish_time",
    "tags", "views", "likes", "dislikes", "comment_count", "thumbnail_link",
    "comments_disabled", "ratings_disabled", "video_error_or_removed", "description",
)
#: The counts that must be non-negative integers.
COUNT_COLUMNS = ("views", "likes", "dislikes", "comment_count")
BOOL_COLUMNS = ("comments_disabled", "ratings_disabled", "video_error_or_removed")
#: A YouTube video id: 11 characters from the URL-safe base64 alphabet.
VIDEO_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{11}$")
TRENDING_DATE_FORMAT = "%y.%d.%m"
#: Suffixes tried, in order, for ``XXvideos.csv``.
CSV_SUFFIXES = (".csv", ".csv.xz", ".csv.gz", ".csv.bz2", ".csv.zip")

#: The cleaning rules, in the order they are applied. A row is counted under the first
#: rule that removes it.
CLEANING_RULES = {
    "duplicate_video_date": "repeated (video_id, trending_date) row; the first is kept",
    "malformed_video_id": "video_id is not 11 characters of [A-Za-z0-9_-]",
    "video_error_or_removed": "row flagged video_error_or_removed",
    "missing_count": "views, likes, dislikes or comment_count is missing",
    "negative_count": "views, likes, dislikes or comment_count is negative",
}


# --------------------------------------------------------------------------- files

@dataclass(frozen=True)
class CountryFiles:
    """The two files of one country."""

    country: str
    videos: Path
    categories: Path


def find_country_files(data_dir: str | Path, country: str = "US") -> CountryFiles:
    """Locate ``{country}videos.csv[.xz|.gz|.bz2|.zip]`` and ``{country}_category_id.json``."""
    data_dir = Path(data_dir)
    country = country.upper()
    if not data_dir.exists():
        raise DataError(data_dir, "data folder does not exist",
                        expected=f"a folder holding {country}videos.csv and "
                                 f"{country}_category_id.json (run `ytlstm download`, or set "
                                 "--data-dir / YTLSTM_DATA_DIR)")
    if not data_dir.is_dir():
        raise DataError(data_dir, "is not a folder", expected="the data folder")
    videos = next((data_dir / f"{country}videos{s}" for s in CSV_SUFFIXES
                   if (data_dir / f"{country}videos{s}").is_file()), None)
    if videos is None:
        raise DataError(data_dir / f"{country}videos.csv", "file not found",
                        expected=f"one of {', '.join(country + 'videos' + s for s in CSV_SUFFIXES)} "
                                 "(run `ytlstm download`, or place the Kaggle files there)")
    categories = data_dir / f"{country}_category_id.json"
    if not categories.is_file():
        raise DataError(categories, "file not found",
                        expected=f"the Kaggle category file {country}_category_id.json beside "
                                 f"{videos.name}")
    return CountryFiles(country, videos, categories)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (as stored)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_bytes(path: Path) -> bytes:
    """The decompressed content of a (possibly compressed) file."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(path, f"cannot be read ({e.strerror})", expected="a readable file") from None
    name = path.name.lower()
    try:
        if name.endswith(".xz"):
            return lzma.decompress(raw)
        if name.endswith(".gz"):
            return gzip.decompress(raw)
        if name.endswith(".bz2"):
            return bz2.decompress(raw)
        if name.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                members = [m for m in z.namelist() if m.lower().endswith(".csv")]
                if len(members) != 1:
                    raise DataError(path, f"zip holds {len(members)} CSV files",
                                    expected="exactly one CSV file")
                return z.read(members[0])
    except (lzma.LZMAError, OSError, EOFError, zlib.error, zipfile.BadZipFile,
            NotImplementedError, RuntimeError) as e:
        raise DataError(path, f"cannot be decompressed ({e})",
                        expected=f"a valid {path.suffix} archive") from None
    return raw


# --------------------------------------------------------------------------- categories

def load_categories(path: str | Path) -> dict[int, str]:
    """Category id -> name from a Kaggle ``XX_category_id.json`` file."""
    path = Path(path)
    data = _read_bytes(path)
    if not data.strip():
        raise DataError(path, "file is empty", expected='a JSON object with an "items" list')
    try:
        obj = json.loads(data.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as e:
        raise DataError(path, f"malformed JSON ({e.msg})",
                        where=f"line {e.lineno} column {e.colno}",
                        expected='a JSON object with an "items" list') from None
    except RecursionError:
        raise DataError(path, "JSON nested too deeply",
                        expected='a JSON object with an "items" list') from None
    items = obj.get("items") if isinstance(obj, dict) else None
    if not isinstance(items, list):
        raise DataError(path, 'no "items" list', expected='a JSON object with an "items" list')
    out: dict[int, str] = {}
    for i, item in enumerate(items):
        try:
            out[int(item["id"])] = str(item["snippet"]["title"])
        except (KeyError, TypeError, ValueError):
            raise DataError(path, f"items[{i}] has no integer id and snippet.title",
                            expected='items like {"id": "1", "snippet": {"title": "Film & Animation"}}'
                            ) from None
    if not out:
        raise DataError(path, '"items" is empty', expected="at least one category")
    return out


# --------------------------------------------------------------------------- videos

#: A count or id as the Kaggle files write it: an optional sign and digits.
_INTEGER = r"[+-]?[0-9]+"
#: Counts and ids with more digits than this are out of range (2**53 ~ 9.0e15 is the largest
#: integer a float64 holds exactly; no video has 10**15 views).
MAX_DIGITS = 15
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def _show(value: object, limit: int = 40) -> str:
    """A short, single-line representation of a bad value for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...'"


def _decode(path: Path, data: bytes) -> str:
    """The text of a CSV file: UTF-8 (undecodable bytes replaced), or UTF-16 with a BOM."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass  # falls through to the binary check below
    if b"\x00" in data:
        i = data.index(b"\x00")
        raise DataError(path, f"holds binary data (a NUL byte at byte {i + 1}), not text",
                        expected="a comma-separated text file with the Kaggle columns")
    # Some country files of the dataset are not valid UTF-8 throughout; titles and
    # descriptions are not used by the models, so undecodable bytes are replaced.
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def _not_text(path: Path, text: str) -> DataError | None:
    """An error if the start of ``text`` is mostly undecodable bytes or control characters."""
    head = text[:65536]
    odd = sum(1 for ch in head if ch == "\ufffd" or (ch < " " and ch not in "\t\r\n"))
    if head and odd > 0.05 * len(head):
        return DataError(path, f"does not look like text ({odd} of the first {len(head)} "
                               "characters are undecodable or control characters)",
                         expected="a UTF-8 comma-separated text file with the Kaggle columns")
    return None


def _row_label(index: int, lines: list[int] | None = None) -> str:
    label = f"data row {index + 1}"
    if lines is not None and 0 <= index < len(lines):
        label += f" (line {lines[index]})"
    return label


def _split_records(path: Path, text: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, data records and the line each record starts on; checks the field counts.

    Blank lines are skipped (they are not records). Every record must have as many fields
    as the header: a row with more or fewer fields is an error, never padded or cut.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    previous_line = 0
    try:
        for rec in reader:
            first_line, previous_line = previous_line + 1, reader.line_num
            if not rec or (len(rec) == 1 and not rec[0].strip()):
                continue
            if header is None:
                header = [h.strip() for h in rec]
                try:
                    _check_header(path, header, first_line)
                except DataError as e:
                    # a file of binary garbage has no header either: say what it is
                    raise (_not_text(path, text) or e) from None
                continue
            if len(rec) != len(header):
                raise DataError(path, f"has {len(rec)} fields",
                                where=_row_label(len(records), lines + [first_line]),
                                expected=f"{len(header)} comma-separated fields like the header "
                                         "(a text field holding commas or quotes must be quoted)")
            records.append(rec)
            lines.append(first_line)
    except csv.Error as e:
        bad = _not_text(path, text)
        if bad is not None:
            raise bad from None
        raise DataError(path, f"not a valid CSV table ({e})", where=f"line {reader.line_num}",
                        expected="comma-separated rows with the same number of fields as the "
                                 "header") from None
    if header is None:
        raise DataError(path, "file is empty",
                        expected="a header line with the Kaggle columns and data rows")
    return header, records, lines


def _check_header(path: Path, header: list[str], line: int) -> None:
    where = f"line {line} (header)"
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        if len(header) == 1 and any(d in header[0] for d in ";\t|"):
            raise DataError(path, "header has a single column; wrong delimiter?", where=where,
                            expected="comma-separated columns "
                                     f"{', '.join(REQUIRED_COLUMNS)}")
        raise DataError(path, f"missing column(s) {', '.join(missing)}", where=where,
                        expected=f"the Kaggle columns {', '.join(REQUIRED_COLUMNS)}")
    repeated = sorted({c for c in REQUIRED_COLUMNS if header.count(c) > 1})
    if repeated:
        raise DataError(path, f"column(s) {', '.join(repeated)} appear more than once",
                        where=where, expected="each Kaggle column once")


def read_videos(path: str | Path) -> pd.DataFrame:
    """Read and validate one ``XXvideos.csv``; returns typed columns plus ``date``.

    Adds ``date`` (the trending date as a timestamp) and parses ``publish_time`` to UTC.
    Columns are found by name (any order; extra columns are ignored). Raises
    :class:`DataError` for anything that makes the file unusable.
    """
    path = Path(path)
    text = _decode(path, _read_bytes(path))
    if not text.strip():
        raise DataError(path, "file is empty",
                        expected="a header line with the Kaggle columns and data rows")
    header, records, lines = _split_records(path, text)
    if not records:
        raise DataError(path, "has a header but no data rows", expected="at least one data row")
    df = pd.DataFrame(records, columns=header, dtype=object)
    df = df[list(REQUIRED_COLUMNS)].astype(str)
    return _parse_columns(path, df, lines)


def _first_bad(mask: pd.Series) -> int:
    return int(np.flatnonzero(mask.to_numpy())[0])


def _integers(path: Path, raw: pd.Series, column: str, lines: list[int], *,
              missing_ok: bool) -> pd.Series:
    """Whole numbers (float64 so that a missing value is NaN); DataError on anything else."""
    s = raw.str.strip()
    missing = s.eq("")
    numeric = s.str.fullmatch(_INTEGER)
    bad = ~numeric & (~missing if missing_ok else True)
    if bad.any():
        i = _first_bad(bad)
        problem = (f"missing {column}" if missing.iloc[i]
                   else f"not a whole number: {_show(raw.iloc[i])}")
        raise DataError(path, problem, where=f"{_row_label(i, lines)}, column {column}",
                        expected="a whole number like 748374")
    big = ~missing & (s.str.len() > MAX_DIGITS)
    if big.any():
        big &= s.str.lstrip("+-").str.len() > MAX_DIGITS
    if big.any():
        i = _first_bad(big)
        raise DataError(path, f"number out of range: {_show(raw.iloc[i])}",
                        where=f"{_row_label(i, lines)}, column {column}",
                        expected=f"a whole number of at most {MAX_DIGITS} digits")
    return pd.to_numeric(s.where(~missing), errors="raise").astype("float64")


def _parse_columns(path: Path, df: pd.DataFrame, lines: list[int] | None = None) -> pd.DataFrame:
    lines = lines if lines is not None else list(range(2, len(df) + 2))
    out = pd.DataFrame(index=df.index)
    out["video_id"] = df["video_id"].str.strip()
    # trending_date: %y.%d.%m
    td = df["trending_date"].str.strip()
    date = pd.to_datetime(td, format=TRENDING_DATE_FORMAT, errors="coerce")
    if date.isna().any():
        i = _first_bad(date.isna())
        raise DataError(path, f"unparseable trending_date {_show(df['trending_date'].iloc[i])}",
                        where=f"{_row_label(i, lines)}, column trending_date",
                        expected="a date like 17.14.11 (format %y.%d.%m)")
    out["trending_date"] = td
    out["date"] = date
    pt = df["publish_time"].str.strip()
    publish = pd.to_datetime(pt, format="ISO8601", utc=True, errors="coerce")
    if publish.isna().any():
        i = _first_bad(publish.isna())
        raise DataError(path, f"unparseable publish_time {_show(df['publish_time'].iloc[i])}",
                        where=f"{_row_label(i, lines)}, column publish_time",
                        expected="an ISO-8601 time like 2017-11-13T17:13:01.000Z")
    out["publish_time"] = publish
    out["category_id"] = _integers(path, df["category_id"], "category_id", lines,
                                   missing_ok=False).astype("int64")
    for c in COUNT_COLUMNS:
        # float so that a missing count is NaN until cleaning removes the row
        out[c] = _integers(path, df[c], c, lines, missing_ok=True)
    for c in BOOL_COLUMNS:
        val = df[c].str.strip().str.lower().map(_BOOLEANS)
        if val.isna().any():
            i = _first_bad(val.isna())
            raise DataError(path, f"not a boolean: {_show(df[c].iloc[i])}",
                            where=f"{_row_label(i, lines)}, column {c}", expected="True or False")
        out[c] = val.astype(bool)
    for c in ("title", "channel_title", "tags", "description", "thumbnail_link"):
        out[c] = df[c]
    return out


# --------------------------------------------------------------------------- cleaning

@dataclass
class CleaningReport:
    """What cleaning did: rows in, rows kept, rows removed per rule (in rule order).

    ``rows_in == rows_kept + sum(removed.values())`` holds exactly. ``views_decreases``
    counts days on which views fell below the previous day's inside a run: those rows are
    kept (their other columns are valid) but no window that contains such a fall is used
    (see :mod:`ytlstm.windows`).
    """

    file: str
    rows_in: int
    rows_kept: int
    removed: dict[str, int]
    views_decreases: int = 0

    def check(self) -> None:
        if self.rows_in != self.rows_kept + sum(self.removed.values()):
            raise AssertionError(f"cleaning report does not add up: {self}")

    def table(self) -> pd.DataFrame:
        """One row per rule with its description and count, then the totals."""
        rows = [("rows in", "rows in the file", self.rows_in)]
        rows += [(r, CLEANING_RULES[r], n) for r, n in self.removed.items()]
        rows += [("rows kept", "rows used from here on", self.rows_kept),
                 ("views decreases (kept; windows excluded)",
                  "days on which views fell below the previous day's inside a run",
                  self.views_decreases)]
        return pd.DataFrame(rows, columns=["rule", "meaning", "rows"])

    def to_dict(self) -> dict:
        return {"file": self.file, "rows_in": self.rows_in, "rows_kept": self.rows_kept,
                "removed": dict(self.removed), "views_decreases": self.views_decreases}


def clean(df: pd.DataFrame, source: str = "") -> tuple[pd.DataFrame, CleaningReport]:
    """Apply :data:`CLEANING_RULES` in order; returns the kept rows and the report."""
    removed: dict[str, int] = {}
    keep = pd.Series(True, index=df.index)

    def apply(rule: str, bad: pd.Series) -> None:
        hit = keep & bad
        removed[rule] = int(hit.sum())
        keep.loc[hit] = False

    apply("duplicate_video_date", df.duplicated(["video_id", "date"], keep="first"))
    apply("malformed_video_id", ~df["video_id"].str.match(VIDEO_ID_PATTERN))
    apply("video_error_or_removed", df["video_error_or_removed"])
    counts = df[list(COUNT_COLUMNS)]
    apply("missing_count", counts.isna().any(axis=1))
    apply("negative_count", (counts < 0).any(axis=1))
    kept = df.loc[keep].copy()
    for c in COUNT_COLUMNS:
        kept[c] = kept[c].astype("int64")
    report = CleaningReport(file=source, rows_in=len(df), rows_kept=len(kept), removed=removed)
    report.check()
    return kept.reset_index(drop=True), report


# --------------------------------------------------------------------------- runs

def add_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Sort by video and date and cut each video into runs of consecutive trending dates.

    Adds ``run_id`` (0..n_runs-1), ``day_in_run`` (0-based), ``run_length`` and
    ``views_decrease`` (views below the previous day's inside the same run).
    """
    df = df.sort_values(["video_id", "date"], kind="mergesort").reset_index(drop=True)
    new_video = df["video_id"].ne(df["video_id"].shift())
    gap = df["date"].diff().dt.days.ne(1)
    starts = (new_video | gap).to_numpy()
    run_id = np.cumsum(starts) - 1
    df["run_id"] = run_id
    start_pos = np.flatnonzero(starts)
    df["day_in_run"] = np.arange(len(df)) - start_pos[run_id]
    df["run_length"] = np.bincount(run_id)[run_id]
    prev_views = df["views"].shift()
    df["views_decrease"] = (~starts) & (df["views"] < prev_views).to_numpy()
    return df


@dataclass
class RunSummary:
    """How long videos stay trending, and how many 7+1 windows that allows."""

    n_videos: int
    n_runs: int
    n_trending_dates: int
    first_date: str
    last_date: str
    run_length_counts: dict[int, int]           # run length -> number of runs
    videos_with_full_window: int                # videos with a run of >= window+1 days
    windows_possible: int                       # sum over runs of max(0, length - window)
    windows_with_decrease: int                  # of those, windows holding a views decrease
    window: int = 7
    windows_before_row_removal: int = 0         # windows after de-duplication only

    @property
    def windows_usable(self) -> int:
        return self.windows_possible - self.windows_with_decrease

    @property
    def windows_lost_to_removed_rows(self) -> int:
        """Windows that removed rows (errors, bad ids, bad counts) broke or emptied."""
        return self.windows_before_row_removal - self.windows_possible

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["run_length_counts"] = {int(k): int(v) for k, v in self.run_length_counts.items()}
        d["windows_usable"] = self.windows_usable
        d["windows_lost_to_removed_rows"] = self.windows_lost_to_removed_rows
        return d


def summarise_runs(df: pd.DataFrame, window: int = 7) -> RunSummary:
    """Summarise the runs of a frame produced by :func:`add_runs`."""
    lengths = df.groupby("run_id")["run_length"].first()
    run_video = df.groupby("run_id")["video_id"].first()
    full = lengths >= window + 1
    target = df["day_in_run"].to_numpy() >= window
    dec = df["views_decrease"].to_numpy()
    # a window ending at target row t uses the falls at rows t-window+1 .. t
    dec_in_window = pd.Series(dec.astype(int)).rolling(window, min_periods=1).sum().to_numpy() > 0
    return RunSummary(
        n_videos=int(df["video_id"].nunique()),
        n_runs=int(len(lengths)),
        n_trending_dates=int(df["date"].nunique()),
        first_date=str(df["date"].min().date()),
        last_date=str(df["date"].max().date()),
        run_length_counts={int(k): int(v) for k, v in lengths.value_counts().sort_index().items()},
        videos_with_full_window=int(run_video[full].nunique()),
        windows_possible=int(target.sum()),
        windows_with_decrease=int((target & dec_in_window).sum()),
        window=window,
    )


# --------------------------------------------------------------------------- all together

@dataclass
class Dataset:
    """One country's cleaned data with its provenance and reports."""

    country: str
    frame: pd.DataFrame
    categories: dict[int, str]
    report: CleaningReport
    runs: RunSummary
    files: dict[str, str] = field(default_factory=dict)     # role -> path
    sha256: dict[str, str] = field(default_factory=dict)    # file name -> hash of its bytes

    @property
    def data_hash(self) -> str:
        """One hash over the content of both files (used in cache keys)."""
        h = hashlib.sha256()
        for name in sorted(self.sha256):
            h.update(self.sha256[name].encode())
        return h.hexdigest()


def data_hash(files: CountryFiles) -> str:
    """The content hash of a country's two files, without parsing them."""
    h = hashlib.sha256()
    for p in sorted((files.videos, files.categories), key=lambda p: p.name):
        h.update(file_sha256(p).encode())
    return h.hexdigest()


def load_dataset(data_dir: str | Path, country: str = "US", window: int = 7) -> Dataset:
    """Find, read, validate and clean one country's files and cut the runs."""
    files = find_country_files(data_dir, country)
    categories = load_categories(files.categories)
    raw = read_videos(files.videos)
    frame, report = clean(raw, source=str(files.videos))
    if frame.empty:
        removed = ", ".join(f"{n} {rule}" for rule, n in report.removed.items() if n)
        raise DataError(files.videos, f"all {report.rows_in} data rows were removed by cleaning "
                                      f"({removed})", expected="at least one valid row")
    frame = add_runs(frame)
    frame["category"] = frame["category_id"].map(categories).fillna("Unknown")
    report.views_decreases = int(frame["views_decrease"].sum())
    runs = summarise_runs(frame, window)
    deduplicated = add_runs(raw.drop_duplicates(["video_id", "date"], keep="first"))
    runs.windows_before_row_removal = int((deduplicated["day_in_run"] >= window).sum())
    return Dataset(
        country=files.country, frame=frame, categories=categories, report=report, runs=runs,
        files={"videos": str(files.videos), "categories": str(files.categories)},
        sha256={files.videos.name: file_sha256(files.videos),
                files.categories.name: file_sha256(files.categories)},
    )

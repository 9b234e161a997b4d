"""Write small synthetic files in the exact format of the Kaggle "youtube-new" dataset.

``XXvideos.csv`` has the 16 Kaggle columns; ``trending_date`` is ``%y.%d.%m``,
``publish_time`` ISO-8601 like ``2017-11-13T17:13:01.000Z``, booleans are ``True``/``False``,
text columns are quoted and descriptions hold literal ``\\n`` sequences as in the real files.
``XX_category_id.json`` looks like the real one: ``{"kind": ..., "items": [{"id": "1",
"snippet": {"title": "Film & Animation", ...}}]}``.

Rows are dicts of strings (already formatted), so a test can corrupt any field before
writing. A suffix ``.xz``, ``.gz``, ``.bz2`` or ``.zip`` on the path compresses the output.

Typical use::

    files = write_country(tmp_path, "GB", n_videos=3, days=10, gaps=["2017-11-17"])
    load_dataset(files.folder, "GB")
"""

from __future__ import annotations

import base64
import bz2
import datetime as dt
import gzip
import hashlib
import json
import lzma
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

COLUMNS = (
    "video_id", "trending_date", "title", "channel_title", "category_id", "publish_time",
    "tags", "views", "likes", "dislikes", "comment_count", "thumbnail_link",
    "comments_disabled", "ratings_disabled", "video_error_or_removed", "description",
)
#: Columns the Kaggle files always quote.
TEXT_COLUMNS = frozenset({"title", "channel_title", "tags", "description"})

#: A few of the real category ids and names.
CATEGORIES = {
    1: "Film & Animation", 2: "Autos & Vehicles", 10: "Music", 17: "Sports",
    22: "People & Blogs", 24: "Entertainment", 25: "News & Politics", 28: "Science & Technology",
}

#: A word in each country's language, so titles are non-ASCII where the real ones are.
TITLE_WORDS = {
    "US": "video", "GB": "video", "CA": "vidéo", "DE": "Überraschung", "FR": "vidéo",
    "IN": "वीडियो", "JP": "動画の「タイトル」", "KR": "동영상", "MX": "canción", "RU": "видео",
}


def video_id(country: str, i: int) -> str:
    """A deterministic, valid 11-character YouTube id (URL-safe base64 alphabet)."""
    digest = hashlib.sha256(f"{country}:{i}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:11]


def trending_date(day: dt.date) -> str:
    """``%y.%d.%m``, as in the Kaggle files (2017-11-14 -> ``17.14.11``)."""
    return day.strftime("%y.%d.%m")


def publish_time(moment: dt.datetime) -> str:
    """ISO-8601 UTC with milliseconds, as in the Kaggle files."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _as_date(d: str | dt.date) -> dt.date:
    return d if isinstance(d, dt.date) else dt.date.fromisoformat(d)


def make_rows(country: str = "US", n_videos: int = 3, days: int | Sequence[int] = 10,
              start: str | dt.date = "2017-11-14", first_day: Sequence[int] | None = None,
              gaps: Iterable[str | dt.date] = (), duplicates: int = 0,
              newline_in_description: bool = False) -> list[dict[str, str]]:
    """Rows of a synthetic ``XXvideos.csv``, sorted by trending date like the real files.

    Video ``i`` trends on ``days[i]`` consecutive calendar days from ``start + first_day[i]``;
    no video has a row on a date in ``gaps`` (the collection missed that day), which cuts
    its run. Views, likes, dislikes and comments grow every day. ``duplicates`` copies of
    rows (every k-th row) are inserted right after their original. With
    ``newline_in_description`` descriptions also hold real line breaks (quoted).
    """
    start = _as_date(start)
    per_video = [days] * n_videos if isinstance(days, int) else list(days)
    offsets = list(first_day) if first_day is not None else [0] * n_videos
    if len(per_video) != n_videos or len(offsets) != n_videos:
        raise ValueError("days and first_day need one entry per video")
    missing = {_as_date(g) for g in gaps}
    word = TITLE_WORDS.get(country.upper(), "video")
    cats = sorted(CATEGORIES)
    rows = []
    for i in range(n_videos):
        vid = video_id(country, i)
        published = dt.datetime.combine(start + dt.timedelta(days=offsets[i] - 1 - i % 3),
                                        dt.time(17, 13, 1))
        base = 1000 * (i + 1)
        for t in range(per_video[i]):
            day = start + dt.timedelta(days=offsets[i] + t)
            if day in missing:
                continue
            views = base + 500 * (i + 1) * t + 37 * t * t
            description = f"Line one of {word} {i}\\nhttps://example.com/{vid}\\n\\nend"
            if newline_in_description:
                description += "\nsecond real line\r\nthird, with a comma"
            rows.append({
                "video_id": vid,
                "trending_date": trending_date(day),
                "title": f"{word} {i} \"quoted\", part {t}",
                "channel_title": f"{word} channel {i % 2}",
                "category_id": str(cats[i % len(cats)]),
                "publish_time": publish_time(published),
                "tags": f"{word}|\"tag {i}\"|test",
                "views": str(views),
                "likes": str(views // 20),
                "dislikes": str(views // 200),
                "comment_count": str(views // 100),
                "thumbnail_link": f"https://i.ytimg.com/vi/{vid}/default.jpg",
                "comments_disabled": "False",
                "ratings_disabled": "False",
                "video_error_or_removed": "False",
                "description": description,
                "_day": day.isoformat(),  # not written; lets the writer sort rows by date
            })
    rows.sort(key=lambda r: (r["_day"],))  # stable: video order within a date
    for r in rows:
        del r["_day"]
    if duplicates:
        step = max(1, len(rows) // duplicates)
        picked = list(range(0, len(rows), step))[:duplicates]
        for k in reversed(picked):
            rows.insert(k + 1, dict(rows[k]))
    return rows


def quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def format_field(column: str, value: str, delimiter: str = ",") -> str:
    """A field as the Kaggle files write it: text columns quoted, others bare unless needed."""
    if column in TEXT_COLUMNS or any(c in value for c in (delimiter, '"', "\n", "\r")):
        return quote(value)
    return value


def csv_text(rows: Sequence[dict[str, str]], columns: Sequence[str] = COLUMNS,
             delimiter: str = ",", line_end: str = "\n", header: bool = True) -> str:
    """The CSV text of ``rows`` with ``columns`` in the given order."""
    lines = [delimiter.join(columns)] if header else []
    for r in rows:
        lines.append(delimiter.join(format_field(c, r.get(c, ""), delimiter) for c in columns))
    return line_end.join(lines) + line_end


def compress(path: str | Path, data: bytes) -> bytes:
    """``data`` compressed as the suffix of ``path`` says (``.xz``, ``.gz``, ``.bz2``, ``.zip``)."""
    name = Path(path).name
    if name.endswith(".xz"):
        return lzma.compress(data)
    if name.endswith(".gz"):
        return gzip.compress(data, mtime=0)
    if name.endswith(".bz2"):
        return bz2.compress(data)
    if name.endswith(".zip"):
        import io

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(name[: -len(".zip")], data)
        return buf.getvalue()
    return data


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path``, compressed according to its suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(compress(path, data))
    return path


def write_videos(path: str | Path, rows: Sequence[dict[str, str]],
                 columns: Sequence[str] = COLUMNS, delimiter: str = ",",
                 encoding: str = "utf-8", line_end: str = "\n") -> Path:
    """Write an ``XXvideos.csv`` (compressed if the path ends in .xz/.gz/.bz2/.zip)."""
    text = csv_text(rows, columns, delimiter, line_end)
    return write_bytes(path, text.encode(encoding))


def categories_json(categories: dict[int, str] | None = None) -> str:
    """The text of an ``XX_category_id.json`` shaped like the real one."""
    categories = CATEGORIES if categories is None else categories
    items = [{
        "kind": "youtube#videoCategory",
        "etag": f"\"m2yskBQFythfE4irbTIeOgYYfBU/{cid:04d}\"",
        "id": str(cid),
        "snippet": {"channelId": "UCBR8-60-B28hp2BmDPdntcQ", "title": title,
                    "assignable": True},
    } for cid, title in categories.items()]
    obj = {"kind": "youtube#videoCategoryListResponse",
           "etag": "\"m2yskBQFythfE4irbTIeOgYYfBU/S730Ilt-Fi-emsQJvJAAShlR6hM\"",
           "items": items}
    return json.dumps(obj, indent=1, ensure_ascii=False)


def write_categories(path: str | Path, categories: dict[int, str] | None = None) -> Path:
    """Write an ``XX_category_id.json``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(categories_json(categories), encoding="utf-8")
    return path


@dataclass
class KaggleFiles:
    """The two files of one synthetic country, and the rows written."""

    folder: Path
    country: str
    videos: Path
    categories: Path
    rows: list[dict[str, str]] = field(default_factory=list)


def write_country(folder: str | Path, country: str = "US",
                  rows: Sequence[dict[str, str]] | None = None, compression: str = "",
                  columns: Sequence[str] = COLUMNS, **make_kw) -> KaggleFiles:
    """Write ``{country}videos.csv{compression}`` and ``{country}_category_id.json`` in ``folder``.

    ``rows`` defaults to :func:`make_rows` ``(country, **make_kw)``; ``compression`` is ``""``
    or one of ``.xz``, ``.gz``, ``.bz2``, ``.zip``.
    """
    folder = Path(folder)
    country = country.upper()
    rows = make_rows(country, **make_kw) if rows is None else list(rows)
    videos = write_videos(folder / f"{country}videos.csv{compression}", rows, columns)
    categories = write_categories(folder / f"{country}_category_id.json")
    return KaggleFiles(folder, country, videos, categories, list(rows))


def small_split(folder: str | Path, seed: int, n_videos: int = 40):
    """A small synthetic US country in ``folder``, loaded and cut into windows: returns
    ``(dataset, windows, train, validation)`` (the first chronological split's parts), for
    tests that fit a model or two."""
    import numpy as np

    from ytlstm.data import load_dataset
    from ytlstm.windows import chronological_split, make_windows

    rng = np.random.default_rng(seed)
    files = write_country(folder, "US", n_videos=n_videos,
                          days=rng.integers(8, 16, size=n_videos).tolist(),
                          first_day=rng.integers(0, 25, size=n_videos).tolist())
    ds = load_dataset(files.folder, "US")
    w = make_windows(ds.frame)
    split = chronological_split(w, ds.frame["date"].to_numpy())
    return ds, w, w.subset(split.mask("train")), w.subset(split.mask("validation"))

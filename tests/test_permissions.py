"""Results, caches and models are written with the user's normal permissions (issue 22, item 7).

Atomic writes go through :mod:`tempfile`, whose files are 0600 and folders 0700; renamed into
place, they would keep those modes, so the tables could not be shared or served. Checked under
two umasks: every file and folder ytlstm writes has the mode a plain ``open()`` or ``mkdir``
would give, and the atomic writes still replace files whole and leave no temporary behind.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ytlstm.baselines import Naive
from ytlstm.cache import ResultCache, atomic_write_bytes, atomic_write_text, current_umask
from ytlstm.saved import save_model


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _expected(tmp_path: Path) -> tuple[int, int]:
    """The modes of a file and a folder made the ordinary way, under the current umask."""
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "plain_dir").mkdir()
    return _mode(tmp_path / "plain.txt"), _mode(tmp_path / "plain_dir")


def test_current_umask_reads_the_umask(umask):
    assert current_umask() == umask
    assert current_umask() == umask, "reading it does not change it"


def test_tables_and_cache_entries_have_normal_permissions(tmp_path, umask):
    file_mode, _ = _expected(tmp_path)
    assert file_mode == 0o666 & ~umask
    table = tmp_path / "results" / "metrics.csv"
    atomic_write_text(table, "model,mae\nnaive,1\n")
    atomic_write_bytes(tmp_path / "results" / "predictions.csv.gz", b"\x1f\x8b")
    cache = ResultCache(tmp_path / "cache")
    cache.store("tuning", "k1", {"a": 1})
    for path in [table, tmp_path / "results" / "predictions.csv.gz", cache.path("tuning", "k1")]:
        assert _mode(path) == file_mode, f"{path.name}: {oct(_mode(path))}"
    # still atomic: a rewrite replaces the whole file, no temporary file is left behind
    atomic_write_text(table, "model,mae\n")
    assert table.read_text() == "model,mae\n" and _mode(table) == file_mode
    assert sorted(p.name for p in table.parent.iterdir()) == ["metrics.csv", "predictions.csv.gz"]
    assert cache.load("tuning", "k1") == {"a": 1}
    assert [p.name for p in cache.root.iterdir()] == [cache.path("tuning", "k1").name]


def test_model_folders_have_normal_permissions(tmp_path, umask):
    file_mode, dir_mode = _expected(tmp_path)
    assert dir_mode == 0o777 & ~umask
    folder = save_model(Naive(), tmp_path / "models" / "naive", data_hash="h")
    assert _mode(folder) == dir_mode
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files and all(_mode(p) == file_mode for p in files), \
        {p.name: oct(_mode(p)) for p in files}
    # replaced in place, atomically: the new folder has the same modes, nothing else is left
    folder = save_model(Naive(), folder, data_hash="h2")
    assert _mode(folder) == dir_mode
    assert [p.name for p in folder.parent.iterdir()] == ["naive"]

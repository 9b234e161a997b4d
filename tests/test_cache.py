"""The on-disk result cache: keys, hits, atomic writes, clear errors."""

from __future__ import annotations

import pickle

import pytest

from ytlstm import cache as cache_mod
from ytlstm.cache import ResultCache, atomic_write_text, make_key, module_hash
from ytlstm.errors import DataError


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package folder with two modules whose source the tests can change."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "alpha.py").write_text("x = 1\n")
    (pkg / "beta.py").write_text("y = 2\n")
    monkeypatch.setattr(cache_mod, "PACKAGE_DIR", pkg)
    return pkg


def test_make_key_is_stable_for_the_same_inputs(fake_package):
    k = make_key("stage", {"a": 1, "b": (2, 3)}, ("alpha", "beta"), ["up1"])
    assert k == make_key("stage", {"b": (2, 3), "a": 1}, ("beta", "alpha"), ["up1"])
    assert isinstance(k, str) and len(k) == 20


def test_make_key_changes_with_each_input(fake_package):
    base = make_key("stage", {"a": 1, "b": 2}, ("alpha",), ["up1"])
    assert make_key("stage", {"a": 1, "b": 3}, ("alpha",), ["up1"]) != base      # config value
    assert make_key("stage", {"a": 1, "b": 2, "c": 0}, ("alpha",), ["up1"]) != base
    assert make_key("other", {"a": 1, "b": 2}, ("alpha",), ["up1"]) != base      # stage name
    assert make_key("stage", {"a": 1, "b": 2}, ("alpha", "beta"), ["up1"]) != base  # modules
    assert make_key("stage", {"a": 1, "b": 2}, ("alpha",), ["up2"]) != base      # upstream key
    assert make_key("stage", {"a": 1, "b": 2}, ("alpha",), []) != base
    # a module's source changes -> the key changes; an unrelated module's does not matter
    (fake_package / "beta.py").write_text("y = 3\n")
    assert make_key("stage", {"a": 1, "b": 2}, ("alpha",), ["up1"]) == base
    (fake_package / "alpha.py").write_text("x = 2\n")
    assert make_key("stage", {"a": 1, "b": 2}, ("alpha",), ["up1"]) != base


def test_module_hash_of_the_real_package():
    assert module_hash("cache") == module_hash("cache")
    assert module_hash("cache") != module_hash("windows")
    assert len(module_hash("windows")) == 64


def test_get_or_compute_second_call_hits(tmp_path):
    cache = ResultCache(tmp_path / "c")
    calls = []

    def compute():
        calls.append(1)
        return {"value": [1, 2, 3]}

    assert cache.get_or_compute("s", "k1", compute) == {"value": [1, 2, 3]}
    assert cache.get_or_compute("s", "k1", compute) == {"value": [1, 2, 3]}
    assert len(calls) == 1
    assert cache.misses == ["s"] and cache.hits == ["s"]
    # a fresh cache object on the same folder (a rebuild) also hits
    again = ResultCache(tmp_path / "c")
    assert again.get_or_compute("s", "k1", compute) == {"value": [1, 2, 3]}
    assert len(calls) == 1 and again.hits == ["s"]
    # another key is another entry
    cache.get_or_compute("s", "k2", compute)
    assert len(calls) == 2
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["s-k1.pkl", "s-k2.pkl"]


def test_failing_compute_leaves_no_file(tmp_path):
    cache = ResultCache(tmp_path / "c")

    def boom():
        raise RuntimeError("training failed")

    with pytest.raises(RuntimeError, match="training failed"):
        cache.get_or_compute("s", "k", boom)
    assert not cache.path("s", "k").exists()
    assert not (tmp_path / "c").exists() or list((tmp_path / "c").iterdir()) == []
    assert cache.misses == [] and cache.hits == []


def test_a_value_that_cannot_be_written_leaves_no_partial_file(tmp_path):
    cache = ResultCache(tmp_path / "c")
    with pytest.raises(Exception):
        cache.get_or_compute("s", "k", lambda: {"f": lambda: 1})     # lambdas do not pickle
    assert list((tmp_path / "c").iterdir()) == []


def test_an_unreadable_entry_is_recomputed(tmp_path):
    cache = ResultCache(tmp_path / "c")
    cache.store("s", "k", list(range(1000)))
    p = cache.path("s", "k")
    p.write_bytes(p.read_bytes()[:20])                                  # truncated pickle
    assert cache.get_or_compute("s", "k", lambda: "fresh") == "fresh"
    assert cache.misses == ["s"]
    with open(p, "rb") as f:
        assert pickle.load(f) == "fresh"


def test_unwritable_cache_dir_gives_a_clear_data_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    cache = ResultCache(blocker / "cache")
    with pytest.raises(DataError) as info:
        cache.get_or_compute("s", "k", lambda: 1)
    msg = str(info.value)
    assert str(blocker / "cache") in msg
    assert "cannot write the result cache" in msg
    assert "expected a writable folder" in msg
    assert "\n" not in msg


def test_atomic_write_text(tmp_path):
    target = tmp_path / "out" / "metrics.csv"
    atomic_write_text(target, "a,b\n1,2\n")
    assert target.read_text() == "a,b\n1,2\n"
    atomic_write_text(target, "a,b\n3,4\n")
    assert target.read_text() == "a,b\n3,4\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["metrics.csv"]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="cannot write results"):
        atomic_write_text(blocker / "metrics.csv", "x")

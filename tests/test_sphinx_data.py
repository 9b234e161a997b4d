"""The book's Sphinx extension without the data, and the data behind a table (issue 22, items 6, 9).

Uses the throwaway Sphinx project of ``test_sphinx_ext`` (its ``project`` fixture and
``_build``): the package the fingerprint hashes is a temporary copy, so a test can edit it.

- Item 9: after an edit to ``ytlstm/``, a plain ``jupyter-book build .`` where the data folder
  is not found used to warn "cannot fingerprint" and render every chapter from the old
  execution cache. Now an unchanged package renders as before, a changed one stops the build
  with one line naming ``YTLSTM_DATA_DIR``.
- Item 6: ``{csv}`name``` in a caption links ``_data/name.csv`` relative to the page, and every
  CSV table is copied into the HTML output's ``_data/``.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import ytlstm.build
from test_sphinx_ext import _build, _cache_kept, project  # noqa: F401 - the fixture

DOCS = {"index", "chapter_a", "chapter_b"}


def _no_data(monkeypatch, tmp_path):
    empty = tmp_path / "nowhere"
    empty.mkdir()
    monkeypatch.setenv("YTLSTM_DATA_DIR", str(empty))      # the data folder is not found


def test_the_fingerprint_keeps_the_package_apart_from_the_data(project):
    fp = ytlstm.build.fingerprint(root=project["src"])
    assert ytlstm.build.code_part(fp) == ytlstm.build.code_fingerprint(root=project["src"])
    assert ytlstm.build.code_part("0123abcd") is None            # the older format
    assert ytlstm.build.code_part(None) is None


def test_without_data_an_unchanged_package_renders_as_before(project, monkeypatch, tmp_path):
    assert _build(project) == DOCS
    stamp = (project["out"].parent / ".ytlstm-fingerprint").read_text()
    _no_data(monkeypatch, tmp_path)
    assert _build(project) == set(), "the package did not change: nothing is re-read"
    assert _cache_kept(project)
    assert (project["out"].parent / ".ytlstm-fingerprint").read_text() == stamp


def test_without_data_an_edited_package_stops_the_build_with_one_line(project, monkeypatch,
                                                                      tmp_path):
    _build(project)
    page = project["out"] / "chapter_a.html"
    before = page.stat().st_mtime_ns
    _no_data(monkeypatch, tmp_path)
    (project["pkg"] / "evaluate.py").write_text(
        (project["pkg"] / "evaluate.py").read_text() + "\n# edited\n")
    with pytest.raises(SystemExit) as stop:
        _build(project)
    message = str(stop.value.code)
    assert "\n" not in message and message.startswith("ytlstm: the package")
    assert "data is not found" in message and "YTLSTM_DATA_DIR" in message
    assert page.stat().st_mtime_ns == before, "no page was written from the old results"
    assert _cache_kept(project), "nothing was executed or cleared"


def test_without_data_a_stamp_of_the_older_format_stops_the_build(project, monkeypatch,
                                                                  tmp_path):
    _build(project)
    (project["out"].parent / ".ytlstm-fingerprint").write_text("0123abcd\n")
    import shutil

    shutil.rmtree(project["out"].parent / ".doctrees")      # the stamp file is all there is
    _no_data(monkeypatch, tmp_path)
    with pytest.raises(SystemExit, match="YTLSTM_DATA_DIR"):
        _build(project)


def test_a_caption_links_its_table_and_the_table_is_copied(project):
    src = project["src"]
    results = src / "_build" / "results"
    results.mkdir(parents=True)
    (results / "metrics.csv").write_text("model,mae\nnaive,1.5\n")
    sub = src / "part"
    sub.mkdir()
    (sub / "chapter_c.rst").write_text(
        "chapter_c\n=========\n\n.. table:: Results. Data: :csv:`metrics`.\n\n"
        "   ===== ===\n   model mae\n   ===== ===\n   naive 1.5\n   ===== ===\n")
    (src / "index.rst").write_text((src / "index.rst").read_text() + "   part/chapter_c\n")
    _build(project)
    html = (project["out"] / "part" / "chapter_c.html").read_text()
    assert 'href="../_data/metrics.csv"' in html
    assert (project["out"] / "_data" / "metrics.csv").read_text() == "model,mae\nnaive,1.5\n"


def test_a_link_to_a_table_never_written_warns(project):
    from sphinx.application import Sphinx

    (project["src"] / "chapter_b.rst").write_text(
        "chapter_b\n=========\n\nData: :csv:`nowhere`.\n")
    warnings = io.StringIO()
    project["cache"].mkdir(parents=True, exist_ok=True)
    app = Sphinx(str(project["src"]), str(project["src"]), str(project["out"]),
                 str(project["out"].parent / ".doctrees"), "html", status=io.StringIO(),
                 warning=warnings)
    app.build()
    assert "no table nowhere.csv" in warnings.getvalue()


def test_data_table_writes_a_chapter_table_where_the_extension_finds_it(tmp_path, monkeypatch):
    import pandas as pd

    import ytlstm_sphinx
    from ytlstm import chapter

    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "ytlstm").mkdir()
    monkeypatch.chdir(tmp_path)
    df = pd.DataFrame({"step": ["a"], "windows": [3]})
    assert chapter.data_table("steps", df) is df
    found = ytlstm_sphinx.find_csv(tmp_path, "steps")
    assert found is not None and pd.read_csv(found).equals(df)
    assert Path(found).parent == tmp_path / chapter.TABLES

"""The book's Sphinx extension keeps a plain ``jupyter-book build .`` correct (issue 12, item 3).

A tiny throwaway Sphinx project loads ``tools/ytlstm_sphinx.py``; the package whose source the
fingerprint hashes is a temporary copy of ``ytlstm/`` (so a test can "edit the package").
Checked: an unchanged rebuild re-reads nothing and keeps the execution cache; after an edit to
the package every document is re-read and the execution cache is cleared; a fresh
environment trusts the recorded stamp; missing MathJax fails the build with `make mathjax`.
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pytest

import ytlstm
import ytlstm.build

TOOLS = Path(__file__).resolve().parents[1] / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import ytlstm_sphinx  # noqa: E402

DOCS = ("index", "chapter_a", "chapter_b")


@pytest.fixture
def project(tmp_path, kaggle, monkeypatch):
    files = kaggle("US", n_videos=2, days=9)
    kaggle("GB", n_videos=2, days=9)          # the book runs every one of BOOK_COUNTRIES
    monkeypatch.setenv("YTLSTM_DATA_DIR", str(files.folder))
    pkg = Path(shutil.copytree(Path(ytlstm.__file__).parent, tmp_path / "pkg",
                               ignore=shutil.ignore_patterns("__pycache__")))
    monkeypatch.setattr(ytlstm.build, "PACKAGE_DIR", pkg)
    src = tmp_path / "book"
    (src / "mathjax" / "_static").mkdir(parents=True)
    (src / "mathjax" / "_static" / "tex-mml-chtml.js").write_text("// stand-in\n")
    (src / "conf.py").write_text(
        "extensions = ['ytlstm_sphinx']\n"
        "html_extra_path = ['mathjax']\n"
        "mathjax_path = 'tex-mml-chtml.js'\n")
    (src / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   chapter_a\n   chapter_b\n")
    for name in DOCS[1:]:
        (src / f"{name}.rst").write_text(f"{name}\n{'=' * len(name)}\n\nText.\n")
    return {"src": src, "pkg": pkg, "out": tmp_path / "_build" / "html",
            "cache": tmp_path / "_build" / ".jupyter_cache"}


def _build(project) -> set[str]:
    """Build the project; returns the documents Sphinx read."""
    from sphinx.application import Sphinx

    project["cache"].mkdir(parents=True, exist_ok=True)       # stands for executed notebooks
    (project["cache"] / "global.db").write_text("cached outputs")
    read: set[str] = set()
    app = Sphinx(str(project["src"]), str(project["src"]), str(project["out"]),
                 str(project["out"].parent / ".doctrees"), "html", status=io.StringIO(),
                 warning=io.StringIO(), freshenv=False)
    app.connect("source-read", lambda app, docname, source: read.add(docname))
    app.build()
    assert app.statuscode == 0
    return read


def _cache_kept(project) -> bool:
    return (project["cache"] / "global.db").is_file()


def test_unchanged_rebuild_reads_nothing_and_an_edit_to_the_package_rereads_all(project):
    assert _build(project) == set(DOCS)
    stamp = project["out"].parent / ".ytlstm-fingerprint"
    assert stamp.read_text().strip() == ytlstm.build.fingerprint(root=project["src"])

    assert _build(project) == set(), "nothing changed: nothing is re-read"
    assert _cache_kept(project)

    # a reader edits the package: every chapter is re-read and re-executed
    (project["pkg"] / "evaluate.py").write_text(
        (project["pkg"] / "evaluate.py").read_text() + "\n# edited\n")
    calls = []
    orig = ytlstm.build.clear_execution_cache
    ytlstm.build.clear_execution_cache = lambda p: calls.append(Path(p)) or orig(p)
    try:
        assert _build(project) == set(DOCS)
    finally:
        ytlstm.build.clear_execution_cache = orig
    assert calls == [project["cache"]]
    assert stamp.read_text().strip() == ytlstm.build.fingerprint(root=project["src"])
    assert _build(project) == set()


def test_changed_data_rereads_all(project, kaggle, monkeypatch, tmp_path):
    _build(project)
    other = kaggle("US", n_videos=3, days=9)              # same folder, other content
    assert other.folder == Path(ytlstm.build.resolve_data_dir())
    assert _build(project) == set(DOCS)
    kaggle("GB", n_videos=3, days=9)                      # the replication's data changed too
    assert _build(project) == set(DOCS)


def test_fresh_environment_trusts_the_recorded_stamp(project):
    _build(project)
    shutil.rmtree(project["out"].parent / ".doctrees")
    assert _build(project) == set(DOCS)                  # a new environment reads everything
    assert _cache_kept(project), "the stamp matched: executed outputs are still valid"


def test_missing_mathjax_fails_the_build(project):
    from sphinx.application import Sphinx
    from sphinx.errors import SphinxError

    shutil.rmtree(project["src"] / "mathjax")
    (project["src"] / "mathjax").mkdir()
    with pytest.raises(SphinxError, match=r"MathJax is not installed.*run `make mathjax`"):
        Sphinx(str(project["src"]), str(project["src"]), str(project["out"]),
               str(project["out"].parent / ".doctrees"), "html", status=io.StringIO(),
               warning=io.StringIO())


def test_check_fingerprint_clears_only_when_changed(tmp_path, project):
    cache = tmp_path / "jc"
    cache.mkdir()
    (cache / "global.db").write_text("executed before")
    fp, changed = ytlstm.build.check_fingerprint(None, cache, say=lambda s: None)
    assert changed and not (cache / "global.db").exists()        # cleared, then marked
    assert (cache / ytlstm.build.CACHE_MARK).read_text().strip() == fp
    (cache / "global.db").write_text("executed for fp")
    assert ytlstm.build.check_fingerprint(fp, cache, say=lambda s: None) == (fp, False)
    assert (cache / "global.db").exists()
    assert ytlstm_sphinx.ENV_ATTR == "ytlstm_fingerprint"


def test_chapters_executed_for_this_fingerprint_are_kept(tmp_path, project):
    """`ytlstm book` clears the cache, executes the chapters side by side, then Sphinx starts:
    its check sees a build fingerprint that changed (re-read every chapter) but a cache
    marked with the current one, so the fresh executions stay."""
    cache = tmp_path / "jc"
    fp, _ = ytlstm.build.check_fingerprint("an older build", cache, say=lambda s: None)
    (cache / "global.db").write_text("executed side by side")
    assert ytlstm.build.check_fingerprint("an older build", cache,
                                          say=lambda s: None) == (fp, True)
    assert (cache / "global.db").read_text() == "executed side by side"

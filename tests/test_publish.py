"""`make publish`: the built book goes to the gh-pages branch of a git remote (issue 25, item 2).

tools/publish.py runs on a small fake ``_build/`` (never the real book) inside a throwaway git
project, against a local bare repository standing for the remote. Checked: the branch holds
exactly the pages plus ``.nojekyll`` (MathJax and the CSV files included, nothing else of
``_build/``); a second publication is a commit on top of the first, also from another clone
whose remote is called ``origin``; a tree without MathJax or with a link to a missing file is
refused with one line and exit 2, and nothing is pushed; the Makefile's target builds the
book, runs the static HTML checks, then this script.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import publish  # noqa: E402

PAGE = """<!DOCTYPE html><html><head>
<script src="_static/mathjax/tex-mml-chtml.js"></script>
<link rel="stylesheet" href="_static/book.css"></head><body>
<a href="book/data.html#provenance">Data</a> <a href="https://example.org/x">out</a>
<a href="#top">top</a> <a href="mailto:a@b.c">mail</a> <img src="data:image/png;base64,AA==">
</body></html>"""
CHAPTER = """<html><body><img src="../_images/fig.png" alt="A figure.">
<a href="../_data/metrics.csv">metrics.csv</a> <a href="../index.html">home</a></body></html>"""
HTML_FILES = {
    "index.html": PAGE,
    "book/data.html": CHAPTER,
    "_static/book.css": "body {}",
    "_static/mathjax/tex-mml-chtml.js": "// MathJax",
    "_static/mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff": "font",
    "_images/fig.png": "png",
    "_data/metrics.csv": "model,mae\nnaive,1\n",
    "_sources/book/data.md": "# Data",
    # a theme's template copied as a static file (pydata-sphinx-theme does): not a page
    "_static/webpack-macros.html": "<link href=\"{{ pathto('_static/x.css', 1) }}\">",
}
OTHER_BUILD = {            # the rest of _build/: never published
    "cache/tuning-abc.pkl": "pickle",
    "results/metrics.csv": "model,mae\n",
    ".jupyter_cache/global.db": "db",
    "mathjax/html/_static/mathjax/tex-mml-chtml.js": "// MathJax",
    ".doctrees/environment.pickle": "env",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


@pytest.fixture
def project(tmp_path, monkeypatch):
    for var in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{var}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{var}_EMAIL", "test@example.org")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("project\n")
    (repo / ".gitignore").write_text("_build/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "start")
    write(repo / "_build" / "html", HTML_FILES)
    write(repo / "_build", OTHER_BUILD)
    remote = tmp_path / "pages.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    return repo, remote


def published(remote: Path, branch: str = "gh-pages") -> set[str]:
    return set(git(remote, "ls-tree", "-r", "--name-only", branch).split())


def test_publish_pushes_exactly_the_pages(project):
    repo, remote = project
    n = publish.publish(repo / "_build" / "html", str(remote), repo=repo)
    assert n == len(HTML_FILES)
    files = published(remote)
    assert files == set(HTML_FILES) | {".nojekyll"}
    assert git(remote, "show", "gh-pages:.nojekyll") == ""
    assert git(remote, "show", "gh-pages:_data/metrics.csv") == HTML_FILES["_data/metrics.csv"]
    assert "_static/mathjax/tex-mml-chtml.js" in files
    assert not any(f.startswith(("cache/", "results/", ".jupyter_cache", ".doctrees", "mathjax/"))
                   for f in files)
    assert git(remote, "branch", "--list").split() == ["gh-pages"], "only gh-pages is pushed"
    head = git(repo, "rev-parse", "--short", "HEAD").strip()
    assert git(remote, "log", "-1", "--format=%s", "gh-pages").strip() == \
        f"Publish the book built from {head}"


def test_a_second_publication_goes_on_top_also_from_another_clone(project, tmp_path):
    repo, remote = project
    publish.publish(repo / "_build" / "html", str(remote), repo=repo)
    first = git(remote, "rev-parse", "gh-pages").strip()

    clone = tmp_path / "clone"                      # a clean clone whose origin is the remote
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "remote", "set-url", "origin", str(remote))
    changed = dict(HTML_FILES, **{"_data/metrics.csv": "model,mae\nnaive,2\n"})
    del changed["_sources/book/data.md"]
    write(clone / "_build" / "html", changed)
    publish.publish(clone / "_build" / "html", "origin", repo=clone)

    assert git(remote, "rev-parse", "gh-pages^").strip() == first, "one commit on top"
    assert published(remote) == set(changed) | {".nojekyll"}, "a removed page is removed"
    assert git(remote, "show", "gh-pages:_data/metrics.csv") == "model,mae\nnaive,2\n"


@pytest.mark.parametrize("broken, message", [
    ("_static/mathjax/tex-mml-chtml.js", r"tex-mml-chtml\.js is missing.*make mathjax"),
    ("_data/metrics.csv", r"1 links name no file of the book: book/data\.html: "
                          r"\.\./_data/metrics\.csv"),
    ("index.html", r"no index\.html; build the book first"),
])
def test_a_tree_not_fit_to_publish_is_refused(project, capsys, monkeypatch, broken, message):
    repo, remote = project
    (repo / "_build" / "html" / broken).unlink()
    monkeypatch.setattr(publish, "ROOT", repo)
    assert publish.main(["--remote", str(remote), "--html",
                         str(repo / "_build" / "html")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("publish: ")
    assert re.search(message, err), err
    assert git(remote, "branch", "--list") == "", "nothing was pushed"


def test_main_publishes_and_says_where(project, capsys, monkeypatch):
    repo, remote = project
    monkeypatch.setattr(publish, "ROOT", repo)
    assert publish.main(["--remote", str(remote), "--html", str(repo / "_build" / "html")]) == 0
    out = capsys.readouterr().out
    assert f"{len(HTML_FILES)} files" in out and str(remote) in out
    assert published(remote) == set(HTML_FILES) | {".nojekyll"}


def test_a_failed_push_is_one_line(project, capsys, monkeypatch, tmp_path):
    repo, _ = project
    monkeypatch.setattr(publish, "ROOT", repo)
    assert publish.main(["--remote", str(tmp_path / "no-such-remote.git"),
                         "--html", str(repo / "_build" / "html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("publish: pushing gh-pages to ") and "failed" in err


def test_local_links():
    page = Path("/site/book/data.html")
    assert publish.local_target(page, "https://x.org/a.csv") is None
    assert publish.local_target(page, "#sec") is None
    assert publish.local_target(page, "mailto:a@b") is None
    assert publish.local_target(page, "../_data/a%20b.csv?x=1#r") == Path("/site/book/../_data/a b.csv")
    assert publish.local_target(page, "sub/") == Path("/site/book/sub/index.html")


def test_make_publish_builds_checks_then_publishes():
    out = subprocess.run(["make", "-n", "publish", "REMOTE=/tmp/pages.git"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    book = next(i for i, s in enumerate(lines) if "-m ytlstm book" in s)
    check = next(i for i, s in enumerate(lines) if "-m pytest" in s and "-m book" in s)
    push = next(i for i, s in enumerate(lines) if "tools/publish.py" in s)
    assert book < check < push
    assert "--ignore=tests/test_browser.py" in lines[check]
    assert "--remote /tmp/pages.git" in lines[push].replace('"', "")

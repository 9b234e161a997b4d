"""Chapters executed side by side into Jupyter Book's cache (``ytlstm.execution``).

A throwaway book of three MyST notebook chapters (one that fails): two at a time, the two
good ones are executed and stored so that myst-nb's own lookup (``match_cache_notebook`` on
the notebook it reads) finds them with their outputs; the failing one is not stored (Jupyter
Book then runs it itself and reports its error); nothing is left to execute afterwards.
"""

from __future__ import annotations

import textwrap

import pytest

from ytlstm.execution import execute_chapters, missing_chapters, notebook_chapters

pytestmark = pytest.mark.slow

HEADER = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---
    """)


def _chapter(title: str, code: str) -> str:
    return HEADER + f"# {title}\n\nSome prose.\n\n```{{code-cell}} ipython3\n{code}\n```\n"


@pytest.fixture
def book(tmp_path):
    (tmp_path / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: cache\n  timeout: 120\n"
        "  allow_errors: false\nparse:\n  myst_enable_extensions: [dollarmath]\n")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/a\n  - file: book/bad\n"
        "  - file: book/plain\n")
    b = tmp_path / "book"
    b.mkdir()
    (b / "intro.md").write_text(_chapter("Intro", "import os\nprint('cwd', os.path.basename(os.getcwd()))"))
    (b / "a.md").write_text(_chapter("A", "print(6 * 7)"))
    (b / "bad.md").write_text(_chapter("Bad", "raise ValueError('on purpose')"))
    (b / "plain.md").write_text("# Not a notebook\n\nNo code.\n")
    return tmp_path


def test_chapters_execute_side_by_side_into_the_cache(book):
    from jupyter_cache import get_cache

    cache_dir = book / "_build" / ".jupyter_cache"
    names = [c.path.name for c in notebook_chapters(book)]
    assert names == ["intro.md", "a.md", "bad.md"]              # the plain page is no notebook
    todo = missing_chapters(book, cache_dir)
    assert [c.path.name for c in todo] == names
    lines = []
    done = execute_chapters(book, cache_dir, todo, jobs=2, say=lines.append)
    assert set(done) == {"intro.md", "a.md"}
    assert any("bad.md failed (" in s and "Jupyter Book runs it again" in s for s in lines)
    assert [c.path.name for c in missing_chapters(book, cache_dir)] == ["bad.md"]

    cache = get_cache(str(cache_dir))
    for ch in notebook_chapters(book):
        if ch.path.name == "bad.md":
            continue
        _, merged = cache.merge_match_into_notebook(ch.notebook)   # what myst-nb does
        outputs = [o for c in merged.cells if c.cell_type == "code" for o in c.outputs]
        text = "".join(o.get("text", "") for o in outputs)
        assert text == ("cwd book\n" if ch.path.name == "intro.md" else "42\n")


def test_one_chapter_or_one_job_is_left_to_jupyter_book(book):
    cache_dir = book / "_build" / ".jupyter_cache"
    todo = missing_chapters(book, cache_dir)
    assert execute_chapters(book, cache_dir, todo, jobs=1, say=lambda s: None) == {}
    assert execute_chapters(book, cache_dir, todo[:1], jobs=2, say=lambda s: None) == {}
    assert len(missing_chapters(book, cache_dir)) == 3

"""The book's two URL settings and "Cite this chapter" (issue 25 item 1, issue 22 item 5).

tools/ytlstm_cite.py reads CITATION.cff's ``repository-code`` and ``url``. Checked, with both
unset (as today) and set: the Sphinx settings they give (no repository at all, not Jupyter
Book's default one, while unset); a small Sphinx build with the book's theme (repository
button, edit and issue links, canonical links, the availability sentence, each chapter's
"Cite this chapter" with a copyable BibTeX block); every chapter of the real _toc.yml gets an
entry that a BibTeX parser (pybtex) reads back with the right fields; and, on the built book
(marker ``book``), every chapter page ends with its citation.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup
from pybtex.database import parse_string

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import ytlstm_cite as cite  # noqa: E402

REAL_CFF = yaml.safe_load((ROOT / "CITATION.cff").read_text())
REAL_TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
REPO = "https://github.com/someone/ytlstm"
BOOK = "https://someone.github.io/ytlstm"
UNSET = {k: v for k, v in REAL_CFF.items() if k not in ("repository-code", "url")}
SET = {**UNSET, "repository-code": REPO, "url": BOOK}
JB_DEFAULT_REPO = "https://github.com/executablebooks/jupyter-book"


def parse_one(entry: str):
    """The one entry of a BibTeX string, as pybtex reads it."""
    data = parse_string(entry, "bibtex")
    assert len(data.entries) == 1, entry
    return next(iter(data.entries.items()))


def title_of(docname: str) -> str:
    text = (ROOT / f"{docname}.md").read_text()
    return re.search(r"^# (.+)$", text, flags=re.M).group(1).strip()


# --------------------------------------------------------------------------- settings

@pytest.mark.parametrize("cff", [UNSET, {**UNSET, "repository-code": "", "url": " "},
                                 {**UNSET, "repository-code": None, "url": None}])
def test_unset_urls_give_no_repository_and_no_base_url(cff):
    assert cite.cff_urls(cff) == ("", "")
    s = cite.site_settings(cff)
    assert s["html_baseurl"] == ""
    assert s["html_theme_options"] == {"repository_url": "", "use_repository_button": False,
                                       "use_edit_page_button": False, "use_issues_button": False}
    assert cite.chapter_url(cff, "book/data") == ""


def test_set_urls_give_buttons_and_base_url():
    s = cite.site_settings(SET)
    assert s["html_baseurl"] == BOOK + "/"
    assert s["html_theme_options"] == {"repository_url": REPO, "use_repository_button": True,
                                       "use_edit_page_button": True, "use_issues_button": True}
    assert cite.chapter_url(SET, "book/data") == BOOK + "/book/data.html"


def test_a_host_the_theme_cannot_link_gets_no_buttons():
    s = cite.site_settings({**UNSET, "repository-code": "https://git.example.org/a/b"})
    assert s["html_theme_options"]["repository_url"] == ""
    assert not any(s["html_theme_options"][b] for b in cite.BUTTONS)


def test_the_repository_checkout_sets_no_url_by_hand():
    """The URLs live in CITATION.cff only: _config.yml names no repository URL."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert not config.get("repository", {}).get("url")
    assert not config.get("html", {}).get("baseurl")
    assert "ytlstm_cite" in config["sphinx"]["local_extensions"]


# --------------------------------------------------------------------------- chapter entries

CHAPTERS = cite.toc_chapters(REAL_TOC)


def test_toc_chapters_are_every_page_but_the_root():
    assert CHAPTERS[0] == "book/data" and "book/intro" not in CHAPTERS
    assert len(CHAPTERS) == sum(len(p["chapters"]) for p in REAL_TOC["parts"])


@pytest.mark.parametrize("cff", [UNSET, SET], ids=["unset", "set"])
@pytest.mark.parametrize("docname", CHAPTERS)
def test_every_chapter_entry_parses_with_the_right_fields(docname, cff):
    title = title_of(docname)
    key, entry = parse_one(cite.chapter_bibtex(cff, docname, title))
    assert entry.type == "incollection"
    assert key == "ytlstm2026" + re.sub(r"[^a-z0-9]", "", docname.split("/")[-1])
    f = entry.fields
    assert re.sub(r"[{}]", "", f["title"]) == title
    assert re.sub(r"[{}]", "", f["booktitle"]) == REAL_CFF["title"]
    assert f["year"] == str(REAL_CFF["date-released"])[:4]
    assert f["version"] == REAL_CFF["version"]
    # one author, an entity kept whole (braced, so no style splits it into first/last names)
    assert [str(p) for p in entry.persons["author"]] == ["{The ytlstm authors}"]
    if cff is SET:
        assert f["url"] == f"{BOOK}/{docname}.html"
    else:
        assert "url" not in f


def test_special_characters_in_a_title_are_escaped():
    _, entry = parse_one(cite.chapter_bibtex(UNSET, "book/x", "Views & likes: 50% of #1_a"))
    assert entry.fields["title"] == r"Views \& likes: 50\% of \#1\_a"


# --------------------------------------------------------------------------- a small build

@pytest.fixture(params=["unset", "set"])
def small_book(request, tmp_path):
    from sphinx.application import Sphinx

    cff = UNSET if request.param == "unset" else SET
    src = tmp_path / "src"
    src.mkdir()
    (src / "CITATION.cff").write_text(yaml.safe_dump(cff, sort_keys=False))
    (src / "_toc.yml").write_text(yaml.safe_dump(
        {"format": "jb-book", "root": "index",
         "parts": [{"caption": "Study", "chapters": [{"file": "chap_a"}, {"file": "chap_b"}]}]}))
    (src / "conf.py").write_text(
        f"import sys; sys.path.insert(0, {str(ROOT / 'tools')!r})\n"
        "extensions = ['sphinx_copybutton', 'ytlstm_cite']\n"
        "html_theme = 'sphinx_book_theme'\n"
        # what Jupyter Book 1.x passes when _config.yml names no repository URL
        f"html_theme_options = {{'repository_url': {JB_DEFAULT_REPO!r}, "
        "'repository_branch': 'main', 'path_to_docs': ''}\n")
    (src / "index.rst").write_text("The book\n========\n\n.. code-availability::\n\n"
                                   ".. toctree::\n\n   chap_a\n   chap_b\n")
    (src / "chap_a.rst").write_text("Data & views\n============\n\nText.\n\nPart\n----\n\nMore.\n")
    (src / "chap_b.rst").write_text("Methods\n=======\n\nText.\n")
    out = tmp_path / "html"
    app = Sphinx(str(src), str(src), str(out), str(tmp_path / "doctrees"), "html",
                 status=io.StringIO(), warning=io.StringIO())
    app.build()
    assert app.statuscode == 0
    pages = {n: BeautifulSoup((out / f"{n}.html").read_text(), "html.parser")
             for n in ("index", "chap_a", "chap_b")}
    return request.param, pages


def test_small_book_buttons_links_and_citations(small_book):
    case, pages = small_book
    for name, soup in pages.items():
        html = str(soup)
        assert JB_DEFAULT_REPO not in html, "never Jupyter Book's default repository"
        canonical = soup.find("link", rel="canonical")
        edit = [a["href"] for a in soup.find_all("a", href=True) if "/edit/" in a["href"]]
        issues = [a["href"] for a in soup.find_all("a", href=True) if "/issues/new" in a["href"]]
        repo_links = [a for a in soup.find_all("a", href=True) if a["href"] == REPO]
        if case == "set":
            assert canonical is not None and canonical["href"] == f"{BOOK}/{name}.html"
            assert edit == [f"{REPO}/edit/main/{name}.rst"]
            assert issues and all(i.startswith(REPO + "/issues/new") for i in issues)
            assert repo_links
        else:
            assert canonical is None and not edit and not issues and not repo_links
            assert "github.com" not in html and "github.io" not in html

    code = pages["index"].find(lambda t: t.name == "code" and t.get_text() == "make book")
    paragraph = code.find_parent("p")
    for a in paragraph.find_all("a"):        # the theme shortens GitHub links' text: use hrefs
        a.replace_with(a["href"])
    availability = " ".join(paragraph.get_text(" ").split()).replace("\u2019", "'")
    if case == "set":
        assert availability == (f"The code that computes every number in this book, and the "
                                f"book's sources, are in the repository {REPO} ; make book there "
                                f"reproduces everything (see its README). The book is published "
                                f"at {BOOK}/ .")
    else:
        assert availability == "To reproduce everything: make book (see the repository's README)."

    assert pages["index"].find(id="cite-this-chapter") is None, "the root has How to cite"
    for name, title in (("chap_a", "Data & views"), ("chap_b", "Methods")):
        section = pages[name].find("section", id="cite-this-chapter")
        assert section is not None and section.find("h2").get_text().startswith("Cite this chapter")
        top = pages[name].find("section")
        assert section in top.find_all("section") and top.find_all("section")[-1] is section, \
            "the last section of the chapter"
        text = " ".join(section.find("blockquote").get_text(" ").split())
        assert text.startswith(f"The ytlstm authors (2026). {title}. In Forecasting the popularity")
        assert (f"{BOOK}/{name}.html" in text) == (case == "set")
        block = section.select_one("div.highlight pre")       # sphinx-copybutton's selector
        assert block is not None, "the BibTeX is a highlighted code block (copy button)"
        key, entry = parse_one(block.get_text())
        assert key == f"ytlstm2026{name.replace('_', '')}"
        assert re.sub(r"[{}\\]", "", entry.fields["title"]) == title
        assert entry.fields.get("url") == (f"{BOOK}/{name}.html" if case == "set" else None)
        assert any("copybutton" in s.get("src", "") for s in pages[name].find_all("script")), \
            "sphinx-copybutton's script is on the page"


# --------------------------------------------------------------------------- the built book

HTML = ROOT / "_build" / "html"


@pytest.mark.book
@pytest.mark.parametrize("docname", CHAPTERS)
def test_built_chapters_end_with_their_citation(docname):
    page = HTML / f"{docname}.html"
    assert page.is_file(), f"{page} is missing: build the book first (make book)"
    soup = BeautifulSoup(page.read_text(), "html.parser")
    section = soup.find("section", id="cite-this-chapter")
    assert section is not None, f"{docname}: no 'Cite this chapter' section"
    key, entry = parse_one(section.select_one("div.highlight pre").get_text())
    assert re.sub(r"[{}\\]", "", entry.fields["title"]) == title_of(docname)
    assert re.sub(r"[{}]", "", entry.fields["booktitle"]) == REAL_CFF["title"]
    _, book = cite.cff_urls(REAL_CFF)
    assert entry.fields.get("url") == (f"{book}{docname}.html" if book else None)


def test_the_single_page_build_of_the_pdf_has_every_chapters_citation(tmp_path):
    """tools/pdf.py prints the singlehtml build: the citations are part of the read
    documents, so they are in it too."""
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    (src / "CITATION.cff").write_text(yaml.safe_dump(SET, sort_keys=False))
    (src / "_toc.yml").write_text(yaml.safe_dump(
        {"root": "index", "chapters": [{"file": "chap_a"}, {"file": "chap_b"}]}))
    (src / "conf.py").write_text(f"import sys; sys.path.insert(0, {str(ROOT / 'tools')!r})\n"
                                 "extensions = ['ytlstm_cite']\n")
    (src / "index.rst").write_text("Book\n====\n\n.. toctree::\n\n   chap_a\n   chap_b\n")
    for name in ("chap_a", "chap_b"):
        (src / f"{name}.rst").write_text(f"Title {name}\n=============\n\nText.\n")
    out = tmp_path / "single"
    app = Sphinx(str(src), str(src), str(out), str(tmp_path / "dt"), "singlehtml",
                 status=io.StringIO(), warning=io.StringIO())
    app.build()
    soup = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    blocks = [b.get_text() for b in soup.select("section.ytlstm-cite-chapter div.highlight pre")]
    assert [parse_one(b)[0] for b in blocks] == ["ytlstm2026chapa", "ytlstm2026chapb"]
    assert [parse_one(b)[1].fields["url"] for b in blocks] == \
        [f"{BOOK}/chap_a.html", f"{BOOK}/chap_b.html"], "the published pages, not the PDF's"

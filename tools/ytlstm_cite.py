"""Sphinx extension: the book's two URLs and its citations (``sphinx.local_extensions``).

- **One setting per URL.** ``CITATION.cff`` holds the repository's URL (``repository-code``)
  and the published book's (``url``); nothing else does (``_config.yml`` keeps only the
  branch). Jupyter Book 1.x reads ``_config.yml`` statically, so on ``config-inited``
  :func:`site_settings` turns the two into the theme's repository button, "edit this page"
  and "open an issue" links, and ``html_baseurl`` (canonical page links). An absent or empty
  setting leaves all of that out: the theme gets no repository at all (not Jupyter Book's
  default one), and no URL is ever made up.
- **Cite this chapter.** Every chapter listed in ``_toc.yml`` (the root page has the book's
  own "How to cite") ends with a "Cite this chapter" section: a text citation and a BibTeX
  ``@incollection`` entry (chapter title, book title, authors, version, year and the
  chapter's published URL when the book's URL is set), made from ``CITATION.cff`` and
  ``_toc.yml`` when the page is read, so no chapter file carries it. The entry is a code
  block, so sphinx-copybutton gives it a copy button; it is in the single-page (PDF) build
  too. Editing either file re-reads the pages.
- **Availability.** The ``{code-availability}`` directive says where the code is and where
  the book is published, from the same two settings (or only how to reproduce it, unset).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from ytlstm_a11y import _month, _person, _protect, _year, bibtex_key, read_cff

logger = logging.getLogger(__name__)

CFF = "CITATION.cff"
TOC = "_toc.yml"
#: hosts sphinx-book-theme makes repository and edit links for
PROVIDERS = ("github", "gitlab", "bitbucket")
BUTTONS = ("use_repository_button", "use_edit_page_button", "use_issues_button")


# --------------------------------------------------------------------------- the two URLs

def cff_urls(cff: dict) -> tuple[str, str]:
    """(repository URL, published book URL) from CITATION.cff; ``""`` when a setting is
    absent or empty. The book's URL ends with ``/``."""
    repo = str(cff.get("repository-code") or "").strip()
    book = str(cff.get("url") or "").strip()
    return repo, (book.rstrip("/") + "/" if book else "")


def site_settings(cff: dict) -> dict:
    """The Sphinx settings the two URLs give: ``html_baseurl`` and the theme options of the
    repository button and links (all off, and no repository, while it is unset)."""
    repo, book = cff_urls(cff)
    host = urlsplit(repo).netloc.lower()
    known = bool(repo) and any(p in host for p in PROVIDERS)
    if repo and not known:
        logger.warning("%s: repository-code %r is not on GitHub, GitLab or Bitbucket, the hosts "
                       "the book's theme makes links for: no repository button", CFF, repo)
    theme = {"repository_url": repo if known else ""}
    theme.update({b: known for b in BUTTONS})
    return {"html_baseurl": book, "html_theme_options": theme}


def chapter_url(cff: dict, docname: str) -> str:
    """The chapter's page in the published book, or ``""`` while its URL is unset."""
    _, book = cff_urls(cff)
    return f"{book}{docname}.html" if book else ""


def _cff_of(app: Sphinx) -> dict:
    path = Path(app.confdir, CFF)
    try:
        return read_cff(path) or {}
    except (OSError, ValueError) as err:
        logger.warning("cannot read %s (%s): the book has no repository, URL or chapter "
                       "citations", path, err)
        return {}


def _apply_settings(app: Sphinx, config: Config) -> None:
    settings = site_settings(_cff_of(app))
    config.html_baseurl = settings["html_baseurl"]
    options = dict(config.html_theme_options or {})
    options.update(settings["html_theme_options"])
    config.html_theme_options = options


# --------------------------------------------------------------------------- cite a chapter

def toc_chapters(toc: dict) -> list[str]:
    """The documents of ``_toc.yml`` other than the root, in order (without suffix)."""
    found: list[str] = []

    def walk(entries) -> None:
        for entry in entries or []:
            if isinstance(entry, dict):
                if entry.get("file"):
                    found.append(re.sub(r"\.(md|ipynb|rst)$", "", str(entry["file"])))
                for key in ("parts", "chapters", "sections"):
                    walk(entry.get(key))

    for key in ("parts", "chapters", "sections"):
        walk(toc.get(key))
    return found


def _latex(text: str) -> str:
    """BibTeX-safe text: LaTeX's special characters escaped."""
    return re.sub(r"([&%$#_])", r"\\\1", text)


def chapter_bibtex(cff: dict, docname: str, title: str) -> str:
    """A BibTeX ``@incollection`` entry for one chapter of the book described by ``cff``."""
    key = bibtex_key(cff) + re.sub(r"[^a-z0-9]", "", docname.rsplit("/", 1)[-1].lower())
    version = str(cff.get("version", "") or "")
    fields = [("author", " and ".join(_person(a)[1] for a in cff.get("authors", []))),
              ("title", _protect(_latex(title))),
              ("booktitle", _protect(_latex(str(cff.get("title", ""))))),
              ("year", _year(cff)), ("month", _month(cff)),
              ("version", version),
              ("doi", str(cff.get("doi", "") or "")),
              ("url", chapter_url(cff, docname)),
              ("note", f"Version {version}" if version else "")]
    body = ",\n".join(f"  {k:<9} = {v}" if k == "month" else f"  {k:<9} = {{{v}}}"
                      for k, v in fields if v)
    return f"@incollection{{{key},\n{body}\n}}"


def chapter_citation(cff: dict, docname: str, title: str) -> list[nodes.Node]:
    """'Authors (year). Chapter. In *Book*, version V. URL' as inline nodes."""
    names = [_person(a)[0] for a in cff.get("authors", [])]
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    out: list[nodes.Node] = [nodes.Text(f"{who} ({_year(cff)}). {title.rstrip('.')}. In "),
                             nodes.emphasis(text=str(cff.get("title", "")).rstrip("."))]
    out.append(nodes.Text(f", version {cff['version']}." if cff.get("version") else "."))
    url = chapter_url(cff, docname)
    if url:
        out += [nodes.Text(" "), nodes.reference(url, url, refuri=url)]
    return out


class ChapterCitations(SphinxTransform):
    """Append "Cite this chapter" to every chapter of ``_toc.yml`` (at read time, so the
    section is in the page's table of contents)."""

    default_priority = 500

    def apply(self, **kwargs) -> None:
        docname = self.env.docname
        confdir = Path(self.app.confdir)
        toc_path = confdir / TOC
        if not toc_path.is_file():
            return
        self.env.note_dependency(str(toc_path))
        self.env.note_dependency(str(confdir / CFF))
        if docname not in toc_chapters(read_cff(toc_path) or {}):
            return
        top = self.document.next_node(nodes.section)
        cff = _cff_of(self.app)
        if top is None or not cff:
            return
        title = " ".join(top[0].astext().split()) if isinstance(top[0], nodes.title) else ""
        top += citation_section(cff, docname, title, self.document)


def citation_section(cff: dict, docname: str, title: str,
                     document: nodes.document | None = None) -> nodes.section:
    """The "Cite this chapter" section: a text citation, then the BibTeX in a code block."""
    section = nodes.section("", nodes.title("", "Cite this chapter"),
                            names=["cite this chapter"], classes=["ytlstm-cite-chapter"])
    if document is not None:
        document.note_implicit_target(section, section)
    quote = nodes.block_quote("", nodes.paragraph("", "", *chapter_citation(cff, docname, title)))
    quote["classes"].append("ytlstm-citation")
    code = chapter_bibtex(cff, docname, title)
    block = nodes.literal_block(code, code, language="bibtex")
    block["classes"].append("ytlstm-bibtex")
    label = nodes.paragraph("", "BibTeX of this chapter (the button at the top right of the box "
                            "copies it):")
    section += [quote, label, block]
    return section


# --------------------------------------------------------------------------- availability

def availability(cff: dict) -> list[nodes.Node]:
    """Where the code is and where the book is published (inline nodes), from the URLs."""
    repo, book = cff_urls(cff)
    make = nodes.literal(text="make book")
    if repo:
        out: list[nodes.Node] = [
            nodes.Text("The code that computes every number in this book, and the book's "
                       "sources, are in the repository "),
            nodes.reference(repo, repo, refuri=repo), nodes.Text("; "), make,
            nodes.Text(" there reproduces everything (see its README).")]
    else:
        out = [nodes.Text("To reproduce everything: "), make,
               nodes.Text(" (see the repository's README).")]
    if book:
        out += [nodes.Text(" The book is published at "), nodes.reference(book, book, refuri=book),
                nodes.Text(".")]
    return out


class CodeAvailability(SphinxDirective):
    """``{code-availability}``: one paragraph from CITATION.cff's two URLs."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(Path(self.env.app.confdir, CFF)))
        return [nodes.paragraph("", "", *availability(_cff_of(self.env.app)))]


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _apply_settings)
    app.add_transform(ChapterCitations)
    app.add_directive("code-availability", CodeAvailability)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

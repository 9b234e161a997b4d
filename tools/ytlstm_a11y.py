"""Sphinx extension: the book for every reader (``sphinx.local_extensions`` in _config.yml).

- **Alt text.** Every chapter's setup calls ``ytlstm.alt.install()`` (through
  ``ytlstm.chapter.setup()``), which makes a sentence describing the figure (or styled
  table) its ``text/plain`` output. myst-nb keeps all of an output's mime types in the doctree
  until its ``SelectMimeType`` post-transform picks one per builder; :class:`TextAlternatives`
  runs just before and copies that sentence into the ``alt`` of the output's images.
  A figure without such a sentence (its ``text/plain`` is Matplotlib's default
  ``<Figure size ...>``) gets a warning, so a strict build fails instead of publishing an
  image whose alt text is its file name.
- **Scrollable tables.** An HTML table output (the chapters' glued pandas tables) is wrapped
  in a box that scrolls sideways on its own and can be reached by keyboard: ``tabindex="0"``,
  ``role="region"`` and an ``aria-label`` (the table's description, titled by its caption).
- **How to cite.** The ``{cff-citation}`` directive renders the text citation and BibTeX
  entries (the book's, then each reference, e.g. the dataset) from ``CITATION.cff``, the one
  source of truth; the page is rebuilt when the file changes.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: text/plain of an output nobody described (Matplotlib's / pandas' default reprs)
DEFAULT_REPR = re.compile(r"^<(?:Figure size|Figure\b|matplotlib\.|pandas\.|IPython\.)")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
SCROLL_CLASS = "ytlstm-scroll"


# --------------------------------------------------------------------------- alt text

def _mime_children(bundle: nodes.Element) -> dict[str, nodes.Element]:
    return {c.get("mime_type"): c for c in bundle.children if isinstance(c, nodes.Element)}


def _description(plain: nodes.Element | None) -> str | None:
    """The sentence in a ``text/plain`` output, or None for a default repr or a text table."""
    if plain is None:
        return None
    text = plain.astext().strip()
    if text.startswith(("'", '"')) and text.endswith(text[0]):
        text = text[1:-1]
    if not text or DEFAULT_REPR.match(text) or "\n" in text:
        return None
    return " ".join(text.split())


def _caption(node: nodes.Element) -> str:
    """The caption of the figure (or glued table) around ``node``, if any."""
    parent = node.parent
    while parent is not None and not isinstance(parent, nodes.figure):
        parent = parent.parent
    if parent is None:
        return ""
    caption = next((c for c in parent.children if isinstance(c, nodes.caption)), None)
    return " ".join(caption.astext().split()) if caption is not None else ""


def _short(caption: str, limit: int = 90) -> str:
    """A caption's first sentence, for a title."""
    first = re.split(r"(?<=[a-z0-9)])\.\s", caption, maxsplit=1)[0].rstrip(".")
    return first if len(first) <= limit else first[:limit].rsplit(" ", 1)[0] + "..."


class TextAlternatives(SphinxPostTransform):
    """Alt text for images and a labelled, focusable scroll box for tables, from the outputs'
    ``text/plain`` (see :mod:`ytlstm.alt`). Runs before myst-nb's ``SelectMimeType`` (4)."""

    default_priority = 3

    def run(self, **kwargs) -> None:
        for bundle in list(self.document.findall(
                lambda n: isinstance(n, nodes.container) and n.get("nb_element") == "mime_bundle")):
            mimes = _mime_children(bundle)
            text = _description(mimes.get("text/plain"))
            for mime in IMAGE_TYPES:
                if mime in mimes:
                    self._images(mimes[mime], text)
            if "text/html" in mimes:
                self._tables(mimes["text/html"], text)

    def _images(self, container: nodes.Element, text: str | None) -> None:
        for image in container.findall(nodes.image):
            if image.get("alt") and image["alt"] != image.get("uri"):
                continue                 # set in the cell's metadata: the author's choice wins
            if text:
                image["alt"] = text
            else:
                logger.warning(
                    "a figure without a text alternative (its alt text would be its file "
                    "name): ytlstm.alt.install() must run in the chapter's kernel before the "
                    "figure is shown (ytlstm.chapter.setup() calls it)",
                    type="ytlstm", subtype="alt", location=image)

    def _tables(self, container: nodes.Element, text: str | None) -> None:
        for raw in list(container.findall(nodes.raw)):
            if "html" not in raw.get("format", "").split() or "<table" not in raw.astext():
                continue
            caption = _short(_caption(raw))
            if text and caption and text.startswith("Table:"):
                label = f"Table “{caption}”:" + text[len("Table:"):]
            else:
                label = text or (f"Table: {caption}" if caption else "Table")
            classes = " ".join([*raw.get("classes", []), SCROLL_CLASS])
            wrapped = (f'<div class="{html.escape(classes)}" tabindex="0" role="region" '
                       f'aria-label="{html.escape(label, quote=True)}">\n{raw.astext()}\n</div>')
            raw.replace_self(nodes.raw("", wrapped, format=raw["format"]))


# --------------------------------------------------------------------------- citation

def _person(author: dict) -> tuple[str, str]:
    """(display name, BibTeX name) of a CFF person or entity."""
    if "name" in author:                                   # an entity: keep it whole
        return author["name"], "{" + author["name"] + "}"
    given = " ".join(filter(None, [author.get("given-names"), author.get("name-particle")]))
    family = author.get("family-names", "")
    suffix = author.get("name-suffix")
    display = " ".join(filter(None, [given, family, suffix]))
    bib = ", ".join(filter(None, [family, suffix, given]))
    return display, bib


def _year(work: dict) -> str:
    if work.get("year"):
        return str(work["year"])
    date = work.get("date-released") or work.get("date-published")
    return str(date)[:4] if date else ""


def _month(work: dict) -> str:
    date = str(work.get("date-released") or "")
    months = "jan feb mar apr may jun jul aug sep oct nov dec".split()
    return months[int(date[5:7]) - 1] if re.match(r"\d{4}-\d{2}", date) else ""


def _protect(title: str) -> str:
    """Brace words with capitals after the first letter, so BibTeX styles keep them."""
    return re.sub(r"\b(\w*[A-Z]\w*)\b",
                  lambda m: m.group(1) if m.start() == 0 and m.group(1)[1:].islower()
                  else "{" + m.group(1) + "}", title)


def _url(work: dict) -> str:
    for key in ("url", "repository-code", "repository"):
        if work.get(key):
            return str(work[key])
    for ident in work.get("identifiers", []) or []:
        if ident.get("type") in ("url", "doi"):
            v = str(ident["value"])
            return v if ident["type"] == "url" else f"https://doi.org/{v}"
    return ""


def bibtex_key(work: dict) -> str:
    """e.g. 'ytlstm2026' for 'The ytlstm authors' (2026), 'mitchell2019' for 'Mitchell J'."""
    first = (work.get("authors") or [{}])[0]
    name = first.get("family-names") or first.get("name") or "anonymous"
    words = [w for w in re.findall(r"[A-Za-z0-9]+", name) if w.lower() not in ("the", "a", "an")]
    return (words[0].lower() if words else "anonymous") + _year(work)


def bibtex_entry(work: dict, key: str | None = None) -> str:
    """A BibTeX @misc entry for a CFF work (the citation itself or one of its references)."""
    fields = [("author", " and ".join(_person(a)[1] for a in work.get("authors", []))),
              ("title", _protect(str(work.get("title", "")))),
              ("year", _year(work)), ("month", _month(work)),
              ("version", str(work.get("version", "") or "")),
              ("doi", str(work.get("doi", "") or "")),
              ("url", _url(work)),
              ("note", "; ".join(filter(None, [
                  f"Version {work['version']}" if work.get("version") else "",
                  f"{work['license']} license" if isinstance(work.get("license"), str) else ""])))]
    body = ",\n".join(f"  {k:<7} = {{{v}}}" if k != "month" else f"  {k:<7} = {v}"
                      for k, v in fields if v)
    return f"@misc{{{key or bibtex_key(work)},\n{body}\n}}"


def text_citation(work: dict) -> list[nodes.Node]:
    """'The ytlstm authors (2026). *Title.* Version 0.1.0.' as inline nodes."""
    names = [_person(a)[0] for a in work.get("authors", [])]
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    out: list[nodes.Node] = [nodes.Text(f"{who} ({_year(work)}). "),
                             nodes.emphasis(text=str(work.get("title", "")).rstrip(".") + ".")]
    tail = []
    if work.get("version"):
        tail.append(f"Version {work['version']}.")
    if work.get("doi"):
        tail.append(f"https://doi.org/{work['doi']}")
    out.append(nodes.Text((" " + " ".join(tail)) if tail else ""))
    url = _url(work) if not work.get("doi") else ""
    if url:
        out += [nodes.Text(" "), nodes.reference(url, url, refuri=url)]
    return out


def read_cff(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


class CffCitation(SphinxDirective):
    """``{cff-citation}``: text citation and BibTeX of ``CITATION.cff`` (option ``file``)."""

    has_content = False
    option_spec = {"file": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        path = Path(self.env.app.confdir, self.options.get("file", "CITATION.cff"))
        self.env.note_dependency(str(path))
        try:
            cff = read_cff(path)
        except (OSError, ValueError) as err:
            logger.warning("cff-citation: cannot read %s: %s", path, err,
                           location=(self.env.docname, self.lineno))
            return []
        quote = nodes.block_quote("", nodes.paragraph("", "", *text_citation(cff)))
        quote["classes"].append("ytlstm-citation")
        entries = [bibtex_entry(cff)]
        entries += [bibtex_entry(ref) for ref in cff.get("references", []) or []]
        code = "\n\n".join(entries)
        block = nodes.literal_block(code, code, language="bibtex")
        block["classes"].append("ytlstm-bibtex")
        kinds = [{"data": "dataset", "database": "database", "software": "software"}.get(
            r.get("type"), "work") for r in cff.get("references", []) or []]
        refs = (", then of the " + (kinds[0] if len(kinds) == 1 else f"{len(kinds)} works")
                + (" it uses" if len(kinds) == 1 else " it cites")) if kinds else ""
        label = nodes.paragraph("", f"BibTeX of this book{refs} (the button at the top right "
                                "of the box copies it):")
        return [quote, label, block]


# --------------------------------------------------------------------------- theme

TEMPLATES = Path(__file__).resolve().parent / "a11y_templates"


def _templates(app: Sphinx, config) -> None:
    """Two of the theme's components with accessible names that match their visible text
    (tools/a11y_templates/, found before the theme's own)."""
    if str(TEMPLATES) not in config.templates_path:
        config.templates_path = [str(TEMPLATES), *config.templates_path]


def _visit_citation(self, node: nodes.Element) -> None:
    """docutils' citation, with ``role="listitem"``: its ``doc-biblioentry`` is deprecated in
    DPUB-ARIA 1.1, so the ``role="list"`` around the bibliography had no list items (axe:
    aria-required-children, critical)."""
    if not isinstance(node.previous_sibling(), type(node)):
        self.body.append('<div role="list" class="citation-list">\n')
    self.body.append(self.starttag(node, "div", classes=[node.tagname], role="listitem"))


def _depart_citation(self, node: nodes.Element) -> None:
    self.body.append("</div>\n")
    if not isinstance(node.next_node(descend=False, siblings=True), type(node)):
        self.body.append("</div>\n")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _templates)
    app.add_node(nodes.citation, override=True, html=(_visit_citation, _depart_citation))
    app.add_post_transform(TextAlternatives)
    app.add_directive("cff-citation", CffCitation)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Sphinx extension for the book's HTML (listed under ``sphinx.local_extensions`` in _config.yml).

- MathJax is served from the book itself (``make mathjax`` puts it in _build/mathjax/html,
  which ``html_extra_path`` copies into the output): warn, and so fail a strict build, when
  it is missing instead of publishing pages whose equations stay raw TeX.
- Sphinx 7.4 writes an inline ``<script>`` registered after the builder started (sphinx-thebe's
  ``const THEBE_JS_URL = ...``, sphinx-togglebutton's selector) twice, and the second
  ``const`` is a SyntaxError in every page's console: drop the repeats.
- Tables are glued with ``{glue:figure}`` (myst-nb has no numbered table from executed
  output), which Sphinx would number as figures: a figure whose name starts with ``tbl-``
  becomes a ``glued_table`` node, numbered and referenced as "Table N".
- The theme's colour mode defaults to "light": pydata-sphinx-theme logs a console error on
  a first visit when no mode is set, and the figures are drawn on white.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.writers.html5 import HTML5Translator

logger = logging.getLogger(__name__)


def _check_mathjax(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    path = app.config.mathjax_path or ""
    if "://" in path:
        logger.warning("mathjax_path %r loads MathJax from the network; the book must work "
                       "offline (see _config.yml)", path)
        return
    found = [Path(app.confdir, extra, "_static", path) for extra in app.config.html_extra_path]
    if not any(p.is_file() for p in found):
        logger.warning("MathJax is not installed (_static/%s is in no html_extra_path "
                       "folder): run `make mathjax`", path)


def _theme_mode(app: Sphinx, config: Config) -> None:
    # pydata-sphinx-theme reads the mode from the template context, not a theme option
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "light")
    config.html_context = context


def _dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict,
                    doctree: object) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for js in scripts:
        key = (getattr(js, "filename", js) or "",
               tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


class glued_table(nodes.figure):  # noqa: N801 - docutils node classes are lower case
    """A table shown through ``{glue:figure}``: numbered and referenced as a table."""


def _caption_text(node: nodes.Element) -> str:
    return next((c.astext() for c in node.children if isinstance(c, nodes.caption)), "")


class GluedTables(SphinxTransform):
    """Turn figures named ``tbl-*`` into :class:`glued_table` nodes (before numbering)."""

    default_priority = 800

    def apply(self, **kwargs) -> None:
        for fig in list(self.document.findall(nodes.figure)):
            if any(i.startswith("tbl-") for i in fig["ids"]):
                table = glued_table(fig.rawsource, *fig.children, **fig.attributes)
                fig.replace_self(table)
                for i in table["ids"]:          # references resolve through document.ids
                    self.document.ids[i] = table


def setup(app: Sphinx) -> dict:
    app.add_enumerable_node(glued_table, "table", _caption_text,
                            html=(HTML5Translator.visit_figure, HTML5Translator.depart_figure))
    app.add_transform(GluedTables)
    app.connect("config-inited", _theme_mode)
    app.connect("builder-inited", _check_mathjax)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

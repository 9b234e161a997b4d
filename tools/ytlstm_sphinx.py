"""Sphinx extension for the book's HTML (listed under ``sphinx.local_extensions`` in _config.yml).

- A plain ``jupyter-book build .`` is as correct as ``ytlstm book``: Sphinx and Jupyter Book
  re-read and re-execute a chapter only when its own text changed, not when ``ytlstm/``, the
  configuration or the data did. On ``env-get-outdated`` the fingerprint of those
  (:func:`ytlstm.build.fingerprint`) is compared with the one recorded by the last build (in
  the pickled environment, else in ``_build/.ytlstm-fingerprint``); when it changed, the
  execution cache is cleared and every chapter is marked outdated, so all re-execute.
- MathJax is served from the book itself (``make mathjax`` puts it in _build/mathjax/html,
  which ``html_extra_path`` copies into the output): the build fails, saying to run
  ``make mathjax``, when it is missing, instead of publishing pages whose equations stay
  raw TeX.
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
from sphinx.environment import BuildEnvironment
from sphinx.errors import ExtensionError
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
        raise MathJaxMissing(f"MathJax is not installed (_static/{path} is in no "
                             "html_extra_path folder), so the pages' equations would stay raw "
                             "TeX: run `make mathjax` (it needs npm), then build again")


class MathJaxMissing(ExtensionError):
    category = "MathJax missing"


#: The attribute of the pickled Sphinx environment holding the fingerprint it was built with.
ENV_ATTR = "ytlstm_fingerprint"


def _stamp_file(app: Sphinx) -> Path:
    from ytlstm.build import FINGERPRINT

    return Path(app.outdir).parent / FINGERPRINT.name      # _build/.ytlstm-fingerprint


def _execution_cache(app: Sphinx) -> Path:
    nb = getattr(app.env, "mystnb_config", None)
    path = getattr(nb, "execution_cache_path", None)
    return Path(path) if path else Path(app.outdir).parent / ".jupyter_cache"


def outdated_by_fingerprint(app: Sphinx, env: BuildEnvironment, added: set[str],
                            changed: set[str], removed: set[str]) -> list[str]:
    """Every chapter, when the package, configuration or data changed since the last build
    (the execution cache is then cleared first); else none."""
    from ytlstm.build import check_fingerprint, read_stamp
    from ytlstm.errors import DataError

    recorded = getattr(env, ENV_ATTR, None) or read_stamp(_stamp_file(app))
    try:
        fp, stale = check_fingerprint(recorded, _execution_cache(app), root=app.srcdir,
                                      say=logger.info)
    except DataError as e:           # no data: the chapters will say so when they run
        logger.warning("cannot fingerprint the package and data (%s): every chapter is "
                       "re-read", e)
        fp, stale = None, True
    app.ytlstm_fingerprint = fp
    setattr(env, ENV_ATTR, fp)
    if not stale:
        return []
    return sorted(set(env.found_docs) - set(added) - set(changed))


def _record_fingerprint(app: Sphinx, exception: Exception | None) -> None:
    fp = getattr(app, "ytlstm_fingerprint", None)
    if exception is None and fp and app.builder.name == "html":
        from ytlstm.build import write_stamp

        write_stamp(_stamp_file(app), fp)


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
    app.connect("env-get-outdated", outdated_by_fingerprint)
    app.connect("build-finished", _record_fingerprint)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

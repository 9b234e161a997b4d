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
- ``{csv}`name``` in a table's caption links the table's data, ``_data/name.csv``: every CSV
  table of the study (and those a chapter makes) is copied into the HTML output's ``_data/``.
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
    (the execution cache is then cleared first); else none. Where the data is not found, an
    unchanged package keeps every chapter as it is, and a changed one stops the build with
    one line (:func:`ytlstm.build.check_code_without_data`)."""
    from ytlstm.build import check_code_without_data, check_fingerprint, read_stamp
    from ytlstm.errors import DataError

    recorded = getattr(env, ENV_ATTR, None) or read_stamp(_stamp_file(app))
    try:
        fp, stale = check_fingerprint(recorded, _execution_cache(app), root=app.srcdir,
                                      say=logger.info)
    except DataError as e:           # no data: the package's fingerprint alone decides
        try:
            fp = check_code_without_data(recorded, _execution_cache(app), str(e),
                                         root=app.srcdir)
        except SystemExit:
            print(flush=True)        # Sphinx's status line has no newline: a line of its own
            raise
        logger.warning("cannot fingerprint the data (%s); the package is unchanged since the "
                       "chapters were executed, so they are rendered as they were", e)
        stale = False
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


# --------------------------------------------------------------------------- the data of a table

#: Where the CSV tables behind the book's tables are (relative to the book's root): the
#: study's tables, and the few a chapter makes itself (:func:`ytlstm.chapter.data_table`).
DATA_FOLDERS = (Path("_build") / "results", Path("_build") / "tables")
#: The folder of the HTML output that gets a copy of every one of them.
DATA_URL = "_data"
CSV_CLASS = "ytlstm-csv"


def find_csv(root: str | Path, name: str) -> Path | None:
    """The CSV table ``name`` (without ``.csv``) in :data:`DATA_FOLDERS` under ``root``."""
    for folder in DATA_FOLDERS:
        p = Path(root) / folder / f"{name}.csv"
        if p.is_file():
            return p
    return None


def csv_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{csv}`transfer``` in a table's caption: a link to ``_data/transfer.csv``, the copy of
    the table's data in the HTML output (a warning when no such table was written);
    ``{csv}`GB/metrics``` links another country's table."""
    stem = text.strip().removesuffix(".csv")
    env = inliner.document.settings.env
    msgs = []
    if find_csv(env.srcdir, stem) is None:
        msgs.append(inliner.reporter.warning(
            f"{{csv}}: no table {stem}.csv in {' or '.join(map(str, DATA_FOLDERS))}, so the "
            "caption's link to its data would be broken", line=lineno))
    ref = nodes.reference(rawtext, f"{stem}.csv", refuri=f"{DATA_URL}/{stem}.csv",
                          classes=[CSV_CLASS])
    return [ref], msgs


def _resolve_csv_links(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Each data link relative to the page it is on (``../_data/x.csv`` from ``book/``)."""
    from sphinx.util.osutil import relative_uri

    base = app.builder.get_target_uri(docname).split("#")[0]
    for ref in doctree.findall(nodes.reference):
        if CSV_CLASS in ref.get("classes", []):
            ref["refuri"] = relative_uri(base, f"{DATA_URL}/{ref.astext()}")


def copy_tables(app: Sphinx, exception: Exception | None) -> None:
    """Copy every CSV table into the HTML output's ``_data/`` (so the captions' links work
    on a static host and offline)."""
    if exception is not None or app.builder.format != "html":
        return
    import shutil

    dest = Path(app.outdir) / DATA_URL
    for folder in DATA_FOLDERS:           # another country's tables keep their folder (GB/)
        src = Path(app.srcdir) / folder
        for p in sorted(src.rglob("*.csv")):
            (dest / p.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest / p.relative_to(src))


def setup(app: Sphinx) -> dict:
    app.add_enumerable_node(glued_table, "table", _caption_text,
                            html=(HTML5Translator.visit_figure, HTML5Translator.depart_figure))
    app.add_transform(GluedTables)
    app.connect("config-inited", _theme_mode)
    app.connect("builder-inited", _check_mathjax)
    app.connect("env-get-outdated", outdated_by_fingerprint)
    app.connect("build-finished", _record_fingerprint)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.add_role("csv", csv_role)
    app.connect("doctree-resolved", _resolve_csv_links)
    app.connect("build-finished", copy_tables)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

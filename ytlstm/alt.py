"""Text alternatives of the book's figures and tables, made from the objects themselves.

:func:`describe` reads a Matplotlib figure (its suptitle, each panel's title, axis labels with
their units and scales, legend entries, category labels and the kind of plot) and writes one
or a few sentences; :func:`describe_table` does the same for a table (DataFrame or Styler).
Because the sentence comes from the same figure object the chapter draws, it stays true when
the data or the plotting code changes, and a new figure needs no extra work.

:func:`install` makes these sentences the ``text/plain`` representation of figures and
styled tables in the running IPython kernel (``text/plain`` is the notebook's text
alternative of an output). The book's Sphinx extension ``tools/ytlstm_a11y.py`` then writes
it into the ``alt`` attribute of the figure's ``<img>`` (and the ``aria-label`` of a glued
table's scroll box). ``ytlstm.chapter.setup()`` calls :func:`install` in every chapter.
"""

from __future__ import annotations

import re
from collections import Counter

#: ``text/plain`` of a figure or table that nobody described (Matplotlib's and pandas'
#: default reprs): the Sphinx extension refuses these as alt text.
DEFAULT_REPR = re.compile(r"^<(?:Figure size|matplotlib\.|pandas\.|Figure\b)")

_MAX_ITEMS = 8          # legend entries / categories listed per panel
_MAX_PANELS = 6         # above this, panels are summarised instead of listed


def _clean(text: str) -> str:
    """One line of display text: no line breaks, no repeated spaces, no TeX dollar signs."""
    text = re.sub(r"\$([^$]*)\$", r"\1", str(text or ""))
    return " ".join(text.replace("\n", " ").split()).strip()


def _listing(items: list[str], limit: int = _MAX_ITEMS) -> str:
    items = [i for i in items if i]
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    if len(items) > 1:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return items[0] if items else ""


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _quoted(title: str) -> str:
    return f"“{title}”"


def _legend_labels(ax) -> list[str]:
    legend = ax.get_legend()
    if legend is None:
        return []
    return [_clean(t.get_text()) for t in legend.get_texts() if _clean(t.get_text())]


def _tick_labels(axis) -> list[str]:
    try:
        labels = [_clean(t.get_text()) for t in axis.get_majorticklabels()]
    except Exception:  # pragma: no cover - a formatter that needs a drawn figure
        return []
    return [t for t in labels if t]


def _categories(ax, which: str) -> list[str]:
    """Category labels as a reader meets them: left to right, or top down."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    try:
        pairs = list(zip(axis.get_majorticklocs(), axis.get_majorticklabels()))
    except Exception:  # pragma: no cover
        return []
    top_down = which == "y" and not ax.yaxis_inverted()
    pairs.sort(key=lambda p: -p[0] if top_down else p[0])
    return [t for t in (_clean(lb.get_text()) for _, lb in pairs) if t]


def _axis_text(ax, which: str) -> str:
    """An axis label with its scale, e.g. 'views (log scale)'."""
    label = _clean(ax.get_xlabel() if which == "x" else ax.get_ylabel())
    scale = ax.get_xscale() if which == "x" else ax.get_yscale()
    if label and scale not in ("linear", "") and scale not in label:
        label += f" ({scale} scale)"
    return label


def _is_reference_line(line) -> bool:
    """axvline/axhline-style lines: drawn in axes coordinates on one side (not data)."""
    ax = line.axes
    try:
        return ax is not None and not line.get_transform().contains_branch(ax.transData)
    except Exception:  # pragma: no cover - an unusual transform
        return False


def _panel_kinds(ax) -> tuple[list[str], str | None]:
    """The kinds of plot drawn in one Axes, and the categorical axis ('x'/'y') if any."""
    from matplotlib.collections import LineCollection, PathCollection, PolyCollection, QuadMesh
    from matplotlib.container import BarContainer, ErrorbarContainer
    from matplotlib.patches import PathPatch, Rectangle

    kinds: list[str] = []
    categorical = None
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    if bars:
        n = sum(len(c.patches) for c in bars)
        horizontal = any(getattr(c, "orientation", None) == "horizontal" for c in bars)
        if n >= 15 or (n >= 3 and not horizontal and _contiguous(bars)):
            kinds.append("histogram" if not horizontal else "horizontal histogram")
        else:
            kinds.append("horizontal bar chart" if horizontal else "bar chart")
            categorical = "y" if horizontal else "x"
    # a dot plot: error bars around markers (their data line), often one row per category
    dots = [c for c in ax.containers if isinstance(c, ErrorbarContainer) and c.lines[0] is not None
            and c.lines[0].get_marker() not in (None, "None", "none", "", " ")]
    if dots:
        kinds.append("dot plot")
        for which, axis in (("y", ax.yaxis), ("x", ax.xaxis)):
            labels = _tick_labels(axis)
            if categorical is None and labels and not all(_numeric(t) for t in labels):
                categorical = which
    boxes = [p for p in ax.patches if isinstance(p, PathPatch)]
    if boxes:
        # a box plot's boxes: their orientation follows the longer extent of the data ticks
        kinds.append("box plot")
        labels_y = _tick_labels(ax.yaxis)
        categorical = "y" if labels_y and not all(_numeric(t) for t in labels_y) else "x"
    # error bars belong to their bars or errorbar containers, not to the plotted lines
    in_errorbars = set()
    for c in ax.containers:
        for part in ([c.errorbar] if isinstance(c, BarContainer) else [c]):
            if part is not None and not isinstance(part, BarContainer):
                in_errorbars.update(id(a) for a in _flatten(part))
    if in_errorbars:
        kinds_extra = ["error bars"]
    else:
        kinds_extra = []
    lines = [ln for ln in ax.lines if ln.get_visible() and id(ln) not in in_errorbars
             and not (ln.get_linestyle() in ("None", "none", " ", "")
                      and ln.get_marker() in (None, "None", "none", "", " "))]
    drawn = [ln for ln in lines if not _is_reference_line(ln)]
    if len(drawn) < len(lines):
        kinds_extra.append("reference lines" if len(lines) - len(drawn) > 1 else "a reference line")
    if drawn and not boxes:
        connected = [ln for ln in drawn if ln.get_linestyle() not in ("None", "none", " ", "")]
        if connected:
            kinds.append("line chart" if len(connected) == 1 else f"line chart of {len(connected)} lines")
        if len(connected) < len(drawn):
            kinds.append("points")
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        if isinstance(coll, PathCollection):
            kinds.append("scatter plot")
        elif isinstance(coll, QuadMesh):
            kinds.append("heat map")
        elif id(coll) in in_errorbars:
            continue
        elif isinstance(coll, PolyCollection):
            if coll.get_array() is not None and len(coll.get_offsets()) > 20:
                kinds.append("hexagonal density plot")
            else:
                kinds.append("shaded band")
        elif isinstance(coll, LineCollection) and not bars:
            kinds.append("line segments")
    if ax.images:
        kinds.append("heat map")
    spans = [p for p in ax.patches if isinstance(p, Rectangle)
             and not any(p in c.patches for c in bars)]
    if spans:
        kinds.append("shaded spans")
    return list(dict.fromkeys(kinds + kinds_extra)), categorical


def _contiguous(bars) -> bool:
    """Bars that touch, as a histogram's bins do."""
    rects = sorted((p.get_x(), p.get_width()) for c in bars for p in c.patches)
    return all(abs(x0 + w0 - x1) <= 1e-9 * max(1.0, abs(x1))
               for (x0, w0), (x1, _) in zip(rects, rects[1:]))


def _flatten(container) -> list:
    out = []
    for item in container:
        if isinstance(item, (tuple, list)):
            out.extend(_flatten(item))
        elif item is not None:
            out.append(item)
    return out


def _numeric(text: str) -> bool:
    return bool(re.fullmatch(r"[−\-+]?[\d.,]+\s*[%kMB]?", text.replace("\u2212", "-")))


def _has_content(ax) -> bool:
    return bool(ax.lines or ax.collections or ax.patches or ax.images or ax.containers)


def _notes(ax, categorical: str | None) -> list[str]:
    """Annotations on the data (e.g. a value off the axis), each with the category of its row
    or column when the axis is categorical."""
    from matplotlib.text import Annotation

    out = []
    for t in ax.texts:
        text = _clean(t.get_text())
        if not text or not isinstance(t, Annotation):
            continue
        if categorical:
            axis = ax.yaxis if categorical == "y" else ax.xaxis
            pos = t.xy[1] if categorical == "y" else t.xy[0]
            for loc, lb in zip(axis.get_majorticklocs(), axis.get_majorticklabels()):
                if abs(loc - pos) < 1e-9 and _clean(lb.get_text()):
                    text = f"{_clean(lb.get_text())} {text}"
                    break
        out.append(text)
    return out


def _panel(ax, with_title: bool = True) -> str:
    """One panel as a phrase: '“title”: horizontal bar chart of X for 3 categories (a, b, c)'."""
    title = _clean(ax.get_title()) or _clean(ax.get_title("left"))
    if not _has_content(ax):
        texts = [_clean(t.get_text()) for t in ax.texts if _clean(t.get_text())]
        body = f"text: {'; '.join(texts)}" if texts else "empty"
        return f"{_quoted(title)}, {body}" if (title and with_title) else body
    kinds, categorical = _panel_kinds(ax)
    extras = [k for k in kinds if k in ("error bars", "reference lines", "a reference line")]
    kind = _listing([k for k in kinds if k not in extras]) or "plot"
    x, y = _axis_text(ax, "x"), _axis_text(ax, "y")
    if categorical:
        value = x if categorical == "y" else y
        cats = _categories(ax, categorical)
        phrase = f"{kind} of {value}" if value else kind
        if cats:
            phrase += f" for {len(cats)} categories ({_listing(cats)})"
    elif x and y:
        phrase = f"{kind} of {y} against {x}"
    elif x or y:
        phrase = f"{kind} of {x or y}"
    else:
        phrase = kind
    if extras:
        phrase += ", with " + _listing(extras)
    parts = [phrase]
    notes = _notes(ax, categorical)
    if notes:
        parts.append(f"marked: {_listing(notes)}")
    legend = _legend_labels(ax)
    if legend:
        parts.append(f"legend: {_listing(legend)}")
    body = "; ".join(parts)
    return f"{_quoted(title)}, a {body}" if (title and with_title) else f"a {body}"


def _figure_title(fig) -> str:
    sup = getattr(fig, "_suptitle", None)
    return _clean(sup.get_text()) if sup is not None else ""


def describe(fig) -> str:
    """A text alternative of a Matplotlib figure, e.g. for an ``<img alt="...">``.

    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(); _ = ax.plot([1, 2, 3], [2, 4, 3], label="views")
    >>> _ = ax.set(title="Views per day", xlabel="day", ylabel="views"); _ = ax.legend()
    >>> describe(fig)
    'Figure “Views per day”: a line chart of views against day; legend: views.'
    """
    title = _figure_title(fig)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    figure_legends = [_clean(t.get_text()) for lg in getattr(fig, "legends", [])
                      for t in lg.get_texts() if _clean(t.get_text())]
    if not panels:
        return _sentence(f"Empty figure {_quoted(title)}" if title else "Empty figure")
    if len(panels) == 1:
        ax = panels[0]
        ax_title = _clean(ax.get_title())
        head = f"Figure {_quoted(title or ax_title)}" if (title or ax_title) else "Figure"
        body = _panel(ax, with_title=bool(title and ax_title and ax_title != title))
        text = f"{head}: {body}"
        if figure_legends:
            text += f"; legend: {_listing(figure_legends)}"
        return _sentence(text)
    head = f"Figure {_quoted(title)}" if title else "Figure"
    if len(panels) <= _MAX_PANELS:
        described = [f"({i}) {_panel(ax)}" for i, ax in enumerate(panels, 1)]
        text = _sentence(f"{head} with {len(panels)} panels: " + "; ".join(described))
    else:
        text = _sentence(f"{head} with {len(panels)} panels" + _summary(panels))
    if figure_legends:
        text += " " + _sentence(f"Legend: {_listing(figure_legends)}")
    return text


def _summary(panels) -> str:
    """Many panels (a grid): the kinds of panel, the axis labels, the text panels."""
    kinds: Counter[str] = Counter()
    texts: list[str] = []
    for ax in panels:
        if _has_content(ax):
            k, _ = _panel_kinds(ax)
            kinds.update(k or ["plot"])
        else:
            texts.extend(_clean(t.get_text()) for t in ax.texts if _clean(t.get_text()))
    labels = list(dict.fromkeys(lb for ax in panels for lb in (_axis_text(ax, "x"), _axis_text(ax, "y")) if lb))
    parts = []
    if kinds:
        parts.append(_listing([f"{n} {k}{'s' if n > 1 and not k.endswith('s') else ''}"
                               for k, n in kinds.items()], limit=6))
    if labels:
        parts.append(f"axes: {_listing(labels)}")
    if texts:
        parts.append(f"text panels: {'; '.join(texts[:_MAX_ITEMS])}"
                     + (f" and {len(texts) - _MAX_ITEMS} more" if len(texts) > _MAX_ITEMS else ""))
    return (": " + "; ".join(parts)) if parts else ""


def describe_table(df, title: str | None = None) -> str:
    """A text alternative of a table (DataFrame or pandas Styler): its size, columns, rows.

    >>> import pandas as pd
    >>> describe_table(pd.DataFrame({"model": ["naive", "LSTM"], "MAE": [2.0, 1.5]}), "Test MAE")
    'Table “Test MAE”: 2 rows and 2 columns (model and MAE); rows: naive and LSTM.'
    """
    data = getattr(df, "data", df)       # a Styler keeps its DataFrame in .data
    hidden = set(getattr(df, "hidden_columns", []) or [])
    columns = [_clean(" ".join(map(str, c)) if isinstance(c, tuple) else c)
               for i, c in enumerate(data.columns) if i not in hidden]
    head = f"Table {_quoted(_clean(title))}" if title else "Table"
    n, m = len(data), len(columns)
    text = (f"{head}: {n} row{'s' if n != 1 else ''} and {m} column{'s' if m != 1 else ''}"
            + (f" ({_listing(columns, limit=12)})" if columns else ""))
    first = data.iloc[:, 0] if m else None
    if first is not None and n and not _numeric_series(first):
        text += f"; rows: {_listing([_clean(v) for v in first.astype(str)], limit=10)}"
    return _sentence(text)


def _numeric_series(s) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s)


# --------------------------------------------------------------------------- IPython hook

def _figure_bundle(fig) -> dict:
    return {"text/plain": describe(fig)}


def _styler_bundle(styler) -> dict:
    caption = getattr(styler, "caption", None)
    return {"text/plain": describe_table(styler, caption if isinstance(caption, str) else None)}


def _dataframe_bundle(df) -> dict:
    return {"text/plain": describe_table(df)}


def install(ip=None) -> bool:
    """Make :func:`describe` / :func:`describe_table` the ``text/plain`` of figures, styled
    tables and DataFrames in the running IPython kernel (from where the book takes alt text).

    The sentence is registered with IPython's mime-bundle formatter, which the inline
    Matplotlib backend leaves alone (it resets the per-type formatters of figures when it
    starts, often after this call). The figure's image is still made by the backend's PNG
    formatter. Safe to call repeatedly and outside IPython (then it does nothing and
    returns False).
    """
    if ip is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with the book extra
            return False
        ip = get_ipython()
    if ip is None:
        return False
    import pandas as pd
    from matplotlib.figure import Figure
    from pandas.io.formats.style import Styler

    bundle = ip.display_formatter.mimebundle_formatter
    bundle.for_type(Figure, _figure_bundle)
    bundle.for_type(Styler, _styler_bundle)
    bundle.for_type(pd.DataFrame, _dataframe_bundle)   # its HTML table is still made
    return True

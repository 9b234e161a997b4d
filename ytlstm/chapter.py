"""Chapter setup: the study and its predictions table, for the book's hidden setup cells.

Every chapter starts with ``study, pred = chapter.setup()``: it works from the repository
root, loads the study from the result cache (``make book`` has usually filled it; anything
missing is computed now), writes the CSV tables under ``_build/results`` unless that folder
already holds this study's tables (:func:`ytlstm.report.ensure_results`), and reads the
predictions table back from there, so every table and figure is computed from that file.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from ytlstm.outputs import BOOK_COUNTRY, RESULTS_ROOT

#: Where the book's study (its first country's) writes its tables.
RESULTS = RESULTS_ROOT
#: Environment variable naming a JSON file of :class:`~ytlstm.config.StudyConfig` fields for the
#: book's study (default: the configuration's defaults), e.g. a small one to try the chapters.
CONFIG_ENV = "YTLSTM_CONFIG"


def book_config():
    """The book's study configuration: the defaults, or ``$YTLSTM_CONFIG``'s fields."""
    import json

    from ytlstm.config import StudyConfig

    path = os.environ.get(CONFIG_ENV)
    if not path:
        return StudyConfig()
    return StudyConfig.from_dict(json.loads(Path(path).read_text()))


def repo_root(start: str | Path | None = None) -> Path:
    """The folder holding ``_config.yml`` (the book's root), from ``start`` upwards."""
    p = Path(start or os.getcwd()).resolve()
    for q in (p, *p.parents):
        if (q / "_config.yml").exists() and (q / "ytlstm").is_dir():
            return q
    return p


def country_config(country: str):
    """The book's configuration for one of its countries (only the country differs)."""
    from dataclasses import replace

    return replace(book_config(), country=country.upper())


def results_dir(country: str = BOOK_COUNTRY) -> Path:
    """Where a country's tables are (relative to the book's root)."""
    from ytlstm.outputs import default_results_dir

    return default_results_dir(country)


@lru_cache(maxsize=None)
def setup(country: str = BOOK_COUNTRY):
    """``(study, predictions)`` of one of the book's countries for a chapter, with the plot
    style set."""
    os.chdir(repo_root())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from ytlstm import alt, plots
    from ytlstm.report import read_predictions
    from ytlstm.study import run_study

    plots.set_style()
    alt.install()          # figures and tables get a sentence as their alt text
    study = run_study(country_config(country), results_dir=results_dir(country), verbose=False)
    return study, read_predictions(results_dir(country))


def glue_text(name: str, text: str) -> None:
    """Glue a piece of prose (Markdown) for ``{glue:md}`name``` in a chapter."""
    from IPython.display import Markdown
    from myst_nb import glue

    glue(name, Markdown(str(text)), display=False)


def glue_all(values: dict[str, str]) -> None:
    for k, v in values.items():
        glue_text(k, v)


def table(name: str, country: str = BOOK_COUNTRY):
    """One CSV table of a country's study (written by :func:`ytlstm.report.write_results`
    from its predictions table) as a DataFrame."""
    import pandas as pd

    return pd.read_csv(repo_root() / results_dir(country) / f"{name}.csv")


#: Where a chapter writes the tables it makes itself (from data or files other than the
#: study's tables), so their captions can link them too.
TABLES = Path("_build") / "tables"


def data_table(name: str, df):
    """Write a table a chapter makes itself as ``_build/tables/<name>.csv`` (the book's
    Sphinx extension copies it into the HTML output's ``_data/``, where a caption's
    ``{csv}`<name>``` links it); returns ``df``."""
    from ytlstm.cache import atomic_write_text

    atomic_write_text(repo_root() / TABLES / f"{name}.csv", df.to_csv(index=False))
    return df

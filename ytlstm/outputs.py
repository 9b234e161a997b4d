"""Where a run writes its results and models, and the ``run.json`` that keeps runs apart.

Defaults, keyed by country so that one country's run never replaces another's:

* results (the CSV tables): ``_build/results/`` for the book's country (:data:`BOOK_COUNTRY`,
  US: the book reads that folder), ``_build/results/<CC>/`` for every other country;
* models: ``_build/models/<CC>/<model>/`` for every country.

Each results or models folder that ``ytlstm run`` / ``ytlstm export-models`` writes holds a
small ``run.json`` (country, the data's content hash, the package version). A later run
whose country or data hash differs from the folder's ``run.json`` is refused with a one-line
:class:`~ytlstm.errors.DataError` (exit 2) before anything is computed, unless ``--force``.
A folder without ``run.json`` (empty, or written before this file existed) is taken over.
"""

from __future__ import annotations

import json
from pathlib import Path

from ytlstm.errors import DataError

#: The country the book is built for; its results stay in ``_build/results/``.
BOOK_COUNTRY = "US"
RESULTS_ROOT = Path("_build") / "results"
MODELS_ROOT = Path("_build") / "models"
RUN_FILE = "run.json"


def default_results_dir(country: str) -> Path:
    """``_build/results`` for the book's country, ``_build/results/<CC>`` for the others."""
    country = country.upper()
    return RESULTS_ROOT if country == BOOK_COUNTRY else RESULTS_ROOT / country


def default_models_dir(country: str) -> Path:
    """``_build/models/<CC>``."""
    return MODELS_ROOT / country.upper()


def run_record(country: str, data_hash: str, what: str) -> dict:
    """The content of a ``run.json``."""
    from ytlstm import __version__

    return {"country": country.upper(), "data_hash": data_hash, "package": "ytlstm",
            "package_version": __version__, "holds": what}


def read_run(folder: str | Path) -> dict | None:
    """The folder's ``run.json``, or None when it has none."""
    p = Path(folder) / RUN_FILE
    if not p.is_file():
        return None
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise DataError(p, "unreadable", expected="the JSON record of the run that wrote this "
                                                  "folder (delete it, or pass --force)") from None
    if not isinstance(d, dict):
        raise DataError(p, "not a JSON object", expected="the record of the run that wrote "
                                                         "this folder (or pass --force)")
    return d


def check_folder(folder: str | Path, country: str, data_hash: str, *, what: str,
                 option: str, force: bool = False) -> None:
    """Refuse (one-line :class:`DataError`) to write into a folder another run owns.

    A folder owns by its ``run.json``: a different country or data hash means another run's
    outputs, which are not replaced unless ``force``. ``what`` ("results", "models") and
    ``option`` (the command-line option choosing the folder) go into the message.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DataError(folder, "is not a folder", expected=f"a folder for the {what} ({option})")
    rec = read_run(folder)
    if rec is None or force:
        return
    theirs_country = str(rec.get("country", "?")).upper()
    theirs_hash = str(rec.get("data_hash", "?"))
    if theirs_country != country.upper():
        raise DataError(folder, f"holds the {what} of a {theirs_country} run (its {RUN_FILE}); "
                                f"this is a {country.upper()} run",
                        expected=f"another {option}, or --force to replace them")
    if theirs_hash != data_hash:
        raise DataError(folder, f"holds the {what} of a {theirs_country} run on other data "
                                f"(data hash {theirs_hash[:12]} in its {RUN_FILE}, this data "
                                f"{data_hash[:12]})",
                        expected=f"another {option}, or --force to replace them")


def write_run(folder: str | Path, country: str, data_hash: str, what: str) -> Path:
    """Write ``folder/run.json`` (atomically)."""
    from ytlstm.cache import atomic_write_text

    p = Path(folder) / RUN_FILE
    atomic_write_text(p, json.dumps(run_record(country, data_hash, what), indent=2) + "\n")
    return p

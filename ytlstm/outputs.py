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

Each such folder also holds ``.study-key`` (:func:`write_stamp`): the study's key, the package
modules that wrote the folder and a SHA-256 of every file written. When it still matches
(:func:`stamp_current`: same study, same code, files unchanged), a run writes nothing there:
a rebuild with nothing changed only reads.
"""

from __future__ import annotations

import json
from pathlib import Path

from ytlstm.errors import DataError

#: The country the book is built for; its results stay in ``_build/results/``.
BOOK_COUNTRY = "US"
#: Every country the book runs: the study's country, then its replication (chapter
#: "Does it replicate?"); each is the same study with ``StudyConfig.country`` set.
BOOK_COUNTRIES = (BOOK_COUNTRY, "GB")
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


# --------------------------------------------------------------------------- up-to-date stamps

#: A folder's record of what it holds: the study's key, the package modules that wrote it
#: and a SHA-256 of every file written (so a rebuild with nothing changed writes nothing).
STAMP = ".study-key"


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def loaded_modules() -> dict[str, str]:
    """Package file -> SHA-256 of every ``ytlstm`` module loaded in this process (those that
    can have written a folder's files: a superset of what the writer ran)."""
    import sys

    from ytlstm.cache import PACKAGE_DIR

    out = {}
    for name, mod in list(sys.modules.items()):
        file = getattr(mod, "__file__", None)
        if (name == "ytlstm" or name.startswith("ytlstm.")) and file and \
                Path(file).resolve().is_relative_to(PACKAGE_DIR):
            out[Path(file).resolve().relative_to(PACKAGE_DIR).as_posix()] = _sha256(Path(file))
    return dict(sorted(out.items()))


def write_stamp(folder: str | Path, key: str, files: list[str | Path]) -> Path:
    """Record in ``folder/.study-key`` that ``files`` (inside ``folder``) are those of the
    study with ``key``, written by the package modules loaded now. Written last, after the
    files, so an interrupted write leaves no stamp."""
    from ytlstm.cache import atomic_write_text

    folder = Path(folder)
    record = {"study_key": key, "modules": loaded_modules(),
              "files": {Path(f).resolve().relative_to(folder.resolve()).as_posix():
                        _sha256(Path(f)) for f in files}}
    p = folder / STAMP
    atomic_write_text(p, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return p


def stamp_current(folder: str | Path, key: str) -> bool:
    """True when ``folder`` holds the files of the study with ``key``, unchanged, written by
    package code that is still the same (every recorded module's source unchanged)."""
    from ytlstm.cache import PACKAGE_DIR

    folder = Path(folder)
    try:
        record = json.loads((folder / STAMP).read_text(encoding="utf-8"))
        if record.get("study_key") != key or not record.get("files"):
            return False
        for rel, digest in record["modules"].items():
            path = PACKAGE_DIR / rel
            if not path.is_file() or _sha256(path) != digest:
                return False
        return all((folder / rel).is_file() and _sha256(folder / rel) == digest
                   for rel, digest in record["files"].items())
    except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError, KeyError):
        return False            # no stamp, or one of an older format: write again

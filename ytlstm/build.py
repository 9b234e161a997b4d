"""Build the book (``ytlstm book``): Jupyter Book 1.x with an execution cache that knows the package.

Jupyter Book re-executes a chapter only when the chapter's own code changes; it cannot see
that ``ytlstm/`` or the data changed. Before building, this module compares a fingerprint of
the package's source files and the data's content hash with the one stored by the last
build, and clears the execution cache when they differ. (The study's result cache decides
separately which stages re-run.)

The book's Sphinx extension (``tools/ytlstm_sphinx.py``) applies the same rule inside a plain
``jupyter-book build .``, through :func:`check_fingerprint`: when the fingerprint differs from
the one the last build recorded, it marks every chapter outdated, and the execution cache is
cleared unless its chapters were executed for the current fingerprint, so the readers'
command re-executes them too. The fingerprint keeps the package's part apart from the data's
(``<code>:<data>``): where the data folder is not found, :func:`check_code_without_data`
still notices a changed package and stops the build with one line instead of rendering the
old execution cache.

Before Jupyter Book starts, ``ytlstm book`` brings the study's tables up to date and executes
the chapters the execution cache lacks side by side, one per core (:mod:`ytlstm.execution`);
Jupyter Book then finds them in its cache and only renders (a plain ``jupyter-book build .``
executes them one after another, with the same outputs).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ytlstm.cache import PACKAGE_DIR
from ytlstm.config import StudyConfig, resolve_data_dir
from ytlstm.data import data_hash, find_country_files
from ytlstm.outputs import BOOK_COUNTRIES

BUILD_DIR = Path("_build")
JUPYTER_CACHE = BUILD_DIR / ".jupyter_cache"
FINGERPRINT = BUILD_DIR / ".ytlstm-fingerprint"
#: The project's budget for a book from scratch on a 2-core laptop-class machine without a GPU
#: (both countries' studies and the build, as ``make bench`` measures it), in seconds.
FRESH_BOOK_BUDGET_S = 16 * 60
#: The row of ``benchmarks/results.json`` (``make bench``) that measures such a book.
FRESH_BOOK = "book from scratch (studies + build)"


def budget_sentence(seconds: float, budget: float = FRESH_BOOK_BUDGET_S) -> str:
    """The measured time of a book from scratch against the budget, in one sentence."""
    within = seconds <= budget
    return (f"A book from scratch (both countries' studies and the build) took "
            f"{seconds / 60:.1f} minutes, {'within' if within else 'over'} the project's budget "
            f"of {budget / 60:g} minutes"
            + ("." if within else f" by {(seconds - budget) / 60:.1f} minutes."))


#: Files outside the package that chapters read (besides the study's results).
CHAPTER_INPUTS = (Path("benchmarks") / "results.json",)


def code_fingerprint(config: StudyConfig | None = None, root: str | Path = ".") -> str:
    """Hash of the package's source, the configuration and the chapter inputs: everything the
    chapters depend on but the data, so it can be computed where the data is not found."""
    config = config or StudyConfig()
    h = hashlib.sha256()
    for rel in CHAPTER_INPUTS:
        p = Path(root) / rel
        h.update(rel.as_posix().encode() + (p.read_bytes() if p.exists() else b"-"))
    for p in sorted(PACKAGE_DIR.rglob("*.py")):
        h.update(p.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(p.read_bytes())
    h.update(config.to_json().encode())
    return h.hexdigest()


def fingerprint(data_dir: str | Path | None = None, config: StudyConfig | None = None,
                root: str | Path = ".") -> str:
    """``<code>:<data>``: :func:`code_fingerprint` and the content hash of the data of every
    country the book runs."""
    config = config or StudyConfig()
    h = hashlib.sha256()
    for country in BOOK_COUNTRIES:
        files = find_country_files(resolve_data_dir(data_dir), country)
        h.update(country.encode() + data_hash(files).encode())
    return f"{code_fingerprint(config, root)}:{h.hexdigest()}"


def code_part(fp: str | None) -> str | None:
    """The :func:`code_fingerprint` part of a recorded fingerprint (None for none, or for one
    of the older format that did not keep it apart)."""
    return fp.split(":", 1)[0] if fp and ":" in fp else None


class PackageChangedWithoutData(SystemExit):
    """The package changed since the chapters were executed and the data is not found: the
    build stops (with one line) rather than render the old results."""


def check_code_without_data(recorded: str | None, execution_cache: str | Path,
                            reason: str, root: str | Path = ".") -> str:
    """Where the data is not found: the package's fingerprint alone decides. When it matches
    the one recorded by the last build and the one the execution cache's chapters were
    executed with, returns ``recorded`` (the chapters and their cache are still current,
    as far as the package can tell); otherwise stops the build with
    :class:`PackageChangedWithoutData`, since re-executing the chapters needs the data."""
    code = code_fingerprint(root=root)
    mark = read_stamp(Path(execution_cache) / CACHE_MARK)
    if code_part(recorded) == code and code_part(mark) in (code, None):
        return recorded
    raise PackageChangedWithoutData(
        "ytlstm: the package (ytlstm/), the configuration or a chapter input changed since the "
        f"chapters were executed, and the data is not found ({reason}), so the pages would show "
        "the old results: set YTLSTM_DATA_DIR to the data folder (or run `make book`) and "
        "build again")


def read_stamp(stamp: str | Path) -> str | None:
    """The fingerprint recorded by the last successful build, or None."""
    p = Path(stamp)
    return p.read_text().strip() if p.is_file() else None


def write_stamp(stamp: str | Path, fp: str) -> None:
    p = Path(stamp)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(fp + "\n")


def clear_execution_cache(path: str | Path) -> bool:
    """Remove Jupyter Book's execution cache folder; True if there was one."""
    p = Path(path)
    if p.exists():
        shutil.rmtree(p)
        return True
    return False


#: In the execution cache's folder: the fingerprint its executed chapters belong to.
CACHE_MARK = ".ytlstm-fingerprint"


def check_fingerprint(recorded: str | None, execution_cache: str | Path,
                      data_dir: str | Path | None = None, root: str | Path = ".",
                      say=print) -> tuple[str, bool]:
    """Compare the current fingerprint with ``recorded`` (the last build's); returns
    ``(fingerprint, changed)``. The execution cache is cleared when the fingerprint its
    chapters were executed with (its :data:`CACHE_MARK`) is not the current one, then marked
    with it: so chapters executed for this fingerprint before the build started (by
    :mod:`ytlstm.execution`) are kept."""
    fp = fingerprint(data_dir, root=root)
    changed = recorded != fp
    cache = Path(execution_cache)
    mark = read_stamp(cache / CACHE_MARK)
    if mark != fp:
        if clear_execution_cache(cache):
            say("ytlstm: package, configuration or data changed since the chapters were "
                "executed: clearing the execution cache and re-reading every chapter")
        write_stamp(cache / CACHE_MARK, fp)
    return fp, changed


def _execute_side_by_side(root: Path, data_dir: str | Path | None) -> None:
    """Execute the chapters the execution cache lacks side by side (:mod:`ytlstm.execution`),
    after bringing the study's tables up to date in this process (the chapters only read
    them then: never two kernels computing the study at once)."""
    from ytlstm.execution import execute_chapters, missing_chapters, parallel_jobs

    root = root.resolve()
    todo = missing_chapters(root, root / JUPYTER_CACHE)
    if parallel_jobs(todo) < 2:
        return
    from ytlstm.chapter import country_config, results_dir
    from ytlstm.countries import ensure_countries
    from ytlstm.study import run_study

    here = Path.cwd()
    os.chdir(root)                 # the study's cache and tables are under the book's _build/
    try:
        for country in BOOK_COUNTRIES:
            run_study(country_config(country), data_dir=data_dir,
                      results_dir=results_dir(country))
        ensure_countries()
        execute_chapters(root, root / JUPYTER_CACHE, todo, say=lambda s: print(s, flush=True))
    finally:
        os.chdir(here)


def build_book(root: str | Path = ".", strict: bool = False, builder: str = "html",
               data_dir: str | Path | None = None) -> int:
    """Run ``jupyter-book build``; returns its exit status."""
    root = Path(root)
    stamp = root / FINGERPRINT
    fp, changed = check_fingerprint(read_stamp(stamp), root / JUPYTER_CACHE, data_dir, root,
                                    say=lambda s: print(s, flush=True))
    env = dict(os.environ)
    if data_dir:                         # the chapters read the same data as the fingerprint
        env["YTLSTM_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
    if builder in ("html", "singlehtml", "dirhtml"):
        _execute_side_by_side(root, data_dir)
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "--builder", builder]
    if changed:
        cmd.append("--all")          # Sphinx would otherwise re-read only edited chapters
    if strict:
        cmd += ["--warningiserror", "--nitpick", "--keep-going"]
    print("ytlstm: jupyter-book " + " ".join(cmd[1:]), flush=True)
    status = subprocess.call(cmd, env=env)
    if status == 0:
        write_stamp(stamp, fp)
    return status

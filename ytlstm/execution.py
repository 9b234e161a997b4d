"""Execute the book's chapters side by side, into Jupyter Book's own execution cache.

Jupyter Book 1.x (myst-nb's ``cache`` mode) executes the chapters one after another while
Sphinx reads them. Each chapter is a separate kernel that mostly waits on one core, so on a
machine with several cores ``ytlstm book`` first executes every chapter the cache lacks,
``jobs`` at a time, exactly as myst-nb would (the notebook myst-nb reads from the chapter,
run by jupyter-cache's ``single_nb_execution`` in the chapter's folder, with the
configuration's ``timeout`` and ``allow_errors``), and stores each executed notebook in the
cache as myst-nb does. Sphinx then finds every chapter in the cache (myst-nb's
``match_cache_notebook``, by the hash of the code cells and the kernel) and only renders.

Nothing here decides what the pages show: a chapter that fails here is not stored, so
Jupyter Book executes it again and reports its error in its usual way. The chapters read the
study's tables, which :func:`ytlstm.build.build_book` brings up to date before this runs, so
chapters running side by side never compute or write them.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

#: Seconds each chapter's execution took last time (to start the longest first).
SECONDS_FILE = Path("_build") / ".ytlstm-chapter-seconds.json"


@dataclass
class Chapter:
    """One chapter of the table of contents that is a notebook."""

    path: Path               # the .md file
    notebook: object         # nbformat.NotebookNode, as myst-nb reads it


def _book_settings(root: Path) -> dict:
    import yaml

    cfg = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    execute = cfg.get("execute") or {}
    parse = cfg.get("parse") or {}
    return {"timeout": execute.get("timeout", 30),
            "allow_errors": bool(execute.get("allow_errors", False)),
            "mode": execute.get("execute_notebooks", "auto"),
            "extensions": set(parse.get("myst_enable_extensions") or [])}


def notebook_chapters(root: str | Path = ".") -> list[Chapter]:
    """The chapters of ``_toc.yml`` that are MyST notebooks, read as myst-nb reads them."""
    from myst_nb.core.read import is_myst_markdown_notebook, read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig
    from sphinx_external_toc.parsing import parse_toc_yaml

    root = Path(root)
    config = MdParserConfig(enable_extensions=_book_settings(root)["extensions"])
    out = []
    for docname in parse_toc_yaml(str(root / "_toc.yml")):
        path = root / f"{docname}.md"
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if is_myst_markdown_notebook(text):
            nb = read_myst_markdown_notebook(text, config=config, add_source_map=True,
                                             path=str(path))
            out.append(Chapter(path, nb))
    return out


def missing_chapters(root: str | Path, cache_dir: str | Path) -> list[Chapter]:
    """The notebook chapters whose current code the execution cache does not hold."""
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_dir))
    todo = []
    for ch in notebook_chapters(root):
        try:
            cache.match_cache_notebook(ch.notebook)
        except KeyError:
            todo.append(ch)
    return todo


def _execute(nb, cwd: str, timeout, allow_errors: bool):
    """Worker: run one notebook; returns (notebook, seconds, error text or None)."""
    from jupyter_cache.executors.utils import single_nb_execution

    result = single_nb_execution(nb, cwd=cwd, timeout=timeout, allow_errors=allow_errors,
                                 meta_override=True)
    error = None
    if result.err is not None:
        error = f"{type(result.err).__name__}: {' '.join(str(result.err).split())[:300]}"
    return nb, result.time, error


def parallel_jobs(todo: list[Chapter], jobs: int | None = None) -> int:
    """How many chapters to execute at a time: one per core (or ``jobs``), at most one per
    chapter; 1 means there is nothing to gain (Jupyter Book executes them itself)."""
    return max(1, min(len(todo), jobs or os.cpu_count() or 1))


def execute_chapters(root: str | Path, cache_dir: str | Path, todo: list[Chapter],
                     jobs: int | None = None,
                     say: Callable[[str], None] = print) -> dict[str, float]:
    """Execute the chapters ``todo`` (from :func:`missing_chapters`), ``jobs`` at a time,
    and store each in the cache; returns chapter -> seconds of those that succeeded."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    root = Path(root)
    settings = _book_settings(root)
    jobs = parallel_jobs(todo, jobs)
    if settings["mode"] != "cache" or jobs < 2:
        return {}       # only the cache mode reads executions from the cache; or nothing to gain
    seconds_file = root / SECONDS_FILE
    try:
        before = json.loads(seconds_file.read_text())
    except (OSError, ValueError):
        before = {}
    todo.sort(key=lambda c: -float(before.get(c.path.name, 0.0)))   # longest first
    cache = get_cache(str(cache_dir))
    say(f"ytlstm: executing {len(todo)} chapters, {jobs} at a time")
    t0 = time.perf_counter()
    done: dict[str, float] = {}
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_execute, ch.notebook, str(ch.path.parent.resolve()),
                               settings["timeout"], settings["allow_errors"]): ch
                   for ch in todo}
        for n, fut in enumerate(as_completed(futures), 1):
            ch = futures[fut]
            nb, secs, error = fut.result()
            if error is not None:
                say(f"  [{n}/{len(todo)}] {ch.path.name} failed ({error}); "
                    "Jupyter Book runs it again and reports")
                continue
            record = cache.add_nb_to_project(str(ch.path.resolve()),
                                             read_data={"type": "plugin", "name": "myst_nb_md"})
            cache.cache_notebook_bundle(CacheBundleIn(nb, record.uri,
                                                      data={"execution_seconds": secs}),
                                        check_validity=False, overwrite=True)
            done[ch.path.name] = secs
            say(f"  [{n}/{len(todo)}] {ch.path.name} executed in {secs:.1f} s")
    say(f"ytlstm: {len(done)} of {len(todo)} chapters executed in "
        f"{time.perf_counter() - t0:.1f} s")
    seconds_file.parent.mkdir(parents=True, exist_ok=True)
    seconds_file.write_text(json.dumps({**before, **done}, indent=1, sort_keys=True) + "\n")
    return done

"""Both of the book's countries side by side: tables joined from each country's own CSVs.

Each country's tables are computed from its own predictions table (:mod:`ytlstm.report`);
this module only joins them, with a ``country`` column, into ``_build/results/countries.csv``
(every model's day-8 test result: MAE, relative MAE, MASE, the ratio to that country's best
baseline with its two-way bootstrap interval, and the version-2 primary test's ``p_holm`` for
the LSTM families) and ``countries_verdicts.csv`` (protocol v3's tests on both metrics with their
verdicts). They are written only when their content changes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ytlstm.outputs import BOOK_COUNTRIES, RESULTS_ROOT, default_results_dir

TABLES = ("countries", "countries_verdicts")


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv")


def countries_table(dirs: dict[str, Path]) -> pd.DataFrame:
    """One row per (country, model) on the pooled chronological test windows."""
    frames = []
    for country, folder in dirs.items():
        ci = _read(folder, "intervals_test")
        met = _read(folder, "metrics")
        met = met[met["split"] == "test"][["model", "n_windows", "mase", "gm_mase"]]
        pt = _read(folder, "paired_test")
        pt = pt[pt["split"] == "test"][["lstm", "p_value", "p_holm"]].rename(
            columns={"lstm": "model"})
        t = (ci[["model", "split", "mae", "rel_mae", "reference", "vs_reference",
                 "vs_reference_lo", "vs_reference_hi"]]
             .merge(met, on="model", how="left").merge(pt, on="model", how="left"))
        frames.append(t.assign(country=country))
    out = pd.concat(frames, ignore_index=True)
    out = out.rename(columns={"reference": "best_baseline", "vs_reference": "ratio",
                              "vs_reference_lo": "ratio_lo", "vs_reference_hi": "ratio_hi"})
    first = ["country", "model", "split", "n_windows", "mae", "rel_mae", "mase", "gm_mase",
             "best_baseline", "ratio", "ratio_lo", "ratio_hi", "p_value", "p_holm"]
    return out[first]


def countries_verdicts(dirs: dict[str, Path]) -> pd.DataFrame:
    """Protocol v3's tests (``equivalence.csv``) of every country, with a ``country`` column."""
    frames = [_read(folder, "equivalence").assign(country=c) for c, folder in dirs.items()]
    out = pd.concat(frames, ignore_index=True)
    return out[["country"] + [c for c in out.columns if c != "country"]]


def book_dirs(countries=BOOK_COUNTRIES) -> dict[str, Path]:
    """Each of the book's countries' results folder."""
    return {c: default_results_dir(c) for c in countries}


def ensure_countries(dirs: dict[str, Path] | None = None,
                     out: Path = RESULTS_ROOT) -> list[Path]:
    """Write the joined tables under ``out`` where their content changed; returns those written."""
    from ytlstm.cache import atomic_write_text

    dirs = dirs or book_dirs()
    written = []
    for name, df in (("countries", countries_table(dirs)),
                     ("countries_verdicts", countries_verdicts(dirs))):
        path = Path(out) / f"{name}.csv"
        text = df.to_csv(index=False)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)
            written.append(path)
    return written

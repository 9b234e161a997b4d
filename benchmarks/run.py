"""Benchmarks of training and of the book build (``make bench``; not part of ``make test``).

1. **Training, side by side** (``--training-only`` runs just this part): on the real US
   windows of the chronological split, in this one process with single-threaded TensorFlow
   (as in a training worker), the same networks (LSTM(16), univariate, 5 seeds, a fixed number
   of epochs, no early stopping) trained by
   - the plain Keras reference: one ``model.fit`` per seed, as the study trained before the
     engine (:func:`ytlstm.models.fit_network`; each network pays its own graph tracing, as
     it did in the study);
   - the engine (:func:`ytlstm.engine.train_branches`): the 5 seeds as 5 branches of one
     computation, each with its own shuffle order; also with one shared order, and a single
     network alone (K=1), to show where the speed comes from.
   Rounds alternate reference and engine, so both see the same machine load; the median
   round is reported, as seconds per network-epoch, and the ratio reference / engine.
2. In a fresh clone of the repository (so the caches start empty): the whole book build from
   scratch (study + execution + HTML), a rebuild with nothing changed, a rebuild after touching
   one chapter's prose, a rebuild after editing one package module (a comment added to
   ytlstm/plots.py, which no cached stage depends on: the study cache must hit, the chapters
   re-execute); then training throughput per model from the study's own training logs (seconds
   per network-epoch, and training windows per second), and peak memory of each build step.

Prints a table and writes it to benchmarks/results.json (the latest run; commit it so the
book's reproducibility appendix shows the latest figures). Each row has ``measurement``,
``value``, ``unit`` and ``peak_rss_mib``; ``training`` holds the side-by-side comparison.
Timings on a shared machine are noisy: compare the two columns of one run, not runs.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results.json"


def run(cmd: list[str], cwd: Path, env: dict, log: list[str] | None = None) -> tuple[float, float]:
    """Run a command; returns (seconds, peak RSS of the children in MiB). With ``log``, its
    standard output lines are appended there."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, check=True, text=True,
                       stdout=subprocess.PIPE if log is not None else subprocess.DEVNULL)
    if log is not None:
        log.extend(p.stdout.splitlines())
    seconds = time.perf_counter() - t0
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return seconds, peak


#: The study's progress line closing each batch of networks (ytlstm.training.run_tasks).
BATCH = re.compile(r"(\d+) networks trained in ([\d.]+) s: (\d+) network-epochs")


def study_rate(lines: list[str]) -> tuple[float, float, int]:
    """From a study's progress lines: seconds spent training batches of networks, the
    network-epochs trained, and the number of batches."""
    seconds, epochs, n = 0.0, 0, 0
    for line in lines:
        m = BATCH.search(line)
        if m:
            seconds, epochs, n = seconds + float(m.group(2)), epochs + int(m.group(3)), n + 1
    return seconds, epochs, n


def _real_windows():
    """The real US windows of the chronological split: (train, validation) Windows."""
    from ytlstm.config import StudyConfig, resolve_data_dir
    from ytlstm.data import load_dataset
    from ytlstm.windows import chronological_split, make_windows

    cfg = StudyConfig()
    ds = load_dataset(resolve_data_dir(), "US", cfg.window)
    w = make_windows(ds.frame, cfg.window)
    split = chronological_split(w, ds.frame["date"].to_numpy(), cfg.test_frac, cfg.val_frac)
    return w.subset(split.mask("train")), w.subset(split.mask("validation"))


def training_comparison(epochs: int = 20, n_seeds: int = 5, units: int = 16,
                        rounds: int = 3) -> dict:
    """Plain Keras (one fit per seed) against the engine, alternating, in this process."""
    import statistics

    import numpy as np

    from ytlstm.training import _configure_tf

    _configure_tf(threads=1)                 # as in a training worker
    from ytlstm.config import StudyConfig
    from ytlstm.engine import initial_weights, train_branches
    from ytlstm.models import _keras, build_lstm, fit_network
    from ytlstm.windows import FeatureTransform

    train, val = _real_windows()
    cfg = StudyConfig(units=units, loss="mae", target="drift", max_epochs=epochs,
                      patience=epochs + 1)   # no early stopping: equal work on both sides
    t = FeatureTransform(False, cfg.target).fit(train)
    x, y = t.transform_x(train), t.transform_y(train)
    xv, yv = t.transform_x(val), t.transform_y(val)
    seeds = list(range(n_seeds))
    inits = [initial_weights(s, cfg.window, t.n_channels, units) for s in seeds]

    def reference() -> float:
        total = 0.0
        for s in seeds:
            _keras().utils.set_random_seed(s)
            net = build_lstm(cfg.window, t.n_channels, units, cfg.dropout, cfg.learning_rate,
                             cfg.loss)
            total += fit_network(net, x, y, xv, yv, cfg, s).seconds
        return total / (n_seeds * epochs)

    def engine(k: int, shuffle: str = "branch") -> float:
        t0 = time.perf_counter()
        train_branches(x, y, xv, yv, seeds[:k], inits[:k], loss=cfg.loss,
                       learning_rate=cfg.learning_rate, batch_size=cfg.batch_size,
                       max_epochs=epochs, patience=epochs + 1, shuffle=shuffle)
        return (time.perf_counter() - t0) / (k * epochs)

    t0 = time.perf_counter()
    engine(n_seeds)                          # tracing (once per process and loss), not timed
    first_call = time.perf_counter() - t0
    runs: dict[str, list[float]] = {"reference": [], "engine": [], "engine_shared_order": [],
                                    "engine_single_network": []}
    for r in range(rounds):
        runs["reference"].append(reference())
        runs["engine"].append(engine(n_seeds))
        runs["engine_shared_order"].append(engine(n_seeds, "shared"))
        runs["engine_single_network"].append(engine(1))
        print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in runs.items())
              + " s/network-epoch", flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {"conditions": f"real US chronological split ({len(y)} training, {len(yv)} validation "
                          f"windows), univariate LSTM({units}), batch {cfg.batch_size}, "
                          f"{epochs} epochs, {n_seeds} seeds, no early stopping, one process "
                          f"with single-threaded TensorFlow; median of {rounds} alternating "
                          f"rounds; machine shared with other work (noisy)",
            "s_per_network_epoch": {k: round(v, 5) for k, v in med.items()},
            "rounds": {k: [round(v, 5) for v in vs] for k, vs in runs.items()},
            "ratio_reference_over_engine": round(med["reference"] / med["engine"], 2),
            "ratio_reference_over_engine_shared_order":
                round(med["reference"] / med["engine_shared_order"], 2),
            "ratio_reference_over_engine_single_network":
                round(med["reference"] / med["engine_single_network"], 2),
            "engine_first_call_seconds": round(first_call, 2)}


def _training_rows(tc: dict) -> list[dict]:
    rows = []
    names = {"reference": "training: plain Keras, one fit per seed",
             "engine": "training: engine, 5 seeds together",
             "engine_shared_order": "training: engine, 5 seeds, one shared shuffle order",
             "engine_single_network": "training: engine, one network alone"}
    for k, v in tc["s_per_network_epoch"].items():
        rows.append({"measurement": names[k], "value": v, "unit": "s/network-epoch",
                     "peak_rss_mib": ""})
    rows.append({"measurement": "training: engine speed-up over plain Keras",
                 "value": tc["ratio_reference_over_engine"], "unit": "x", "peak_rss_mib": ""})
    return rows


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--training-only", action="store_true",
                    help="only the side-by-side training comparison (a few minutes)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    print("training: plain Keras reference vs the engine, side by side", flush=True)
    tc = training_comparison(epochs=args.epochs, rounds=args.rounds)
    for row in _training_rows(tc):
        print(f"{row['measurement']:<55} {row['value']:>9} {row['unit']}")
    rows = _training_rows(tc)
    if args.training_only:
        return _write(rows + _previous_build_rows(), tc)
    py = sys.executable
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0",
               PYTHONHASHSEED="0")
    if "YTLSTM_DATA_DIR" not in env:
        env["YTLSTM_DATA_DIR"] = str((ROOT / "data" / "raw").resolve())
    env.pop("YTLSTM_CACHE_DIR", None)
    with tempfile.TemporaryDirectory(prefix="ytlstm-bench-") as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env["PYTHONPATH"] = str(clone)      # the clone's package, also in the chapters' kernels
        # MathJax for the pages (npm, ~3 s; not part of the timings)
        subprocess.run(["make", "--no-print-directory", "mathjax"], cwd=clone, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        book = [py, "-m", "ytlstm", "book"]
        from ytlstm.build import FRESH_BOOK
        from ytlstm.outputs import BOOK_COUNTRIES

        studies = {c: [py, "-m", "ytlstm", "run", "--country", c] for c in BOOK_COUNTRIES}

        def measure(name: str, *cmds: list[str], log: list[str] | None = None) -> float:
            total, peak = 0.0, 0.0
            for c in cmds:
                s, p = run(c, clone, env, log)
                total, peak = total + s, max(peak, p)
            rows.append({"measurement": name, "value": round(total, 1), "unit": "s",
                         "peak_rss_mib": round(peak)})
            print(f"{name:<40} {total:8.1f} s   peak {peak:6.0f} MiB", flush=True)
            return total

        scratch = 0.0
        engine_rate = 1 / tc["s_per_network_epoch"]["engine"]   # one process, 5 seeds together
        for c, cmd in studies.items():      # each country's study from scratch, then the build
            lines: list[str] = []
            scratch += measure(f"study from scratch, {c}", cmd, log=lines)
            seconds, epochs, batches = study_rate(lines)
            if seconds:
                rate = epochs / seconds
                workers = os.cpu_count() or 1
                for name, value, unit in (
                        (f"study {c}: network-epochs trained", epochs, "network-epochs"),
                        (f"study {c}: training rate", round(rate, 1), "network-epochs/s"),
                        (f"study {c}: rate per worker / engine's rate",
                         round(rate / workers / engine_rate, 3), "ratio")):
                    rows.append({"measurement": name, "value": value, "unit": unit,
                                 "peak_rss_mib": ""})
                    print(f"{name:<50} {value:>10} {unit}", flush=True)
        scratch += measure("book build after the studies", book)
        rows.append({"measurement": FRESH_BOOK,
                     "value": round(scratch, 1), "unit": "s", "peak_rss_mib": ""})
        print(f"{FRESH_BOOK:<40} {scratch:8.1f} s", flush=True)
        every = [*studies.values(), book]
        measure("rebuild, nothing changed", *every)
        chapter = clone / "book" / "methods.md"
        chapter.write_text(chapter.read_text() + "\n<!-- touched by the benchmark -->\n")
        measure("rebuild after touching a chapter", *every)
        module = clone / "ytlstm" / "plots.py"
        module.write_text(module.read_text() + "\n# touched by the benchmark\n")
        measure("rebuild after editing ytlstm/plots.py", *every)

        import pandas as pd

        from ytlstm.outputs import default_results_dir

        for c in BOOK_COUNTRIES:     # each study's stages, as computed from scratch
            timings = clone / default_results_dir(c) / "timings.csv"
            if not timings.exists():
                continue
            for r in pd.read_csv(timings).itertuples():
                rows.append({"measurement": f"study {c} stage {r.stage} (from scratch)",
                             "value": round(float(r.seconds), 1), "unit": "s",
                             "peak_rss_mib": ""})
                print(f"study {c} stage {r.stage:<25} {float(r.seconds):8.1f} s")
        training = pd.read_csv(clone / "_build" / "results" / "training.csv")
        windows = pd.read_csv(clone / "_build" / "results" / "split.csv")
        n_train = int(windows.loc[windows.part == "train", "windows"].iloc[0])
        # the chronological origins' final networks (protocol v2: one row per origin and seed)
        per = training[training.origin != "video"].groupby("model").agg(
            seconds=("seconds", "sum"), epochs=("epochs_run", "sum"))
        for model, r in per.iterrows():
            rows.append({"measurement": f"study: train {model}", "unit": "s/network-epoch",
                         "value": round(r.seconds / r.epochs, 4), "peak_rss_mib": ""})
            rows.append({"measurement": f"study: train {model}", "unit": "windows/s",
                         "value": round(n_train * r.epochs / r.seconds), "peak_rss_mib": ""})
            print(f"study: train {model:<26} {r.seconds / r.epochs:8.4f} s/network-epoch "
                  f"{n_train * r.epochs / r.seconds:8.0f} windows/s")
    return _write(rows, tc)


def _previous_build_rows() -> list[dict]:
    """The book-build rows of the last full run (``--training-only`` keeps them)."""
    if not OUT.exists():
        return []
    old = json.loads(OUT.read_text())
    when = old.get("build_timestamp", old.get("timestamp", "?"))
    rows = []
    for r in old.get("rows", []):
        name = r.get("measurement", "")
        if name.startswith(("training:", "train ", "study: train")):
            continue                # training rows are measured again (old ones: wrong units)
        value, unit = (r["value"], r["unit"]) if "value" in r else (r.get("seconds"), "s")
        rows.append({"measurement": name, "value": value, "unit": unit,
                     "peak_rss_mib": r.get("peak_rss_mib", ""), "measured": when})
    return rows


def _write(rows: list[dict], training: dict) -> int:
    record = {"timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": platform.machine(), "cores": os.cpu_count(),
              "python": platform.python_version(), "rows": rows, "training": training}
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

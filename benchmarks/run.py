"""Benchmarks of the book build and of training (``make bench``; not part of ``make test``).

Measures, on this machine, in a fresh clone of the repository (so the caches start empty):
1. the whole book build from scratch (study + execution + HTML),
2. a rebuild with nothing changed,
3. a rebuild after touching one chapter's prose,
4. a rebuild after editing one package module (a comment added to ytlstm/plots.py, which no
   cached stage depends on: the study cache must hit, the chapters re-execute),
then training throughput per model from the study's own training logs, and peak memory of each
build step. Prints a table and writes it to benchmarks/results.json (the latest run; commit it
so the book's reproducibility appendix shows the latest figures).
"""

from __future__ import annotations

import json
import os
import platform
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


def run(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """Run a command; returns (seconds, peak RSS of the children in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return seconds, peak


def main() -> int:
    py = sys.executable
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0",
               PYTHONHASHSEED="0")
    if "YTLSTM_DATA_DIR" not in env:
        env["YTLSTM_DATA_DIR"] = str((ROOT / "data" / "raw").resolve())
    env.pop("YTLSTM_CACHE_DIR", None)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ytlstm-bench-") as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env["PYTHONPATH"] = str(clone)      # the clone's package, also in the chapters' kernels
        # MathJax for the pages (npm, ~3 s; not part of the timings)
        subprocess.run(["make", "--no-print-directory", "mathjax"], cwd=clone, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        book = [py, "-m", "ytlstm", "book"]
        study = [py, "-m", "ytlstm", "run", "--quiet"]

        def measure(name: str, *cmds: list[str]) -> None:
            total, peak = 0.0, 0.0
            for c in cmds:
                s, p = run(c, clone, env)
                total, peak = total + s, max(peak, p)
            rows.append({"measurement": name, "seconds": round(total, 1),
                         "peak_rss_mib": round(peak)})
            print(f"{name:<40} {total:8.1f} s   peak {peak:6.0f} MiB", flush=True)

        measure("book from scratch (study + build)", study, book)
        measure("rebuild, nothing changed", study, book)
        chapter = clone / "book" / "methods.md"
        chapter.write_text(chapter.read_text() + "\n<!-- touched by the benchmark -->\n")
        measure("rebuild after touching a chapter", study, book)
        module = clone / "ytlstm" / "plots.py"
        module.write_text(module.read_text() + "\n# touched by the benchmark\n")
        measure("rebuild after editing ytlstm/plots.py", study, book)

        import pandas as pd

        training = pd.read_csv(clone / "_build" / "results" / "training.csv")
        windows = pd.read_csv(clone / "_build" / "results" / "split.csv")
        n_train = int(windows.loc[windows.part == "train", "windows"].iloc[0])
        per = training[training.split == "chronological"].groupby("model").agg(
            seconds=("seconds", "mean"), epochs=("epochs_run", "mean"))
        for model, r in per.iterrows():
            rows.append({"measurement": f"train {model}: s/epoch",
                         "seconds": round(r.seconds / r.epochs, 3), "peak_rss_mib": ""})
            rows.append({"measurement": f"train {model}: windows/s",
                         "seconds": round(n_train * r.epochs / r.seconds), "peak_rss_mib": ""})
            print(f"train {model:<33} {r.seconds / r.epochs:8.3f} s/epoch "
                  f"{n_train * r.epochs / r.seconds:8.0f} windows/s")
    record = {"timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": platform.machine(), "cores": os.cpu_count(),
              "python": platform.python_version(), "rows": rows}
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``ytlstm run`` killed in the middle resumes (issue 12, item 4).

A subprocess runs the small synthetic study (the settings of tests/test_study_small.py,
passed with ``--config``) and is killed (SIGKILL, no chance to clean up) as soon as the first
stage's result is in the cache. Running it again completes the study, loads every stage that
was finished before the kill instead of recomputing it, and writes exactly the tables of an
uninterrupted run into a fresh cache. Nothing here depends on the names of the stages: they
are read from the cache's file names (``<stage>-<key>.pkl``) and the progress lines.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import ytlstm
from test_study_small import CONFIG, _dataset

pytestmark = pytest.mark.slow

REPO = Path(ytlstm.__file__).resolve().parents[1]
STAGE_LINE = re.compile(r"^\[(?P<stage>[^\]]+)\] (?P<state>cached|running)\b")


def _env() -> dict:
    env = dict(os.environ)
    env.update(PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3", YTLSTM_JOBS="1",
               TF_ENABLE_ONEDNN_OPTS="0",
               PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(
                   os.pathsep))
    return env


def _cmd(root: Path, cache: str, out: str) -> list[str]:
    return [sys.executable, "-m", "ytlstm", "run", "--data-dir", str(root / "data"),
            "--config", str(root / "config.json"), "--cache-dir", str(root / cache),
            "--out", str(root / out), "--no-models"]


def _finished_stages(cache: Path) -> set[str]:
    """Stages whose result file is in the cache (temporary files start with a dot)."""
    return {p.name.rsplit("-", 1)[0] for p in cache.glob("*.pkl") if not p.name.startswith(".")}


def _stage_states(stdout: str) -> dict[str, str]:
    states = {}
    for line in stdout.splitlines():
        m = STAGE_LINE.match(line.strip())
        if m:
            states.setdefault(m["stage"], m["state"])
    return states


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Every CSV table, without wall-clock columns (they differ between any two runs)."""
    out = {}
    for p in sorted(folder.glob("*.csv")):
        t = pd.read_csv(p)
        out[p.name] = t.drop(columns=[c for c in t.columns if "second" in c.lower()])
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    _dataset(root / "data")
    fields = {k: v for k, v in CONFIG.to_dict().items() if k != "country"}
    (root / "config.json").write_text(json.dumps(fields))
    return root


def test_killed_run_resumes_without_recomputing_and_gives_identical_tables(root):
    cache = root / "cache"
    proc = subprocess.Popen(_cmd(root, "cache", "out"), cwd=root, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not (cache.exists() and _finished_stages(cache)):
            if proc.poll() is not None:
                pytest.fail("the run ended before its first stage was cached: "
                            + proc.stderr.read().decode(errors="replace")[-2000:])
            if time.monotonic() > deadline:
                pytest.fail("no stage was cached within 10 minutes")
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done = _finished_stages(cache)
    assert done, "the first stage was cached before the kill"
    assert not (root / "out" / "run.json").exists(), "the killed run wrote no run record"

    resumed = subprocess.run(_cmd(root, "cache", "out"), cwd=root, env=_env(),
                             capture_output=True, text=True, timeout=3000)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    states = _stage_states(resumed.stdout)
    assert done <= set(states), (done, states)
    recomputed = sorted(s for s in done if states[s] != "cached")
    assert not recomputed, f"stages finished before the kill were recomputed: {recomputed}"
    assert "running" in states.values(), "the rest of the study was computed"

    fresh = subprocess.run(_cmd(root, "fresh-cache", "fresh-out"), cwd=root, env=_env(),
                           capture_output=True, text=True, timeout=3000)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert set(_stage_states(fresh.stdout).values()) == {"running"}

    a, b = _tables(root / "out"), _tables(root / "fresh-out")
    assert a and a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)

    # both runs recorded what their folder holds (ytlstm.outputs)
    rec = json.loads((root / "out" / "run.json").read_text())
    assert rec["country"] == "US" and rec["holds"] == "results"
    assert rec == json.loads((root / "fresh-out" / "run.json").read_text())


def test_rerun_with_nothing_changed_writes_nothing(root):
    """A second run of the same study finds its tables up to date (``.study-key``) and leaves
    every file as it is; a deleted or edited table makes it write the tables again."""
    first = subprocess.run(_cmd(root, "cache2", "out2"), cwd=root, env=_env(),
                           capture_output=True, text=True, timeout=3000)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "wrote" in first.stdout
    out = root / "out2"
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()}

    again = subprocess.run(_cmd(root, "cache2", "out2"), cwd=root, env=_env(),
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"tables in {out} are up to date" in again.stdout
    assert set(_stage_states(again.stdout).values()) == {"cached"}
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()
             if p.name != "run.json"}
    assert after == {k: v for k, v in before.items() if k != "run.json"}

    (out / "metrics.csv").unlink()
    (out / "split.csv").write_text("edited\n")
    third = subprocess.run(_cmd(root, "cache2", "out2"), cwd=root, env=_env(),
                           capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "up to date" not in third.stdout and "wrote" in third.stdout
    assert (out / "metrics.csv").read_bytes() == before["metrics.csv"][1]
    assert (out / "split.csv").read_bytes() == before["split.csv"][1]

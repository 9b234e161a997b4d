"""Every command the README and the ``--help`` texts show works (issue 26, items 1, 3 and 4).

The commands are read from the README's ``bash`` code blocks and from each subcommand's
``--help`` examples (its epilog, and the JSON example of ``--config``), so when a command or
an example changes, this test runs the new one, and an exclusion below that the docs no longer
show fails until the docs and the test agree. Each command runs as documented, in a scratch
folder that plays the repository (``data/raw/`` holds a small synthetic US and GB country,
``_build/`` is written there), with only what makes it offline and small changed:

* ``--data-dir`` of any path names that folder, absolute ``/tmp/...`` paths a folder in it;
* ``run`` and ``export-models`` get ``--config`` with tiny grids and one seed (a documented
  ``--config`` example is merged over them);
* ``--scheduler tcp://HOST:8786`` is the address of a Dask ``LocalCluster`` started here, which
  stands for the README's ``dask scheduler`` and ``dask worker`` commands;
* ``download`` gets the synthetic files from a stand-in for ``kagglehub`` instead of Kaggle;
* ``predict --csv FILE`` reads a small synthetic file of that name.

The whole book (``make book``, ``make test``, ``ytlstm book``, ``jupyter-book build``) is
excluded, with the reason, in :data:`EXCLUDED`. One study cache serves every command (the
first ``run``, on the Dask cluster, trains the US study; ``--seeds 2`` and the GB run train
theirs, and the check of item 4 one more), about a minute and a half on two cores.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import shlex
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import ytlstm
from kaggle_files import COLUMNS, make_rows, write_country, write_videos
from test_study_small import CONFIG as SMALL
from ytlstm.cli import build_parser, main

pytestmark = pytest.mark.slow

REPO = Path(ytlstm.__file__).resolve().parents[1]
README = REPO / "README.md"

#: Documented commands not run here, and why.
EXCLUDED = {
    "make book": "builds the whole book on the real data (make test builds it strictly)",
    "make test": "runs every test, this one included",
    ".venv/bin/jupyter-book build .": "renders the whole book (make test's book targets)",
    "YTLSTM_SCHEDULER=tcp://HOST:8786 make book": "builds the whole book; its scheduler path "
                                                  "is the one of `ytlstm run --scheduler`, run "
                                                  "here",
    "ytlstm book --strict": "builds the whole book (make test's book-strict does)",
}
#: Documented commands that start the Dask cluster: the LocalCluster of :func:`cluster`
#: (a scheduler and two worker processes of one thread each, on the loopback interface).
CLUSTER = {
    ".venv/bin/dask scheduler --port 8786",
    "TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/dask worker tcp://HOST:8786 --nworkers auto "
    "--nthreads 1",
}
#: Commands the docs imply rather than show, run too: what ``make book`` runs first, the
#: one-seed run of issue 26, and predict with only one of ``--horizon``/``--intervals``.
EXTRA = [
    "ytlstm download --if-missing --country US --data-dir data/raw",
    "ytlstm run --seeds 1 --out one-seed",
    "ytlstm predict --horizon 2 --model drift --csv my_videos.csv --out day2.csv",
    "ytlstm predict --intervals --model naive --csv my_videos.csv --out intervals.csv",
]
#: The tiny study every run gets: the small study's grids, one seed.
TINY = {k: v for k, v in SMALL.replace(seeds=(0,)).to_dict().items() if k != "country"}


# --------------------------------------------------------------------------- reading the docs

def readme_commands() -> list[str]:
    """Each command line of the README's ``bash`` code blocks, without its comment."""
    out = []
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", README.read_text(encoding="utf-8"),
                                 re.S):
        if lang == "bash":
            out += [" ".join(shlex.split(line, comments=True)) for line in body.splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
    return out


def readme_synopsis() -> list[str]:
    """The lines of the README's ``text`` block that start a command (``ytlstm CMD ...``)."""
    blocks = re.findall(r"```text\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return [ln.strip() for b in blocks for ln in b.splitlines() if ln.startswith("ytlstm ")]


def subparsers() -> dict:
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return dict(action.choices)


def help_examples() -> list[str]:
    """The ``ytlstm ...`` examples of every subcommand's ``--help`` epilog."""
    out = []
    for p in subparsers().values():
        out += re.findall(r"^(?:example: |\s+)(ytlstm .+?)\s*$", p.epilog or "", re.M)
    return out


def config_examples() -> list[dict]:
    """The JSON examples in the help of ``--config`` (of ``run`` and ``export-models``)."""
    out = []
    for p in subparsers().values():
        for a in p._actions:
            if "--config" in a.option_strings:
                out += [json.loads(m) for m in re.findall(r"e\.g\. (\{.*?\})", a.help)]
    return [json.loads(s) for s in sorted({json.dumps(d, sort_keys=True) for d in out})]


def documented() -> list[str]:
    return list(dict.fromkeys(readme_commands() + help_examples()))


def config_commands() -> list[str]:
    return [f"ytlstm run --config config-example-{i}.json --out config-example-{i}"
            for i, _ in enumerate(config_examples())]


def to_run() -> list[str]:
    """Every command run here, in an order that works: data first, then the runs (the one on
    the Dask cluster first, so it trains), then the forecasts with their models."""
    cmds = [c for c in documented() if c not in EXCLUDED and c not in CLUSTER]
    cmds += EXTRA + config_commands()
    phase = {"data": 0, "download": 0, "run": 1, "export-models": 1, "predict": 2}

    def key(c: str) -> tuple:
        argv = ytlstm_argv(c)[1]
        return phase.get(argv[0], 3), "--scheduler" not in argv

    return sorted(dict.fromkeys(cmds), key=key)


def ytlstm_argv(command: str) -> tuple[dict[str, str], list[str]]:
    """``(environment assignments, arguments after the program)`` of an ``ytlstm`` command."""
    words = shlex.split(command)
    env = {}
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    assert words and Path(words[0]).name == "ytlstm", \
        f"{command!r}: not an ytlstm command; run it here or list it in EXCLUDED or CLUSTER"
    return env, words[1:]


# --------------------------------------------------------------------------- running them

@dataclass
class Ran:
    argv: list[str]
    code: int
    out: str
    err: str


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def _set(argv: list[str], name: str, value: str) -> list[str]:
    if name in argv:
        argv = list(argv)
        argv[argv.index(name) + 1] = value
        return argv
    return [*argv, name, value]


def offline(command: str, home: Path, address: str) -> tuple[dict[str, str], list[str]]:
    """The command's environment and arguments, made offline and small (module docstring)."""
    env, argv = ytlstm_argv(command)
    if "YTLSTM_SCHEDULER" in env:
        env["YTLSTM_SCHEDULER"] = address
    argv = [str(home / "tmp" / Path(a).relative_to("/tmp")) if a.startswith("/tmp/") else a
            for a in argv]
    if "--data-dir" in argv:
        argv = _set(argv, "--data-dir", "data/raw")
    if "--scheduler" in argv:
        argv = _set(argv, "--scheduler", address)
    if argv[0] in ("run", "export-models"):
        example = json.loads((home / c).read_text()) if (c := _option(argv, "--config")) else {}
        cfg = home / (c or "tiny.json")
        cfg.write_text(json.dumps({**TINY, **example}))
        argv = _set(argv, "--config", cfg.name)
    if argv[0] == "predict":
        csv = home / _option(argv, "--csv")
        if not csv.exists():
            country = (_option(argv, "--country") or "US").upper()
            write_videos(csv, make_rows(country, n_videos=4, days=9, start="2018-01-02"),
                         COLUMNS)
    return env, argv


class FakeKaggle:
    """A stand-in for ``kagglehub``: the "download" is a folder of the synthetic files."""

    def __init__(self, folder: Path):
        self.folder = folder

    def dataset_download(self, slug: str) -> str:
        assert slug == "datasnaek/youtube-new"
        return str(self.folder)


def _dataset(folder: Path, country: str):
    """The small study's country (a few hundred videos over a month)."""
    import numpy as np

    rng = np.random.default_rng(2024)
    days = rng.integers(8, 16, size=300).tolist()
    first = rng.integers(0, 31, size=300).tolist()
    return write_country(folder, country, n_videos=300, days=days, first_day=first,
                         gaps=["2017-11-30"])


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("checkout")
    kaggle = home / "kaggle-download"
    for country in ("US", "GB"):
        _dataset(kaggle, country)
        _dataset(home / "data" / "raw", country)
    for i, example in enumerate(config_examples()):     # the files of config_commands()
        (home / f"config-example-{i}.json").write_text(json.dumps(example))
    return home


@contextlib.contextmanager
def _environment(home: Path, env: dict[str, str]):
    """Run in ``home`` with local training in this process, no YTLSTM_* variables but
    ``env``'s, and ``kagglehub`` replaced; restores the whole environment after (``--scheduler``
    sets YTLSTM_SCHEDULER)."""
    saved = dict(os.environ)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(home)
            for k in [k for k in os.environ if k.startswith("YTLSTM_")]:
                mp.delenv(k)
            mp.setenv("YTLSTM_JOBS", "1")
            for k, v in env.items():
                mp.setenv(k, v)
            mp.setitem(sys.modules, "kagglehub", FakeKaggle(home / "kaggle-download"))
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def ran(home, cluster) -> dict[str, Ran]:
    """Every command of :func:`to_run`, run in order in ``home`` (``ytlstm.cli.main`` in this
    process, stdout and stderr captured): command -> :class:`Ran`."""
    results = {}
    for command in to_run():
        env, argv = offline(command, home, cluster.scheduler_address)
        with _environment(home, env):
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as e:                 # argparse: a bad option
                    code = e.code
                except Exception:                       # fails this command's test only
                    err.write(traceback.format_exc())
                    code = None
            results[command] = Ran(argv, code, out.getvalue(), err.getvalue())
    assert "YTLSTM_SCHEDULER" not in os.environ
    return results


# --------------------------------------------------------------------------- the tests

def test_docs_and_this_test_agree():
    """Every documented command is run here or excluded with a reason; nothing excluded is
    gone from the docs; every subcommand shows an example in its --help."""
    docs = documented()
    assert docs, "no commands found in README.md and the help texts"
    stale = (set(EXCLUDED) | CLUSTER) - set(docs)
    assert not stale, f"excluded here but no longer documented: {sorted(stale)}"
    for c in docs:
        if c not in EXCLUDED and c not in CLUSTER:
            ytlstm_argv(c)                        # an ytlstm command, or it fails here
    for name, p in subparsers().items():
        assert re.search(r"^(?:example: |\s+)ytlstm " + re.escape(name) + r"\b",
                         p.epilog or "", re.M), f"`ytlstm {name} --help` shows no example"
    assert config_examples(), "the --config help shows no JSON example"


def test_readme_synopsis_shows_only_real_options():
    parsers = subparsers()
    lines = readme_synopsis()
    assert lines
    for line in lines:
        name = line.split()[1]
        assert name in parsers, line
        known = {o for a in parsers[name]._actions for o in a.option_strings}
        for opt in re.findall(r"--[a-z][a-z-]*", line):
            assert opt in known, f"README shows `ytlstm {name} {opt}`, which does not exist"


@pytest.mark.parametrize("name", sorted(subparsers()))
def test_help_exits_0(name, capsys):
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    assert e.value.code == 0
    assert "example" in capsys.readouterr().out


@pytest.mark.parametrize("command", to_run())
def test_documented_command_works(command, ran, home):
    r = ran[command]
    assert "Traceback" not in r.err and "Traceback" not in r.out, r.err
    assert r.code == 0, f"{command} -> {r.argv}: exit {r.code}\n{r.err[-2000:]}"
    cmd = r.argv[0]
    if cmd == "data" and "--json" in r.argv:
        assert json.loads(r.out)["country"] == (_option(r.argv, "--country") or "US")
    elif cmd == "data":
        assert "usable windows" in r.out
    elif cmd == "download":
        assert (home / "data" / "raw" / "USvideos.csv").is_file()
    elif cmd == "run":
        _check_run(r, home)
    elif cmd == "export-models":
        lines = [ln.split("\t") for ln in r.out.splitlines() if "\t" in ln]
        assert len(lines) >= 10, r.out
        for _, path in lines:
            assert (home / path / "metadata.json").is_file(), path
    elif cmd == "predict":
        _check_predict(r, home)


def _check_run(r: Ran, home: Path) -> None:
    country = (_option(r.argv, "--country") or "US").upper()
    out = home / (_option(r.argv, "--out") or
                  ("_build/results" if country == "US" else f"_build/results/{country}"))
    for name in ("metrics.csv", "predictions.csv.gz", "predictions_seeds.csv.gz", "run.json"):
        assert (out / name).is_file(), (r.argv, name)
    config = json.loads((home / _option(r.argv, "--config")).read_text())
    n = int(_option(r.argv, "--seeds") or len(config["seeds"]))
    m = pd.read_csv(out / "metrics.csv")
    nets = m[m["model"].str.startswith("lstm")]
    assert (nets["n_seeds"] == n).all(), (r.argv, nets["n_seeds"].unique())
    assert nets["rel_mae_seed_std"].isna().all() == (n == 1)
    with gzip.open(out / "predictions_seeds.csv.gz", "rt") as f:
        seeds = pd.read_csv(f)
    assert sorted(seeds["seed"].unique()) == list(range(n))
    if "--scheduler" in r.argv:
        assert "Dask cluster tcp://127.0.0.1" in r.out, r.out[-2000:]
        assert "0 computed" not in r.out, "the run on the cluster trained the study"
    if "--no-models" not in r.argv:
        models = home / (_option(r.argv, "--models-dir") or f"_build/models/{country}")
        assert (models / "run.json").is_file() and (models / "lstm_multivariate").is_dir()


def _check_predict(r: Ran, home: Path) -> None:
    target = _option(r.argv, "--out")
    table = pd.read_csv(home / target if target else io.StringIO(r.out))
    assert len(table) == 4, table                       # every video of the file
    assert table.filter(like="views").notna().all().all()
    intervals = {"lower_80", "upper_80", "lower_95", "upper_95"}
    assert intervals <= set(table.columns) if "--intervals" in r.argv else \
        not intervals & set(table.columns)
    assert "forecast 4 of 4 videos" in r.err
    horizon = int(_option(r.argv, "--horizon") or 1)
    if horizon > 1:
        assert f"{horizon} days after their last day" in r.err


# --------------------------------------------------------------------------- item 4

def _run(home: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with _environment(home, {}), contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_failure_at_the_end_loses_no_work(home, ran, monkeypatch):
    """A run that trains and then fails writing its tables, and one that fails exporting its
    models, keep what they did: the rerun computes no stage again, and after the export
    failure not even the tables (they are this study's, stamped); the models, exported while
    the tables are written, are kept when only the tables fail; the tables equal those of the
    same study run without failure."""
    import ytlstm.report
    import ytlstm.saved

    (home / "resume.json").write_text(json.dumps(TINY))
    argv = ["run", "--config", "resume.json", "--cache-dir", "resume-cache", "--out",
            "resume-results", "--models-dir", "resume-models"]

    def broken(*a, **k):
        raise RuntimeError("injected table failure")

    with monkeypatch.context() as mp:
        mp.setattr(ytlstm.report, "all_tables", broken)
        with pytest.raises(RuntimeError, match="injected table failure"):
            _run(home, *argv)
    assert list((home / "resume-cache").glob("horizons-*.pkl")), "every stage was cached"
    assert not (home / "resume-results" / ".study-key").exists()
    assert not (home / "resume-results" / "run.json").exists()
    # the export ran beside the failing tables and finished: its models are this study's
    assert (home / "resume-models" / "run.json").is_file()
    assert (home / "resume-models" / ".study-key").is_file()

    def broken_export(*a, **k):
        raise RuntimeError("injected export failure")

    argv[-1] = "resume-models-2"          # a folder the export has not filled yet
    with monkeypatch.context() as mp:
        mp.setattr(ytlstm.saved, "export_models", broken_export)
        with pytest.raises(RuntimeError, match="injected export failure"):
            _run(home, *argv)
    stamp = (home / "resume-results" / ".study-key").read_bytes()
    assert not (home / "resume-models-2" / "run.json").exists()

    code, out = _run(home, *argv)
    assert code == 0
    assert "0 computed" in out and "running" not in out, out
    assert "tables in resume-results are up to date" in out, out
    assert "wrote" in out and (home / "resume-models-2" / "run.json").is_file()
    assert (home / "resume-results" / ".study-key").read_bytes() == stamp
    code, out = _run(home, *argv)
    assert code == 0 and "models in resume-models-2 are up to date" in out

    same = home / "one-seed"           # the same study (one seed), run without failures
    for name in ("metrics.csv", "predictions.csv.gz", "predictions_seeds.csv.gz",
                 "paired_test.csv", "metrics_by_horizon.csv"):
        assert (home / "resume-results" / name).read_bytes() == (same / name).read_bytes(), name

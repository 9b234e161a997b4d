"""The study's configuration is checked before any work (issue 26, item 2).

``StudyConfig`` checks every field's type and range when it is made (so ``replace`` and
``from_dict`` too), and ``ytlstm run``/``export-models`` turn a bad ``--config`` file,
``--seeds`` or ``--country`` into exit 2 with one line naming the file and field (or the
option), before reading the data or creating the cache.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from kaggle_files import write_country
from ytlstm.config import RULES, ConfigError, StudyConfig
from ytlstm.report import metrics_table, seed_spread_text

# field -> bad values (each must be refused with a ConfigError naming that field)
BAD = {
    "seeds": [[], [0, 0], [-1], [0.5], "0", 3, [True], None],
    "max_epochs": [0, -3, "3", 2.5, True, None],
    "patience": [0],
    "units_grid": [[], [0], [8, "16"]],
    "loss_grid": [["mse", "hinge"], "mae"],
    "loss": ["hinge", 1],
    "target_grid": [["log"]],
    "test_frac": [0, 1, 1.5, -0.1, "0.2", math.nan],
    "val_frac": [0.0],
    "learning_rate": [0, -1e-3],
    "dropout": [1.0, -0.1],
    "interval_levels": [[0.8, 1.2], [0.8, 0.8], []],
    "cluster_k_grid": [[1, 2]],
    "gbm_leaves_grid": [[1]],
    "drift_damping_grid": [[0.0], [1.5]],
    "drift_stat_grid": [["mode"]],
    "linear_inputs_grid": [["both"]],
    "baseline_loss_grid": [["huber"]],
    "bootstrap_reps": [0],
    "bootstrap_seed": [-1],
    "country": ["USA", "", "1A", 12],
    "window": [1],
    "n_origins": [0],
    "tuning_seeds": [0],
    "min_windows_per_part": [0],
    "batch_size": [0],
}
CASES = [(f, v) for f, values in BAD.items() for v in values]


@pytest.mark.parametrize("field,value", CASES, ids=[f"{f}={v!r}" for f, v in CASES])
def test_bad_value_names_its_field(field, value):
    with pytest.raises(ConfigError) as e:
        StudyConfig.from_dict({field: value})
    assert e.value.field == field
    assert str(e.value).startswith(f"{field}: ") and "\n" not in str(e.value)
    assert "expected" in str(e.value)
    with pytest.raises(ConfigError):            # the Python API checks the same way
        StudyConfig().replace(**{field: value})


def test_every_field_has_a_rule_and_the_defaults_pass():
    assert set(RULES) == set(StudyConfig().to_dict())
    StudyConfig()


def test_unknown_field_suggests_the_close_one():
    with pytest.raises(ConfigError, match=r"^max_epoch: unknown field; .*did you mean "
                                          r"max_epochs\?"):
        StudyConfig.from_dict({"max_epoch": 3})
    with pytest.raises(ConfigError, match="configuration"):
        StudyConfig.from_dict([("max_epochs", 3)])


def test_fractions_leave_room_for_training():
    with pytest.raises(ConfigError, match="test_frac \\+ val_frac = 1"):
        StudyConfig.from_dict({"test_frac": 0.6, "val_frac": 0.4})


def test_good_values_are_normalised():
    """JSON lists become tuples, whole numbers in float fields floats, numpy numbers Python's:
    the cache keys of equal configurations are equal."""
    c = StudyConfig.from_dict({"seeds": [0], "dropout": 0, "units_grid": [np.int64(4)],
                               "interval_levels": [0.9]})
    assert c.seeds == (0,) and c.units_grid == (4,) and type(c.units_grid[0]) is int
    assert c.dropout == 0.0 and type(c.dropout) is float
    assert c.to_json() == StudyConfig(seeds=(0,), dropout=0.0, units_grid=(4,),
                                      interval_levels=(0.9,)).to_json()
    assert StudyConfig.from_dict(json.loads(StudyConfig().to_json())) == StudyConfig()


# --------------------------------------------------------------------------- command line

def _one_line(code: int, err: str) -> str:
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def data(tmp_path):
    return write_country(tmp_path / "data", "US", n_videos=3, days=9).folder


@pytest.mark.parametrize("command", ["run", "export-models"])
@pytest.mark.parametrize("fields,named", [
    ({"max_epochs": 0}, "max_epochs: 0 is out of range"),
    ({"seeds": []}, "seeds: an empty list"),
    ({"seeds": [0, 0]}, "seeds: a value is repeated"),
    ({"max_epochs": "3"}, 'max_epochs: "3" is not a whole number'),
    ({"max_epochs": 3, "unit_grid": [8]}, "unit_grid: unknown field"),
    ({"learning_rate": -1}, "learning_rate: -1.0 is out of range"),
])
def test_bad_config_file_exit_2_before_any_work(tmp_path, data, run_cli, command, fields,
                                                named):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(fields))
    code, out, err = run_cli(command, "--data-dir", data, "--config", cfg,
                             "--cache-dir", tmp_path / "cache", "--models-dir", tmp_path / "m")
    line = _one_line(code, err)
    assert line.startswith(f"ytlstm: error: {cfg}: {named}"), line
    assert not (tmp_path / "cache").exists() and not (tmp_path / "m").exists()
    assert out == ""


@pytest.mark.parametrize("text,named", [
    ("[1, 2]", "an array, not a JSON object"),
    ("null", "null, not a JSON object"),
    ('"max_epochs"', "a string, not a JSON object"),
    ('{"max_epochs": 3', "unusable configuration"),
    ("", "unusable configuration"),
])
def test_config_that_is_not_an_object(tmp_path, data, run_cli, text, named):
    cfg = tmp_path / "c.json"
    cfg.write_text(text)
    code, _, err = run_cli("run", "--data-dir", data, "--config", cfg, "--cache-dir",
                           tmp_path / "cache", "--no-models")
    assert named in _one_line(code, err)
    assert not (tmp_path / "cache").exists()


def test_missing_config_file(tmp_path, data, run_cli):
    code, _, err = run_cli("run", "--data-dir", data, "--config", tmp_path / "none.json",
                           "--cache-dir", tmp_path / "cache", "--no-models")
    assert "none.json: file not found" in _one_line(code, err)


@pytest.mark.parametrize("argv,named", [
    (["--seeds", "0"], "--seeds 0; expected a whole number >= 1"),
    (["--seeds", "-2"], "--seeds -2; expected a whole number >= 1"),
    (["--seeds", "two"], "--seeds two; expected a whole number >= 1"),
    (["--seeds", "1.5"], "--seeds 1.5; expected a whole number >= 1"),
    (["--country", "USA"], "--country USA: 'USA' is out of range; expected a two-letter"),
])
def test_bad_options_exit_2_before_any_work(tmp_path, data, run_cli, argv, named):
    code, _, err = run_cli("run", "--data-dir", data, *argv, "--cache-dir", tmp_path / "cache",
                           "--out", tmp_path / "o", "--no-models")
    assert named in _one_line(code, err)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- one seed

def _pred_and_seeds(n_seeds: int):
    """A tiny predictions table (naive and one network, two splits) and its per-seed table."""
    rng = np.random.default_rng(0)
    rows, seeds = [], []
    for split in ("validation", "test"):
        y = rng.uniform(100, 200, 6)
        base = dict(split=split, origin="origin 1", horizon=1, video_id=list("abcdef"),
                    target_date=pd.Timestamp("2018-01-01"), run_day=8, y_true=y, scale=5.0,
                    window=np.arange(6) + (0 if split == "test" else 10))
        rows.append(pd.DataFrame({"model": "naive", **base, "y_pred": y - 10}))
        per = [y + rng.normal(0, 5, 6) for _ in range(n_seeds)]
        rows.append(pd.DataFrame({"model": "lstm_univariate", **base,
                                  "y_pred": np.mean(per, axis=0)}))
        for s, p in enumerate(per):
            seeds.append(pd.DataFrame({"model": "lstm_univariate", **base, "seed": s,
                                       "y_pred": p}))
    return pd.concat(rows, ignore_index=True), pd.concat(seeds, ignore_index=True)


def test_one_seed_metrics_have_an_empty_std_and_words_for_it():
    pred, seeds = _pred_and_seeds(1)
    m = metrics_table(pred, seeds).set_index(["model", "split"])
    net = m.loc[("lstm_univariate", "test")]
    assert net["n_seeds"] == 1
    assert net["rel_mae_seed_mean"] == pytest.approx(net["rel_mae"])
    assert math.isnan(net["rel_mae_seed_std"]) and math.isnan(net["mae_seed_std"])
    assert m.loc[("naive", "test"), "n_seeds"] == 0
    assert seed_spread_text(net) == "a single seed, so no spread between seeds"
    pred, seeds = _pred_and_seeds(3)
    net = metrics_table(pred, seeds).set_index(["model", "split"]).loc[("lstm_univariate",
                                                                        "test")]
    assert net["n_seeds"] == 3 and net["rel_mae_seed_std"] > 0
    assert seed_spread_text(net) == (f"single seeds {net['rel_mae_seed_mean']:.3f} ± "
                                     f"{net['rel_mae_seed_std']:.3f}")


def test_tuning_seeds_are_at_most_the_study_seeds():
    """``--seeds 1`` with the default tuning_seeds 3: the networks are tuned with one seed,
    and the chapters say so (``n_tuning_seeds``, as ``harness.tune`` takes them)."""
    assert StudyConfig(seeds=(0,)).n_tuning_seeds == 1
    assert StudyConfig(seeds=(4, 5), tuning_seeds=3).n_tuning_seeds == 2
    assert StudyConfig().n_tuning_seeds == StudyConfig().tuning_seeds == 3


def test_book_checks_its_configuration_before_building(tmp_path, run_cli, monkeypatch):
    """``ytlstm book`` with a bad ``$YTLSTM_CONFIG``: exit 2, one line, nothing built."""
    cfg = tmp_path / "book.json"
    cfg.write_text(json.dumps({"seeds": [], "max_epochs": 3}))
    monkeypatch.setenv("YTLSTM_CONFIG", str(cfg))
    monkeypatch.chdir(tmp_path)

    def build(*a, **k):
        raise AssertionError("the book was built")

    monkeypatch.setattr("ytlstm.build.build_book", build)
    code, _, err = run_cli("book")
    line = _one_line(code, err)
    assert line.startswith(f"ytlstm: error: {cfg}: seeds: an empty list"), line
    cfg.write_text("[]")
    assert "($YTLSTM_CONFIG)" in _one_line(*run_cli("book")[::2])

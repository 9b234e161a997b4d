"""The harness: tuning on validation (lowest MAE, ties to grid order), the chosen plan, and
reuse of memoised training runs. Training is replaced by a fast stand-in that records every
task it is asked to run, except in the one slow test, which trains tiny real networks."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ytlstm.harness as harness
from test_origins import windows_on_dates
from ytlstm.baselines import Drift, GradientBoosting, LinearAR
from ytlstm.config import StudyConfig
from ytlstm.evaluate import mae
from ytlstm.families import (Context, DriftFamily, Family, Fitted, GBMFamily, LinearFamily,
                             LSTMFamily, TransferFamily, all_families)
from ytlstm.harness import chosen_params, final_plan, params_id, run_plan, tune
from ytlstm.training import Trained

CONFIG = StudyConfig(seeds=(0, 1, 2), tuning_seeds=2, units_grid=(4, 8), loss_grid=("mae", "mse"),
                     target_grid=("drift",), drift_k_grid=(1, 2, 3), drift_damping_grid=(1.0, 0.6),
                     baseline_loss_grid=("squared", "absolute"),
                     linear_inputs_grid=("univariate",), gbm_leaves_grid=(7,), gbm_max_iter=30,
                     max_epochs=2, patience=1)


def fake_pred(w, t) -> np.ndarray:
    """A distinct, known forecast per (inputs, units, loss, seed, init)."""
    f = (1.0 + 0.01 * t.units + 0.001 * t.seed + (0.002 if t.loss == "mse" else 0.0)
         + (0.0005 if t.multivariate else 0.0) + (0.0003 if t.init == "transfer" else 0.0))
    return w.views[:, -1] * f


@pytest.fixture
def trained(monkeypatch):
    """Replace training by ``fake_pred``; returns the list of tasks actually trained."""
    calls = []

    def fake_run_tasks(tasks, windows, config, jobs=None, say=None):
        calls.extend(tasks)
        return [Trained(t.label, t.seed, fake_pred(windows, t), loss=[1.0], val_loss=[1.0],
                        best_epoch=1, epochs_run=1, seconds=0.5, weights=[np.full(2, t.seed)])
                for t in tasks]

    monkeypatch.setattr(harness, "run_tasks", fake_run_tasks)
    return calls


@pytest.fixture(scope="module")
def ctx():
    w, trending, _ = windows_on_dates(53, n=600)
    idx = np.arange(len(w))
    return Context(w, idx[:400], idx[400:520], CONFIG, label="test")


class TieFamily(Family):
    """A tuned family whose configurations have known validation MAEs: 3, 1, 1, 2."""

    name = "tie"
    tuned = True
    offsets = (3.0, 1.0, 1.0, 2.0)

    def grid(self, config):
        return [{"i": i} for i in range(len(self.offsets))]

    def collect(self, params, runs, ctx, upstream):
        return Fitted(self.name, dict(params),
                      (ctx.windows.y + self.offsets[params["i"]])[None, :])


def test_tune_picks_the_lowest_validation_mae_ties_to_grid_order(ctx, trained, monkeypatch):
    monkeypatch.setattr(harness, "all_families", lambda: all_families() + [TieFamily()])
    table, memo = tune(ctx, jobs=1, say=lambda s: None)
    y, va = ctx.windows.y[ctx.validation], ctx.validation
    naive = ctx.windows.views[va, -1]
    # one row per configuration of every tuned family, in grid order
    expected = [(f.name, params_id(p)) for f in all_families() + [TieFamily()] if f.tuned
                for p in f.grid(CONFIG)]
    assert list(zip(table["family"], table["config"])) == expected
    assert set(table["family"]) == {"drift", "linear_ar", "gbm", "lstm_univariate",
                                    "lstm_multivariate", "tie"}
    assert table.groupby("family")["chosen"].sum().eq(1).all()
    for fam, rows in table.groupby("family", sort=False):
        best = rows["val_mae"].min()
        chosen = rows[rows["chosen"]].iloc[0]
        assert chosen["val_mae"] == best
        # ties: the first configuration in grid order
        assert chosen.name == rows.index[rows["val_mae"] == best][0]
    tie = table[table["family"] == "tie"]
    np.testing.assert_allclose(tie["val_mae"], TieFamily.offsets)
    assert json.loads(tie.loc[tie["chosen"], "config"].item()) == {"i": 1}
    # the scores are validation MAEs on raw views, recomputed here from the forecasters
    d = table[table["family"] == "drift"]
    for r in d.itertuples():
        p = Drift(**json.loads(r.config)).predict(ctx.windows.subset(va))
        assert r.val_mae == pytest.approx(mae(y, p), rel=1e-12)
        assert r.val_rel_mae == pytest.approx(mae(y, p) / mae(y, naive), rel=1e-12)
    lin = table[table["family"] == "linear_ar"].iloc[0]
    p = LinearAR(**json.loads(lin["config"])).fit(ctx.windows.subset(ctx.train)).predict(
        ctx.windows.subset(va))
    assert lin["val_mae"] == pytest.approx(mae(y, p), rel=1e-9)
    g = table[table["family"] == "gbm"].iloc[0]
    gb = GradientBoosting(**json.loads(g["config"]), learning_rate=CONFIG.gbm_learning_rate,
                          max_iter=CONFIG.gbm_max_iter, seed=CONFIG.gbm_seed).fit(
        ctx.windows.subset(ctx.train), ctx.windows.subset(va))
    assert g["val_mae"] == pytest.approx(mae(y, gb.predict(ctx.windows.subset(va))), rel=1e-9)
    assert g["n_trees"] == gb.n_trees_ <= CONFIG.gbm_max_iter
    # networks: scored as the ensemble of the first tuning_seeds seeds
    nets = table[table["family"].str.startswith("lstm")]
    assert (nets["n_seeds"] == CONFIG.tuning_seeds).all()
    assert (table.loc[~table["family"].str.startswith("lstm"), "n_seeds"] == 0).all()
    assert len(trained) == len(nets) * CONFIG.tuning_seeds
    assert sorted({t.seed for t in trained}) == [0, 1]
    # the windows' target is 1.1 y7 and the fake forecast grows with units and with mse
    # (at most 1.085 y7): the 8-unit MSE network wins in both families
    for fam in ("lstm_univariate", "lstm_multivariate"):
        assert json.loads(nets.loc[nets["chosen"] & (nets["family"] == fam), "config"].item()
                          ) == {"target": "drift", "loss": "mse", "units": 8}
    assert len(memo) == len(trained)
    # chosen_params reads the table back
    ch = chosen_params(table)
    assert ch["tie"] == {"i": 1}
    assert set(ch) == set(table["family"])


def test_tune_ties_are_resolved_the_same_way_in_any_row_order(ctx, trained, monkeypatch):
    class Reversed(TieFamily):
        name = "tie_reversed"
        offsets = (2.0, 1.0, 1.0, 3.0)

    monkeypatch.setattr(harness, "all_families", lambda: [TieFamily(), Reversed()])
    table, _ = tune(ctx, jobs=1, say=lambda s: None)
    assert chosen_params(table) == {"tie": {"i": 1}, "tie_reversed": {"i": 1}}
    assert trained == []


def _lstm_plan(config):
    uni = LSTMFamily("lstm_univariate", False)
    return [(f"lstm_univariate|{params_id(p)}", uni, p) for p in uni.grid(config)]


def test_run_plan_reuses_memoised_runs(ctx, trained):
    plan = _lstm_plan(CONFIG)
    memo: dict = {}
    first = run_plan(plan, ctx, (0, 1), 1, lambda s: None, memo)
    assert len(trained) == len(plan) * 2 and len(memo) == len(trained)
    # the same plan again trains nothing and gives the very same forecasts
    del trained[:]
    again = run_plan(plan, ctx, (0, 1), 1, lambda s: None, memo)
    assert trained == []
    for k in first:
        np.testing.assert_array_equal(first[k].preds, again[k].preds)
        assert first[k].seeds == again[k].seeds == [0, 1]
    # more seeds: only the new seed is trained, the first two are reused
    more = run_plan(plan, ctx, (0, 1, 2), 1, lambda s: None, memo)
    assert sorted(t.seed for t in trained) == [2] * len(plan)
    for k in first:
        np.testing.assert_array_equal(more[k].preds[:2], first[k].preds)
        assert more[k].seeds == [0, 1, 2]
    # other training or validation windows are other runs
    del trained[:]
    moved = Context(ctx.windows, ctx.train[:-10], ctx.validation, CONFIG, label="moved")
    run_plan(plan, moved, (0, 1), 1, lambda s: None, memo)
    assert len(trained) == len(plan) * 2
    # without a memo nothing is reused
    del trained[:]
    run_plan(plan, ctx, (0, 1), 1, lambda s: None)
    assert len(trained) == len(plan) * 2


def test_run_plan_never_reuses_transfer_runs_and_feeds_phase_one(ctx, trained):
    params = {"target": "drift", "loss": "mae", "units": 4}
    plan = [("lstm_univariate", LSTMFamily("lstm_univariate", False), params),
            ("lstm_transfer", TransferFamily(), params)]
    memo: dict = {}
    out = run_plan(plan, ctx, (0, 1), 1, lambda s: None, memo)
    inits = [t.init for t in trained]
    assert inits == ["random", "random", "transfer", "transfer"]
    # each transfer task starts from the univariate network of its own seed
    for t in trained[2:]:
        np.testing.assert_array_equal(t.init_weights[0], np.full(2, t.seed))
    assert out["lstm_transfer"].seeds == [0, 1]
    del trained[:]
    run_plan(plan, ctx, (0, 1), 1, lambda s: None, memo)
    assert [t.init for t in trained] == ["transfer", "transfer"]


def test_run_plan_baselines_train_nothing_and_time_their_fit(ctx, trained):
    plan = [("drift", DriftFamily(), {"k": 2, "stat": "mean", "damping": 1.0}),
            ("linear_ar", LinearFamily(), {"target": "drift", "inputs": "univariate",
                                           "loss": "squared"}),
            ("gbm", GBMFamily(), {"target": "drift", "loss": "squared", "max_leaf_nodes": 7})]
    out = run_plan(plan, ctx, (0, 1), 1, lambda s: None, {})
    assert trained == []
    for k, f in out.items():
        assert f.preds.shape == (1, len(ctx.windows)) and f.runs is None
        assert f.info["seconds"] >= 0
    np.testing.assert_array_equal(out["drift"].ensemble, Drift(2).predict(ctx.windows))
    assert "n_trees" in out["gbm"].info


def test_final_plan_inherits_the_univariate_choice():
    uni = {"target": "drift", "loss": "mae", "units": 4}
    multi = {"target": "growth", "loss": "mse", "units": 8}
    chosen = {"drift": {"k": 2, "stat": "mean", "damping": 1.0},
              "linear_ar": {"target": "drift", "inputs": "univariate", "loss": "squared"},
              "gbm": {"target": "drift", "loss": "squared", "max_leaf_nodes": 7},
              "lstm_univariate": uni, "lstm_multivariate": multi}
    plan = {k: (f, p) for k, f, p in final_plan(chosen)}
    assert list(plan)[:len(all_families())] == [f.name for f in all_families()]
    for k in ("drift", "linear_ar", "gbm", "lstm_univariate", "lstm_multivariate"):
        assert plan[k][1] == chosen[k]
    assert plan["lstm_cluster"][1] == uni and plan["lstm_transfer"][1] == uni
    assert plan["naive"][1] == {} and plan["szabo_huberman"][1] == {}
    assert plan["lstm_random_start"][1] == uni and plan["lstm_random_start"][0].multivariate
    assert harness.control_name(chosen) == "lstm_random_start"
    same = dict(chosen, lstm_multivariate=uni)
    assert "lstm_random_start" not in {k for k, _, _ in final_plan(same)}
    assert harness.control_name(same) == "lstm_multivariate"


@pytest.mark.slow
def test_tune_then_first_origin_reuses_the_real_tuning_networks():
    """Tiny real networks: the first origin's chosen networks are the tuning runs."""
    w, _, _ = windows_on_dates(53, n=500)
    idx = np.arange(len(w))
    cfg = CONFIG.replace(seeds=(0, 1), tuning_seeds=2, units_grid=(4,), loss_grid=("mae",),
                         drift_k_grid=(1,), drift_damping_grid=(1.0,),
                         baseline_loss_grid=("squared",), batch_size=64)
    c = Context(w, idx[:350], idx[350:430], cfg, label="tiny")
    table, memo = tune(c, jobs=1, say=lambda s: None)
    assert table.groupby("family")["chosen"].sum().eq(1).all()
    ch = chosen_params(table)
    plan = [(k, f, p) for k, f, p in final_plan(ch)
            if k in ("lstm_univariate", "lstm_multivariate")]
    calls = []
    real = harness.run_tasks

    def counting(tasks, *a, **kw):
        calls.extend(tasks)
        return real(tasks, *a, **kw)

    harness.run_tasks, saved = counting, harness.run_tasks
    try:
        out = run_plan(plan, c, cfg.seeds, 1, lambda s: None, dict(memo))
    finally:
        harness.run_tasks = saved
    assert calls == []
    for k in ("lstm_univariate", "lstm_multivariate"):
        row = table[(table["family"] == k) & table["chosen"]].iloc[0]
        assert row["val_mae"] == pytest.approx(mae(w.y[c.validation],
                                                   out[k].ensemble[c.validation]))

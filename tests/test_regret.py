"""The post-hoc regret of choosing on validation (protocol v3, item 24): the regret table on a
hand-made grid with known answers, and the stage's grid forecasts (training replaced by a known
stand-in) checked against the tuning it must reproduce."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import ytlstm.harness as harness
from test_harness import CONFIG, fake_pred
from test_origins import windows_on_dates
from ytlstm.evaluate import mase_scale
from ytlstm.families import Context, DriftFamily, GBMFamily, LinearFamily, LSTMFamily
from ytlstm.harness import chosen_params, params_id, tune_many
from ytlstm.origins import rolling_origins
from ytlstm.regret import (CHEAP, COLUMNS, PER_ORIGIN_RULE, V2_RULE, check_against_tuning,
                           grid_forecasts, grid_scores, selection_periods,
                           selection_regret)
from ytlstm.training import Trained
from ytlstm.windows import seed_ensemble

C0, C1, C2 = ({"k": 1}, {"k": 2}, {"k": 3})


def _config_rows(family, origin, params, order, val_err, test_err, test_scale):
    """One configuration's rows: y_true 100 everywhere, forecasts off by the given errors."""
    rows = []
    for part, errs, scales in (("validation", val_err, [1.0] * len(val_err)),
                               ("test", test_err, test_scale)):
        for i, (e, s) in enumerate(zip(errs, scales)):
            rows.append({"family": family, "origin": origin, "config": params_id(params),
                         "order": order, "part": part, "window": i + (100 if part == "test" else 0),
                         "y_true": 100.0, "y_pred": 100.0 + e, "scale": s})
    return rows


def hand_grid() -> pd.DataFrame:
    """Drift with three configurations at two origins, a network family at the first.

    Origin 1 (test scales 1 and 4): validation MAE 1, 2, 3, so version 2 and the per-origin
    rule both choose C0. Test absolute errors C0 (4, 4), C1 (0, 4), C2 (1, 12): MAE 4, 2, 6.5
    (C0 ranks 2nd, regret 4/2 - 1 = 1); MASE 2.5, 0.5, 2 (C0 ranks 3rd, regret 2.5/0.5 - 1 = 4).
    Origin 2: validation MAE 3, 2, 2 (the per-origin rule takes C1, the first of the tie);
    test MAE 1, 3, 2 (version 2's C0 is best: regret 0; C1 ranks 3rd, regret 2).
    """
    rows = []
    sc = [1.0, 4.0]
    rows += _config_rows("drift", "origin 1", C0, 0, [1, -1], [4, -4], sc)
    rows += _config_rows("drift", "origin 1", C1, 1, [2, 2], [0, 4], sc)
    rows += _config_rows("drift", "origin 1", C2, 2, [3, -3], [1, 12], sc)
    rows += _config_rows("drift", "origin 2", C0, 0, [3, 3], [1, 1], [1.0, 1.0])
    rows += _config_rows("drift", "origin 2", C1, 1, [2, 2], [3, 3], [1.0, 1.0])
    rows += _config_rows("drift", "origin 2", C2, 2, [2, -2], [2, 2], [1.0, 1.0])
    # a network: version 2 chose U1 (validation MAE 1 < 5); on test U0 is better (1 vs 3)
    u0, u1 = {"units": 4}, {"units": 8}
    rows += _config_rows("lstm_univariate", "origin 1", u0, 0, [5, 5], [1, 1], sc)
    rows += _config_rows("lstm_univariate", "origin 1", u1, 1, [1, 1], [3, 3], sc)
    return pd.DataFrame(rows)


CHOSEN = {"drift": C0, "lstm_univariate": {"units": 8}}


@pytest.fixture(scope="module")
def table():
    return selection_regret(hand_grid(), CHOSEN)


def row(t, family, rule, origin, metric):
    r = t[(t.family == family) & (t.rule == rule) & (t.origin == origin) & (t.metric == metric)]
    assert len(r) == 1
    return r.iloc[0]


def test_grid_scores_are_mean_absolute_and_scaled_errors():
    s = grid_scores(hand_grid()).set_index(["family", "origin", "order"])
    assert s.loc[("drift", "origin 1", 0), "val_mae"] == pytest.approx(1.0)
    assert s.loc[("drift", "origin 1", 2), "test_mae"] == pytest.approx(6.5)
    assert s.loc[("drift", "origin 1", 2), "test_mase"] == pytest.approx(2.0)
    assert s.loc[("drift", "origin 1", 0), "n_test_windows"] == 2


def test_version_2_choice_ranks_second_on_mae_with_regret_one(table):
    r = row(table, "drift", V2_RULE, "origin 1", "mae")
    assert r.chosen_config == params_id(C0) and r.best_config == params_id(C1)
    assert (r.chosen_test, r.best_test) == (pytest.approx(4.0), pytest.approx(2.0))
    assert r.regret == pytest.approx(1.0)
    assert (r.chosen_rank, r.n_configs, r.n_test_windows) == (2, 3, 2)
    assert bool(r.post_hoc)


def test_mase_weighs_each_window_by_its_scale(table):
    r = row(table, "drift", V2_RULE, "origin 1", "mase")
    assert r.regret == pytest.approx(4.0)
    assert r.chosen_rank == 3 and r.best_config == params_id(C1)


def test_a_choice_that_is_best_in_hindsight_has_zero_regret(table):
    r = row(table, "drift", V2_RULE, "origin 2", "mae")
    assert r.regret == 0.0 and r.chosen_rank == 1 and r.best_config == r.chosen_config


def test_per_origin_rule_chooses_again_with_ties_to_grid_order(table):
    first = row(table, "drift", PER_ORIGIN_RULE, "origin 1", "mae")
    assert first.chosen_config == params_id(C0)          # the same windows as version 2's
    r = row(table, "drift", PER_ORIGIN_RULE, "origin 2", "mae")
    assert r.chosen_config == params_id(C1)               # C1 and C2 tie at 2: the first
    assert r.regret == pytest.approx(2.0) and r.chosen_rank == 3


def test_networks_get_version_2_rows_only(table):
    net = table[table.family == "lstm_univariate"]
    assert set(net.rule) == {V2_RULE} and set(net.origin) == {"origin 1"}
    r = row(table, "lstm_univariate", V2_RULE, "origin 1", "mae")
    assert r.regret == pytest.approx(2.0) and r.chosen_rank == 2
    assert r.val_test_spearman == pytest.approx(-1.0)


def test_table_columns_and_order(table):
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 2 * 2 * 2 + 2       # drift: rules x origins x metrics; network: metrics
    assert list(table.family.unique()) == ["drift", "lstm_univariate"]   # the study's order
    d = table[(table.family == "drift") & (table.rule == V2_RULE) & (table.metric == "mae")]
    assert list(d.origin) == ["origin 1", "origin 2"]


def test_a_configuration_forecasting_infinity_ranks_last_and_is_counted():
    rows = _config_rows("drift", "origin 2", {"k": 6}, 3, [9, 9], [0, np.inf], [1.0, 1.0])
    t = selection_regret(pd.concat([hand_grid(), pd.DataFrame(rows)], ignore_index=True), CHOSEN)
    r = row(t, "drift", PER_ORIGIN_RULE, "origin 2", "mae")
    assert (r.n_configs, r.n_nonfinite) == (4, 1)
    assert r.chosen_rank == 3 and r.regret == pytest.approx(2.0)     # as before: C1
    assert np.isfinite(r.val_test_spearman)
    assert row(t, "drift", V2_RULE, "origin 1", "mae").n_nonfinite == 0


def test_origins_keep_the_grid_s_chronological_order():
    g = hand_grid()
    g["origin"] = g["origin"].map({"origin 1": "origin 9", "origin 2": "origin 10"})
    d = selection_regret(g, CHOSEN)
    d = d[(d.family == "drift") & (d.rule == V2_RULE) & (d.metric == "mae")]
    assert list(d.origin) == ["origin 9", "origin 10"]
    assert list(d.regret) == [pytest.approx(1.0), 0.0]


def test_a_choice_outside_the_grid_is_an_error():
    with pytest.raises(ValueError, match="not in its grid"):
        selection_regret(hand_grid(), {**CHOSEN, "drift": {"k": 9}})
    with pytest.raises(ValueError, match="no version-2 choice"):
        selection_regret(hand_grid(), {"drift": C0})


# --------------------------------------------------------------------------- the stage

@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """Tuning at the first origin with training replaced by ``fake_pred``, then the stage."""
    mp = pytest.MonkeyPatch()

    def fake_run_tasks(tasks, windows, config, jobs=None, say=None):
        return [Trained(t.label, t.seed, fake_pred(windows, t), loss=[1.0], val_loss=[1.0],
                        best_epoch=1, epochs_run=1, seconds=0.5) for t in tasks]

    mp.setattr(harness, "run_tasks", fake_run_tasks)
    try:
        w, trending, _ = windows_on_dates(53, n=600)
        origins = rolling_origins(w, trending, 0.2, 0.1, 3)
        first = origins[0]
        ctx = Context(w, first.train, first.validation, CONFIG, label="chronological")
        [(tuning, memo)] = tune_many([ctx], 1, lambda s: None)
        lines: list[str] = []
        grid = grid_forecasts(w, origins, CONFIG, memo, lines.append, tuning)
    finally:
        mp.undo()
    return w, origins, tuning, memo, grid, lines


def test_stage_rebuilds_the_networks_from_the_tuning_runs(stage):
    w, origins, tuning, memo, grid, _ = stage
    net = grid[grid.family == "lstm_univariate"]
    assert set(net.origin.astype(str)) == {"origin 1"}
    seeds = CONFIG.seeds[:CONFIG.tuning_seeds]
    fam = LSTMFamily("lstm_univariate", False)
    ctx = Context(w, origins[0].train, origins[0].validation, CONFIG)
    for params in (json.loads(c) for c in tuning.loc[tuning.family == "lstm_univariate",
                                                       "config"]):
        g = net[(net.config == params_id(params)) & (net.part == "test")]
        expect = seed_ensemble(np.stack([fake_pred(w, t)
                                         for t in fam.tasks(params, ctx, seeds, {})]))
        np.testing.assert_allclose(g.y_pred.to_numpy(), expect[origins[0].test])


def test_stage_refits_every_cheap_configuration_at_every_origin(stage):
    w, origins, tuning, memo, grid, lines = stage
    for fam in (DriftFamily(), LinearFamily(), GBMFamily()):
        assert fam.name in CHEAP
        g = grid[grid.family == fam.name]
        assert set(g.origin.astype(str)) == {o.name for o in origins}
        o = origins[-1]
        params = fam.grid(CONFIG)[-1]
        fitted = fam.collect(params, [], Context(w, o.train, o.validation, CONFIG), {})
        got = g[(g.origin == o.name) & (g.config == params_id(params)) & (g.part == "test")]
        np.testing.assert_allclose(got.y_pred.to_numpy(), fitted.ensemble[o.test])
        np.testing.assert_allclose(got.scale.to_numpy(), mase_scale(w.views)[o.test])
    # progress: a line when every cheap configuration of an origin is refitted
    assert any(s.startswith("[regret origin 3]") and "gbm" in s and "refitted" in s
               for s in lines)


def test_stage_reproduces_the_tuning_choice(stage):
    w, origins, tuning, memo, grid, _ = stage
    chosen = chosen_params(tuning)
    t = selection_regret(grid, chosen)
    v2 = t[(t.rule == V2_RULE) & (t.origin == "origin 1")]
    for r in v2.itertuples():
        assert r.chosen_config == params_id(chosen[r.family])
    # at the first origin the per-origin rule sees version 2's windows: the same choice
    po = t[(t.rule == PER_ORIGIN_RULE) & (t.origin == "origin 1")].set_index(["family", "metric"])
    for r in v2[v2.family.isin(CHEAP)].itertuples():
        assert po.loc[(r.family, r.metric), "chosen_config"] == r.chosen_config
    assert (t.regret >= 0).all() and (t.chosen_rank >= 1).all()
    assert (t.chosen_rank <= t.n_configs).all()


def test_a_grid_that_disagrees_with_the_tuning_table_is_an_error(stage):
    w, origins, tuning, memo, grid, _ = stage
    bad = tuning.copy()
    bad.loc[bad.index[0], "val_mae"] *= 1.01
    with pytest.raises(ValueError, match="validation MAE"):
        check_against_tuning(grid, bad, "origin 1")


def test_a_memo_without_the_tuning_runs_is_an_error(stage):
    w, origins, tuning, memo, grid, _ = stage
    with pytest.raises(ValueError, match="tuning memo has no run"):
        grid_forecasts(w, origins, CONFIG, {})


def test_selection_periods_on_hand_made_windows():
    from ytlstm.origins import Origin
    from ytlstm.windows import Windows

    n = 6
    # day-7 views 10, 20, ..., 60; daily increments 1, 2, ..., 6 (the MASE scale, at least 1)
    v = np.array([[10 * (i + 1) - (i + 1) * (6 - d) for d in range(7)] for i in range(n)], float)
    dates = np.array(["2018-05-01", "2018-05-02", "2018-05-03", "2018-05-04", "2018-05-05",
                      "2018-05-06"], dtype="datetime64[ns]")
    w = Windows(counts=np.stack([v, v, v, v], axis=-1), age_days=np.ones((n, 7)),
                category_id=np.ones(n, int), comments_disabled=np.zeros(n, bool),
                ratings_disabled=np.zeros(n, bool), y=v[:, -1] + 1,
                video_id=np.array(["a", "b", "c", "a", "d", "e"]), run_id=np.arange(n),
                target_date=dates)
    o = Origin("origin 1", "chronological", np.array([], int), np.array([0, 1, 2]),
               np.array([3, 4, 5]), {"validation_first": "2018-05-01",
                                     "validation_last": "2018-05-03", "test_first": "2018-05-04",
                                     "test_last": "2018-05-06"})
    video = Origin("video", "video", np.array([], int), np.array([0]), np.array([1]))
    p = selection_periods(w, [o, video], pd.Timestamp("2018-05-05"))
    assert len(p) == 1
    r = p.iloc[0]
    assert (r.validation_from_break, r.test_from_break) == (0.0, pytest.approx(2 / 3))
    assert r.test_videos_in_validation == pytest.approx(1 / 3)      # video a
    assert (r.validation_median_views_day7, r.test_median_views_day7) == (20.0, 50.0)
    assert (r.validation_median_scale, r.test_median_scale) == (2.0, 5.0)
    assert (r.n_validation_windows, r.n_test_windows, r.break_date) == (3, 3, "2018-05-05")

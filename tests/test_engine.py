"""The training engine (ytlstm.engine) and the job planner: branches are independent networks.

A network's numbers must not depend on which other networks share its job (so grouping and
distribution change speed only), each branch must start from the weights a single network
with its seed gets, and per-branch early stopping must keep each branch's best weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_models import CONFIG, growth_windows
from ytlstm.training import Job, Task, plan_jobs, run_job, run_task, run_tasks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
    w = growth_windows(900, seed=1)
    idx = np.arange(len(w))
    return w, idx[:600], idx[600:750]


@pytest.mark.parametrize("multivariate,units", [(False, 4), (True, 8)])
def test_a_branch_does_not_depend_on_its_job(data, multivariate, units):
    w, tr, va = data
    cfg = CONFIG.replace(max_epochs=3)
    tasks = [Task(f"s{s}", multivariate, s, tr, va, units=units) for s in (5, 6, 7)]
    alone = run_task(tasks[0], w, cfg)
    pair = run_job(Job(tasks[:2], [0, 1]), w, cfg)[0]
    three = run_job(Job(tasks, [0, 1, 2]), w, cfg)
    for other in (pair, three[0]):
        np.testing.assert_array_equal(other.pred, alone.pred)
        assert other.val_loss == alone.val_loss and other.loss == alone.loss
        for a, b in zip(other.weights, alone.weights):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(three[1].pred, three[2].pred)        # seeds differ


def test_initial_weights_are_those_of_a_single_network():
    from ytlstm.engine import initial_weights
    from ytlstm.models import LSTMForecaster
    from ytlstm.windows import FeatureTransform

    w = growth_windows(50, seed=2)
    t = FeatureTransform(True, "drift").fit(w)
    net = LSTMForecaster(CONFIG.replace(units=8), True, seed=11).build(t)
    for a, b in zip(initial_weights(11, 7, t.n_channels, 8), net.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_per_branch_keeps_the_best_weights(data):
    from ytlstm.models import build_lstm
    from ytlstm.windows import FeatureTransform

    w, tr, va = data
    cfg = CONFIG.replace(max_epochs=40, patience=2, learning_rate=3e-2)
    tasks = [Task(f"s{s}", False, s, tr, va, units=4) for s in range(4)]
    out = run_tasks(tasks, w, cfg, n_jobs=1)
    t = FeatureTransform(False, "drift").fit(w.subset(tr))
    xv, yv = t.transform_x(w.subset(va)), t.transform_y(w.subset(va))
    for r in out:
        assert r.epochs_run == len(r.val_loss) == len(r.loss)
        assert r.best_epoch == int(np.argmin(r.val_loss)) + 1
        assert r.epochs_run == cfg.max_epochs or r.epochs_run == r.best_epoch + cfg.patience
        net = build_lstm(7, t.n_channels, 4, loss="mae")
        net.set_weights(r.weights)                            # the plain build_lstm layout
        kept = float(net.evaluate(xv, yv, batch_size=4096, verbose=0))
        assert kept == pytest.approx(min(r.val_loss), rel=1e-4)
    assert len({r.epochs_run for r in out}) > 1, "branches should stop at different epochs"


def test_scale_weighting_changes_training(data):
    w, tr, va = data
    cfg = CONFIG.replace(max_epochs=2)
    plain = run_task(Task("p", False, 0, tr, va, units=4), w, cfg)
    scaled = run_task(Task("s", False, 0, tr, va, units=4, weighting="scale"), w, cfg)
    assert not np.array_equal(plain.pred, scaled.pred)
    with pytest.raises(ValueError, match="weighting"):
        run_task(Task("x", False, 0, tr, va, units=4, weighting="views"), w, cfg)


def test_max_epochs_per_task(data):
    w, tr, va = data
    r = run_task(Task("m", False, 0, tr, va, units=4, max_epochs=2), w, CONFIG)
    assert r.epochs_run == 2


def test_plan_jobs_groups_seeds_and_feeds_every_worker(data):
    _, tr, va = data
    tasks = [Task(f"a{s}", False, s, tr, va, units=4) for s in range(5)]
    tasks += [Task(f"b{s}", False, s, tr, va, units=8) for s in range(3)]
    jobs = plan_jobs(tasks, n_workers=1)
    assert sorted(len(j.tasks) for j in jobs) == [3, 5]
    assert sorted(p for j in jobs for p in j.positions) == list(range(8))
    jobs = plan_jobs(tasks[:5], n_workers=2)
    assert sorted(len(j.tasks) for j in jobs) == [2, 3]
    assert len(plan_jobs(tasks[:5] * 4, n_workers=1, max_branches=8)) == 3

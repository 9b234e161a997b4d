"""The training engine (ytlstm.engine) and the job planner: branches are independent networks.

A network's numbers must not depend on which other networks share its job (so grouping and
distribution change speed only), each branch must start from the weights a single network
with its seed gets, and per-branch early stopping must keep each branch's best weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_models import CONFIG, growth_windows
from ytlstm.training import Job, Task, group_key, plan_jobs, run_job, run_task, run_tasks

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


def test_plan_jobs_stacks_configurations_and_balances_the_workers(data):
    from ytlstm.training import _makespan

    _, tr, va = data
    grid = [(t, loss, wt) for t in ("growth", "drift") for loss, wt in
            (("mse", "none"), ("mae", "none"), ("mae", "scale"))]
    tasks = [Task(f"{u} {c} {s}", mv, s, tr, va, units=u, target=c[0], loss=c[1],
                  weighting=c[2]) for mv in (False, True) for u in (16, 32) for c in grid
             for s in range(3)]
    jobs = plan_jobs(tasks, n_workers=1)
    # one job per inputs and size
    assert sorted((j.tasks[0].multivariate, j.tasks[0].units, len(j.tasks)) for j in jobs) == [
        (False, 16, 18), (False, 32, 18), (True, 16, 18), (True, 32, 18)]
    assert [j.cost for j in jobs] == sorted((j.cost for j in jobs), reverse=True)
    assert len(plan_jobs(tasks, n_workers=4)) >= 4
    # an origin's networks: 10 wide multivariate and 5 univariate on two workers
    origin = [Task(f"m{s}", True, s, tr, va, units=32) for s in range(10)]
    origin += [Task(f"u{s}", False, s, tr, va, units=16) for s in range(5)]
    jobs = plan_jobs(origin, n_workers=2)
    assert sorted(p for j in jobs for p in j.positions) == list(range(15))
    total = sum(j.cost for j in jobs)
    assert len(jobs) > 2 and _makespan(jobs, 2) < 1.1 * total / 2
    assert _makespan(jobs, 2) < 0.9 * _makespan(plan_jobs(origin, n_workers=1), 2)


# --------------------------------------------------------------------------- stacked configurations

def _same_result(a, b):
    np.testing.assert_array_equal(a.pred, b.pred, err_msg=a.label)
    assert a.val_loss == b.val_loss and a.loss == b.loss, a.label
    assert (a.best_epoch, a.epochs_run) == (b.best_epoch, b.epochs_run)
    for p, q in zip(a.weights, b.weights):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("multivariate,units", [(False, 4), (True, 8)])
def test_configurations_stacked_in_a_job_equal_their_own_jobs(data, multivariate, units):
    w, tr, va = data
    cfg = CONFIG.replace(max_epochs=4, patience=1, learning_rate=3e-2)
    tasks = [Task(f"{t} {loss} {wt} s{s}", multivariate, s, tr, va, units=units, target=t,
                  loss=loss, weighting=wt)
             for t in ("growth", "drift") for loss, wt in (("mse", "none"), ("mae", "none"),
                                                           ("mae", "scale")) for s in (0, 1)]
    assert len({group_key(t) for t in tasks}) == 1
    together = run_job(Job(tasks, list(range(len(tasks)))), w, cfg)
    for t, r in zip(tasks, together):
        _same_result(r, run_task(t, w, cfg))
    assert len({r.pred[0] for r in together}) == len(tasks)


def test_inputs_are_the_same_for_every_target_kind(data):
    from ytlstm.windows import FeatureTransform

    w, tr, _ = data
    for mv in (False, True):
        a, b = (FeatureTransform(mv, k).fit(w.subset(tr)) for k in ("growth", "drift"))
        np.testing.assert_array_equal(a.transform_x(w), b.transform_x(w))


def test_a_job_refuses_tasks_of_other_inputs(data):
    w, tr, va = data
    a = Task("a", False, 0, tr, va, units=4)
    for other in (Task("b", False, 1, tr, va, units=8), Task("c", True, 1, tr, va, units=4),
                  Task("d", False, 1, tr[:-1], va, units=4),
                  Task("e", False, 1, tr, va, units=4, horizons=2)):
        assert group_key(other) != group_key(a)
        with pytest.raises(ValueError, match="cannot be trained with"):
            run_job(Job([a, other], [0, 1]), w, CONFIG.replace(max_epochs=1))


# --------------------------------------------------------------------------- several horizons

H = 3


@pytest.fixture(scope="module")
def horizon_data(data):
    """The windows with ``future`` (days 8..7+H) and ``future_date``; some futures missing."""
    from dataclasses import replace

    w, tr, va = data
    rng = np.random.default_rng(5)
    growth = w.y / w.views[:, -1]
    future = w.y[:, None] * growth[:, None] ** np.arange(H)[None, :]
    dates = (w.target_date.astype("datetime64[ns]")[:, None]
             + np.arange(H).astype("timedelta64[D]")[None, :])
    gone = rng.random(len(w)) < 0.2                      # their runs end after day 8
    future[gone, 1:] = np.nan
    dates[gone, 1:] = np.datetime64("NaT")
    return replace(w, future=np.round(future), future_date=dates), tr, va


def test_several_horizons_predict_views_of_each_horizon(horizon_data):
    from ytlstm.windows import FeatureTransform

    w, tr, va = horizon_data
    cfg = CONFIG.replace(max_epochs=3)
    tasks = [Task(f"h s{s} {t}", False, s, tr, va, units=4, horizons=H, target=t)
             for s, t in ((0, "drift"), (1, "growth"))]
    out = run_job(Job(tasks, [0, 1]), w, cfg)
    for t, r in zip(tasks, out):
        assert r.pred.shape == (len(w), H) and np.all(np.isfinite(r.pred))
        assert r.weights[3].shape == (4, H)
        _same_result(r, run_task(t, w, cfg))
        # the saved weights are those of a plain Keras network with H outputs
        from ytlstm.models import build_lstm

        tf_ = FeatureTransform(False, t.target, horizons=H).fit(w.subset(tr))
        net = build_lstm(7, 3, 4, n_outputs=H)
        net.set_weights(r.weights)
        np.testing.assert_allclose(
            tf_.to_views(w, net.predict(tf_.transform_x(w), verbose=0)), r.pred, rtol=1e-6)
    one = run_task(Task("one", False, 0, tr, va, units=4), w, cfg)
    assert one.pred.shape == (len(w),)


def test_target_limits_mask_the_targets_past_them(horizon_data):
    """An output whose target date is not before the limit is trained on exactly as if its
    target were missing (NaN)."""
    from dataclasses import replace

    w, tr, va = horizon_data
    cfg = CONFIG.replace(max_epochs=3)
    t_lim = w.target_date[tr].astype("datetime64[ns]").max() - np.timedelta64(1, "D")
    v_lim = w.target_date[va].astype("datetime64[ns]").max()
    limited = run_task(Task("lim", False, 0, tr, va, units=4, horizons=H,
                            target_limits=(t_lim, v_lim), weighting="scale"), w, cfg)
    future = w.future.copy()
    fd = w.future_date
    past = np.zeros(len(w), bool)
    past[tr] = True
    over = (np.where(past[:, None], fd >= t_lim, fd >= v_lim)) | np.isnat(fd)
    assert 0 < over[tr].mean() < 1 and 0 < over[va].mean() < 1
    future[over] = np.nan
    # (horizon 1's target is y). No monkeypatching of the transform: the limited task's target
    # scaling must itself ignore the targets past the limit (protocol v3, item 20), so it
    # equals the scaling of windows whose targets past the limit are missing
    masked = replace(w, future=future, y=np.where(over[:, 0], np.nan, w.y))
    nan = run_task(Task("nan", False, 0, tr, va, units=4, horizons=H, weighting="scale"),
                   masked, cfg)
    nan_one = run_task(Task("nan1", False, 0, tr, va, units=4), masked, cfg)
    # with a single output the limit masks whole windows
    one = run_task(Task("one", False, 0, tr, va, units=4, target_limits=(t_lim, v_lim)), w, cfg)
    for a, b in ((limited, nan), (one, nan_one)):
        assert a.val_loss == b.val_loss and a.loss == b.loss
        for p, q in zip(a.weights, b.weights):
            np.testing.assert_array_equal(p, q)
    assert one.loss != run_task(Task("all", False, 0, tr, va, units=4), w, cfg).loss


def test_transfer_of_several_outputs(horizon_data):
    w, tr, va = horizon_data
    cfg = CONFIG.replace(max_epochs=2)
    uni = run_task(Task("uni", False, 0, tr, va, units=8, horizons=H), w, cfg)
    out = run_task(Task("transfer", True, 0, tr, va, units=8, horizons=H, init="transfer",
                        init_weights=uni.weights), w, cfg)
    assert out.initial_pred.shape == (len(w), H)
    np.testing.assert_allclose(out.initial_pred, uni.pred, rtol=1e-5)
    assert not np.allclose(out.pred, uni.pred)


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_predictions_are_those_of_keras_predict(n_outputs):
    from ytlstm.engine import initial_weights
    from ytlstm.models import build_lstm
    from ytlstm.training import PREDICT_BATCH, _predict
    from ytlstm.windows import FeatureTransform

    w = growth_windows(2 * PREDICT_BATCH + 300, seed=6)
    t = FeatureTransform(True, "drift").fit(w)
    x = t.transform_x(w)
    weights = initial_weights(3, 7, t.n_channels, 8, n_outputs)
    weights[3] = weights[3] + 0.1                        # not the initial zero-mean head
    net = build_lstm(7, t.n_channels, 8, n_outputs=n_outputs)
    net.set_weights(weights)
    ref = net.predict(x, batch_size=PREDICT_BATCH, verbose=0)
    if n_outputs == 1:
        ref = ref.reshape(-1)
    else:       # to_views of several horizons needs a transform fitted with them: use
        t.horizons, t.y_mean, t.y_std = n_outputs, np.zeros(n_outputs), np.ones(n_outputs)
    got = _predict(weights, t, x, w, 7, 8, n_outputs)
    assert got.shape == ((len(w),) if n_outputs == 1 else (len(w), n_outputs))
    np.testing.assert_array_equal(got, t.to_views(w, ref))

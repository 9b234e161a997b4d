"""LSTM forecasters on synthetic windows: learning, determinism, transfer initialisation.

These train small networks, so they are marked slow; each takes a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from ytlstm.baselines import Naive
from ytlstm.config import StudyConfig
from ytlstm.evaluate import mae
from ytlstm.training import Task, run_task, run_tasks, transfer_weights
from ytlstm.windows import FeatureTransform, Windows

pytestmark = pytest.mark.slow


def growth_windows(n: int, seed: int) -> Windows:
    """Views growing by a video-specific constant ratio per day, with multiplicative noise."""
    rng = np.random.default_rng(seed)
    ratio = rng.uniform(1.02, 1.5, size=n)
    start = np.exp(rng.uniform(np.log(1e3), np.log(1e6), size=n))
    noise = np.exp(np.abs(rng.normal(0, 0.01, size=(n, 8))))        # never a fall
    steps = ratio[:, None] * noise
    steps[:, 0] = 1.0
    series = start[:, None] * np.cumprod(steps, axis=1)
    views = series[:, :7]
    counts = np.stack([views, views * rng.uniform(0.01, 0.05, size=(n, 1)),
                       views * 0.001, views * rng.uniform(0.001, 0.01, size=(n, 1))], axis=-1)
    return Windows(
        counts=np.round(counts), age_days=rng.integers(0, 30, size=(n, 1)) + np.arange(7.0),
        category_id=rng.choice([1, 10, 24], size=n),
        comments_disabled=rng.random(n) < 0.05, ratings_disabled=rng.random(n) < 0.05,
        y=np.round(series[:, 7]), video_id=np.array([f"v{i // 3:010d}" for i in range(n)]),
        run_id=np.arange(n) // 3,
        target_date=np.datetime64("2018-01-08") + (np.arange(n) % 20).astype("timedelta64[D]"))


CONFIG = StudyConfig(units=8, max_epochs=30, patience=5, batch_size=64, learning_rate=1e-2,
                     target="drift", loss="mae", seeds=(0,))


@pytest.fixture(scope="module")
def data():
    w = growth_windows(1500, seed=0)
    idx = np.arange(len(w))
    return w, idx[:1000], idx[1000:1250], idx[1250:]


def test_lstm_beats_naive_on_a_constant_growth_pattern(data):
    from ytlstm.models import LSTMForecaster

    w, tr, va, te = data
    model = LSTMForecaster(CONFIG, multivariate=False, seed=0).fit(w.subset(tr), w.subset(va))
    test = w.subset(te)
    pred = model.predict(test)
    assert pred.shape == (len(te),) and np.all(np.isfinite(pred))
    naive = mae(test.y, Naive().predict(test))
    assert mae(test.y, pred) < 0.5 * naive
    log = model.log_
    assert log.epochs_run == len(log.loss) == len(log.val_loss) >= 1
    assert log.best_epoch == int(np.argmin(log.val_loss)) + 1
    with pytest.raises(ValueError, match="validation"):
        LSTMForecaster(CONFIG).fit(w.subset(tr))


def test_same_seed_gives_identical_predictions(data):
    w, tr, va, _ = data
    cfg = CONFIG.replace(max_epochs=4)
    task = Task("det", True, 3, tr, va, units=8, target="drift", loss="mae")
    a = run_task(task, w, cfg)
    b = run_task(task, w, cfg)
    np.testing.assert_array_equal(a.pred, b.pred)
    assert a.val_loss == b.val_loss and a.loss == b.loss
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(wa, wb)
    c = run_task(Task("det", True, 4, tr, va, units=8, target="drift", loss="mae"), w, cfg)
    assert not np.array_equal(a.pred, c.pred)              # the seed matters


def test_run_tasks_in_process_keeps_task_order(data):
    w, tr, va, _ = data
    cfg = CONFIG.replace(max_epochs=2)
    tasks = [Task(f"t{s}", False, s, tr, va, units=4) for s in (1, 2)]
    lines = []
    out = run_tasks(tasks, w, cfg, n_jobs=1, progress=lines.append)
    assert [r.label for r in out] == ["t1", "t2"] and [r.seed for r in out] == [1, 2]
    np.testing.assert_array_equal(out[0].pred, run_task(tasks[0], w, cfg).pred)
    assert any("networks trained" in s for s in lines)


@pytest.mark.parametrize("target", ["growth", "drift"])
def test_transfer_weights_reproduce_the_univariate_network(data, target):
    from ytlstm.models import build_lstm

    w, tr, _, te = data
    train = w.subset(tr)
    uni_t = FeatureTransform(False, target).fit(train)
    multi_t = FeatureTransform(True, target).fit(train)
    import keras

    keras.utils.set_random_seed(7)
    uni = build_lstm(7, uni_t.n_channels, units=8)
    multi = build_lstm(7, multi_t.n_channels, units=8)
    uni_w = uni.get_weights()
    new = transfer_weights(uni_w, multi_t.n_channels, uni_t.n_channels)
    assert [a.shape for a in new] == [a.shape for a in multi.get_weights()]
    np.testing.assert_array_equal(new[0][:uni_t.n_channels], uni_w[0])
    np.testing.assert_array_equal(new[0][uni_t.n_channels:], 0)
    multi.set_weights(new)
    test = w.subset(te)
    xu, xm = uni_t.transform_x(test), multi_t.transform_x(test)
    assert xm.shape[-1] > xu.shape[-1]
    pu = uni.predict(xu, verbose=0).reshape(-1)
    pm = multi.predict(xm, verbose=0).reshape(-1)
    # zero input weights for the new channels: the same outputs, up to float rounding (the
    # extra terms of the input product are exactly zero, but a product over 18 inputs is summed
    # in another order than one over 3: on this machine the two differ by at most ~1 ulp)
    np.testing.assert_allclose(pm, pu, rtol=0, atol=1e-6)
    np.testing.assert_allclose(multi_t.to_views(test, pm), uni_t.to_views(test, pu), rtol=1e-5)
    # transfer_weights copies: changing the source afterwards does not change the result
    uni_w[1][:] = 0
    assert np.any(new[1] != 0)


def test_transfer_task_starts_from_the_univariate_predictions(data):
    w, tr, va, _ = data
    cfg = CONFIG.replace(max_epochs=3)
    uni = run_task(Task("uni", False, 0, tr, va, units=8), w, cfg)
    tr_task = Task("transfer", True, 0, tr, va, units=8, init="transfer", init_weights=uni.weights)
    out = run_task(tr_task, w, cfg)
    np.testing.assert_allclose(out.initial_pred, uni.pred, rtol=1e-5)
    assert np.isfinite(out.initial_val_loss)
    assert not np.allclose(out.pred, uni.pred)             # and fine-tuning changed it

"""The engine's compaction, configuration stacking and several outputs change speed only.

- compaction (stopped branches leave the computation, a passenger keeps two in it): every
  branch's numbers are those of the engine before compaction existed (its source at commit
  ``REFERENCE_COMMIT``, loaded from git when the history is there) and those of the branch
  trained alone;
- configurations stacked in one call (per-branch targets, losses and sample weights): every
  branch equals its configuration trained in a call of its own;
- several outputs: a NaN target is masked like a target of weight 0, the weights are those of
  a Keras network with ``H`` outputs; ``(n, 1)`` targets are trained as ``(n,)``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_models import growth_windows
from ytlstm.baselines import scale_weights
from ytlstm.engine import initial_weights, train_branches
from ytlstm.windows import FeatureTransform

pytestmark = pytest.mark.slow

#: The last commit whose engine had no compaction and one target/loss/weighting per call.
REFERENCE_COMMIT = "bdb47c6"
KW = dict(learning_rate=3e-2, batch_size=64, max_epochs=20, patience=2)


@pytest.fixture(scope="module")
def data():
    w = growth_windows(700, seed=3)
    tr, va = w.subset(np.arange(500)), w.subset(np.arange(500, 650))
    ts = {k: FeatureTransform(False, k).fit(tr) for k in ("growth", "drift")}
    x, xv = ts["growth"].transform_x(tr), ts["growth"].transform_x(va)
    ys = {k: (t.transform_y(tr), t.transform_y(va)) for k, t in ts.items()}
    sws = (scale_weights(tr, tr), scale_weights(va, tr))
    return x, xv, ys, sws


@pytest.fixture(scope="module")
def reference_engine(tmp_path_factory):
    root = Path(__file__).resolve().parents[1]
    try:
        src = subprocess.run(["git", "show", f"{REFERENCE_COMMIT}:ytlstm/engine.py"], cwd=root,
                             capture_output=True, check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"git history with commit {REFERENCE_COMMIT} is not available")
    path = tmp_path_factory.mktemp("ref") / "reference_engine.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("reference_engine", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["reference_engine"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("reference_engine", None)


def _same(a, b):
    assert a.loss == b.loss and a.val_loss == b.val_loss
    assert (a.best_epoch, a.epochs_run) == (b.best_epoch, b.epochs_run)
    assert a.initial_val_loss == b.initial_val_loss
    for p, q in zip(a.weights, b.weights):
        np.testing.assert_array_equal(p, q)


def _inits(seeds, units=4, n_outputs=1):
    return [initial_weights(s, 7, 3, units, n_outputs) for s in seeds]


@pytest.mark.parametrize("k", [1, 2, 6])
def test_compaction_gives_the_numbers_of_the_engine_without_it(data, reference_engine, k):
    x, xv, ys, (sw, swv) = data
    seeds = list(range(10, 10 + k))
    for loss, weighted in (("mae", False), ("mse", True)):
        kw = dict(KW, loss=loss, sw=sw if weighted else None, sw_val=swv if weighted else None)
        old = reference_engine.train_branches(x, ys["drift"][0], xv, ys["drift"][1], seeds,
                                              _inits(seeds), **kw)
        new = train_branches(x, ys["drift"][0], xv, ys["drift"][1], seeds, _inits(seeds), **kw)
        for a, b in zip(old, new):
            _same(a, b)
    if k == 6:
        assert len({r.epochs_run for r in new}) > 1, "branches should stop at different epochs"


def test_a_branch_does_not_depend_on_when_the_others_stop(data):
    x, xv, ys, _ = data
    seeds = list(range(8))
    together = train_branches(x, ys["growth"][0], xv, ys["growth"][1], seeds, _inits(seeds),
                              loss="mae", **KW)
    assert len({r.epochs_run for r in together}) > 2
    for s, r in zip(seeds, together):
        alone = train_branches(x, ys["growth"][0], xv, ys["growth"][1], [s], _inits([s]),
                               loss="mae", **KW)[0]
        _same(r, alone)


def test_stacked_configurations_equal_their_own_calls(data):
    x, xv, ys, (sw, swv) = data
    configs = [(t, loss, wt) for t in ("growth", "drift") for loss in ("mae", "mse")
               for wt in (False, True)]
    seeds = [0, 1]
    branches = [(c, s) for c in configs for s in seeds]
    stacked = train_branches(
        x, [ys[c[0]][0] for c, _ in branches], xv, [ys[c[0]][1] for c, _ in branches],
        [s for _, s in branches], _inits([s for _, s in branches]),
        loss=[c[1] for c, _ in branches], sw=[sw if c[2] else None for c, _ in branches],
        sw_val=[swv if c[2] else None for c, _ in branches], **KW)
    for j, (t, loss, wt) in enumerate(configs):
        own = train_branches(x, ys[t][0], xv, ys[t][1], seeds, _inits(seeds), loss=loss,
                             sw=sw if wt else None, sw_val=swv if wt else None, **KW)
        for a, b in zip(own, stacked[2 * j:2 * j + 2]):
            _same(a, b)


def test_per_branch_arguments_are_checked(data):
    x, xv, ys, _ = data
    y, yv = ys["growth"]
    with pytest.raises(ValueError, match="loss"):
        train_branches(x, y, xv, yv, [0, 1], _inits([0, 1]), loss=["mae", "huber"], **KW)
    with pytest.raises(ValueError, match="branches"):
        train_branches(x, [y] * 3, xv, yv, [0, 1], _inits([0, 1]), loss="mae", **KW)
    with pytest.raises(ValueError, match="output"):
        train_branches(x, np.stack([y, y], 1), xv, np.stack([yv, yv], 1), [0, 1],
                       _inits([0, 1]), loss="mae", **KW)


def test_several_outputs_mask_missing_targets(data):
    x, xv, ys, _ = data
    y, yv = ys["growth"]
    rng = np.random.default_rng(0)
    y3 = np.stack([y, 0.5 * y, -y], axis=1)
    yv3 = np.stack([yv, 0.5 * yv, -yv], axis=1)
    holes = rng.random(y3.shape) < 0.3
    holes[:, 0] = False
    seeds = [0, 1, 2]
    kw = dict(KW, max_epochs=4, patience=10)
    base = train_branches(x, np.where(holes, np.nan, y3), xv, yv3, seeds,
                          _inits(seeds, n_outputs=3), loss="mse", **kw)
    # a NaN target is the same as any value of weight 0
    other = np.where(holes, 123.0, y3)
    weighted = train_branches(x, other, xv, yv3, seeds, _inits(seeds, n_outputs=3),
                              loss="mse", sw=(~holes).astype(np.float32), **kw)
    for a, b in zip(base, weighted):
        _same(a, b)
        assert a.weights[3].shape == (4, 3) and a.weights[4].shape == (3,)
        assert np.all(np.isfinite(a.loss)) and np.all(np.isfinite(a.val_loss))
    # the weights are those of a plain Keras network with three outputs, each trained on its
    # own targets: the third predicts the opposite of the first
    from ytlstm.models import build_lstm

    net = build_lstm(7, 3, 4, n_outputs=3)
    net.set_weights(base[0].weights)
    pred = net.predict(xv, verbose=0)
    assert pred.shape == (len(xv), 3)
    assert np.corrcoef(pred[:, 0], pred[:, 2])[0, 1] < -0.5


def test_a_column_of_targets_is_one_output(data):
    x, xv, ys, _ = data
    y, yv = ys["drift"]
    kw = dict(KW, max_epochs=3)
    a = train_branches(x, y, xv, yv, [0, 1], _inits([0, 1]), loss="mae", **kw)
    b = train_branches(x, y[:, None], xv, yv[:, None], [0, 1], _inits([0, 1]), loss="mae", **kw)
    for p, q in zip(a, b):
        _same(p, q)


def test_validation_in_groups_of_branches_gives_the_same_numbers(data, monkeypatch):
    from ytlstm import engine

    x, xv, ys, _ = data
    seeds = list(range(5))
    kw = dict(KW, max_epochs=6)
    whole = train_branches(x, ys["drift"][0], xv, ys["drift"][1], seeds, _inits(seeds),
                           loss="mae", **kw)
    monkeypatch.setattr(engine, "VAL_GROUP_FLOATS", 1)           # groups of two or three
    grouped = train_branches(x, ys["drift"][0], xv, ys["drift"][1], seeds, _inits(seeds),
                             loss="mae", **kw)
    for a, b in zip(whole, grouped):
        _same(a, b)

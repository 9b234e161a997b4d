"""The training engine: many small networks trained together, as one computation.

A network of the study is tiny (``Input(7 days) -> LSTM(units) -> Dense(H)``, a few thousand
weights), so training it one ``model.fit`` at a time is limited by the framework's overhead per
batch step (a few milliseconds), not by arithmetic. The engine trains ``K`` such networks (the
*branches*: the seeds of one configuration, and configurations that share their inputs) in one
step function: every weight array is stacked along a leading branch axis, the LSTM is written
out over the 7 days (unrolled) with batched matrix products, and the whole epoch (forward pass,
gradient, Adam update, batch after batch) is one TensorFlow graph call, so one step costs far
less for ``K`` networks than ``K`` steps of one.

What the branches of one call share: the input windows ``x`` (training and validation), the
network's shape (window length, channels, units, outputs) and the epoch budget. What each
branch has of its own: its initial weights, its shuffle order (its seed), its targets ``y``,
its loss (``"mae"`` or ``"mse"``) and its sample weights.

Independence of the branches:

- the loss is the **sum** of the branches' losses, and branch ``k``'s loss depends only on
  branch ``k``'s weights, targets and sample weights, so each branch gets exactly its own
  gradient; Adam is elementwise, so each branch's update is its own;
- each branch draws **its own shuffle order** every epoch from a generator seeded by its seed,
  so a branch sees the batches a network trained alone with that seed would see;
- **early stopping per branch**: each branch's validation loss is tracked after every epoch
  (patience, min_delta 0, like ``keras.callbacks.EarlyStopping``); its best weights are kept.
  At the end every branch holds its best weights.

**Compaction**: a branch that has stopped leaves the computation: its best weights are set
aside and the epoch loop goes on with the stacked weights and Adam moments of the active
branches only (gathered along the branch axis), so a job costs the sum of its branches'
epochs rather than its slowest branch's epochs times ``K``. At least two branches stay in the
computation: TensorFlow's batched matrix product takes another path (other float rounding for
tiny matrices) for a batch of one, so when one active branch is left, a stopped branch rides
along as a frozen *passenger* (its update is masked out and its numbers are never used); for
the same reason a single network is trained beside a twin of itself. The validation pass
after each epoch runs on groups of a few branches (``VAL_GROUP_FLOATS``): all branches'
activations over every validation window at once would leave the processor's caches.

Several outputs (horizons ``1..H``): the dense head is ``(units, H)``, targets ``(n, H)``;
a target that is NaN (unavailable) gets weight 0. The loss of a batch is
``sum(w * l) / (rows * H)`` over its rows and outputs (``w`` the sample weight times the
mask), the validation loss likewise ``sum(w * l) / (n_val * H)``: divided by the number of
rows times outputs, not by the mask's sum (a constant per branch, so the early-stopping
choice is that of the masked mean). With ``H == 1`` (targets ``(n,)``) the graph is exactly
the single-output one: ``sum(w * l) / rows``, Keras' ``sum_over_batch_size``.

Initial weights are those of :func:`ytlstm.models.build_lstm` seeded with the branch's seed
(the Keras initialisers, so each branch starts exactly as a single network with that seed),
or given (transfer). :func:`train_branches` returns each branch's weights in the layout of
``build_lstm`` (``kernel, recurrent_kernel, bias, dense kernel, dense bias``), so the trained
networks are plain Keras networks for prediction, saving and transfer.

Determinism: fixed seeds, fixed shapes (the last, smaller batch is padded and masked, so one
graph serves every batch), TensorFlow's deterministic ops and no oneDNN reordering; a branch's
numbers do not depend on which other branches it is trained with, nor on when they stop
(tests check this), so results do not depend on how tasks are grouped or distributed.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7      # keras.optimizers.Adam defaults
#: Validation windows per chunk (bounds the memory of the validation pass).
VAL_CHUNK = 2048
#: The validation pass runs on groups of branches (at least two) whose activations
#: (branches x windows x 4 units) stay under this many floats: a few times faster than all
#: branches at once, whose large tensors leave the processor's caches (the same numbers: a
#: branch's do not depend on the others').
VAL_GROUP_FLOATS = 2 ** 19
LOSSES = ("mae", "mse")


@dataclass
class BranchLog:
    """What one branch's training did; ``weights`` in :func:`ytlstm.models.build_lstm` layout."""

    weights: list
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    initial_val_loss: float = float("nan")
    best_epoch: int = 0            # 1-based epoch whose weights were kept
    epochs_run: int = 0
    seconds: float = 0.0           # this branch's share of the wall time of the epochs it ran


_SEED_LOCK = threading.Lock()


def initial_weights(seed: int, n_steps: int, n_features: int, units: int,
                    n_outputs: int = 1) -> list[np.ndarray]:
    """The initial weights of ``build_lstm`` seeded with ``seed`` (as a single network gets).

    Keras draws its initialisers' seeds from Python's global ``random`` module, which other
    threads of a process (a Dask worker's, for one) may draw from at the same moment; here
    Keras draws from a private generator seeded like the global one, so the weights are those
    of ``set_random_seed(seed); build_lstm(...)`` in a quiet process, whatever runs beside.
    """
    from keras.src.random import seed_generator

    from ytlstm.models import _keras, build_lstm

    keras = _keras()
    with _SEED_LOCK:
        shared = seed_generator.python_random
        seed_generator.python_random = random.Random(seed)
        try:
            keras.utils.set_random_seed(seed)
            net = build_lstm(n_steps, n_features, units, n_outputs=n_outputs)
        finally:
            seed_generator.python_random = shared
    return [np.asarray(a) for a in net.get_weights()]


# --------------------------------------------------------------------------- compiled parts

_FUNCTIONS: dict = {}


def _functions(n_steps: int, n_outputs: int = 1):
    """The graph functions for one window length and number of outputs (traced once per
    process; tracing the unrolled LSTM and its gradient takes seconds, so the branches' losses
    are an argument, not a trace)."""
    key = (n_steps, n_outputs)
    if key in _FUNCTIONS:
        return _FUNCTIONS[key]
    from ytlstm.models import _keras

    _keras()
    import tensorflow as tf

    single = n_outputs == 1

    def forward(params, x):
        """x (K, B, T, C) -> predictions (K, B), or (K, B, H); the Keras LSTM cell, unrolled."""
        kernel, recurrent, bias, dense_w, dense_b = params
        shape = tf.shape(x)
        k, b, c = shape[0], shape[1], shape[3]
        t_steps = x.shape[2]                       # static: the loop is unrolled
        units = tf.shape(recurrent)[1]
        zx = tf.matmul(tf.reshape(x, (k, b * t_steps, c)), kernel)
        # unstack, not zx[:, :, t]: the gradient of a strided slice is a dense tensor per step
        zx = tf.unstack(tf.reshape(zx, (k, b, t_steps, 4 * units)), axis=2)
        h = tf.zeros((k, b, units), x.dtype)
        cell = tf.zeros((k, b, units), x.dtype)
        bias = bias[:, None, :]
        for t in range(t_steps):
            z = zx[t] + tf.matmul(h, recurrent) + bias
            i, f, g, o = tf.split(z, 4, axis=-1)
            cell = tf.sigmoid(f) * cell + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(cell)
        if single:
            return tf.matmul(h, dense_w)[..., 0] + dense_b
        return tf.matmul(h, dense_w) + dense_b[:, None, :]

    def expand(mask, like):
        return tf.reshape(mask, tf.concat([[-1], tf.ones([tf.rank(like) - 1], tf.int32)], 0))

    def per_branch_loss(params, x, y, w, n, mae):
        """Weighted mean loss per branch: sum(w * l) / n (Keras' sum_over_batch_size; ``n``
        is the number of rows times outputs); ``mae`` (K,) picks each branch's loss."""
        err = forward(params, x) - y
        point = tf.where(expand(mae, err), tf.abs(err), tf.square(err))
        return tf.reduce_sum(point * w, axis=1 if single else [1, 2]) / n

    def step(params, m, v, it, x, y, w, n, active, lr, mae):
        with tf.GradientTape() as tape:
            tape.watch(params)
            losses = per_branch_loss(params, x, y, w, n, mae)
            total = tf.reduce_sum(losses)
        grads = tape.gradient(total, params)
        it = it + 1.0
        alpha = lr * tf.sqrt(1.0 - BETA_2 ** it) / (1.0 - BETA_1 ** it)
        new_p, new_m, new_v = [], [], []
        for p, g, mi, vi in zip(params, grads, m, v):
            mi = mi + (g - mi) * (1.0 - BETA_1)
            vi = vi + (tf.square(g) - vi) * (1.0 - BETA_2)
            upd = (mi * alpha) / (tf.sqrt(vi) + EPSILON)
            new_p.append(tf.where(expand(active, p), p - upd, p))
            new_m.append(mi)
            new_v.append(vi)
        return new_p, new_m, new_v, it, losses

    f32, i32 = tf.float32, tf.int32
    spec_p = [tf.TensorSpec([None] * r, f32) for r in (3, 3, 2, 3, 2)]   # stacked weights
    spec_x = tf.TensorSpec([None, n_steps, None], f32)
    spec_y = tf.TensorSpec([None, None] if single else [None, None, n_outputs], f32)  # (K, n..)
    spec_v = tf.TensorSpec([None], f32)
    spec_b = tf.TensorSpec([None], tf.bool)
    spec_s = tf.TensorSpec([], f32)

    @tf.function(input_signature=[spec_p, spec_p, spec_p, spec_s, spec_x, spec_y, spec_y,
                                  tf.TensorSpec([None, None, None], i32), spec_v, spec_b,
                                  spec_s, spec_b])
    def epoch(params, m, v, it, x, y, w, idx, sizes, active, lr, mae):
        """One epoch: every batch ``idx[b]`` (K, B rows of the padded x and of each branch's
        y, w) in turn."""
        n_batches = tf.shape(idx)[0]
        acc = tf.zeros(tf.shape(idx)[1:2], tf.float32)

        def body(b, params, m, v, it, acc):
            rows = idx[b]
            xb = tf.gather(x, rows)
            yb, wb = tf.gather(y, rows, batch_dims=1), tf.gather(w, rows, batch_dims=1)
            n = sizes[b] if single else sizes[b] * float(n_outputs)
            params, m, v, it, losses = step(params, m, v, it, xb, yb, wb, n, active, lr, mae)
            return b + 1, params, m, v, it, acc + losses * sizes[b]

        _, params, m, v, it, acc = tf.while_loop(
            lambda b, *_: b < n_batches, body, (tf.constant(0), params, m, v, it, acc))
        return params, m, v, it, acc

    @tf.function(input_signature=[spec_p, spec_x, spec_y, spec_y, spec_b])
    def val_sum(params, x, y, w, mae):
        """Sum of the weighted losses per branch over validation windows (shared x)."""
        k = tf.shape(params[0])[0]
        xk = tf.broadcast_to(x[None], tf.concat([[k], tf.shape(x)], 0))
        return per_branch_loss(params, xk, y, w, 1.0, mae)

    @tf.function(input_signature=[spec_b, spec_p, spec_p])
    def select(mask, a, b):
        return [tf.where(expand(mask, x), x, y) for x, y in zip(a, b)]

    _FUNCTIONS[key] = (epoch, val_sum, select)
    return _FUNCTIONS[key]


# --------------------------------------------------------------------------- training

def _per_branch(value, k: int, name: str) -> list:
    """A value shared by all branches, or a list/tuple of one per branch -> a list of ``k``."""
    if isinstance(value, (list, tuple)):
        if len(value) != k:
            raise ValueError(f"{name}: {len(value)} entries for {k} branches")
        return list(value)
    return [value] * k


def _targets(ys: list, sws: list, n: int, n_outputs: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-branch targets and weights -> stacked (K, n + 1[, H]) float32 arrays, row ``n`` a
    zero row of weight 0 (it pads the last batch); NaN targets get weight 0 (and value 0)."""
    shape = (n,) if n_outputs == 1 else (n, n_outputs)
    y_out = np.zeros((len(ys), n + 1) + shape[1:], np.float32)
    w_out = np.zeros((len(ys), n + 1) + shape[1:], np.float32)
    for j, (y, sw) in enumerate(zip(ys, sws)):
        y = np.asarray(y, np.float32).reshape(shape)
        sw = np.ones(shape, np.float32) if sw is None else np.asarray(sw, np.float32)
        if sw.shape != shape:
            sw = np.broadcast_to(sw.reshape((n,) + (1,) * (len(shape) - 1)), shape)
        missing = ~np.isfinite(y)
        y_out[j, :n] = np.where(missing, 0.0, y)
        w_out[j, :n] = np.where(missing, 0.0, sw)
    return y_out, w_out


def train_branches(x: np.ndarray, y, x_val: np.ndarray, y_val, seeds: list[int],
                   inits: list[list[np.ndarray]], *, loss: str | Sequence[str],
                   learning_rate: float, batch_size: int, max_epochs: int, patience: int,
                   sw=None, sw_val=None, shuffle: str = "branch") -> list[BranchLog]:
    """Train one network per entry of ``seeds`` (with initial weights ``inits``) together.

    ``x`` (n, T, C) are the training windows in the model's space, shared by all branches,
    ``x_val`` the validation windows (early stopping). The targets ``y`` and ``y_val``, the
    ``loss`` (``"mae"`` or ``"mse"``) and the sample weights ``sw`` and ``sw_val`` are each
    either one value for all branches or a list with one per branch (an entry of ``sw`` may
    be None: weight 1). Targets are ``(n,)`` for single-output networks or ``(n, H)`` for
    ``H`` outputs (the dense head of ``inits`` must be ``(units, H)``); weights are ``(n,)``
    or ``(n, H)``; NaN targets are masked (weight 0). ``shuffle="branch"`` gives every branch
    its own order (from its seed); ``"shared"`` gives all branches the first seed's order
    (for the benchmark). Returns one :class:`BranchLog` per branch, in order.
    """
    import tensorflow as tf

    k = len(seeds)
    if len(inits) != k:
        raise ValueError(f"{len(inits)} initial weights for {k} branches")
    losses = _per_branch(loss, k, "loss")
    for name in losses:
        if name not in LOSSES:
            raise ValueError(f"loss must be 'mae' or 'mse', not {name!r}")
    ys, ys_val = _per_branch(y, k, "y"), _per_branch(y_val, k, "y_val")
    sws, sws_val = _per_branch(sw, k, "sw"), _per_branch(sw_val, k, "sw_val")
    if k == 1:
        # TensorFlow's batched matrix product takes another path for a batch of one (other
        # float rounding for tiny matrices): train a twin, so a network's numbers never
        # depend on how many others share its job
        return train_branches(x, ys * 2, x_val, ys_val * 2, list(seeds) * 2, list(inits) * 2,
                              loss=losses * 2, learning_rate=learning_rate,
                              batch_size=batch_size, max_epochs=max_epochs, patience=patience,
                              sw=sws * 2, sw_val=sws_val * 2, shuffle=shuffle)[:1]
    n_outputs = int(np.shape(inits[0][3])[1])
    y_shape = np.shape(ys[0])
    if len(y_shape) > 1 and int(np.prod(y_shape[1:])) != n_outputs:
        raise ValueError(f"targets of shape {y_shape} for a network of {n_outputs} output(s)")
    epoch_fn, val_sum, select = _functions(int(np.shape(x)[1]), n_outputs)
    x = np.asarray(x, np.float32)
    x_val = np.asarray(x_val, np.float32)
    n, n_val = len(x), len(x_val)
    y_all, w_all = _targets(ys, sws, n, n_outputs)
    yv_all, wv_all = _targets(ys_val, sws_val, n_val, n_outputs)
    yv_all, wv_all = yv_all[:, :n_val], wv_all[:, :n_val]
    mae_all = np.array([name == "mae" for name in losses])
    lr = tf.constant(learning_rate, tf.float32)
    val_div = n_val if n_outputs == 1 else n_val * n_outputs

    n_batches = -(-n // batch_size)
    pad = n_batches * batch_size - n
    # padded x: row n is a zero row (its targets have weight 0), used to fill the last batch
    x_pad = tf.constant(np.concatenate([x, np.zeros((1,) + x.shape[1:], np.float32)]))
    sizes = np.full(n_batches, batch_size, np.float32)
    sizes[-1] = batch_size - pad
    sizes = tf.constant(sizes)
    x_val_chunks = [tf.constant(x_val[j:j + VAL_CHUNK]) for j in range(0, n_val, VAL_CHUNK)]

    # the branches in the computation (global indices, in row order) and their data
    members = np.arange(k)

    units = int(np.shape(inits[0][1])[0])
    val_group = max(2, VAL_GROUP_FLOATS // max(1, min(n_val, VAL_CHUNK) * 4 * units))

    def member_data(rows: np.ndarray):
        """The members' stacked training targets and weights, loss flags, and their
        validation data per group of members ((start, stop) rows, mae, chunks)."""
        groups = []
        for g in np.array_split(np.arange(len(rows)), max(1, len(rows) // val_group)):
            r = rows[g]
            chunks = [(xc, tf.constant(yv_all[r, j:j + VAL_CHUNK]),
                       tf.constant(wv_all[r, j:j + VAL_CHUNK]))
                      for xc, j in zip(x_val_chunks, range(0, n_val, VAL_CHUNK))]
            groups.append((int(g[0]), int(g[-1]) + 1, tf.constant(mae_all[r]), chunks))
        return (tf.constant(y_all[rows]), tf.constant(w_all[rows]), tf.constant(mae_all[rows]),
                groups)

    y_pad, w_pad, mae, val_groups = member_data(members)

    def validation(ps) -> np.ndarray:
        out = []
        for a, b, mae_g, chunks in val_groups:
            part = ps if (a, b) == (0, len(members)) else [p[a:b] for p in ps]
            total = sum(val_sum(part, *c, mae_g) for c in chunks)
            out.append(total.numpy())
        return np.concatenate(out) / val_div

    orders = [np.random.default_rng(s) for s in (seeds if shuffle == "branch" else seeds[:1])]
    params = [tf.constant(np.stack([w[i] for w in inits]).astype(np.float32)) for i in range(5)]
    m = [tf.zeros_like(p) for p in params]
    v = [tf.zeros_like(p) for p in params]
    it = tf.constant(0.0)
    best = [p for p in params]
    final: list[np.ndarray | None] = [None] * k      # best weights of branches set aside
    active = np.ones(k, bool)
    best_val = np.full(k, np.inf)
    best_epoch = np.zeros(k, int)
    wait = np.zeros(k, int)
    epochs_run = np.zeros(k, int)
    seconds = np.zeros(k)
    logs_loss: list[list[float]] = [[] for _ in range(k)]
    logs_val: list[list[float]] = [[] for _ in range(k)]
    initial_val = validation(params)
    identity = np.arange(n)

    for epoch in range(max_epochs):
        t0 = time.perf_counter()
        on = active[members]                               # per row: active (else passenger)
        if shuffle == "branch":
            perms = [orders[j].permutation(n) if on[r] else identity
                     for r, j in enumerate(members)]
        else:
            perms = [orders[0].permutation(n)] * len(members)
        perms = np.concatenate([np.stack(perms), np.full((len(members), pad), n)], axis=1)
        batches = tf.constant(perms.reshape(len(members), n_batches, batch_size)
                              .transpose(1, 0, 2).astype(np.int32))   # (batch, rows, B)
        params, m, v, it, acc = epoch_fn(params, m, v, it, x_pad, y_pad, w_pad, batches, sizes,
                                         tf.constant(on), lr, mae)
        epoch_loss = acc.numpy()
        val = validation(params)
        running = members[on]
        for r in np.flatnonzero(on):
            j = members[r]
            logs_loss[j].append(float(epoch_loss[r] / n))
            logs_val[j].append(float(val[r]))
            epochs_run[j] += 1
        improved = on & (val < best_val[members])
        if improved.any():
            best = select(tf.constant(improved), params, best)
            best_val[members[improved]] = val[improved]
            best_epoch[members[improved]] = epoch + 1
        wait[members] = np.where(improved, 0, wait[members] + on)
        stop = on & (wait[members] >= patience) & (epoch > 0)
        if stop.any():      # frozen at their best weights from now on
            params = select(tf.constant(stop), best, params)
            active[members[stop]] = False
        seconds[running] += (time.perf_counter() - t0) / len(running)
        if not active.any():
            break
        keep = np.flatnonzero(active[members])
        if len(keep) < 2:                                  # one passenger rides along
            keep = np.sort(np.append(keep, np.flatnonzero(~active[members])[0]))
        if len(keep) < len(members):                       # compaction
            best_np = [b.numpy() for b in best]
            for r in np.setdiff1d(np.arange(len(members)), keep):
                final[members[r]] = [b[r].copy() for b in best_np]
            rows = tf.constant(keep.astype(np.int32))
            params, m, v, best = ([tf.gather(a, rows) for a in stack]
                                  for stack in (params, m, v, best))
            members = members[keep]
            y_pad, w_pad, mae, val_groups = member_data(members)
    best_np = [b.numpy() for b in best]
    for r, j in enumerate(members):
        final[j] = [b[r].copy() for b in best_np]
    return [BranchLog(weights=final[j], loss=logs_loss[j], val_loss=logs_val[j],
                      initial_val_loss=float(initial_val[j]), best_epoch=int(best_epoch[j]),
                      epochs_run=int(epochs_run[j]), seconds=float(seconds[j]))
            for j in range(k)]

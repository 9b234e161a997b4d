"""The training engine: the seeds of one configuration trained together, as one computation.

A network of the study is tiny (``Input(7 days) -> LSTM(units) -> Dense(1)``, a few thousand
weights), so training it one ``model.fit`` at a time is limited by the framework's overhead per
batch step (a few milliseconds), not by arithmetic. The engine trains ``K`` such networks (the
*branches*: typically the seeds of one configuration) in one step function: every weight
array is stacked along a leading branch axis, the LSTM is written out over the 7 days
(unrolled) with batched matrix products, and the whole training step (forward pass, gradient,
Adam update) is compiled once by XLA, so one step costs about as much for 5 networks as for 1.

Independence of the branches:

- the loss is the **sum** of the branches' losses, and branch ``k``'s loss depends only on
  branch ``k``'s weights, so each branch gets exactly its own gradient; Adam is elementwise,
  so each branch's update is its own;
- each branch draws **its own shuffle order** every epoch from a generator seeded by its seed,
  so a branch sees the batches a network trained alone with that seed would see;
- **early stopping per branch**: each branch's validation loss is tracked after every epoch
  (patience, min_delta 0, like ``keras.callbacks.EarlyStopping``); its best weights are kept,
  and a branch that has stopped is frozen at its best weights (its update is masked out) while
  the others go on. At the end every branch holds its best weights.

Initial weights are those of :func:`ytlstm.models.build_lstm` seeded with the branch's seed
(the Keras initialisers, so each branch starts exactly as a single network with that seed),
or given (transfer). :func:`train_branches` returns each branch's weights in the layout of
``build_lstm`` (``kernel, recurrent_kernel, bias, dense kernel, dense bias``), so the trained
networks are plain Keras networks for prediction, saving and transfer.

Determinism: fixed seeds, fixed shapes (the last, smaller batch is padded and masked, so one
compiled step serves every batch), TensorFlow's deterministic ops and no oneDNN reordering;
a branch's numbers do not depend on which other branches it is trained with (a test checks
this), so results do not depend on how tasks are grouped or distributed.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7      # keras.optimizers.Adam defaults
#: Validation windows per chunk (bounds the memory of the validation pass).
VAL_CHUNK = 2048


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


def initial_weights(seed: int, n_steps: int, n_features: int, units: int) -> list[np.ndarray]:
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
            net = build_lstm(n_steps, n_features, units)
        finally:
            seed_generator.python_random = shared
    return [np.asarray(a) for a in net.get_weights()]


# --------------------------------------------------------------------------- compiled parts

_FUNCTIONS: dict = {}


def _functions(n_steps: int):
    """The graph functions for one window length (traced once per process; tracing the
    unrolled LSTM and its gradient takes seconds, so the loss is an argument, not a trace)."""
    if n_steps in _FUNCTIONS:
        return _FUNCTIONS[n_steps]
    from ytlstm.models import _keras

    _keras()
    import tensorflow as tf

    def forward(params, x):
        """x (K, B, T, C) -> predictions (K, B); the Keras LSTM cell, unrolled over T."""
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
        return tf.matmul(h, dense_w)[..., 0] + dense_b

    def per_branch_loss(params, x, y, w, n, mae):
        """Weighted mean loss per branch: sum(w * l) / n (Keras' sum_over_batch_size)."""
        err = forward(params, x) - y
        point = tf.where(mae, tf.abs(err), tf.square(err))
        return tf.reduce_sum(point * w, axis=1) / n

    def expand(mask, like):
        return tf.reshape(mask, tf.concat([[-1], tf.ones([tf.rank(like) - 1], tf.int32)], 0))

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
    spec_v = tf.TensorSpec([None], f32)
    spec_b = tf.TensorSpec([None], tf.bool)
    spec_s = tf.TensorSpec([], f32)

    @tf.function(input_signature=[spec_p, spec_p, spec_p, spec_s, spec_x, spec_v, spec_v,
                                  tf.TensorSpec([None, None, None], i32), spec_v, spec_b,
                                  spec_s, tf.TensorSpec([], tf.bool)])
    def epoch(params, m, v, it, x, y, w, idx, sizes, active, lr, mae):
        """One epoch: every batch ``idx[b]`` (K, B rows of the padded x, y, w) in turn."""
        n_batches = tf.shape(idx)[0]
        acc = tf.zeros(tf.shape(idx)[1:2], tf.float32)

        def body(b, params, m, v, it, acc):
            rows = idx[b]
            xb, yb, wb = tf.gather(x, rows), tf.gather(y, rows), tf.gather(w, rows)
            params, m, v, it, losses = step(params, m, v, it, xb, yb, wb, sizes[b], active, lr,
                                             mae)
            return b + 1, params, m, v, it, acc + losses * sizes[b]

        _, params, m, v, it, acc = tf.while_loop(
            lambda b, *_: b < n_batches, body, (tf.constant(0), params, m, v, it, acc))
        return params, m, v, it, acc

    @tf.function(input_signature=[spec_p, spec_x, spec_v, spec_v, tf.TensorSpec([], tf.bool)])
    def val_sum(params, x, y, w, mae):
        """Sum of the weighted losses per branch over the validation windows (shared x)."""
        k = tf.shape(params[0])[0]
        xk = tf.broadcast_to(x[None], tf.concat([[k], tf.shape(x)], 0))
        return per_branch_loss(params, xk, y[None], w[None], 1.0, mae)

    @tf.function(input_signature=[spec_b, spec_p, spec_p])
    def select(mask, a, b):
        return [tf.where(expand(mask, x), x, y) for x, y in zip(a, b)]

    _FUNCTIONS[n_steps] = (epoch, val_sum, select)
    return _FUNCTIONS[n_steps]


# --------------------------------------------------------------------------- training

def train_branches(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                   seeds: list[int], inits: list[list[np.ndarray]], *, loss: str,
                   learning_rate: float, batch_size: int, max_epochs: int, patience: int,
                   sw: np.ndarray | None = None, sw_val: np.ndarray | None = None,
                   shuffle: str = "branch") -> list[BranchLog]:
    """Train one network per entry of ``seeds`` (with initial weights ``inits``) together.

    ``x`` (n, T, C), ``y`` (n,) are the training windows in the model's space, ``x_val`` and
    ``y_val`` the validation windows (early stopping); ``sw`` and ``sw_val`` optional sample
    weights. ``shuffle="branch"`` gives every branch its own order (from its seed);
    ``"shared"`` gives all branches the first seed's order (for the benchmark). Returns one
    :class:`BranchLog` per branch, in order.
    """
    import tensorflow as tf

    if len(seeds) == 1:
        # TensorFlow's batched matrix product takes another path for a batch of one (other
        # float rounding for tiny matrices): train a twin, so a network's numbers never
        # depend on how many others share its job
        return train_branches(x, y, x_val, y_val, list(seeds) * 2, list(inits) * 2, loss=loss,
                              learning_rate=learning_rate, batch_size=batch_size,
                              max_epochs=max_epochs, patience=patience, sw=sw, sw_val=sw_val,
                              shuffle=shuffle)[:1]
    if loss not in ("mae", "mse"):
        raise ValueError(f"loss must be 'mae' or 'mse', not {loss!r}")
    epoch_fn, val_sum, select = _functions(int(np.shape(x)[1]))
    mae = tf.constant(loss == "mae")
    k, n = len(seeds), len(y)
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32).reshape(-1)
    x_val = np.asarray(x_val, np.float32)
    y_val = np.asarray(y_val, np.float32).reshape(-1)
    sw = np.ones(n, np.float32) if sw is None else np.asarray(sw, np.float32)
    sw_val = np.ones(len(y_val), np.float32) if sw_val is None else np.asarray(sw_val, np.float32)
    lr = tf.constant(learning_rate, tf.float32)

    params = [tf.constant(np.stack([w[i] for w in inits]).astype(np.float32)) for i in range(5)]
    m = [tf.zeros_like(p) for p in params]
    v = [tf.zeros_like(p) for p in params]
    it = tf.constant(0.0)
    n_batches = -(-n // batch_size)
    pad = n_batches * batch_size - n
    # padded copies: row n is a zero row with weight 0, used to fill the last batch
    x_pad = tf.constant(np.concatenate([x, np.zeros((1,) + x.shape[1:], np.float32)]))
    y_pad = tf.constant(np.concatenate([y, np.zeros(1, np.float32)]))
    w_pad = tf.constant(np.concatenate([sw, np.zeros(1, np.float32)]))
    sizes = np.full(n_batches, batch_size, np.float32)
    sizes[-1] = batch_size - pad
    sizes = tf.constant(sizes)
    val_chunks = [(tf.constant(x_val[j:j + VAL_CHUNK]), tf.constant(y_val[j:j + VAL_CHUNK]),
                   tf.constant(sw_val[j:j + VAL_CHUNK])) for j in range(0, len(y_val), VAL_CHUNK)]

    def validation(ps) -> np.ndarray:
        total = sum(val_sum(ps, *c, mae) for c in val_chunks)
        return total.numpy() / len(y_val)

    orders = [np.random.default_rng(s) for s in (seeds if shuffle == "branch" else seeds[:1])]
    active = np.ones(k, bool)
    best = [p for p in params]
    best_val = np.full(k, np.inf)
    best_epoch = np.zeros(k, int)
    wait = np.zeros(k, int)
    epochs_run = np.zeros(k, int)
    seconds = np.zeros(k)
    logs_loss: list[list[float]] = [[] for _ in range(k)]
    logs_val: list[list[float]] = [[] for _ in range(k)]
    initial_val = validation(params)

    for epoch in range(max_epochs):
        t0 = time.perf_counter()
        perms = np.stack([r.permutation(n) for r in orders])
        if shuffle != "branch":
            perms = np.repeat(perms, k, axis=0)
        perms = np.concatenate([perms, np.full((k, pad), n)], axis=1).reshape(k, n_batches,
                                                                              batch_size)
        batches = tf.constant(perms.transpose(1, 0, 2).astype(np.int32))   # (batch, K, rows)
        params, m, v, it, acc = epoch_fn(params, m, v, it, x_pad, y_pad, w_pad, batches, sizes,
                                         tf.constant(active), lr, mae)
        epoch_loss = acc.numpy()
        val = validation(params)
        running = np.flatnonzero(active)
        for j in running:
            logs_loss[j].append(float(epoch_loss[j] / n))
            logs_val[j].append(float(val[j]))
            epochs_run[j] += 1
        improved = active & (val < best_val)
        if improved.any():
            best = select(tf.constant(improved), params, best)
            best_val = np.where(improved, val, best_val)
            best_epoch = np.where(improved, epoch + 1, best_epoch)
        wait = np.where(improved, 0, wait + active)
        stop = active & (wait >= patience) & (epoch > 0)
        if stop.any():      # frozen at their best weights from now on
            params = select(tf.constant(stop), best, params)
            active = active & ~stop
        seconds[running] += (time.perf_counter() - t0) / len(running)
        if not active.any():
            break
    final = [bp.numpy() for bp in best]
    return [BranchLog(weights=[a[j].copy() for a in final], loss=logs_loss[j],
                      val_loss=logs_val[j], initial_val_loss=float(initial_val[j]),
                      best_epoch=int(best_epoch[j]), epochs_run=int(epochs_run[j]),
                      seconds=float(seconds[j]))
            for j in range(k)]

"""Training many small LSTMs: one task per (model, seed), run in worker processes.

The networks are small, so one training run cannot use both cores; running independent
runs side by side in ``n_jobs`` processes (each with single-threaded TensorFlow) can. Each
task is deterministic on its own (its seed, deterministic ops), so the results do not depend
on which worker ran it or in what order.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ytlstm.config import StudyConfig
from ytlstm.transfer import transfer_weights
from ytlstm.windows import FeatureTransform, Windows

#: Environment variable: number of training processes (default: the number of cores).
JOBS_ENV = "YTLSTM_JOBS"


@dataclass
class Task:
    """One training run: which inputs, which windows, which seed, which initial weights."""

    label: str                       # for progress lines, e.g. "lstm_univariate seed 3"
    multivariate: bool
    seed: int
    train: np.ndarray                # indices of training windows
    validation: np.ndarray           # indices of validation windows
    units: int
    target: str = "drift"            # FeatureTransform target_kind
    loss: str = "mae"
    init: str = "random"             # "random" or "transfer"
    init_weights: list | None = None # univariate weights, for init="transfer"


@dataclass
class Trained:
    """The outcome of a task: predictions for every window, the log, the weights."""

    label: str
    seed: int
    pred: np.ndarray                 # predicted views of day 8 for all windows
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    initial_val_loss: float = float("nan")
    best_epoch: int = 0
    epochs_run: int = 0
    seconds: float = 0.0
    weights: list = field(default_factory=list)
    initial_pred: np.ndarray | None = None   # transfer: predictions before fine-tuning


_WORKER_DATA: dict = {}


def _init_worker(windows: Windows, config: StudyConfig, threads: int) -> None:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"      # deterministic float sums
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # TensorFlow already ran in this process (in-process run): keep its thread pools
    _WORKER_DATA["windows"] = windows
    _WORKER_DATA["config"] = config


def run_task(task: Task, windows: Windows | None = None,
             config: StudyConfig | None = None) -> Trained:
    """Train one network as the task says and predict every window."""
    from ytlstm.models import LSTMForecaster, fit_network

    windows = windows if windows is not None else _WORKER_DATA["windows"]
    config = config if config is not None else _WORKER_DATA["config"]
    train, val = windows.subset(task.train), windows.subset(task.validation)
    config = config.replace(units=task.units, loss=task.loss, target=task.target)
    transform = FeatureTransform(task.multivariate, task.target).fit(train)
    model = LSTMForecaster(config, task.multivariate, task.seed)
    model.transform_ = transform
    model.model_ = model.build(transform)
    initial_pred = None
    x_val, y_val = transform.transform_x(val), transform.transform_y(val)
    initial_val_loss = float("nan")
    if task.init == "transfer":
        n_uni = FeatureTransform(False, task.target).fit(train).n_channels
        model.model_.set_weights(transfer_weights(task.init_weights, transform.n_channels, n_uni))
        initial_pred = model.predict(windows)
        initial_val_loss = float(model.model_.evaluate(x_val, y_val, batch_size=4096, verbose=0))
    log = fit_network(model.model_, transform.transform_x(train), transform.transform_y(train),
                      x_val, y_val, config, task.seed)
    return Trained(label=task.label, seed=task.seed, pred=model.predict(windows), loss=log.loss,
                   val_loss=log.val_loss, initial_val_loss=initial_val_loss,
                   best_epoch=log.best_epoch, epochs_run=log.epochs_run, seconds=log.seconds,
                   weights=[np.asarray(a) for a in model.model_.get_weights()],
                   initial_pred=initial_pred)


def default_jobs() -> int:
    env = os.environ.get(JOBS_ENV)
    return max(1, int(env)) if env else max(1, os.cpu_count() or 1)


def run_tasks(tasks: list[Task], windows: Windows, config: StudyConfig, n_jobs: int | None = None,
              progress: Callable[[str], None] | None = None) -> list[Trained]:
    """Run tasks in ``n_jobs`` worker processes (in this process when 1); results in task order."""
    n_jobs = min(n_jobs or default_jobs(), len(tasks)) if tasks else 1
    say = progress or (lambda s: None)
    results: list[Trained | None] = [None] * len(tasks)
    start = time.perf_counter()

    def report(i: int, r: Trained) -> None:
        results[i] = r
        done = sum(x is not None for x in results)
        say(f"  [{done}/{len(tasks)}] {r.label}: {r.epochs_run} epochs (best {r.best_epoch}), "
            f"{r.seconds:.1f} s, best val loss {min(r.val_loss):.4f}")

    if n_jobs == 1:
        _init_worker(windows, config, threads=os.cpu_count() or 1)
        for i, t in enumerate(tasks):
            report(i, run_task(t))
    else:
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(n_jobs, mp_context=ctx, initializer=_init_worker,
                                 initargs=(windows, config, 1)) as pool:
            futures = {pool.submit(run_task, t): i for i, t in enumerate(tasks)}
            from concurrent.futures import as_completed

            for fut in as_completed(futures):
                report(futures[fut], fut.result())
    say(f"  {len(tasks)} networks trained in {time.perf_counter() - start:.1f} s "
        f"with {n_jobs} process(es)")
    return results  # type: ignore[return-value]

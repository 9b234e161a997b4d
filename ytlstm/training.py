"""Training many small LSTMs: tasks grouped into seed-ensemble jobs, run by an executor.

A :class:`Task` is one network (model, seed, windows, configuration). :func:`run_tasks`
groups the tasks that differ only in their seed (same inputs, training and validation windows,
size, target, loss, weighting, initialisation kind and epoch budget) into *jobs*; a job trains
its networks together as the branches of one computation (:mod:`ytlstm.engine`), which costs
little more than training one of them. Jobs run on an executor (:mod:`ytlstm.executor`):
worker processes on this machine by default, or an existing Dask cluster. Every network is
deterministic on its own (its seed, deterministic ops) and its numbers do not depend on which
other networks share its job, so results do not depend on grouping, worker or order.
Results come back per task, in task order, as :class:`Trained` records whose weights are those
of a plain ``build_lstm`` network.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ytlstm.config import StudyConfig
from ytlstm.executor import (JOBS_ENV, WORKER_DATA, _configure_tf, _init_worker,  # noqa: F401
                             default_jobs)
from ytlstm.transfer import transfer_weights
from ytlstm.windows import FeatureTransform, Windows

#: Most networks trained together in one job (larger groups are split).
MAX_BRANCHES = 8

__all__ = ["Task", "Trained", "Job", "plan_jobs", "run_job", "run_task", "run_tasks",
           "default_jobs", "transfer_weights", "JOBS_ENV"]


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
    weighting: str = "none"          # "none" or "scale" (windows weighted by day-7 views)
    max_epochs: int | None = None    # None: config.max_epochs


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
    seconds: float = 0.0             # its share of its job's training time
    weights: list = field(default_factory=list)
    initial_pred: np.ndarray | None = None   # transfer: predictions before fine-tuning


@dataclass
class Job:
    """Compatible tasks trained together (one branch each); ``positions`` in the task list."""

    tasks: list[Task]
    positions: list[int]

    @property
    def cost(self) -> float:
        """A rough relative cost, for scheduling the largest jobs first."""
        t = self.tasks[0]
        return len(self.tasks) * len(t.train) * (t.units + 8) * (2 if t.multivariate else 1)


def _digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha1(a.tobytes() + str(a.dtype).encode()).hexdigest()


def group_key(task: Task) -> tuple:
    """Tasks with equal keys can be trained together (they differ only in the seed)."""
    return (task.multivariate, _digest(task.train), _digest(task.validation), task.units,
            task.target, task.loss, task.weighting, task.init, task.max_epochs)


def plan_jobs(tasks: list[Task], n_workers: int = 1, max_branches: int = MAX_BRANCHES) -> list[Job]:
    """Group compatible tasks into jobs (first-appearance order), largest first.

    Groups larger than ``max_branches`` are split, and while there are fewer jobs than
    workers the largest job is halved, so every worker gets work. (A network's numbers do
    not depend on its job's other networks, so the plan changes speed only.)
    """
    groups: dict[tuple, list[int]] = {}
    for i, t in enumerate(tasks):
        groups.setdefault(group_key(t), []).append(i)
    chunks: list[list[int]] = []
    for idx in groups.values():
        n_chunks = -(-len(idx) // max_branches)
        chunks += [list(c) for c in np.array_split(idx, n_chunks)]
    while len(chunks) < n_workers and max(len(c) for c in chunks) > 1:
        big = max(range(len(chunks)), key=lambda j: len(chunks[j]))
        c = chunks.pop(big)
        half = -(-len(c) // 2)
        chunks[big:big] = [c[:half], c[half:]]
    jobs = [Job([tasks[i] for i in c], [int(i) for i in c]) for c in chunks]
    return sorted(jobs, key=lambda j: -j.cost)


# --------------------------------------------------------------------------- in a worker

_NETS: dict = {}


def _net(n_steps: int, n_channels: int, units: int):
    """A plain ``build_lstm`` network for predictions, one per shape and process."""
    key = (n_steps, n_channels, units)
    if key not in _NETS:
        from ytlstm.models import build_lstm

        _NETS[key] = build_lstm(n_steps, n_channels, units)
    return _NETS[key]


def _predict(weights: list, transform: FeatureTransform, windows: Windows, n_steps: int,
             units: int) -> np.ndarray:
    net = _net(n_steps, transform.n_channels, units)
    net.set_weights(weights)
    x = transform.transform_x(windows)
    return transform.to_views(windows, net.predict(x, batch_size=4096, verbose=0).reshape(-1))


def _weights(task: Task, train: Windows, val: Windows):
    if task.weighting == "none":
        return None, None
    if task.weighting == "scale":
        from ytlstm.baselines import scale_weights

        return scale_weights(train, train), scale_weights(val, train)
    raise ValueError(f"unknown weighting {task.weighting!r}; expected none or scale")


def run_job(job: Job, windows: Windows | None = None,
            config: StudyConfig | None = None) -> list[Trained]:
    """Train a job's networks together (:func:`ytlstm.engine.train_branches`); one result each."""
    from ytlstm.engine import initial_weights, train_branches

    windows = windows if windows is not None else WORKER_DATA["windows"]
    config = config if config is not None else WORKER_DATA["config"]
    first = job.tasks[0]
    train, val = windows.subset(first.train), windows.subset(first.validation)
    transform = FeatureTransform(first.multivariate, first.target).fit(train)
    n_steps, n_ch = config.window, transform.n_channels
    inits, initial_preds = [], []
    for t in job.tasks:
        if t.init == "transfer":
            if t.init_weights is None:
                raise ValueError(f"{t.label}: init='transfer' needs init_weights")
            n_uni = FeatureTransform(False, t.target).fit(train).n_channels
            w0 = transfer_weights(t.init_weights, n_ch, n_uni)
            inits.append(w0)
            initial_preds.append(_predict(w0, transform, windows, n_steps, t.units))
        elif t.init == "random":
            inits.append(initial_weights(t.seed, n_steps, n_ch, t.units))
            initial_preds.append(None)
        else:
            raise ValueError(f"{t.label}: unknown init {t.init!r}; expected random or transfer")
    sw, sw_val = _weights(first, train, val)
    logs = train_branches(
        transform.transform_x(train), transform.transform_y(train),
        transform.transform_x(val), transform.transform_y(val),
        [t.seed for t in job.tasks], inits, loss=first.loss,
        learning_rate=config.learning_rate, batch_size=config.batch_size,
        max_epochs=first.max_epochs or config.max_epochs, patience=config.patience,
        sw=sw, sw_val=sw_val)
    return [Trained(label=t.label, seed=t.seed,
                    pred=_predict(log.weights, transform, windows, n_steps, t.units),
                    loss=log.loss, val_loss=log.val_loss,
                    initial_val_loss=log.initial_val_loss if t.init == "transfer" else float("nan"),
                    best_epoch=log.best_epoch, epochs_run=log.epochs_run, seconds=log.seconds,
                    weights=log.weights, initial_pred=p0)
            for t, log, p0 in zip(job.tasks, logs, initial_preds)]


def run_task(task: Task, windows: Windows | None = None,
             config: StudyConfig | None = None) -> Trained:
    """Train one network as the task says and predict every window (a job of one)."""
    return run_job(Job([task], [0]), windows, config)[0]


# --------------------------------------------------------------------------- the runner

def run_tasks(tasks: list[Task], windows: Windows, config: StudyConfig, n_jobs: int | None = None,
              progress: Callable[[str], None] | None = None, executor=None) -> list[Trained]:
    """Run tasks as seed-ensemble jobs on an executor; results in task order.

    ``executor``: an :class:`ytlstm.executor.Executor`; by default
    :func:`ytlstm.executor.get_executor` (a Dask cluster when ``YTLSTM_SCHEDULER`` is set,
    else ``n_jobs`` local worker processes, in this process when 1).
    """
    from ytlstm.executor import get_executor

    say = progress or (lambda s: None)
    results: list[Trained | None] = [None] * len(tasks)
    if not tasks:
        return []
    start = time.perf_counter()
    own = executor is None
    executor = executor or get_executor(n_jobs, n_items=len(tasks))
    try:
        jobs = plan_jobs(tasks, executor.workers)
        done = 0
        for j, out in executor.map(run_job, jobs, windows, config):
            for pos, r in zip(jobs[j].positions, out):
                results[pos] = r
                done += 1
                say(f"  [{done}/{len(tasks)}] {r.label}: {r.epochs_run} epochs "
                    f"(best {r.best_epoch}), {r.seconds:.1f} s, "
                    f"best val loss {min(r.val_loss):.4f}")
    finally:
        if own:
            executor.close()
    seconds = time.perf_counter() - start
    epochs = sum(r.epochs_run for r in results)          # type: ignore[union-attr]
    say(f"  {len(tasks)} networks trained in {seconds:.1f} s: {epochs} network-epochs, "
        f"{epochs / max(seconds, 1e-9):.1f} network-epochs/s ({len(jobs)} job(s) on "
        f"{executor.describe()})")
    return results  # type: ignore[return-value]

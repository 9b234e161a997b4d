"""Training many small LSTMs: tasks grouped into jobs of stacked networks, run by an executor.

A :class:`Task` is one network (model, seed, windows, configuration). :func:`plan_jobs`
groups the tasks that share their inputs (same input channels, training and validation
windows, size, number of outputs, initialisation kind and epoch budget) into *jobs*, whatever
their target kind, loss, weighting and seed: a job trains its networks together as the
branches of one computation (:mod:`ytlstm.engine`), each branch with its own targets, loss,
sample weights and shuffle order, which costs far less than training them one by one.
Large groups are split, and jobs are split further where that shortens the estimated time
until the last worker is done (workers take the jobs largest first). :func:`run_job` fits
one feature transform per target kind on the job's training windows (the inputs are the
same for every target kind) and maps each network's predictions back to views with its own
(one column per horizon for networks of several outputs, :attr:`Task.horizons`). Jobs run
on an executor (:mod:`ytlstm.executor`): worker processes on this machine by default, or an
existing Dask cluster. Every network is deterministic on its own (its seed, deterministic
ops) and its numbers do not depend on which other networks share its job, nor on when they
stop, so results do not depend on grouping, worker or order.
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

#: Most networks trained together in one job (larger groups are split). Measured on the
#: real windows with early stopping (compaction): the 18 tuning networks of one size train in
#: 6-7% less processor time as one job of 18 than as two of 9 (16 and 32 units, univariate
#: and multivariate), 27% less than as six of 3 (32 units).
MAX_BRANCHES = 18
#: Fixed cost of one batch step of a job, in the units of :func:`_branch_cost` (measured:
#: about as much as one more branch of 32 units).
STEP_COST = 30.0
#: How many of the largest jobs :func:`plan_jobs` tries to split at each step.
SPLIT_CANDIDATES = 4
#: Windows per prediction batch of the plain Keras network.
PREDICT_BATCH = 4096
#: Epochs assumed for a task without ``max_epochs`` (the real count is unknown in advance).
TYPICAL_EPOCHS = 40

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
    horizons: int = 1                # outputs: one per horizon 1..horizons (day 8, 9, ...)
    #: (train_limit, val_limit), numpy datetime64[ns]: output h of a training (validation)
    #: window is trained on (scored) only if its horizon-h target date is before the limit
    target_limits: tuple | None = None


@dataclass
class Trained:
    """The outcome of a task: predictions for every window, the log, the weights."""

    label: str
    seed: int
    pred: np.ndarray                 # predicted views of day 8 for all windows, (n,);
                                     # (n, horizons) of days 8.. for several horizons
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    initial_val_loss: float = float("nan")
    best_epoch: int = 0
    epochs_run: int = 0
    seconds: float = 0.0             # its share of its job's training time
    weights: list = field(default_factory=list)
    initial_pred: np.ndarray | None = None   # transfer: predictions before fine-tuning


def _branch_cost(task: Task) -> float:
    """Relative time of one batch step of one branch (measured on this machine, per
    network-epoch in jobs of 18: 16 units 43 ms, 32 units 75 ms; multivariate inputs 1.2-1.3
    times that)."""
    return (task.units + 5.0) * (1.25 if task.multivariate else 1.0) + 0.5 * (task.horizons - 1)


@dataclass
class Job:
    """Compatible tasks trained together (one branch each); ``positions`` in the task list."""

    tasks: list[Task]
    positions: list[int]

    @property
    def cost(self) -> float:
        """Estimated relative time: epochs x windows x (fixed step cost + the branches'
        costs; at least two branches are computed), a validation window counted as a third
        of a training window (forward pass only). Epochs are not known in advance, so every
        branch is assumed to run as many (each stops on its own: compaction)."""
        t = self.tasks[0]
        epochs = min(t.max_epochs or TYPICAL_EPOCHS, TYPICAL_EPOCHS)
        branches = sum(_branch_cost(x) for x in self.tasks) * max(1, 2 / len(self.tasks))
        return epochs * (len(t.train) + len(t.validation) / 3) * (STEP_COST + branches)


def _digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha1(a.tobytes() + str(a.dtype).encode()).hexdigest()


def group_key(task: Task) -> tuple:
    """Tasks with equal keys can be trained together: they share their inputs and network
    shape, and may differ in seed, target kind, loss, weighting and target limits."""
    return (task.multivariate, _digest(task.train), _digest(task.validation), task.units,
            task.horizons, task.init, task.max_epochs)


def _makespan(jobs: list[Job], n_workers: int) -> float:
    """When the last worker finishes if jobs are taken largest first by the first free worker
    (as the executors do with the planned order), by the estimated costs."""
    free = [0.0] * max(1, n_workers)
    for c in sorted((j.cost for j in jobs), reverse=True):
        free[free.index(min(free))] += c
    return max(free)


def plan_jobs(tasks: list[Task], n_workers: int = 1,
              max_branches: int | None = None) -> list[Job]:
    """Group compatible tasks into jobs (first-appearance order), largest first.

    Groups larger than ``max_branches`` (default ``MAX_BRANCHES``) are split into nearly
    equal jobs. Then, while it shortens the estimated time until the last worker is done
    (:func:`_makespan`: largest job first to the first free worker, by :attr:`Job.cost`), a
    job is split in two (the split of one of the ``SPLIT_CANDIDATES`` largest jobs that
    shortens it most, looking one split ahead from the best few): few large jobs on several
    workers leave workers idle at the end, and smaller jobs at the end of the list fill the
    gaps. (A network's numbers do not depend on its job's other networks, so the plan
    changes speed only.)
    """
    max_branches = max_branches or MAX_BRANCHES
    groups: dict[tuple, list[int]] = {}
    for i, t in enumerate(tasks):
        groups.setdefault(group_key(t), []).append(i)
    jobs: list[Job] = []
    for idx in groups.values():
        for c in np.array_split(idx, -(-len(idx) // max_branches)):
            jobs.append(Job([tasks[i] for i in c], [int(i) for i in c]))
    jobs.sort(key=lambda j: -j.cost)
    while n_workers > 1:
        now = _makespan(jobs, n_workers)
        splits = _splits(jobs, n_workers)
        better = [sp for sp in splits if sp[0] < now * (1 - 1e-9)]
        if not better:
            # one step of look-ahead (from the best few): a split that does not help alone
            # may let a second one help
            ahead = sorted(splits, key=lambda sp: sp[0])[:SPLIT_CANDIDATES]
            better = [sp for _, trial in ahead for sp in _splits(trial, n_workers)
                      if sp[0] < now * (1 - 1e-9)]
        if not better:
            break
        jobs = min(better, key=lambda sp: sp[0])[1]
    return jobs


def _splits(jobs: list[Job], n_workers: int) -> list[tuple[float, list[Job]]]:
    """Every way to split one of the largest jobs in two: (estimated makespan, jobs)."""
    out = []
    for big in [j for j in jobs if len(j.tasks) >= 2][:SPLIT_CANDIDATES]:
        rest = [j for j in jobs if j is not big]
        for m in range(1, len(big.tasks)):
            trial = sorted(rest + [Job(big.tasks[:m], big.positions[:m]),
                                   Job(big.tasks[m:], big.positions[m:])],
                           key=lambda j: -j.cost)
            out.append((_makespan(trial, n_workers), trial))
    return out


# --------------------------------------------------------------------------- in a worker

_NETS: dict = {}


def _net(n_steps: int, n_channels: int, units: int, n_outputs: int = 1):
    """A plain ``build_lstm`` network for predictions, one per shape and process."""
    key = (n_steps, n_channels, units, n_outputs)
    if key not in _NETS:
        from ytlstm.models import build_lstm

        _NETS[key] = build_lstm(n_steps, n_channels, units, n_outputs=n_outputs)
    return _NETS[key]


def _predict(weights: list, transform: FeatureTransform, x: np.ndarray, windows: Windows,
             n_steps: int, units: int, n_outputs: int = 1) -> np.ndarray:
    """Views predicted by a plain Keras network with ``weights`` for ``windows`` (inputs
    ``x``): ``(n,)``, or ``(n, n_outputs)`` for several outputs."""
    net = _net(n_steps, transform.n_channels, units, n_outputs)
    net.set_weights(weights)
    pred = predict_batches(net, x, n_outputs)
    return transform.to_views(windows, pred.reshape(-1) if n_outputs == 1 else pred)


def predict_batches(net, x: np.ndarray, n_outputs: int = 1) -> np.ndarray:
    """``net.predict(x, batch_size=PREDICT_BATCH)``, its batches one by one: the same numbers
    without building a data pipeline per call (a few times faster); ``(n, n_outputs)``."""
    return np.concatenate([np.asarray(net.predict_on_batch(x[j:j + PREDICT_BATCH]))
                           for j in range(0, len(x), PREDICT_BATCH)]
                          or [np.zeros((0, n_outputs), np.float32)])


def _transform(multivariate: bool, target: str, horizons: int) -> FeatureTransform:
    if horizons == 1:
        return FeatureTransform(multivariate, target)
    return FeatureTransform(multivariate, target, horizons=horizons)


def _weights(task: Task, train: Windows, val: Windows):
    """Sample weights of the training and validation windows (None: all 1): the weighting,
    times the target limits' mask (``(n,)``, or ``(n, horizons)`` for several outputs)."""
    if task.weighting == "none":
        sw, sw_val = None, None
    elif task.weighting == "scale":
        from ytlstm.baselines import scale_weights

        sw, sw_val = scale_weights(train, train), scale_weights(val, train)
    else:
        raise ValueError(f"unknown weighting {task.weighting!r}; expected none or scale")
    if task.target_limits is None:
        return sw, sw_val
    out = []
    for w, weights, limit in ((train, sw, task.target_limits[0]),
                              (val, sw_val, task.target_limits[1])):
        dates = (w.target_date if task.horizons == 1 else w.future_date[:, :task.horizons])
        mask = np.asarray(dates, "datetime64[ns]") < np.datetime64(limit, "ns")   # NaT: False
        if weights is not None:
            weights = np.asarray(weights, np.float32)
            mask = mask * (weights if task.horizons == 1 else weights[:, None])
        out.append(mask.astype(np.float32))
    return out[0], out[1]


def run_job(job: Job, windows: Windows | None = None,
            config: StudyConfig | None = None) -> list[Trained]:
    """Train a job's networks together (:func:`ytlstm.engine.train_branches`); one result each.

    One feature transform per target kind is fitted on the training windows; the inputs are
    those of the first task's (every target kind's are the same), the targets and the
    predictions in views each task's own.
    """
    from ytlstm.engine import initial_weights, train_branches

    windows = windows if windows is not None else WORKER_DATA["windows"]
    config = config if config is not None else WORKER_DATA["config"]
    first = job.tasks[0]
    for t in job.tasks:
        if group_key(t) != group_key(first):
            raise ValueError(f"{t.label} cannot be trained with {first.label} (other inputs)")
    train, val = windows.subset(first.train), windows.subset(first.validation)
    horizons = first.horizons
    # one transform per target kind and target limits: a multi-output network's target
    # scaling reads only training targets dated before its origin's validation dates
    transforms: dict[tuple, FeatureTransform] = {}
    targets: dict[tuple, tuple] = {}
    for t in job.tasks:
        tk = (t.target, t.target_limits)
        if tk not in transforms:
            transforms[tk] = _transform(first.multivariate, t.target, horizons).fit(
                train, t.target_limits[0] if t.target_limits is not None else None)
            targets[tk] = (transforms[tk].transform_y(train), transforms[tk].transform_y(val))
    inputs = transforms[(first.target, first.target_limits)]
    x_all = inputs.transform_x(windows)
    n_steps, n_ch = config.window, inputs.n_channels
    inits, initial_preds = [], []
    random_inits: dict[tuple, list] = {}    # a seed's initial weights, built once per job
    for t in job.tasks:
        if t.init == "transfer":
            if t.init_weights is None:
                raise ValueError(f"{t.label}: init='transfer' needs init_weights")
            w0 = transfer_weights(t.init_weights, n_ch, FeatureTransform(False).n_channels)
            inits.append(w0)
            initial_preds.append(_predict(w0, transforms[(t.target, t.target_limits)], x_all,
                                          windows, n_steps,
                                          t.units, horizons))
        elif t.init == "random":
            if (t.seed, t.units) not in random_inits:
                random_inits[(t.seed, t.units)] = initial_weights(t.seed, n_steps, n_ch, t.units,
                                                                  horizons)
            inits.append(random_inits[(t.seed, t.units)])
            initial_preds.append(None)
        else:
            raise ValueError(f"{t.label}: unknown init {t.init!r}; expected random or transfer")
    weights: dict[tuple, tuple] = {}
    for t in job.tasks:
        key = (t.weighting, t.target_limits)
        if key not in weights:
            weights[key] = _weights(t, train, val)
    sws = [weights[(t.weighting, t.target_limits)] for t in job.tasks]
    logs = train_branches(
        inputs.transform_x(train), [targets[(t.target, t.target_limits)][0] for t in job.tasks],
        inputs.transform_x(val), [targets[(t.target, t.target_limits)][1] for t in job.tasks],
        [t.seed for t in job.tasks], inits, loss=[t.loss for t in job.tasks],
        learning_rate=config.learning_rate, batch_size=config.batch_size,
        max_epochs=first.max_epochs or config.max_epochs, patience=config.patience,
        sw=[w[0] for w in sws], sw_val=[w[1] for w in sws])
    return [Trained(label=t.label, seed=t.seed,
                    pred=_predict(log.weights, transforms[(t.target, t.target_limits)], x_all,
                                  windows, n_steps,
                                  t.units, horizons),
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

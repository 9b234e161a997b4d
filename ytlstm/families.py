"""Forecaster families: what the harness fits, all through one interface.

A family has a ``name``, a hyperparameter ``grid(config)`` (one dict per configuration; a
single empty dict when there is nothing to tune) and two steps, so that the harness can
train the networks of many families together in worker processes:

- ``tasks(params, ctx, seeds, upstream)``: the training tasks (:class:`ytlstm.training.Task`)
  the configuration needs, none for baselines;
- ``collect(params, runs, ctx, upstream)``: a :class:`Fitted` (predicted views of every
  window, per seed) from those tasks' results, or from fitting a baseline.

``upstream`` holds the :class:`Fitted` results of families of an earlier ``phase`` at the same
origin (the combination needs its members, the transfer network and the per-cluster networks
need the univariate network of the same seeds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np

from ytlstm.baselines import (Combination, Drift, Forecaster, GradientBoosting, LinearAR, Naive,
                              SzaboHuberman)
from ytlstm.clusters import MIN_CLUSTER_VALIDATION_WINDOWS, ShapeClusters
from ytlstm.config import StudyConfig
from ytlstm.training import Task, Trained
from ytlstm.windows import Windows, seed_ensemble


@dataclass
class Context:
    """Where a family is fitted: the windows, and which are training and validation."""

    windows: Windows
    train: np.ndarray                  # indices of training windows
    validation: np.ndarray             # indices of validation (early-stopping) windows
    config: StudyConfig
    label: str = ""                    # e.g. "origin 2", for progress lines


@dataclass
class Fitted:
    """One configuration of one family fitted in one context."""

    family: str
    params: dict
    preds: np.ndarray                  # (n_seeds, n_windows) predicted views
    runs: list[Trained] | None = None  # networks: one per seed
    info: dict = field(default_factory=dict)

    @property
    def ensemble(self) -> np.ndarray:
        """The forecast: a baseline's, or the seed ensemble (mean of log predictions)."""
        if len(self.preds) == 1:
            return self.preds[0]
        return seed_ensemble(self.preds)

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs] if self.runs else []


class Family:
    """Base class of forecaster families (see the module docstring)."""

    name = "family"
    kind = "baseline"                  # "baseline" or "lstm"
    phase = 0                          # families of phase 1 read phase-0 results
    tuned = False                      # chooses hyperparameters on validation

    def grid(self, config: StudyConfig) -> list[dict]:
        return [{}]

    def tasks(self, params: dict, ctx: Context, seeds: tuple[int, ...],
              upstream: dict[str, Fitted]) -> list[Task]:
        return []

    def collect(self, params: dict, runs: list[Trained], ctx: Context,
                upstream: dict[str, Fitted]) -> Fitted:  # pragma: no cover - interface
        raise NotImplementedError


# --------------------------------------------------------------------------- baselines

class BaselineFamily(Family):
    """A family of :class:`~ytlstm.baselines.Forecaster` objects, one per configuration."""

    def make(self, params: dict, config: StudyConfig, upstream: dict[str, Fitted]) -> Forecaster:
        raise NotImplementedError  # pragma: no cover - interface

    def collect(self, params, runs, ctx, upstream):
        w = ctx.windows
        f = self.make(params, ctx.config, upstream).fit(w.subset(ctx.train),
                                                        w.subset(ctx.validation))
        info = {"n_trees": f.n_trees_} if hasattr(f, "n_trees_") else {}
        return Fitted(self.name, dict(params), f.predict(w)[None, :], info=info)


class NaiveFamily(BaselineFamily):
    name = "naive"

    def make(self, params, config, upstream):
        return Naive()


class SzaboFamily(BaselineFamily):
    name = "szabo_huberman"

    def make(self, params, config, upstream):
        return SzaboHuberman()


class DriftFamily(BaselineFamily):
    """``y7 + damping * stat(last k increments)``: k, stat and damping chosen on validation."""

    name = "drift"
    tuned = True

    def grid(self, config):
        out = []
        for k, stat, d in product(config.drift_k_grid, config.drift_stat_grid,
                                  config.drift_damping_grid):
            if stat == "median" and k <= 2:
                continue   # the median of one or two increments is their mean
            out.append({"k": int(k), "stat": stat, "damping": float(d)})
        return out

    def make(self, params, config, upstream):
        return Drift(**params)


class LinearFamily(BaselineFamily):
    name = "linear_ar"
    tuned = True

    def grid(self, config):
        return [{"target": t, "inputs": i, "loss": l} for t, i, l in product(
            config.target_grid, config.linear_inputs_grid, config.baseline_loss_grid)]

    def make(self, params, config, upstream):
        return LinearAR(**params)


class GBMFamily(BaselineFamily):
    name = "gbm"
    tuned = True

    def grid(self, config):
        return [{"target": t, "loss": l, "max_leaf_nodes": int(n)} for t, l, n in product(
            config.target_grid, config.baseline_loss_grid, config.gbm_leaves_grid)]

    def make(self, params, config, upstream):
        return GradientBoosting(**params, learning_rate=config.gbm_learning_rate,
                                max_iter=config.gbm_max_iter, seed=config.gbm_seed)


class CombinationFamily(Family):
    """The mean in views of the chosen drift rule's and the chosen linear AR's forecasts."""

    name = "combination"
    phase = 1
    members = ("drift", "linear_ar")

    def collect(self, params, runs, ctx, upstream):
        preds = np.mean([upstream[m].ensemble for m in self.members], axis=0)
        return Fitted(self.name, {"members": list(self.members)}, preds[None, :])


# --------------------------------------------------------------------------- networks

def task_options(params: dict) -> dict:
    """Grid parameters -> :class:`Task` fields (``mae_scaled``: MAE, windows weighted by scale)."""
    loss = params["loss"]
    weighting = "scale" if loss.endswith("_scaled") else "none"
    return {"units": int(params["units"]), "target": params["target"],
            "loss": loss.removesuffix("_scaled"), "weighting": weighting}


def network_fitted(name: str, params: dict, runs: list[Trained], info: dict | None = None) -> Fitted:
    return Fitted(name, dict(params), np.stack([r.pred for r in runs]), runs=list(runs),
                  info=info or {})


class LSTMFamily(Family):
    """A univariate or multivariate LSTM, one network per seed."""

    kind = "lstm"
    tuned = True

    def __init__(self, name: str, multivariate: bool) -> None:
        self.name = name
        self.multivariate = multivariate

    def grid(self, config):
        return [{"target": t, "loss": l, "units": int(u)} for t, l, u in product(
            config.target_grid, config.loss_grid, config.units_grid)]

    def tasks(self, params, ctx, seeds, upstream):
        return [Task(f"{ctx.label} {self.name} {_short(params)} seed {s}", self.multivariate, s,
                     ctx.train, ctx.validation, **task_options(params)) for s in seeds]

    def collect(self, params, runs, ctx, upstream):
        return network_fitted(self.name, params, runs)


class TransferFamily(LSTMFamily):
    """The multivariate LSTM started from the univariate network of the same seed."""

    phase = 1
    tuned = False

    def __init__(self, name: str = "lstm_transfer", source: str = "lstm_univariate") -> None:
        super().__init__(name, True)
        self.source = source

    def tasks(self, params, ctx, seeds, upstream):
        src = upstream[self.source]
        if src.seeds != list(seeds):
            raise ValueError(f"{self.name}: source has seeds {src.seeds}, expected {list(seeds)}")
        out = super().tasks(params, ctx, seeds, upstream)
        for t, r in zip(out, src.runs):
            t.init, t.init_weights = "transfer", r.weights
        return out


class ClusterFamily(Family):
    """One univariate LSTM per cluster of growth-curve shapes (see :mod:`ytlstm.clusters`).

    Clusters are fitted on the context's training windows; every window is assigned from its
    own input days. A cluster with too few training or validation windows is served by the
    global univariate network of the same seed (``upstream["lstm_univariate"]``).
    """

    name = "lstm_cluster"
    kind = "lstm"
    phase = 1
    source = "lstm_univariate"

    def _clusters(self, ctx: Context) -> dict:
        # keyed on the context object itself (held, so its id cannot be reused by a later
        # context: keying on id(ctx) alone served a new origin the clusters of a freed one)
        if getattr(self, "_cache_ctx", None) is not ctx:
            cfg = ctx.config
            model = ShapeClusters(cfg.cluster_k_grid, cfg.cluster_seed).fit(
                ctx.windows.subset(ctx.train))
            wc = model.predict(ctx.windows)
            trained, small, sizes = [], [], []
            for c in range(model.k_):
                n_tr = int((wc[ctx.train] == c).sum())
                n_va = int((wc[ctx.validation] == c).sum())
                ok = n_tr >= cfg.min_cluster_train_windows and n_va >= MIN_CLUSTER_VALIDATION_WINDOWS
                (trained if ok else small).append(c)
                sizes.append({"cluster": c, "n_train_windows": n_tr, "n_validation_windows": n_va,
                              "trained": ok})
            self._cache_ctx = ctx
            self._info = {"k": int(model.k_), "centroids": model.centroids_,
                          "k_selection": model.k_selection_, "window_cluster": wc,
                          "video_cluster": model.video_cluster_,
                          "video_features": model.video_features_,
                          "trained": trained, "small": small, "sizes": sizes}
        return self._info

    def tasks(self, params, ctx, seeds, upstream):
        info = self._clusters(ctx)
        wc = info["window_cluster"]
        out = []
        for c in info["trained"]:
            tr = ctx.train[wc[ctx.train] == c]
            va = ctx.validation[wc[ctx.validation] == c]
            out += [Task(f"{ctx.label} lstm_cluster c{c} seed {s}", False, s, tr, va,
                         **task_options(params)) for s in seeds]
        return out

    def collect(self, params, runs, ctx, upstream):
        info = dict(self._clusters(ctx))
        glob = upstream[self.source]
        wc = info["window_cluster"]
        n_seeds = len(glob.runs)
        preds = np.array(glob.preds, dtype=np.float64, copy=True)
        by_cluster: dict[int, list[Trained]] = {}
        for j, c in enumerate(info["trained"]):
            rs = runs[j * n_seeds:(j + 1) * n_seeds]
            by_cluster[c] = rs
            for i, r in enumerate(rs):
                preds[i, wc == c] = r.pred[wc == c]
        info["cluster_runs"] = by_cluster
        return Fitted(self.name, dict(params), preds, runs=None, info=info)


def _short(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def all_families() -> list[Family]:
    """Every family of the study, in the order tables show them."""
    return [NaiveFamily(), DriftFamily(), SzaboFamily(), LinearFamily(), GBMFamily(),
            CombinationFamily(), LSTMFamily("lstm_univariate", False),
            LSTMFamily("lstm_multivariate", True), ClusterFamily(), TransferFamily()]


#: The four LSTM families compared with the best baseline.
LSTM_FAMILIES = ("lstm_univariate", "lstm_multivariate", "lstm_cluster", "lstm_transfer")
#: Models that inherit the univariate network's configuration.
INHERITS_UNIVARIATE = ("lstm_cluster", "lstm_transfer", "lstm_random_start")

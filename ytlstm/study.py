"""The experiment runner: every stage of the study, cached on disk, and its CSV tables.

``run_study(config)`` returns a :class:`Study` holding everything the book shows. Each stage
is cached by :class:`~ytlstm.cache.ResultCache` under a key made of the configuration fields
it reads, the package modules it runs and its upstream stages' keys (which carry the data's
content hash), so a rebuild with nothing changed only loads pickles.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ytlstm.cache import ResultCache, make_key
from ytlstm.config import StudyConfig, resolve_cache_dir, resolve_data_dir
from ytlstm.data import Dataset, data_hash, find_country_files, load_dataset
from ytlstm.training import Task, Trained, run_tasks
from ytlstm.windows import Split, Windows, chronological_split, make_windows, video_split

NN_FIELDS = ("window", "dropout", "learning_rate", "batch_size", "max_epochs", "patience", "loss")
SPLIT_FIELDS = ("window", "test_frac", "val_frac", "video_split_seed")
PARTS = ("train", "validation", "test")


# --------------------------------------------------------------------------- stage results

@dataclass
class NeuralResult:
    """All seeds of one neural model on one split design."""

    name: str
    split: str                                 # "chronological" | "video"
    runs: list[Trained]

    @property
    def preds(self) -> np.ndarray:
        """(n_seeds, n_windows) predicted views."""
        return np.stack([r.pred for r in self.runs])

    @property
    def ensemble(self) -> np.ndarray:
        """The seed ensemble: mean of the log predictions (geometric mean of views)."""
        return np.expm1(np.log1p(self.preds).mean(axis=0))

    def training_table(self) -> pd.DataFrame:
        return pd.DataFrame([{"model": self.name, "split": self.split, "seed": r.seed,
                              "epochs_run": r.epochs_run, "best_epoch": r.best_epoch,
                              "best_val_loss": min(r.val_loss), "seconds": r.seconds}
                             for r in self.runs])


@dataclass
class Study:
    """Everything the study computed (loaded from the cache or freshly run)."""

    config: StudyConfig
    dataset: Dataset
    windows: Windows
    splits: dict[str, Split]                              # "chronological", "video"
    baselines: dict[str, dict[str, np.ndarray]]           # split -> model -> preds
    tuning: pd.DataFrame
    neural: dict[str, dict[str, NeuralResult]]            # split -> model -> result
    clusters: Any = None                                  # ytlstm.clusters.ClusterResult
    importance: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)
    cache_hits: list[str] = field(default_factory=list)
    cache_misses: list[str] = field(default_factory=list)

    def predictions(self, split: str = "chronological", ensemble: bool = True) -> dict[str, np.ndarray]:
        """Model name -> predicted views for every window (seed ensembles for neural models)."""
        out = dict(self.baselines[split])
        for name, res in self.neural.get(split, {}).items():
            out[name] = res.ensemble if ensemble else res.preds
        return out


# --------------------------------------------------------------------------- stages

def _baseline_stage(windows: Windows, split: Split, config: StudyConfig) -> dict[str, np.ndarray]:
    from ytlstm.baselines import all_baselines

    train, val = windows.subset(split.mask("train")), windows.subset(split.mask("validation"))
    return {b.name: b.fit(train, val).predict(windows)
            for b in all_baselines(config.gbm_seed, config.target)}


def _tuning_stage(windows: Windows, split: Split, config: StudyConfig, jobs: int | None,
                  say: Callable[[str], None]) -> pd.DataFrame:
    """Validation scores of the univariate LSTM over the target, loss and size grids.

    One network per combination (first seed), trained on training windows with early
    stopping; scored by MAE on the validation windows' raw views.
    """
    from itertools import product

    from ytlstm.evaluate import mae

    tr, va = np.flatnonzero(split.mask("train")), np.flatnonzero(split.mask("validation"))
    grid = list(product(config.target_grid, config.loss_grid, config.units_grid))
    tasks = [Task(f"tuning target={t} loss={l} units={u}", False, config.seeds[0], tr, va, u,
                  target=t, loss=l) for t, l, u in grid]
    runs = run_tasks(tasks, windows, config, jobs, say)
    y, v7 = windows.y[va], windows.views[va, -1]
    return pd.DataFrame([{"target": t, "loss": l, "units": u, "seed": r.seed,
                          "val_mae": mae(y, r.pred[va]),
                          "val_rel_mae": mae(y, r.pred[va]) / mae(y, v7),
                          "best_epoch": r.best_epoch, "epochs_run": r.epochs_run,
                          "seconds": r.seconds}
                         for (t, l, u), r in zip(grid, runs)])


def chosen(tuning: pd.DataFrame) -> dict:
    """The combination with the lowest validation MAE (ties: the smaller network)."""
    best = tuning.sort_values(["val_mae", "units"]).iloc[0]
    return {"target": str(best["target"]), "loss": str(best["loss"]), "units": int(best["units"])}


def _neural_stage(name: str, multivariate: bool, windows: Windows, split: Split,
                  config: StudyConfig, jobs: int | None, say: Callable[[str], None],
                  init_from: NeuralResult | None = None) -> NeuralResult:
    tr, va = np.flatnonzero(split.mask("train")), np.flatnonzero(split.mask("validation"))
    tasks = []
    for i, seed in enumerate(config.seeds):
        task = Task(f"{name} seed {seed}", multivariate, seed, tr, va, config.units,
                    target=config.target, loss=config.loss)
        if init_from is not None:
            task.init, task.init_weights = "transfer", init_from.runs[i].weights
        tasks.append(task)
    return NeuralResult(name, split.kind, run_tasks(tasks, windows, config, jobs, say))


# --------------------------------------------------------------------------- runner

def _progress(verbose: bool) -> Callable[[str], None]:
    if not verbose:
        return lambda s: None

    def say(s: str) -> None:
        print(s, flush=True)

    return say


def run_study(config: StudyConfig | None = None, data_dir: str | Path | None = None,
              results_dir: str | Path | None = None, cache_dir: str | Path | None = None,
              verbose: bool = True, jobs: int | None = None) -> Study:
    """Run (or load from the cache) every stage; write the CSV tables if ``results_dir``.

    ``study.timings`` holds, per stage, the seconds it took when it was computed (so a
    cached rebuild still reports the original training times).
    """
    from ytlstm import clusters  # imports this module's NeuralResult

    config = config or StudyConfig()
    say = _progress(verbose)
    cache = ResultCache(resolve_cache_dir(cache_dir))
    files = find_country_files(resolve_data_dir(data_dir), config.country)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()

    def stage(name: str, params: dict, modules: tuple[str, ...], upstream: list[str],
              compute: Callable[[], Any]) -> tuple[Any, str]:
        """Load or compute one stage; returns (result, key)."""
        key = make_key(name, params, modules, upstream)
        say(f"[{name}] {'cached' if cache.path(name, key).exists() else 'running'}")

        def timed() -> tuple[Any, float]:
            t0 = time.perf_counter()
            value = compute()
            return value, time.perf_counter() - t0

        result, timings[name] = cache.get_or_compute(name, key, timed)
        return result, key

    dhash = data_hash(files)
    dataset, k_data = stage("data", {"country": config.country, "window": config.window,
                                     "data": dhash}, ("data",), [],
                            lambda: load_dataset(files.videos.parent, config.country,
                                                 config.window))

    def make_splits():
        w = make_windows(dataset.frame, config.window)
        return w, {
            "chronological": chronological_split(w, dataset.frame["date"].to_numpy(),
                                                 config.test_frac, config.val_frac),
            "video": video_split(w, config.test_frac, config.val_frac, config.video_split_seed)}

    (windows, splits), k_win = stage("windows", config.subset(SPLIT_FIELDS),
                                     ("windows", "study"), [k_data], make_splits)

    # the stages' code: their own modules, and this one (which holds the stage functions)
    nn_modules = ("models", "training", "windows", "study")
    tuning, _ = stage("tuning", {**config.subset(NN_FIELDS), "seed": config.seeds[0],
                                      **config.subset(("units_grid", "loss_grid", "target_grid"))},
                           nn_modules, [k_win],
                           lambda: _tuning_stage(windows, splits["chronological"], config, jobs,
                                                 say))
    config = config.replace(**chosen(tuning))       # the final configuration from here on
    nn_params = {**config.subset(NN_FIELDS), **config.subset(("units", "loss", "target", "seeds"))}

    baselines: dict[str, dict[str, np.ndarray]] = {}
    for kind in ("chronological", "video"):
        baselines[kind], _ = stage(f"baselines_{kind}", config.subset(("gbm_seed", "target")),
                                   ("baselines", "windows", "study"), [k_win],
                                   lambda kind=kind: _baseline_stage(windows, splits[kind],
                                                                     config))

    neural: dict[str, dict[str, NeuralResult]] = {"chronological": {}, "video": {}}
    keys: dict[tuple[str, str], str] = {}
    for kind in ("chronological", "video"):
        for name, multi in (("lstm_univariate", False), ("lstm_multivariate", True)):
            neural[kind][name], keys[(kind, name)] = stage(
                f"{name}_{kind}", nn_params, nn_modules, [k_win],
                lambda name=name, multi=multi, kind=kind: _neural_stage(
                    name, multi, windows, splits[kind], config, jobs, say))

    # transfer: the multivariate LSTM started from each seed's univariate network
    neural["chronological"]["lstm_transfer"], _ = stage(
        "lstm_transfer_chronological", nn_params, nn_modules + ("transfer",),
        [k_win, keys[("chronological", "lstm_univariate")]],
        lambda: _neural_stage("lstm_transfer", True, windows, splits["chronological"], config,
                              jobs, say, init_from=neural["chronological"]["lstm_univariate"]))

    # which extra variables help: permutation importance on the validation windows
    ch = splits["chronological"]
    study_importance, _ = stage(
        "importance", nn_params, nn_modules + ("importance",),
        [k_win, keys[("chronological", "lstm_multivariate")]],
        lambda: _importance(neural["chronological"]["lstm_multivariate"], windows, ch, config))

    # one univariate LSTM per cluster of videos (small clusters: the global univariate LSTM)
    cluster_result, _ = stage(
        "clusters_chronological",
        {**nn_params, **config.subset(("cluster_k_grid", "cluster_seed",
                                       "min_cluster_train_windows"))},
        nn_modules + ("clusters",), [k_win, keys[("chronological", "lstm_univariate")]],
        lambda: clusters.run_clusters(windows, ch, config,
                                      neural["chronological"]["lstm_univariate"], jobs, say))
    neural["chronological"]["lstm_cluster"] = cluster_result.result

    study = Study(config=config, dataset=dataset, windows=windows, splits=splits,
                  baselines=baselines, tuning=tuning, neural=neural, clusters=cluster_result,
                  importance=study_importance, timings=timings)
    study.cache_hits, study.cache_misses = list(cache.hits), list(cache.misses)
    timings["total_this_run"] = time.perf_counter() - t_all
    say(f"study ready in {timings['total_this_run']:.1f} s "
        f"({len(cache.hits)} stages from cache, {len(cache.misses)} computed)")
    if results_dir is not None:
        from ytlstm.report import write_results

        written = write_results(study, results_dir)
        say(f"wrote {len(written)} tables to {results_dir}")
    return study


def _importance(result: NeuralResult, windows: Windows, split: Split,
                config: StudyConfig) -> pd.DataFrame:
    from ytlstm.importance import permutation_importance

    return permutation_importance(result, windows, np.flatnonzero(split.mask("train")),
                                  np.flatnonzero(split.mask("validation")), config)

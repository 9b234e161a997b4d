"""The experiment runner (protocol v2): every stage of the study, cached on disk.

``run_study(config)`` returns a :class:`Study` holding everything the book shows. Stages:
``data``, ``windows`` (windows, splits, rolling origins), ``tuning`` (every configuration of
every tuned family, on the validation dates before the first origin and, for the split by
video, on its own validation videos), ``origins`` (every family refitted with its chosen
configuration at every origin, forecasting its block; the split by video is one more origin),
``importance`` and ``horizons`` (horizons 1..``max_horizon`` and forecast intervals at every
chronological origin, :mod:`ytlstm.horizons`) and ``regret`` (every configuration of every
tuned family forecasting the test windows, the cheap families refitted at every chronological
origin: the post-hoc regret of choosing on validation, :mod:`ytlstm.regret`). A stage's
networks train as one batch of jobs (both designs' tuning together, every origin together), so
the workers stay busy. Each stage is cached by :class:`~ytlstm.cache.ResultCache` under a key
made of the configuration fields it reads, the package modules it runs and its upstream stages'
keys (which carry the data's content hash), so a rebuild with nothing changed only loads
pickles and an interrupted run resumes at the first stage not yet stored.
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
from ytlstm.families import Context, Fitted
from ytlstm.origins import Origin, study_design
from ytlstm.windows import Split, Windows

NN_FIELDS = ("window", "dropout", "learning_rate", "batch_size", "max_epochs", "patience")
GRID_FIELDS = ("units_grid", "loss_grid", "target_grid", "tuning_seeds", "drift_k_grid",
               "drift_stat_grid", "drift_damping_grid", "linear_inputs_grid",
               "baseline_loss_grid", "gbm_leaves_grid", "gbm_max_iter", "gbm_learning_rate",
               "gbm_seed", "cluster_k_grid", "cluster_seed", "min_cluster_train_windows")
HORIZON_FIELDS = ("max_horizon", "interval_levels")
SPLIT_FIELDS = ("window", "test_frac", "val_frac", "video_split_seed", "n_origins", "max_horizon")
#: The modules whose code the model stages run (the stage functions are in ``harness``; this
#: module only wires and caches them, so editing it re-runs nothing).
MODEL_MODULES = ("baselines", "families", "harness", "clusters", "models", "training", "engine",
                 "transfer", "windows", "origins")
#: What the ``regret`` stage runs: its module and the model code it refits the grids with.
REGRET_MODULES = ("regret", "evaluate", "baselines", "families", "harness", "windows")


@dataclass
class Study:
    """Everything the study computed (loaded from the cache or freshly run)."""

    config: StudyConfig
    dataset: Dataset
    windows: Windows
    splits: dict[str, Split]                   # "chronological" (first origin), "video"
    origins: list[Origin]                      # chronological origins, then the video one
    tuning: dict[str, pd.DataFrame]            # design -> tuning table
    chosen: dict[str, dict[str, dict]]         # design -> family -> configuration
    fits: dict[str, dict[str, Fitted]]         # origin name -> model -> Fitted
    importance: pd.DataFrame | None = None
    horizons: Any = None                       # ytlstm.horizons.HorizonStudy
    break_date: pd.Timestamp | None = None
    regret: pd.DataFrame | None = None         # every grid configuration's forecasts (item 24)
    timings: dict[str, float] = field(default_factory=dict)
    key: str = ""                              # hash of every stage's cache key
    cache_hits: list[str] = field(default_factory=list)
    cache_misses: list[str] = field(default_factory=list)

    @property
    def chronological_origins(self) -> list[Origin]:
        return [o for o in self.origins if o.split == "chronological"]

    def origin(self, name: str) -> Origin:
        return next(o for o in self.origins if o.name == name)

    def predictions(self, origin: str | None = None) -> dict[str, np.ndarray]:
        """Model -> forecast views for every window, from the models of one origin
        (default: the first). Tables use :func:`ytlstm.predictions.predictions_table`."""
        origin = origin or self.chronological_origins[0].name
        return {k: f.ensemble for k, f in self.fits[origin].items()}


def _progress(verbose: bool) -> Callable[[str], None]:
    if not verbose:
        return lambda s: None

    def say(s: str) -> None:
        print(s, flush=True)

    return say


def _check_windows(split: Split, config: StudyConfig, files) -> None:
    try:
        from ytlstm.checks import require_enough_windows
    except ImportError:  # pragma: no cover - the check module is part of the package
        return
    require_enough_windows(config.country, files.videos, split.counts(),
                           config.min_windows_per_part, window=config.window,
                           split=None if split.kind == "chronological" else split.kind)


def run_study(config: StudyConfig | None = None, data_dir: str | Path | None = None,
              results_dir: str | Path | None = None, cache_dir: str | Path | None = None,
              verbose: bool = True, jobs: int | None = None) -> Study:
    """Run (or load from the cache) every stage; write the CSV tables if ``results_dir``.

    ``study.timings`` holds, per stage, the seconds it took when it was computed (so a
    cached rebuild still reports the original training times).
    """
    from ytlstm.harness import chosen_params, final_plan, fit_origins, importance_stage, tune_many

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

    (windows, splits, origins, brk), k_win = stage(
        "windows", {**config.subset(SPLIT_FIELDS), "min": config.min_windows_per_part},
        ("windows", "origins", "checks"), [k_data],
        lambda: study_design(dataset.frame, config, lambda s: _check_windows(s, config, files)))
    _check_windows(splits["chronological"], config, files)
    _check_windows(splits["video"], config, files)

    params = {**config.subset(NN_FIELDS), **config.subset(GRID_FIELDS), "seeds": config.seeds}
    tuning: dict[str, pd.DataFrame] = {}
    chosen: dict[str, dict[str, dict]] = {}
    fits: dict[str, dict[str, Fitted]] = {}
    keys: dict[str, str] = {}
    designs = ("chronological", "video")
    firsts = {d: next(o for o in origins if o.split == d) for d in designs}
    ctxs = [Context(windows, firsts[d].train, firsts[d].validation, config, label=d)
            for d in designs]
    # both designs' tuning networks in one batch, then every origin's (the workers stay busy)
    tuned, k_tune = stage("tuning", params, MODEL_MODULES, [k_win],
                          lambda: tune_many(ctxs, jobs, say))
    memos = {}
    for d, (table, memo) in zip(designs, tuned):
        tuning[d], chosen[d], memos[d] = table, chosen_params(table), memo
        say(f"  chosen ({d}): " + "; ".join(f"{k} {v}" for k, v in chosen[d].items()))
    items = [(final_plan(chosen[o.split]),
              Context(windows, o.train, o.validation, config, label=o.name), o, memos[o.split])
             for o in origins]
    fitted, k_origins = stage("origins", params, MODEL_MODULES, [k_win, k_tune],
                              lambda: fit_origins(items, jobs, say))
    for o, f in zip(origins, fitted):
        fits[o.name], keys[o.name] = f, k_origins
    first = origins[0]
    importance, keys["importance"] = stage(
        "importance", params, MODEL_MODULES + ("importance",), [k_win, keys[first.name]],
        lambda: importance_stage(fits[first.name]["lstm_multivariate"], windows, first, config))

    horizons = None
    if config.max_horizon > 1:
        from ytlstm.horizons import horizon_stage

        chrono = [o for o in origins if o.split == "chronological"]
        horizons, keys["horizons"] = stage(
            "horizons", {**params, **config.subset(HORIZON_FIELDS)},
            MODEL_MODULES + ("horizons", "quantile"), [k_win, *(keys[o.name] for o in chrono)],
            lambda: horizon_stage(windows, chrono, chosen["chronological"],
                                  {o.name: fits[o.name] for o in chrono}, config, jobs, say))

    from ytlstm.regret import grid_forecasts

    # post hoc (protocol v3, item 24): nothing below reads it to choose anything
    regret, keys["regret"] = stage(
        "regret", config.subset(GRID_FIELDS), REGRET_MODULES, [k_win, k_tune],
        lambda: grid_forecasts(windows, origins, config, memos["chronological"], say,
                               tuning["chronological"]))

    study = Study(config=config, dataset=dataset, windows=windows, splits=splits,
                  origins=origins, tuning=tuning, chosen=chosen, fits=fits,
                  importance=importance, horizons=horizons, break_date=brk, regret=regret,
                  timings=timings,
                  key=make_key("study", {}, (), [k_data, k_win, *keys.values()]))
    study.cache_hits, study.cache_misses = list(cache.hits), list(cache.misses)
    timings["total_this_run"] = time.perf_counter() - t_all
    say(f"study ready in {timings['total_this_run']:.1f} s "
        f"({len(cache.hits)} stages from cache, {len(cache.misses)} computed)")
    if results_dir is not None:
        from ytlstm.report import ensure_results

        written = ensure_results(study, results_dir)
        say(f"tables in {results_dir} are up to date" if written is None else
            f"wrote {len(written)} tables to {results_dir}")
    return study

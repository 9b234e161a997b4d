"""The experiment runner (protocol v2): every stage of the study, cached on disk.

``run_study(config)`` returns a :class:`Study` holding everything the book shows. Stages:
``data``, ``windows`` (windows, splits, rolling origins), ``tuning_chronological`` (every
configuration of every tuned family on the validation dates before the first origin),
``origin_1`` .. ``origin_B`` (every family refitted with its chosen configuration and
forecasting its block), ``importance``, ``tuning_video`` and ``video`` (the split by video,
tuned on its own validation videos). Each stage is cached by
:class:`~ytlstm.cache.ResultCache` under a key made of the configuration fields it reads, the
package modules it runs and its upstream stages' keys (which carry the data's content hash),
so a rebuild with nothing changed only loads pickles and an interrupted run resumes at the
first stage not yet stored.
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
SPLIT_FIELDS = ("window", "test_frac", "val_frac", "video_split_seed", "n_origins", "max_horizon")
#: The modules whose code the model stages run (the stage functions are in ``harness``; this
#: module only wires and caches them, so editing it re-runs nothing).
MODEL_MODULES = ("baselines", "families", "harness", "clusters", "models", "training", "engine",
                 "transfer", "windows", "origins")


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
    break_date: pd.Timestamp | None = None
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
    from ytlstm.harness import chosen_params, final_plan, fit_origin, importance_stage, tune

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
    for design in ("chronological", "video"):
        first = next(o for o in origins if o.split == design)
        ctx0 = Context(windows, first.train, first.validation, config, label=f"{design}")
        (table, memo), k_tune = stage(f"tuning_{design}", params, MODEL_MODULES, [k_win],
                                      lambda ctx0=ctx0: tune(ctx0, jobs, say))
        tuning[design], chosen[design] = table, chosen_params(table)
        say(f"  chosen ({design}): " + "; ".join(
            f"{k} {v}" for k, v in chosen[design].items()))
        plan = final_plan(chosen[design])
        for o in (x for x in origins if x.split == design):
            ctx = Context(windows, o.train, o.validation, config, label=o.name)
            fits[o.name], keys[o.name] = stage(
                o.name.replace(" ", "_"), params, MODEL_MODULES, [k_win, k_tune],
                lambda ctx=ctx, o=o, memo=memo: fit_origin(plan, ctx, o, jobs, say, memo))
    first = origins[0]
    importance, keys["importance"] = stage(
        "importance", params, MODEL_MODULES + ("importance",), [k_win, keys[first.name]],
        lambda: importance_stage(fits[first.name]["lstm_multivariate"], windows, first, config))

    study = Study(config=config, dataset=dataset, windows=windows, splits=splits,
                  origins=origins, tuning=tuning, chosen=chosen, fits=fits,
                  importance=importance, break_date=brk, timings=timings,
                  key=make_key("study", {}, (), [k_data, k_win, *keys.values()]))
    study.cache_hits, study.cache_misses = list(cache.hits), list(cache.misses)
    timings["total_this_run"] = time.perf_counter() - t_all
    say(f"study ready in {timings['total_this_run']:.1f} s "
        f"({len(cache.hits)} stages from cache, {len(cache.misses)} computed)")
    if results_dir is not None:
        from ytlstm.cache import atomic_write_text
        from ytlstm.report import write_results

        written = write_results(study, results_dir)
        atomic_write_text(Path(results_dir) / ".study-key", study.key + "\n")
        say(f"wrote {len(written)} tables to {results_dir}")
    return study

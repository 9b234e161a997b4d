"""One configuration object for the whole study, and where the data lives."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

#: Environment variable naming the folder that holds ``XXvideos.csv`` and ``XX_category_id.json``.
DATA_DIR_ENV = "YTLSTM_DATA_DIR"
#: Default data folder, relative to the current directory.
DEFAULT_DATA_DIR = Path("data") / "raw"
#: Environment variable naming the study's result cache folder.
CACHE_DIR_ENV = "YTLSTM_CACHE_DIR"
DEFAULT_CACHE_DIR = Path("_build") / "cache"
DEFAULT_RESULTS_DIR = Path("_build") / "results"


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The data folder: the argument, else ``$YTLSTM_DATA_DIR``, else ``data/raw/``."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else DEFAULT_DATA_DIR


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The result cache folder: the argument, else ``$YTLSTM_CACHE_DIR``, else ``_build/cache``."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_DIR_ENV)
    return Path(env).expanduser() if env else DEFAULT_CACHE_DIR


@dataclass(frozen=True)
class StudyConfig:
    """Every choice of the study in one place (PROTOCOL.md section 6).

    Fields are grouped by the stage that reads them; the result cache keys each stage on
    the fields it reads, so changing a field re-runs exactly the stages that depend on it.
    """

    # data and windows
    country: str = "US"
    window: int = 7                      # input days; the target is day window+1
    # forecast horizons 1..max_horizon (chapter "Beyond tomorrow"): horizon h is day window+h
    max_horizon: int = 7
    # the least number of usable windows in each part of a split (see ytlstm.checks)
    min_windows_per_part: int = 100
    # split (PROTOCOL section 4)
    test_frac: float = 0.20              # last 20% of trending dates -> test
    val_frac: float = 0.10               # the 10% of dates before -> validation
    video_split_seed: int = 2018         # robustness split by video
    # neural networks
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    # units, loss and target are chosen on validation from the grids below (stage "tuning");
    # the values here are the defaults for direct use of the Python API
    units: int = 32
    loss: str = "mae"
    target: str = "drift"                # "growth": log v8 - log v7; "drift": log v8 - log drift
    units_grid: tuple[int, ...] = (16, 32)
    # "mae_scaled": MAE in log space with windows weighted by their day-7 views (tracks views)
    loss_grid: tuple[str, ...] = ("mse", "mae", "mae_scaled")
    target_grid: tuple[str, ...] = ("growth", "drift")
    tuning_seeds: int = 3                # seeds per configuration when choosing (protocol v2)
    # rolling origins (protocol v2): the test period cut into this many consecutive blocks
    n_origins: int = 4
    # baseline grids (protocol v2): every learned family chooses on validation
    drift_k_grid: tuple[int, ...] = (1, 2, 3, 6)
    drift_stat_grid: tuple[str, ...] = ("mean", "median")
    drift_damping_grid: tuple[float, ...] = (1.0, 0.8, 0.6)
    linear_inputs_grid: tuple[str, ...] = ("univariate", "multivariate")
    baseline_loss_grid: tuple[str, ...] = ("squared", "absolute", "absolute_scaled")
    gbm_leaves_grid: tuple[int, ...] = (15, 31)
    gbm_max_iter: int = 1000
    gbm_learning_rate: float = 0.1
    dropout: float = 0.0
    learning_rate: float = 3e-3
    batch_size: int = 128
    max_epochs: int = 200
    patience: int = 10
    # clusters
    cluster_k_grid: tuple[int, ...] = (2, 3, 4, 5, 6)
    cluster_seed: int = 0
    min_cluster_train_windows: int = 400
    # forecast intervals (chapter "Beyond tomorrow"): nominal coverages
    interval_levels: tuple[float, ...] = (0.8, 0.95)
    # evaluation
    bootstrap_reps: int = 2000
    bootstrap_seed: int = 12345
    # protocol v3 (item 14): resamples of its bootstrap tests, so that every p-value's
    # Monte-Carlo standard error is below 0.005 (fewer only to try the code quickly)
    v3_bootstrap_reps: int = 50_000
    # gradient-boosted baseline
    gbm_seed: int = 0

    def replace(self, **changes) -> "StudyConfig":
        """A copy with some fields changed (the object itself is immutable)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def subset(self, names: list[str] | tuple[str, ...]) -> dict:
        """The named fields, for cache keys."""
        d = self.to_dict()
        return {n: d[n] for n in names}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "StudyConfig":
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kwargs = {}
        for k, v in d.items():
            if k not in fields:
                raise ValueError(f"unknown configuration field {k!r}")
            kwargs[k] = tuple(v) if isinstance(v, list) else v
        return cls(**kwargs)

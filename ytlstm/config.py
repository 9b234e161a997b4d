"""One configuration object for the whole study, and where the data lives."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import numbers
import os
import typing
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


class ConfigError(ValueError):
    """A configuration field with a value the study cannot use: ``str()`` is one line,
    ``<field>: <problem>; expected <expected>``; ``field`` names it."""

    def __init__(self, field: str, problem: str, expected: str):
        self.field, self.problem, self.expected = field, problem, expected
        super().__init__(f"{field}: {problem}; expected {expected}")


def _positive(v) -> bool:
    return v >= 1


def _seed(v) -> bool:
    return v >= 0


def _fraction(v) -> bool:
    return 0 < v < 1


#: Each field's allowed values, beyond its type (a tuple's rule holds for each of its values):
#: a test and the words of the error message.
RULES: dict[str, tuple[typing.Callable[[typing.Any], bool], str]] = {
    "country": (lambda v: len(v) == 2 and v.isascii() and v.isalpha(),
                "a two-letter country code such as US"),
    "window": (lambda v: v >= 2, "a whole number >= 2 (input days)"),
    "max_horizon": (_positive, "a whole number >= 1"),
    "min_windows_per_part": (_positive, "a whole number >= 1"),
    "test_frac": (_fraction, "a number between 0 and 1 (exclusive)"),
    "val_frac": (_fraction, "a number between 0 and 1 (exclusive)"),
    "video_split_seed": (_seed, "a whole number >= 0"),
    "seeds": (_seed, "a non-empty list of distinct whole numbers >= 0"),
    "units": (_positive, "a whole number >= 1"),
    "loss": (lambda v: v in ("mse", "mae", "mae_scaled"), "one of mse, mae, mae_scaled"),
    "target": (lambda v: v in ("growth", "drift"), "one of growth, drift"),
    "units_grid": (_positive, "a non-empty list of whole numbers >= 1"),
    "loss_grid": (lambda v: v in ("mse", "mae", "mae_scaled"),
                  "a non-empty list of mse, mae, mae_scaled"),
    "target_grid": (lambda v: v in ("growth", "drift"), "a non-empty list of growth, drift"),
    "tuning_seeds": (_positive, "a whole number >= 1"),
    "n_origins": (_positive, "a whole number >= 1"),
    "drift_k_grid": (_positive, "a non-empty list of whole numbers >= 1"),
    "drift_stat_grid": (lambda v: v in ("mean", "median"), "a non-empty list of mean, median"),
    "drift_damping_grid": (lambda v: 0 < v <= 1, "a non-empty list of numbers in (0, 1]"),
    "linear_inputs_grid": (lambda v: v in ("univariate", "multivariate"),
                           "a non-empty list of univariate, multivariate"),
    "baseline_loss_grid": (lambda v: v in ("squared", "absolute", "absolute_scaled"),
                           "a non-empty list of squared, absolute, absolute_scaled"),
    "gbm_leaves_grid": (lambda v: v >= 2, "a non-empty list of whole numbers >= 2"),
    "gbm_max_iter": (_positive, "a whole number >= 1"),
    "gbm_learning_rate": (lambda v: v > 0, "a number > 0"),
    "dropout": (lambda v: 0 <= v < 1, "a number from 0 to 1 (1 excluded)"),
    "learning_rate": (lambda v: v > 0, "a number > 0"),
    "batch_size": (_positive, "a whole number >= 1"),
    "max_epochs": (_positive, "a whole number >= 1"),
    "patience": (_positive, "a whole number >= 1"),
    "cluster_k_grid": (lambda v: v >= 2, "a non-empty list of whole numbers >= 2"),
    "cluster_seed": (_seed, "a whole number >= 0"),
    "min_cluster_train_windows": (_positive, "a whole number >= 1"),
    "interval_levels": (_fraction, "a non-empty list of distinct numbers between 0 and 1"),
    "bootstrap_reps": (_positive, "a whole number >= 1"),
    "bootstrap_seed": (_seed, "a whole number >= 0"),
    "v3_bootstrap_reps": (_positive, "a whole number >= 1"),
    "gbm_seed": (_seed, "a whole number >= 0"),
}

_KINDS = {int: "a whole number", float: "a number", str: "a string"}


def _value(field: str, kind: type, v, expected: str):
    """``v`` as a value of ``kind`` (an int or float of any numeric type, never a bool), else
    a ConfigError naming ``field``."""
    ok = (isinstance(v, str) if kind is str else
          isinstance(v, numbers.Integral) if kind is int else isinstance(v, numbers.Real))
    if not ok or isinstance(v, bool) or type(v).__name__ == "bool_":
        raise ConfigError(field, f"{json.dumps(v, default=repr)} is not {_KINDS[kind]}",
                          expected)
    if kind is float and not float(v) == float(v):          # NaN
        raise ConfigError(field, "NaN", expected)
    return kind(v)


def _check(field: str, hint, v):
    """The field's value, checked (type, then :data:`RULES`) and normalised (lists to tuples,
    numpy numbers to Python's); a :class:`ConfigError` naming the field otherwise."""
    test, expected = RULES[field]
    if typing.get_origin(hint) is tuple:
        kind = typing.get_args(hint)[0]
        if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)):
            raise ConfigError(field, f"{json.dumps(v, default=repr)} is not a list", expected)
        if not v:
            raise ConfigError(field, "an empty list", expected)
        out = tuple(_value(field, kind, x, expected) for x in v)
        for x in out:
            if not test(x):
                raise ConfigError(field, f"{x!r} is out of range", expected)
        if len(set(out)) < len(out):
            raise ConfigError(field, "a value is repeated", expected)
        return out
    out = _value(field, hint, v, expected)
    if not test(out):
        raise ConfigError(field, f"{out!r} is out of range", expected)
    return out


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict:
    return typing.get_type_hints(cls)


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

    def __post_init__(self) -> None:
        """Check every field (type and range, :data:`RULES`) when the object is made, so a
        bad configuration stops before any work: :class:`ConfigError` names the field."""
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _check(f.name, hints[f.name], getattr(self, f.name)))
        if self.test_frac + self.val_frac >= 1:
            raise ConfigError("val_frac", f"test_frac + val_frac = "
                                          f"{self.test_frac + self.val_frac:g}",
                              "test_frac + val_frac < 1 (the rest is training)")

    @property
    def n_tuning_seeds(self) -> int:
        """Seeds per configuration when choosing: the first ``tuning_seeds`` of ``seeds``
        (fewer when the study has fewer seeds, e.g. ``--seeds 1``)."""
        return len(self.seeds[:self.tuning_seeds])

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
        """A configuration from a mapping of field names (e.g. parsed JSON; lists for tuples);
        :class:`ConfigError` for a field that is unknown or a value the study cannot use."""
        if not isinstance(d, dict):
            raise ConfigError("configuration", f"{type(d).__name__}", "a JSON object of "
                              'StudyConfig fields like {"max_epochs": 3}')
        names = [f.name for f in dataclasses.fields(cls)]
        for k in d:
            if k not in names:
                close = difflib.get_close_matches(str(k), names, n=1)
                raise ConfigError(str(k), "unknown field",
                                  f"one of StudyConfig's fields"
                                  + (f" (did you mean {close[0]}?)" if close else ""))
        return cls(**d)

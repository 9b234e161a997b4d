"""Checks that a study has enough data before anything is fitted on it.

The study needs, in **each part** of a split (train, validation, test), at least
:data:`MIN_WINDOWS_PER_PART` usable 7+1 windows (``StudyConfig.min_windows_per_part``,
100 by default). Why 100:

* **validation**: early stopping picks the epoch, and the tuning stage picks the target, loss
  and size, by the validation MAE. With fewer than about 100 windows that MAE is dominated by
  a handful of videos (the windows of one video are strongly correlated, and a trending
  video contributes up to a few dozen of them), so the choice is noise.
* **test**: every reported metric has a bootstrap interval and the paired tests compare models
  window by window; with fewer than about 100 windows the percentile intervals are too wide to
  separate any two models and the resampling distribution is too coarse to be trusted.
* **train**: a network with thousands of weights, a gradient-boosted model and the scalers are
  fitted on it; fewer than 100 examples fit nothing that a table should report.

Below the minimum the study stops with a :class:`~ytlstm.errors.DataError` (the command line
prints one line and exits 2), e.g.::

    JP: data/raw/JPvideos.csv: 0 usable 7+1 windows (train 0 / validation 0 / test 0);
    the study needs at least 100 per part

(on one line). Several country files of the Kaggle dataset give no or only a few dozen windows:
their videos rarely trend 8 days in a row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ytlstm.errors import DataError

#: The default minimum number of usable windows in each part of a split.
MIN_WINDOWS_PER_PART = 100
PARTS = ("train", "validation", "test")


class NotEnoughWindows(DataError):
    """A split part with fewer windows than the study needs (a :class:`DataError`)."""

    def __init__(self, country: str, file: str | Path | None, counts: Mapping[str, int],
                 minimum: int, window: int = 7, split: str | None = None) -> None:
        self.country = str(country).upper()
        self.counts = {p: int(counts.get(p, 0)) for p in PARTS}
        self.minimum = int(minimum)
        total = sum(self.counts.values())
        parts = " / ".join(f"{p} {self.counts[p]}" for p in PARTS)
        which = f" in the {split} split" if split and split != "chronological" else ""
        where = f"{self.country}: {file}" if file is not None else self.country
        problem = (f"{where}: {total} usable {window}+1 windows{which} ({parts}); "
                   f"the study needs at least {self.minimum} per part")
        super().__init__(None, problem)
        self.path = str(file) if file is not None else None


def require_enough_windows(country: str, file: str | Path | None, counts: Mapping[str, int],
                           minimum: int = MIN_WINDOWS_PER_PART, *, window: int = 7,
                           split: str | None = None) -> None:
    """Raise :class:`NotEnoughWindows` unless every part in ``counts`` has ``minimum`` windows.

    ``counts`` maps ``"train"``, ``"validation"`` and ``"test"`` to numbers of windows (as
    :meth:`ytlstm.windows.Split.counts` returns; a missing part counts as 0); ``file`` is the
    country's videos file, named in the message. ``split`` names a split other than the
    chronological one in the message (e.g. ``"video"``).
    """
    if minimum < 1:
        raise ValueError(f"minimum must be at least 1, got {minimum}")
    if any(int(counts.get(p, 0)) < minimum for p in PARTS):
        raise NotEnoughWindows(country, file, counts, minimum, window, split)


def require_windows(n: int, what: str, minimum: int = 1) -> None:
    """Raise a one-line :class:`DataError` when ``n`` windows are fewer than ``minimum``.

    For the code paths that fit a scaler or a model on a set of windows (exporting models, a
    part of a split): ``what`` says which windows, e.g. ``"training windows of the
    chronological split"``.
    """
    if n < minimum:
        raise DataError(None, f"{n} {what}; at least {minimum} needed to fit a model "
                              "(the data has too few usable 7+1 windows)")

"""Display names and order of the study's models (shared by tables and figures)."""

from __future__ import annotations

from typing import Iterable

#: Display order and labels of every model.
MODEL_LABELS = {
    "naive": "Naive (persistence)",
    "drift": "Drift (tuned)",
    "szabo_huberman": "Szabo-Huberman scaling",
    "linear_ar": "Linear autoregression",
    "gbm": "Gradient boosting",
    "combination": "Combination (drift + linear)",
    "lstm_univariate": "LSTM univariate",
    "lstm_multivariate": "LSTM multivariate",
    "lstm_cluster": "LSTM per cluster",
    "lstm_transfer": "LSTM multivariate, transfer",
    "lstm_random_start": "LSTM multivariate, random start (transfer's control)",
    "lstm_univariate_h": "LSTM univariate, horizons 1-7",
    "lstm_transfer_h": "LSTM multivariate, transfer, horizons 1-7",
    "best_pair": "Combination (best LSTM + best baseline)",
}
#: The baselines, among which the best baseline is chosen on validation.
BASELINES = ("naive", "drift", "szabo_huberman", "linear_ar", "gbm", "combination")
#: The networks of the horizon study (every baseline is in it too).
HORIZON_LSTMS = ("lstm_univariate_h", "lstm_transfer_h")
#: Protocol v3's declared combination of the best LSTM and the best baseline (item 17).
COMBINED = "best_pair"


def label(model: str) -> str:
    return MODEL_LABELS.get(model, model)


def order(models: Iterable[str]) -> list[str]:
    """Model names in display order (unknown names last, sorted)."""
    models = list(models)
    known = [m for m in MODEL_LABELS if m in models]
    return known + sorted(m for m in models if m not in MODEL_LABELS)

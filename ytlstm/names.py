"""Display names and order of the study's models (shared by tables, figures and prose).

Two forms of every name: :func:`label`, the short label of table cells, figure legends and
axes ("LSTM multivariate, transfer"); and :func:`prose`, the name as a sentence reads it,
with its article where English wants one ("the transfer LSTM", "gradient boosting"). A
chapter writes a model's name in a sentence only through :func:`prose`, never ``"the " +
label(...)`` (the book's proofreading tests look for that).
"""

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
#: Each model's name in a sentence, with its article ("" where none reads right).
MODEL_PROSE = {
    "naive": "naive persistence",
    "drift": "the tuned drift rule",
    "szabo_huberman": "Szabo-Huberman scaling",
    "linear_ar": "the linear autoregression",
    "gbm": "gradient boosting",
    "combination": "the combination of drift and linear autoregression",
    "lstm_univariate": "the univariate LSTM",
    "lstm_multivariate": "the multivariate LSTM",
    "lstm_cluster": "the per-cluster LSTMs",
    "lstm_transfer": "the transfer LSTM",
    "lstm_random_start": "the randomly started multivariate LSTM",
    "lstm_univariate_h": "the univariate LSTM for horizons 1-7",
    "lstm_transfer_h": "the transfer LSTM for horizons 1-7",
    "best_pair": "the combination of the best LSTM and the best baseline",
}
#: The baselines, among which the best baseline is chosen on validation.
BASELINES = ("naive", "drift", "szabo_huberman", "linear_ar", "gbm", "combination")
#: The networks of the horizon study (every baseline is in it too).
HORIZON_LSTMS = ("lstm_univariate_h", "lstm_transfer_h")
#: Protocol v3's declared combination of the best LSTM and the best baseline (item 17).
COMBINED = "best_pair"


def label(model: str) -> str:
    """The short label of a table cell or a legend."""
    return MODEL_LABELS.get(model, model)


def prose(model: str, start: bool = False) -> str:
    """The model's name in a sentence, with its article; ``start``: capitalised, to begin one."""
    text = MODEL_PROSE.get(model, label(model))
    return text[:1].upper() + text[1:] if start else text


def order(models: Iterable[str]) -> list[str]:
    """Model names in display order (unknown names last, sorted)."""
    models = list(models)
    known = [m for m in MODEL_LABELS if m in models]
    return known + sorted(m for m in models if m not in MODEL_LABELS)

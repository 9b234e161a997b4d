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


#: Loss functions of the grids (networks and baselines) in words.
LOSS_WORDS = {
    "mse": "MSE", "mae": "MAE", "mae_scaled": "MAE weighted by scale",
    "squared": "squared-error", "absolute": "absolute-error",
    "absolute_scaled": "absolute-error weighted by scale",
}


def loss_words(loss: str) -> str:
    """A grid's loss name in words: ``"mae_scaled"`` -> ``"MAE weighted by scale"``."""
    return LOSS_WORDS.get(str(loss), str(loss))


def _drift_words(k: int, stat: str, damping: float) -> str:
    what = "the last daily increase" if int(k) == 1 else f"the {stat} of the last {int(k)} daily increases"
    damped = "undamped" if float(damping) == 1.0 else f"damped by {float(damping):g} a day"
    return f"{what}, {damped}"


def config_words(params: dict | str) -> str:
    """A model configuration (a dict, or its JSON as in ``chosen.csv``) in words for a table:
    ``{"target": "drift", "loss": "mae", "units": 32}`` -> ``"drift target, MAE loss, 32 units"``."""
    import json

    if isinstance(params, str):
        params = json.loads(params)
    params = dict(params)
    parts = []
    if {"k", "stat", "damping"} <= params.keys():
        parts.append(_drift_words(params.pop("k"), params.pop("stat"), params.pop("damping")))
    for key, value in params.items():
        if key == "units":
            parts.append(f"{int(value)} units")
        elif key == "loss":
            base = str(value).removesuffix("_scaled")
            scaled = " weighted by scale" if base != value else ""
            parts.append(f"{loss_words(base)} loss{scaled}")
        elif key == "target":
            parts.append(f"{value} target")
        elif key == "inputs":
            parts.append("views only" if value == "univariate" else f"{value} inputs")
        elif key == "max_leaf_nodes":
            parts.append(f"at most {int(value)} leaves a tree")
        elif key == "members":
            names = [label(m) for m in value]
            parts.append("mean of " + " and ".join(names))
        else:
            parts.append(f"{key.replace('_', ' ')} {value}")
    return ", ".join(parts) if parts else "no parameters"


#: Display names of the countries of the dataset.
COUNTRY_NAMES = {"US": "United States", "GB": "Great Britain", "CA": "Canada", "DE": "Germany",
                 "FR": "France", "IN": "India", "JP": "Japan", "KR": "South Korea",
                 "MX": "Mexico", "RU": "Russia"}


def country_name(country: str) -> str:
    """A country code as a reader names the country ("GB" -> "Great Britain")."""
    return COUNTRY_NAMES.get(country.upper(), country.upper())


#: The two metrics of protocol v3, as a reader names them.
METRIC_NAMES = {"mae": "MAE in views", "mase": "MASE"}

#: The forecast-interval methods (protocol v3, items 19-23; :data:`ytlstm.intervals.METHODS`):
#: short labels for figures and tables, and words for prose.
METHOD_LABELS = {"v2": "version 2 (validation, log score)",
                 "v3": "version 3 (earlier origins, scaled score)",
                 "v3_log": "earlier origins, log score",
                 "v3_aci": "version 3 with adaptive updates (ACI)",
                 "cqr": "quantile peer (conformalised quantile boosting)"}


def method_label(method: str) -> str:
    """The display name of an interval method."""
    return METHOD_LABELS.get(method, method)

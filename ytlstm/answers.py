"""The study's answer for each country, in numbers and in words, from that country's tables.

The abstract, the replication chapter and the conclusions all glue these sentences, so a
country's answer is worded by one function and every word of it comes from a test result: the
version-2 verb from :func:`ytlstm.report.verdict`, the version-3 verdict from
:func:`ytlstm.evaluate.equivalence_verdict` (through ``equivalence.csv``).
"""

from __future__ import annotations

from typing import Callable

import pandas as pd

from ytlstm.names import METRIC_NAMES, country_name, prose
from ytlstm.report import fmt, fmt_int, fmt_p, verdict


Reader = Callable[[str], pd.DataFrame]


def day8(read: Reader) -> dict:
    """Protocol v2's answer on day 8 (the chronological test pooled over origins)."""
    paired = read("paired_test")
    pt = paired[paired["split"] == "test"]
    prim = pt[pt["primary"]].iloc[0]
    ci = read("intervals_test").set_index("model")
    lstm, base = str(prim["lstm"]), str(prim["baseline"])
    return {"lstm": lstm, "baseline": base, **verdict(prim),
            "ratio": float(prim["ratio"]), "ratio_lo": float(ci.loc[lstm, "vs_reference_lo"]),
            "ratio_hi": float(ci.loc[lstm, "vs_reference_hi"]),
            "rel_lstm": float(ci.loc[lstm, "rel_mae"]), "rel_base": float(ci.loc[base, "rel_mae"]),
            "mae_lstm": float(prim["mae_lstm"]), "mae_base": float(prim["mae_baseline"]),
            "p_holm": float(prim["p_holm"]), "n_windows": int(prim["n_windows"]),
            "n_sig": int((pt["p_holm"] < 0.05).sum()), "n_families": len(pt),
            "significant": bool(prim["p_holm"] < 0.05), "lstm_better": bool(prim["lstm_better"])}


def version3(read: Reader) -> dict:
    """Protocol v3's answer: per metric the primary pair's verdict, ratio, interval and Holm
    p-value, and the 90% model confidence set."""
    eq = read("equivalence")
    mcs = read("mcs")
    out = {}
    for metric in ("mae", "mase"):
        r = eq[(eq["metric"] == metric) & (eq["role"] == "primary")].iloc[0]
        m = mcs[mcs["metric"] == metric]
        out[metric] = {"verdict": str(r["verdict"]), "ratio": float(r["ratio"]),
                       "ratio_lo": float(r["ratio_lo"]), "ratio_hi": float(r["ratio_hi"]),
                       "p_holm": float(r["p_holm"]), "p_mc_se": float(r["p_mc_se"]),
                       "p_tost": float(r["p_tost"]), "model": str(r["model"]),
                       "baseline": str(r["baseline"]),
                       "mcs": [str(x) for x in m.loc[m["in_set"], "model"]],
                       "n_models": len(m)}
    return out


def day8_sentence(country: str, a: dict) -> str:
    """One sentence: the country's version-2 answer on day 8."""
    return (f"On the {country_name(country)} files the best LSTM chosen on validation, "
            f"{prose(a['lstm'])}, {a['verb']} the best baseline, {prose(a['baseline'])}: "
            f"a ratio of test MAEs of {fmt(a['ratio'])} (95% interval {fmt(a['ratio_lo'])} to "
            f"{fmt(a['ratio_hi'])}) on {fmt_int(a['n_windows'])} test windows; "
            f"{a['significance']}.")


def version3_sentence(a3: dict) -> str:
    """The version-3 verdicts on both metrics and the model confidence set, as a clause that
    completes "In <country>, ..." (lower case, ending with a full stop)."""
    parts = [f"on {METRIC_NAMES[m]}, *{a3[m]['verdict']}* (ratio {fmt(a3[m]['ratio'])}, "
             f"95% interval {fmt(a3[m]['ratio_lo'])} to {fmt(a3[m]['ratio_hi'])}, Holm-adjusted "
             f"p {fmt_p(a3[m]['p_holm'])})" for m in ("mae", "mase")]
    lstm = a3["mae"]["model"]
    inside = [METRIC_NAMES[m] for m in ("mae", "mase") if lstm in a3[m]["mcs"]]
    mcs = "; ".join(f"{len(a3[m]['mcs'])} of {a3[m]['n_models']} models on {METRIC_NAMES[m]}"
                    for m in ("mae", "mase"))
    where = ("on both metrics" if len(inside) == 2 else
             f"on {inside[0]} only" if inside else "on neither metric")
    return (f"against the best baseline the best LSTM is, {parts[0]}, and {parts[1]}; "
            f"the 90% model confidence set holds {mcs}, the best LSTM among them {where}.")


def agreement(answers: dict[str, dict], answers3: dict[str, dict]) -> str:
    """Whether the countries give the same answer, in words (never merged into one claim)."""
    outcome = {c: ("better" if a["significant"] and a["lstm_better"] else
                   "worse" if a["significant"] else "no significant difference")
               for c, a in answers.items()}
    same2 = len(set(outcome.values())) == 1
    same3 = {m: len({a3[m]["verdict"] for a3 in answers3.values()}) == 1 for m in ("mae", "mase")}
    s2 = ("The countries agree on version 2's primary test: " + outcome[next(iter(outcome))]
          if same2 else "The countries disagree on version 2's primary test: " +
          "; ".join(f"{country_name(c)}, {o}" for c, o in outcome.items()))
    s3 = "; ".join(
        f"on {METRIC_NAMES[m]} they " + ("agree (" + next(iter(answers3.values()))[m]["verdict"]
                                         + ")" if same3[m] else "disagree (" + ", ".join(
            f"{country_name(c)} {a3[m]['verdict']}" for c, a3 in answers3.items()) + ")")
        for m in ("mae", "mase"))
    return f"{s2}. Under version 3, {s3}."

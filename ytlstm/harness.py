"""The harness: fit families at an origin, tune them on validation, choose.

Every family (:mod:`ytlstm.families`) is run the same way: the harness asks each planned
configuration for its training tasks, trains all of them together
(:func:`ytlstm.training.run_tasks`, in worker processes), then lets each configuration collect
its forecasts. Families of phase 1 (combination, transfer, per-cluster) see phase-0 results.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import pandas as pd

from ytlstm.evaluate import mae
from ytlstm.families import INHERITS_UNIVARIATE, Context, Family, Fitted, LSTMFamily, all_families
from ytlstm.training import Task, Trained, run_tasks

Plan = list[tuple[str, Family, dict]]          # (key, family, params)


def params_id(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def _signature(t: Task) -> tuple | None:
    """What makes two tasks the same training run (transfer runs are never shared)."""
    if t.init != "random":
        return None
    h = hashlib.sha256(np.asarray(t.train).tobytes() + b"|" + np.asarray(t.validation).tobytes())
    return (t.multivariate, t.units, t.target, t.loss, getattr(t, "weighting", "none"), t.seed,
            h.hexdigest())


def run_plan(plan: Plan, ctx: Context, seeds: tuple[int, ...], jobs: int | None,
             say: Callable[[str], None], memo: dict | None = None) -> dict[str, Fitted]:
    """Fit every planned configuration in ``ctx``; returns key -> :class:`Fitted`.

    ``memo`` maps task signatures to earlier :class:`Trained` results (the tuning runs of the
    chosen configuration at the first origin), which are reused instead of retrained.
    """
    memo = memo if memo is not None else {}
    results: dict[str, Fitted] = {}
    for phase in sorted({f.phase for _, f, _ in plan}):
        entries = [(k, f, p) for k, f, p in plan if f.phase == phase]
        task_lists = [f.tasks(p, ctx, seeds, results) for _, f, p in entries]
        todo = [t for ts in task_lists for t in ts if _signature(t) not in memo]
        # the networks train in worker processes while this process fits the baselines
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(run_tasks, todo, ctx.windows, ctx.config, jobs, say) if todo \
                else None
            for (key, fam, params), ts in zip(entries, task_lists):
                if not ts:
                    results[key] = _collect(fam, params, [], ctx, results)
            trained = pending.result() if pending is not None else []
        for t, r in zip(todo, trained):
            sig = _signature(t)
            memo[sig if sig is not None else id(t)] = r
        for (key, fam, params), ts in zip(entries, task_lists):
            if ts:
                runs = [memo[_signature(t) if _signature(t) is not None else id(t)] for t in ts]
                results[key] = _collect(fam, params, runs, ctx, results)
    return {k: results[k] for k, _, _ in plan}


def _collect(fam: Family, params: dict, runs: list[Trained], ctx: Context,
             results: dict[str, Fitted]) -> Fitted:
    t0 = time.perf_counter()
    fitted = fam.collect(params, runs, ctx, results)
    fitted.info["seconds"] = sum(r.seconds for r in runs) if runs else time.perf_counter() - t0
    return fitted


def tuning_plan(config) -> Plan:
    """Every configuration of every tuned family."""
    return [(f"{f.name}|{params_id(p)}", f, p) for f in all_families() if f.tuned
            for p in f.grid(config)]


def tune(ctx: Context, jobs: int | None, say: Callable[[str], None]) -> tuple[pd.DataFrame, dict]:
    """Score every configuration of every tuned family on the validation windows.

    Networks are scored as the ensemble of the first ``config.tuning_seeds`` seeds. Returns
    the tuning table (one row per family and configuration, ``chosen`` marking each family's
    choice: the lowest validation MAE on raw views, ties to the first in grid order) and the
    memo of training runs (reused by the first origin).
    """
    cfg = ctx.config
    seeds = tuple(cfg.seeds[:cfg.tuning_seeds])
    memo: dict = {}
    plan = tuning_plan(cfg)
    say(f"[tuning {ctx.label}] {len(plan)} configurations")
    fitted = run_plan(plan, ctx, seeds, jobs, say, memo)
    w, va = ctx.windows, ctx.validation
    y, naive = w.y[va], w.views[va, -1]
    rows = []
    for i, (key, fam, params) in enumerate(plan):
        f = fitted[key]
        m = mae(y, f.ensemble[va])
        rows.append({"family": fam.name, "config": params_id(params), "order": i,
                     **{f"param_{k}": v for k, v in params.items()},
                     "n_seeds": len(f.runs) if f.runs else 0, "val_mae": m,
                     "val_rel_mae": m / mae(y, naive), "seconds": f.info.get("seconds", 0.0),
                     **({"n_trees": f.info["n_trees"]} if "n_trees" in f.info else {})})
    table = pd.DataFrame(rows)
    best = table.sort_values(["val_mae", "order"]).groupby("family")["order"].first()
    table["chosen"] = table["order"].isin(best.to_numpy())
    return table.drop(columns="order"), memo


def chosen_params(table: pd.DataFrame) -> dict[str, dict]:
    """Family -> the chosen configuration, from a tuning table."""
    return {r.family: json.loads(r.config) for r in table[table["chosen"]].itertuples()}


def final_plan(chosen: dict[str, dict]) -> Plan:
    """Every family with its chosen configuration; transfer and clusters inherit the
    univariate network's, and a randomly started multivariate network with that same
    configuration is added as the transfer's control when the multivariate LSTM chose another."""
    uni = chosen["lstm_univariate"]
    plan: Plan = []
    for f in all_families():
        params = chosen.get(f.name, {}) if f.tuned else (uni if f.name in INHERITS_UNIVARIATE else {})
        plan.append((f.name, f, params))
    if chosen["lstm_multivariate"] != uni:
        plan.append(("lstm_random_start", LSTMFamily("lstm_random_start", True), uni))
    return plan


def control_name(chosen: dict[str, dict]) -> str:
    """The randomly started counterpart of the transfer network."""
    return ("lstm_multivariate" if chosen["lstm_multivariate"] == chosen["lstm_univariate"]
            else "lstm_random_start")


def fit_origin(plan: Plan, ctx: Context, origin, jobs: int | None, say: Callable[[str], None],
               memo: dict) -> dict[str, Fitted]:
    """The stage of one origin: every planned family refitted on its windows."""
    say(f"[{origin.name}] refit on {len(origin.train)} training and {len(origin.validation)} "
        f"validation windows; forecast {len(origin.test)} windows")
    return run_plan(plan, ctx, ctx.config.seeds, jobs, say, dict(memo))


def importance_stage(fitted: Fitted, windows, origin, config) -> pd.DataFrame:
    """Permutation importance of the first origin's multivariate networks (validation windows)."""
    from ytlstm.importance import permutation_importance

    config = config.replace(target=fitted.params["target"], units=int(fitted.params["units"]))
    return permutation_importance(fitted, windows, origin.train, origin.validation, config)

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
from threadpoolctl import threadpool_limits

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
    return run_plans([(plan, ctx, seeds, memo if memo is not None else {})], jobs, say)[0]


def run_plans(items: list[tuple[Plan, Context, tuple[int, ...], dict]], jobs: int | None,
              say: Callable[[str], None]) -> list[dict[str, Fitted]]:
    """Fit several plans (e.g. every origin) at once: per phase, the networks of all of them
    are trained as one batch of jobs (so the workers stay busy) while this process fits the
    baselines. ``items`` are ``(plan, ctx, seeds, memo)`` on the same windows and
    configuration; returns one key -> :class:`Fitted` dict per item."""
    results: list[dict[str, Fitted]] = [{} for _ in items]
    phases = sorted({f.phase for plan, _, _, _ in items for _, f, _ in plan})
    for phase in phases:
        work = []          # (item index, entries, task lists)
        todo: list[Task] = []
        for i, (plan, ctx, seeds, memo) in enumerate(items):
            entries = [(k, f, p) for k, f, p in plan if f.phase == phase]
            task_lists = [f.tasks(p, ctx, seeds, results[i]) for _, f, p in entries]
            work.append((i, entries, task_lists))
            todo += [t for ts in task_lists for t in ts if _signature(t) not in memo]
        if not work:
            continue
        windows, config = items[0][1].windows, items[0][1].config
        # the networks train in worker processes while this process fits the baselines
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(run_tasks, todo, windows, config, jobs, say) if todo else None
            with threadpool_limits(limits=1):
                for i, entries, task_lists in work:
                    ctx = items[i][1]
                    for (key, fam, params), ts in zip(entries, task_lists):
                        if not ts:
                            results[i][key] = _collect(fam, params, [], ctx, results[i])
            trained = pending.result() if pending is not None else []
        done = {}
        for t, r in zip(todo, trained):
            sig = _signature(t)
            done[sig if sig is not None else id(t)] = r
        for i, entries, task_lists in work:
            plan, ctx, seeds, memo = items[i]
            for t in (t for ts in task_lists for t in ts):
                sig = _signature(t)
                key = sig if sig is not None else id(t)
                if key in done and key not in memo:
                    memo[key] = done[key]
            for (key, fam, params), ts in zip(entries, task_lists):
                if ts:
                    runs = [memo[_signature(t) if _signature(t) is not None else id(t)]
                            for t in ts]
                    results[i][key] = _collect(fam, params, runs, ctx, results[i])
    return [{k: results[i][k] for k, _, _ in items[i][0]} for i in range(len(items))]


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
    return tune_many([ctx], jobs, say)[0]


def tune_many(ctxs: list[Context], jobs: int | None,
              say: Callable[[str], None]) -> list[tuple[pd.DataFrame, dict]]:
    """:func:`tune` in several contexts (e.g. both designs), their networks in one batch."""
    cfg = ctxs[0].config
    seeds = tuple(cfg.seeds[:cfg.tuning_seeds])
    plan = tuning_plan(cfg)
    for ctx in ctxs:
        say(f"[tuning {ctx.label}] {len(plan)} configurations")
    memos: list[dict] = [{} for _ in ctxs]
    fitted_all = run_plans([(plan, ctx, seeds, m) for ctx, m in zip(ctxs, memos)], jobs, say)
    out = []
    for ctx, fitted, memo in zip(ctxs, fitted_all, memos):
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
        out.append((table.drop(columns="order"), memo))
    return out


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
    return fit_origins([(plan, ctx, origin, memo)], jobs, say)[0]


def fit_origins(items: list[tuple[Plan, Context, object, dict]], jobs: int | None,
                say: Callable[[str], None]) -> list[dict[str, Fitted]]:
    """Several origins refitted at once (``(plan, ctx, origin, memo)`` each; the networks of
    all of them in one batch per phase)."""
    for _, ctx, origin, _ in items:
        say(f"[{origin.name}] refit on {len(origin.train)} training and "
            f"{len(origin.validation)} validation windows; forecast {len(origin.test)} windows")
    return run_plans([(plan, ctx, ctx.config.seeds, dict(memo))
                      for plan, ctx, origin, memo in items], jobs, say)


def importance_stage(fitted: Fitted, windows, origin, config) -> pd.DataFrame:
    """Permutation importance of the first origin's multivariate networks (validation windows)."""
    from ytlstm.importance import permutation_importance

    config = config.replace(target=fitted.params["target"], units=int(fitted.params["units"]))
    return permutation_importance(fitted, windows, origin.train, origin.validation, config)

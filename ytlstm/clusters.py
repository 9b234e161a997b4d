"""LSTMs specialised per cluster of growth-curve shapes (PROTOCOL section 6, "Clusters").

Steps, all on the chronological split:

1. **Shape of a window**: the views of its 7 input days divided by the views of day 7
   (:func:`shape_features`), a curve that ends at 1 and says how much of day 7's audience
   the video already had on each earlier day. Nothing from the target day enters it.
2. **Shape of a training video**: the mean shape of its *training* windows.
3. **k-means** (``n_init=10``, ``random_state=config.cluster_seed``) on the training videos'
   shapes for every k in ``config.cluster_k_grid``; the k with the highest silhouette
   (ties: the smaller k) is kept. Cluster numbers are sorted by the centroid's day-1 value,
   so cluster 0 is the steepest growth (lowest share of day 7's views on day 1).
4. **Assignment**: every window of every part goes to the nearest centroid (Euclidean) of
   its *own* input shape, the same rule for training and test windows.
5. **One univariate LSTM per cluster and seed** (:func:`ytlstm.training.run_tasks`), trained
   and early-stopped on the cluster's training and validation windows with the study's
   units, loss and target. Inputs are the univariate ones, as in the global univariate LSTM,
   so the comparison between the two isolates the effect of specialisation (the data each
   network sees), not of extra inputs.
6. A cluster with fewer than ``config.min_cluster_train_windows`` training windows or fewer
   than :data:`MIN_CLUSTER_VALIDATION_WINDOWS` validation windows is too small to train on:
   its windows are served by the global univariate LSTM of the same seed, and it is listed
   in ``small_clusters`` and in the ``cluster_sizes`` table.

The result (:class:`ClusterResult`) carries the combined predictions for every window as a
:class:`~ytlstm.study.NeuralResult` named ``lstm_cluster`` and builds the CSV tables
(:meth:`ClusterResult.tables`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from ytlstm.config import StudyConfig
from ytlstm.evaluate import bootstrap_metrics, paired_bootstrap, point_metrics
from ytlstm.study import NeuralResult
from ytlstm.training import Task, Trained, run_tasks
from ytlstm.windows import Split, Windows

#: A cluster needs at least this many validation windows for early stopping to mean anything.
MIN_CLUSTER_VALIDATION_WINDOWS = 50
#: What a shape feature is (for tables and figure labels).
FEATURE_NAME = "views on input day t / views on input day 7, t = 1..7"
#: Categories shown by name in ``cluster_categories`` (the rest are "Other").
TOP_CATEGORIES = 6
GLOBAL_NAME = "lstm_univariate"


def shape_features(windows: Windows) -> np.ndarray:
    """The normalised growth curve of each window's input days, shape ``(n, window)``.

    ``views[t] / views[day 7]`` on a linear scale, not a log scale: views never fall inside
    a window (such windows are excluded), so every value lies in [0, 1] and no video can
    dominate the k-means distances. On a log scale the few videos that entered the list
    with almost no views on day 1 give values down to about -5 (median about -0.2) and
    would pull centroids of their own. Day 7 is always 1; it is kept so centroids read as
    whole curves.
    """
    v = np.asarray(windows.views, dtype=np.float64)
    return v / np.maximum(v[:, -1:], 1.0)


def video_shapes(windows: Windows) -> pd.DataFrame:
    """Mean shape of each video's windows (index: video id, sorted; columns day1..day7)."""
    f = shape_features(windows)
    cols = [f"day{t + 1}" for t in range(f.shape[1])]
    return pd.DataFrame(f, columns=cols).groupby(
        pd.Series(windows.video_id, name="video_id")).mean().sort_index()


class ShapeClusters:
    """k-means on training videos' growth-curve shapes, k chosen by silhouette.

    ``fit(train)`` takes the training windows only; ``predict(windows)`` assigns any
    windows from their own input days. Fitted attributes: ``k_``, ``centroids_`` (k, 7),
    ``k_selection_`` (k, silhouette, inertia, chosen), ``video_features_`` (training
    videos' shapes with their ``cluster``), ``video_cluster_`` (video id -> cluster).
    """

    def __init__(self, k_grid: tuple[int, ...] = (2, 3, 4, 5, 6), seed: int = 0,
                 n_init: int = 10) -> None:
        self.k_grid = k_grid
        self.seed = seed
        self.n_init = n_init

    def fit(self, train: Windows) -> "ShapeClusters":
        shapes = video_shapes(train)
        x = shapes.to_numpy()
        n = len(x)
        rows, models = [], {}
        for k in sorted(set(int(k) for k in self.k_grid)):
            sil, inertia = np.nan, np.nan
            if 2 <= k < n:
                km = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.seed).fit(x)
                inertia = float(km.inertia_)
                if 2 <= len(np.unique(km.labels_)) < n:   # silhouette is defined
                    sil = float(silhouette_score(x, km.labels_))
                    models[k] = km
            rows.append({"k": k, "n_videos": n, "silhouette": sil, "inertia": inertia})
        table = pd.DataFrame(rows)
        if table["silhouette"].isna().all():
            raise ValueError(f"cannot choose k from {tuple(self.k_grid)}: {n} training videos; "
                             "expected at least 3 and a grid with some k in 2..n-1")
        self.k_ = int(table.loc[table["silhouette"].idxmax(), "k"])   # first max: smaller k
        table["chosen"] = table["k"] == self.k_
        self.k_selection_ = table
        km = models[self.k_]
        order = np.lexsort(km.cluster_centers_.T[::-1])   # by day 1, then day 2, ...
        self.centroids_ = km.cluster_centers_[order].copy()
        relabel = np.empty(self.k_, dtype=np.int64)
        relabel[order] = np.arange(self.k_)
        shapes = shapes.copy()
        shapes["cluster"] = relabel[km.labels_]
        self.video_features_ = shapes
        self.video_cluster_ = {str(v): int(c) for v, c in shapes["cluster"].items()}
        return self

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """Nearest centroid (ties: the lower cluster number)."""
        d = ((features[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=-1)
        return np.argmin(d, axis=1).astype(np.int64)

    def predict(self, windows: Windows) -> np.ndarray:
        """Cluster of each window, from its 7 input days only."""
        return self.predict_features(shape_features(windows))


# --------------------------------------------------------------------------- result

@dataclass
class ClusterResult:
    """Everything the cluster chapter shows (picklable; cached by the study)."""

    result: NeuralResult                       # "lstm_cluster": one Trained per seed
    k: int
    k_selection: pd.DataFrame
    centroids: np.ndarray                      # (k, window) normalised curves
    window_cluster: np.ndarray                 # cluster of every window
    video_cluster: dict[str, int]              # training videos
    video_features: pd.DataFrame               # training videos' shapes and cluster
    feature_name: str
    small_clusters: list[int]
    trained_clusters: list[int]
    sizes: pd.DataFrame
    cluster_runs: dict[int, list[Trained]] = field(default_factory=dict)   # cluster -> seeds
    min_train_windows: int = 0
    min_validation_windows: int = MIN_CLUSTER_VALIDATION_WINDOWS

    # ----------------------------------------------------------------- tables
    def centroid_table(self) -> pd.DataFrame:
        t = pd.DataFrame(self.centroids, columns=[f"day{i + 1}" for i in
                                                  range(self.centroids.shape[1])])
        t.insert(0, "cluster", np.arange(self.k))
        return t

    def training_table(self) -> pd.DataFrame:
        """One row per (cluster, seed) network: epochs, best validation loss, seconds."""
        cols = ["cluster", "seed", "epochs_run", "best_epoch", "best_val_loss", "seconds"]
        return pd.DataFrame([(c, r.seed, r.epochs_run, r.best_epoch, min(r.val_loss), r.seconds)
                             for c, runs in sorted(self.cluster_runs.items()) for r in runs],
                            columns=cols)

    def category_table(self, windows: Windows, categories: dict[int, str]) -> pd.DataFrame:
        """Share of each cluster's training videos per category (top categories, then Other)."""
        vc = pd.Series(self.video_cluster, name="cluster")
        cat = pd.Series(windows.category_id, index=windows.video_id).groupby(level=0).last()
        df = pd.DataFrame({"cluster": vc, "category_id": cat.reindex(vc.index).to_numpy()})
        df["category"] = df["category_id"].map(
            lambda c: categories.get(int(c), f"category {int(c)}"))
        counts = df["category"].value_counts()
        top = sorted(counts.index, key=lambda c: (-counts[c], c))[:TOP_CATEGORIES]
        df["category"] = df["category"].where(df["category"].isin(top), "Other")
        cols = top + (["Other"] if (df["category"] == "Other").any() else [])
        share = pd.crosstab(df["cluster"], df["category"], normalize="index")
        share = share.reindex(index=range(self.k), columns=cols, fill_value=0.0)
        out = share.reset_index().rename_axis(columns=None)
        out.insert(1, "n_videos", [int((df["cluster"] == c).sum()) for c in range(self.k)])
        all_row = {"cluster": "all", "n_videos": len(df),
                   **(df["category"].value_counts(normalize=True).reindex(cols, fill_value=0.0))}
        out["cluster"] = out["cluster"].astype(object)
        return pd.concat([out, pd.DataFrame([all_row])], ignore_index=True)

    def metrics_table(self, study) -> pd.DataFrame:
        """Per cluster and overall, on the same test windows: lstm_cluster, the global
        univariate LSTM, naive and drift; seed ensembles, with 95% bootstrap intervals over
        videos and the spread over seeds."""
        w, split = study.windows, study.splits["chronological"]
        glob = study.neural["chronological"][GLOBAL_NAME]
        base = study.baselines["chronological"]
        ens = {"lstm_cluster": self.result.ensemble, GLOBAL_NAME: glob.ensemble,
               "naive": base["naive"], "drift": base["drift"]}
        per_seed = {"lstm_cluster": self.result.preds, GLOBAL_NAME: glob.preds}
        test = split.mask("test")
        rows = []
        for c in [*range(self.k), "all"]:
            m = test if c == "all" else test & (self.window_cluster == c)
            served = "" if c == "all" else ("global" if c in self.small_clusters else "cluster")
            common = {"cluster": c, "lstm_cluster_from": served, "n_test_windows": int(m.sum()),
                      "n_test_videos": int(pd.unique(w.video_id[m]).size)}
            if not m.any():
                rows += [{**common, "model": k} for k in ens]
                continue
            y, naive = w.y[m], ens["naive"][m]
            ci = bootstrap_metrics(y, {k: p[m] for k, p in ens.items()}, naive, w.video_id[m],
                                   study.config.bootstrap_reps, study.config.bootstrap_seed
                                   ).set_index("model")
            for k, p in ens.items():
                row = {**common, "model": k, **point_metrics(y, p[m], naive),
                       **ci.loc[k].to_dict()}
                if k in per_seed:
                    vals = pd.DataFrame([point_metrics(y, q[m], naive) for q in per_seed[k]])
                    for col in ("mae", "rmse", "mape", "rel_mae"):
                        row[f"{col}_seed_mean"] = vals[col].mean()
                        row[f"{col}_seed_std"] = vals[col].std(ddof=1) if len(vals) > 1 else 0.0
                rows.append(row)
        return pd.DataFrame(rows)

    def versus_global_table(self, study) -> pd.DataFrame:
        """Paired bootstrap over videos of MAE(lstm_cluster) - MAE(global univariate LSTM)."""
        w, split = study.windows, study.splits["chronological"]
        a, b = self.result.ensemble, study.neural["chronological"][GLOBAL_NAME].ensemble
        test = split.mask("test")
        rows = []
        for c in [*range(self.k), "all"]:
            m = test if c == "all" else test & (self.window_cluster == c)
            row = {"cluster": c, "n_test_windows": int(m.sum())}
            if m.any():
                row.update(paired_bootstrap(w.y[m], a[m], b[m], w.video_id[m],
                                            study.config.bootstrap_reps,
                                            study.config.bootstrap_seed))
            rows.append(row)
        return pd.DataFrame(rows)

    def tables(self, study) -> dict[str, pd.DataFrame]:
        """The CSV tables of this stage (written by :func:`ytlstm.report.write_results`).

        In ``cluster_sizes`` ``n_videos`` counts training videos by the cluster of their mean
        shape; the window counts use each window's own assignment.
        """
        return {
            "cluster_k_selection": self.k_selection,
            "cluster_centroids": self.centroid_table(),
            "cluster_sizes": self.sizes,
            "cluster_categories": self.category_table(study.windows,
                                                      study.dataset.categories),
            "cluster_training": self.training_table(),
            "cluster_metrics": self.metrics_table(study),
            "cluster_vs_global": self.versus_global_table(study),
        }


# --------------------------------------------------------------------------- stage

def _sizes(window_cluster: np.ndarray, split: Split, video_cluster: dict[str, int], k: int,
           min_train: int, min_val: int) -> pd.DataFrame:
    vc = np.array(list(video_cluster.values()), dtype=np.int64)
    rows = []
    for c in range(k):
        m = window_cluster == c
        n = {p: int((m & split.mask(p)).sum()) for p in ("train", "validation", "test")}
        trained = n["train"] >= min_train and n["validation"] >= min_val
        rows.append({"cluster": c, "n_videos": int((vc == c).sum()),
                     "n_train_windows": n["train"], "n_validation_windows": n["validation"],
                     "n_test_windows": n["test"], "trained": trained,
                     "served_by": "lstm_cluster" if trained else f"{GLOBAL_NAME} (global)"})
    return pd.DataFrame(rows)


def _combine(seed: int, global_run: Trained, cluster_runs: dict[int, Trained],
             window_cluster: np.ndarray, n_val: dict[int, int]) -> Trained:
    """One seed's lstm_cluster: each window predicted by its cluster's network, or by the
    global network where the cluster was too small.

    ``val_loss`` (one value) is the validation-window-weighted mean of the cluster networks'
    best validation losses, ``loss`` likewise for the training loss at those epochs (each in
    its own network's scaled target space); ``epochs_run``/``best_epoch`` are the largest
    over the cluster networks, ``seconds`` their sum. With no cluster trained they are the
    global network's.
    """
    pred = np.array(global_run.pred, dtype=np.float64, copy=True)
    if not cluster_runs:
        return Trained(label=f"lstm_cluster seed {seed}", seed=seed, pred=pred,
                       loss=list(global_run.loss), val_loss=list(global_run.val_loss),
                       best_epoch=global_run.best_epoch, epochs_run=global_run.epochs_run,
                       seconds=0.0)
    for c, r in cluster_runs.items():
        m = window_cluster == c
        pred[m] = r.pred[m]
    wts = np.array([n_val[c] for c in cluster_runs], dtype=np.float64)
    best = [int(np.argmin(r.val_loss)) for r in cluster_runs.values()]
    val = np.array([r.val_loss[b] for r, b in zip(cluster_runs.values(), best)])
    tr = np.array([r.loss[b] for r, b in zip(cluster_runs.values(), best)])
    return Trained(label=f"lstm_cluster seed {seed}", seed=seed, pred=pred,
                   loss=[float(tr @ wts / wts.sum())], val_loss=[float(val @ wts / wts.sum())],
                   best_epoch=max(r.best_epoch for r in cluster_runs.values()),
                   epochs_run=max(r.epochs_run for r in cluster_runs.values()),
                   seconds=float(sum(r.seconds for r in cluster_runs.values())))


def run_clusters(windows: Windows, split: Split, config: StudyConfig,
                 global_univariate: NeuralResult, jobs: int | None = None,
                 say: Callable[[str], None] | None = None) -> ClusterResult:
    """Cluster, assign, train one LSTM per cluster and seed, and combine (see module doc).

    ``global_univariate`` is the global univariate LSTM on the same split, one run per seed
    of ``config.seeds`` in that order; it serves the windows of clusters too small to train.
    """
    say = say or (lambda s: None)
    seeds = [r.seed for r in global_univariate.runs]
    if seeds != list(config.seeds) or any(len(r.pred) != len(windows)
                                          for r in global_univariate.runs):
        raise ValueError(f"global model has seeds {seeds} and predictions for "
                         f"{[len(r.pred) for r in global_univariate.runs]} windows; expected "
                         f"seeds {list(config.seeds)} and {len(windows)} windows each")
    train_mask = split.mask("train")
    model = ShapeClusters(config.cluster_k_grid, config.cluster_seed).fit(
        windows.subset(train_mask))
    sel = model.k_selection_.set_index("k")["silhouette"]
    say(f"  clusters: k = {model.k_} by silhouette over {len(model.video_cluster_)} training "
        f"videos (" + ", ".join(f"k={k}: {s:.3f}" for k, s in sel.items()) + ")")

    window_cluster = model.predict(windows)
    min_train = int(config.min_cluster_train_windows)
    sizes = _sizes(window_cluster, split, model.video_cluster_, model.k_, min_train,
                   MIN_CLUSTER_VALIDATION_WINDOWS)
    trained = [int(c) for c in sizes.loc[sizes["trained"], "cluster"]]
    small = [int(c) for c in sizes.loc[~sizes["trained"], "cluster"]]
    say("  clusters: windows (train/validation/test) " + "; ".join(
        f"{r.cluster}: {r.n_train_windows}/{r.n_validation_windows}/{r.n_test_windows}"
        for r in sizes.itertuples()) + f"; training {trained}, served by the global model "
        f"{small}")

    val_mask = split.mask("validation")
    tasks, keys = [], []
    for c in trained:
        tr = np.flatnonzero(train_mask & (window_cluster == c))
        va = np.flatnonzero(val_mask & (window_cluster == c))
        for seed in config.seeds:
            tasks.append(Task(f"lstm_cluster c{c} seed {seed}", False, seed, tr, va,
                              config.units, target=config.target, loss=config.loss))
            keys.append((c, seed))
    runs = run_tasks(tasks, windows, config, jobs, say) if tasks else []
    by_cluster: dict[int, list[Trained]] = {c: [] for c in trained}
    for (c, _), r in zip(keys, runs):
        by_cluster[c].append(r)

    n_val = dict(zip(sizes["cluster"], sizes["n_validation_windows"]))
    combined = [_combine(seed, g, {c: by_cluster[c][i] for c in trained}, window_cluster, n_val)
                for i, (seed, g) in enumerate(zip(config.seeds, global_univariate.runs))]
    say(f"  clusters: lstm_cluster ready ({len(runs)} cluster networks, "
        f"{len(small)} cluster(s) served by the global model)")
    return ClusterResult(
        result=NeuralResult("lstm_cluster", split.kind, combined), k=model.k_,
        k_selection=model.k_selection_, centroids=model.centroids_,
        window_cluster=window_cluster, video_cluster=model.video_cluster_,
        video_features=model.video_features_, feature_name=FEATURE_NAME,
        small_clusters=small, trained_clusters=trained, sizes=sizes, cluster_runs=by_cluster,
        min_train_windows=min_train)

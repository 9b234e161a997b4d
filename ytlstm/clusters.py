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

The networks are trained by :class:`ytlstm.families.ClusterFamily` at every forecast origin;
this module holds the clustering itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from ytlstm.windows import Windows

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


def category_table(video_cluster: dict[str, int], k: int, windows: Windows,
                   categories: dict[int, str]) -> pd.DataFrame:
    """Share of each cluster's training videos per category (top categories, then Other)."""
    vc = pd.Series(video_cluster, name="cluster")
    cat = pd.Series(windows.category_id, index=windows.video_id).groupby(level=0).last()
    df = pd.DataFrame({"cluster": vc, "category_id": cat.reindex(vc.index).to_numpy()})
    df["category"] = df["category_id"].map(
        lambda c: categories.get(int(c), f"category {int(c)}"))
    counts = df["category"].value_counts()
    top = sorted(counts.index, key=lambda c: (-counts[c], c))[:TOP_CATEGORIES]
    df["category"] = df["category"].where(df["category"].isin(top), "Other")
    cols = top + (["Other"] if (df["category"] == "Other").any() else [])
    share = pd.crosstab(df["cluster"], df["category"], normalize="index")
    share = share.reindex(index=range(k), columns=cols, fill_value=0.0)
    out = share.reset_index().rename_axis(columns=None)
    out.insert(1, "n_videos", [int((df["cluster"] == c).sum()) for c in range(k)])
    all_row = {"cluster": "all", "n_videos": len(df),
               **(df["category"].value_counts(normalize=True).reindex(cols, fill_value=0.0))}
    out["cluster"] = out["cluster"].astype(object)
    return pd.concat([out, pd.DataFrame([all_row])], ignore_index=True)

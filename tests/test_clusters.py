"""Per-cluster stage: shape features, k by silhouette, assignment from input days only,
small clusters served by the global model, and a small end-to-end run."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from ytlstm.clusters import (ClusterResult, ShapeClusters, run_clusters, shape_features,
                             video_shapes)
from ytlstm.config import StudyConfig
from ytlstm.study import NeuralResult
from ytlstm.training import Trained
from ytlstm.windows import Windows, chronological_split

#: Daily log growth rate of each synthetic family: flat, medium, steep.
RATES = (0.02, 0.15, 0.5)
DAY0 = np.datetime64("2018-01-01", "ns")


def synthetic(n_videos=(40, 40, 8), run_len: int = 20, seed: int = 0):
    """Windows of exponential view curves in three families of growth rate.

    Returns the windows, their chronological split (20% test, 20% validation dates) and
    the family of every window.
    """
    rng = np.random.default_rng(seed)
    views, ys, vids, runs, dates, fam, cats = [], [], [], [], [], [], []
    vid = 0
    for f, (n, rate) in enumerate(zip(n_videos, RATES)):
        for _ in range(n):
            r = rate * rng.uniform(0.9, 1.1)
            t = np.arange(run_len)
            noise = np.cumprod(rng.uniform(1.0, 1.01, run_len))
            series = np.round(rng.uniform(1e4, 1e6) * np.exp(r * t) * noise)
            start = int(rng.integers(0, 40))
            cat = int(rng.choice([10, 24, 25]))
            for j in range(run_len - 7):
                views.append(series[j:j + 7])
                ys.append(series[j + 7])
                vids.append(f"vid{vid:08d}")
                runs.append(vid)
                dates.append(DAY0 + np.timedelta64(start + j + 7, "D"))
                fam.append(f)
                cats.append(cat)
            vid += 1
    v = np.array(views)
    n = len(v)
    w = Windows(counts=np.stack([v, v / 20, v / 500, v / 100], axis=-1),
                age_days=np.tile(np.arange(1.0, 8.0), (n, 1)), category_id=np.array(cats),
                comments_disabled=np.zeros(n, bool), ratings_disabled=np.zeros(n, bool),
                y=np.array(ys), video_id=np.array(vids, dtype=object), run_id=np.array(runs),
                target_date=np.array(dates, dtype="datetime64[ns]"))
    all_dates = DAY0 + np.arange(0, 40 + run_len + 1).astype("timedelta64[D]")
    split = chronological_split(w, all_dates, test_frac=0.2, val_frac=0.2)
    return w, split, np.array(fam)


def fake_global(w: Windows, seeds=(0, 1)) -> NeuralResult:
    """A stand-in for the global univariate LSTM: distinct, known predictions per seed."""
    v7 = w.views[:, -1]
    return NeuralResult("lstm_univariate", "chronological",
                        [Trained(label=f"lstm_univariate seed {s}", seed=s,
                                 pred=v7 * (1.05 + 0.01 * s), loss=[0.5, 0.4],
                                 val_loss=[0.6, 0.5], best_epoch=2, epochs_run=2)
                         for s in seeds])


def fake_study(w, split, glob, res: ClusterResult, config: StudyConfig):
    return SimpleNamespace(
        windows=w, splits={"chronological": split}, config=config,
        neural={"chronological": {"lstm_univariate": glob, "lstm_cluster": res.result}},
        baselines={"chronological": {"naive": w.views[:, -1].astype(float),
                                     "drift": 2.0 * w.views[:, -1] - w.views[:, -2]}},
        dataset=SimpleNamespace(categories={10: "Music", 24: "Entertainment"}))


@pytest.fixture(scope="module")
def data():
    return synthetic()


@pytest.fixture(scope="module")
def fitted(data):
    w, split, _ = data
    return ShapeClusters((2, 3, 4, 5), seed=0).fit(w.subset(split.mask("train")))


# --------------------------------------------------------------------------- features

def test_shape_features_values(data):
    w, _, _ = data
    f = shape_features(w)
    assert f.shape == (len(w), 7)
    np.testing.assert_allclose(f[:, -1], 1.0)
    np.testing.assert_allclose(f, w.views / w.views[:, -1:])
    assert (f >= 0).all() and (f <= 1).all()


def test_video_shapes_are_means_of_the_videos_windows(data):
    w, _, _ = data
    shapes = video_shapes(w)
    first = w.video_id[0]
    np.testing.assert_allclose(shapes.loc[first].to_numpy(),
                               shape_features(w)[w.video_id == first].mean(axis=0))
    assert len(shapes) == len(np.unique(w.video_id))


# --------------------------------------------------------------------------- clustering

def test_k_is_the_silhouette_argmax(data, fitted):
    w, split, _ = data
    x = video_shapes(w.subset(split.mask("train"))).to_numpy()
    grid = (2, 3, 4, 5)
    sil = [silhouette_score(x, KMeans(k, n_init=10, random_state=0).fit(x).labels_)
           for k in grid]
    assert fitted.k_ == grid[int(np.argmax(sil))]
    assert fitted.k_ == 3                                 # the three families
    table = fitted.k_selection_.set_index("k")
    np.testing.assert_allclose(table.loc[list(grid), "silhouette"], sil)
    assert table["chosen"].sum() == 1 and table.loc[fitted.k_, "chosen"]
    assert (table["inertia"].diff().dropna() < 0).all()  # more clusters, less inertia


def test_clusters_recover_families_and_are_ordered_by_day_one(data, fitted):
    w, _, fam = data
    labels = fitted.predict(w)
    for f in range(3):
        assert len(np.unique(labels[fam == f])) == 1     # one cluster per family
    # cluster 0 is the steepest growth (family 2), the last one the flattest (family 0)
    assert labels[fam == 2][0] == 0 and labels[fam == 0][0] == fitted.k_ - 1
    assert np.all(np.diff(fitted.centroids_[:, 0]) > 0)
    assert fitted.centroids_.shape == (3, 7)
    # video clusters agree with the windows' clusters here (each video has one shape)
    vc = pd.Series(fitted.video_cluster_)
    for v, c in vc.items():
        assert set(labels[w.video_id == v]) == {c}


def test_assignment_uses_input_days_only(data, fitted):
    w, _, fam = data
    before = fitted.predict(w)
    changed = w.subset(np.arange(len(w)))
    changed.y = changed.y * 1000.0 + 1.0                 # the target day changes wildly
    np.testing.assert_array_equal(fitted.predict(changed), before)
    # an input day can move a window: give a steep window a flat curve
    i = int(np.flatnonzero(fam == 2)[0])
    j = int(np.flatnonzero(fam == 0)[0])
    moved = w.subset(np.arange(len(w)))
    moved.counts = moved.counts.copy()
    moved.counts[i, :, 0] = w.counts[j, :, 0] / w.counts[j, -1, 0] * w.counts[i, -1, 0]
    after = fitted.predict(moved)
    assert after[i] == before[j] != before[i]
    mask = np.arange(len(w)) != i
    np.testing.assert_array_equal(after[mask], before[mask])


def test_clustering_is_deterministic(data, fitted):
    w, split, _ = data
    again = ShapeClusters((2, 3, 4, 5), seed=0).fit(w.subset(split.mask("train")))
    np.testing.assert_array_equal(again.centroids_, fitted.centroids_)
    pd.testing.assert_frame_equal(again.k_selection_, fitted.k_selection_)
    assert again.video_cluster_ == fitted.video_cluster_
    np.testing.assert_array_equal(again.predict(w), fitted.predict(w))


def test_too_few_videos_for_any_k_is_an_error(data):
    w, _, _ = data
    two = w.subset(np.isin(w.video_id, np.unique(w.video_id)[:2]))
    with pytest.raises(ValueError, match="cannot choose k"):
        ShapeClusters((2, 3), seed=0).fit(two)


# --------------------------------------------------------------------------- stage

def test_small_clusters_are_served_by_the_global_model_exactly(data):
    w, split, _ = data
    config = StudyConfig(seeds=(0, 1), cluster_k_grid=(2, 3, 4), bootstrap_reps=200,
                         min_cluster_train_windows=10 ** 6)
    glob = fake_global(w)
    lines = []
    res = run_clusters(w, split, config, glob, jobs=1, say=lines.append)
    assert res.trained_clusters == [] and res.small_clusters == list(range(res.k))
    assert not res.sizes["trained"].any()
    assert res.result.name == "lstm_cluster" and res.result.split == "chronological"
    assert [r.seed for r in res.result.runs] == [0, 1]
    for mine, theirs in zip(res.result.runs, glob.runs):
        np.testing.assert_array_equal(mine.pred, theirs.pred)
    assert res.cluster_runs == {}
    assert any("k = 3" in s for s in lines)
    # the tables: lstm_cluster equals the global model everywhere
    tables = res.tables(fake_study(w, split, glob, res, config))
    m = tables["cluster_metrics"]
    for c in [*range(res.k), "all"]:
        rows = m[m["cluster"] == c].set_index("model")
        assert rows.loc["lstm_cluster", "mae"] == pytest.approx(rows.loc["lstm_univariate",
                                                                         "mae"])
    assert set(m["model"]) == {"lstm_cluster", "lstm_univariate", "naive", "drift"}
    assert tables["cluster_training"].empty
    assert list(tables["cluster_training"].columns[:2]) == ["cluster", "seed"]
    assert (tables["cluster_vs_global"]["mae_diff"] == 0).all()


def test_global_model_must_match_the_seeds(data):
    w, split, _ = data
    with pytest.raises(ValueError, match="expected seeds"):
        run_clusters(w, split, StudyConfig(seeds=(0, 1, 2)), fake_global(w, (0, 1)))


@pytest.mark.slow
def test_run_clusters_smoke(data):
    """One cluster trained, two served by the global model; tables, pickling and a rerun.

    (One trained cluster keeps the test short: 2 networks per run.)"""
    w, split, fam = data
    config = StudyConfig(seeds=(0, 1), cluster_k_grid=(2, 3, 4), units=4, max_epochs=2,
                         patience=1, batch_size=64, min_cluster_train_windows=290,
                         bootstrap_reps=200)
    glob = fake_global(w)
    res = run_clusters(w, split, config, glob, jobs=1)
    sizes = res.sizes.set_index("cluster")
    assert res.k == 3
    assert res.small_clusters == [0, 1]                 # fewer than 290 training windows
    assert res.trained_clusters == [2]
    assert sizes.loc[2, "n_train_windows"] >= 290 and sizes.loc[2, "n_validation_windows"] >= 50
    assert (sizes.loc[[0, 1], "n_train_windows"] < 290).all()
    assert sizes.loc[0, "served_by"] == "lstm_univariate (global)"
    assert sorted(res.cluster_runs) == [2]
    assert all([r.seed for r in runs] == [0, 1] for runs in res.cluster_runs.values())
    for i, run in enumerate(res.result.runs):
        assert run.pred.shape == (len(w),) and np.isfinite(run.pred).all()
        served = res.window_cluster < 2
        np.testing.assert_array_equal(run.pred[served], glob.runs[i].pred[served])
        m = res.window_cluster == 2
        np.testing.assert_array_equal(run.pred[m], res.cluster_runs[2][i].pred[m])
        assert not np.array_equal(run.pred[m], glob.runs[i].pred[m])
        assert len(run.val_loss) == 1 and np.isfinite(run.val_loss[0])
    assert len(res.window_cluster) == len(w)
    tables = res.tables(fake_study(w, split, glob, res, config))
    assert {"cluster_k_selection", "cluster_sizes", "cluster_categories",
            "cluster_metrics"} <= set(tables)
    m = tables["cluster_metrics"]
    per = m[(m["model"] == "naive") & (m["cluster"] != "all")]["n_test_windows"].sum()
    assert per == m[(m["model"] == "naive") & (m["cluster"] == "all")]["n_test_windows"].item()
    assert per == int(split.mask("test").sum())
    assert {"mae_lo", "mae_hi", "rel_mae_lo", "rel_mae_hi"} <= set(m.columns)
    cats = tables["cluster_categories"].set_index("cluster")
    np.testing.assert_allclose(cats.drop(columns="n_videos").sum(axis=1), 1.0)
    assert len(tables["cluster_training"]) == 2
    again = pickle.loads(pickle.dumps(res))
    np.testing.assert_array_equal(again.result.preds, res.result.preds)
    # deterministic: the same run again gives the same predictions
    res2 = run_clusters(w, split, config, glob, jobs=1)
    np.testing.assert_array_equal(res2.result.preds, res.result.preds)

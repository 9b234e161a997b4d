"""Per-cluster LSTMs: shape features, k by silhouette, assignment from input days only, and
the cluster family (:class:`ytlstm.families.ClusterFamily`): one network per cluster and seed,
small clusters served by the global model, clusters refitted in every context."""

from __future__ import annotations

import pickle
import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from ytlstm.clusters import (MIN_CLUSTER_VALIDATION_WINDOWS, ShapeClusters, category_table,
                             shape_features, video_shapes)
from ytlstm.config import StudyConfig
from ytlstm.families import ClusterFamily, Context, Fitted, task_options
from ytlstm.training import Trained, run_tasks
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


PARAMS = {"target": "drift", "loss": "mae", "units": 4}


def fake_global(w: Windows, seeds=(0, 1)) -> Fitted:
    """A stand-in for the global univariate LSTM: distinct, known predictions per seed."""
    runs = [Trained(label=f"lstm_univariate seed {s}", seed=s, pred=w.views[:, -1] * (1.05 + 0.01 * s),
                    loss=[0.5, 0.4], val_loss=[0.6, 0.5], best_epoch=2, epochs_run=2)
            for s in seeds]
    return Fitted("lstm_univariate", dict(PARAMS), np.stack([r.pred for r in runs]), runs=runs)


def context(w, split, config) -> Context:
    return Context(w, np.flatnonzero(split.mask("train")), np.flatnonzero(split.mask("validation")),
                   config, label="origin 1")


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


# --------------------------------------------------------------------------- categories

def test_category_table_shares_per_cluster(data, fitted):
    w, split, _ = data
    train = w.subset(split.mask("train"))
    t = category_table(fitted.video_cluster_, fitted.k_, train, {10: "Music", 24: "Entertainment"})
    assert list(t["cluster"]) == [*range(fitted.k_), "all"]
    shares = t.drop(columns=["cluster", "n_videos"])
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert set(shares.columns) == {"Music", "Entertainment", "category 25"}
    n = pd.Series(fitted.video_cluster_).value_counts()
    assert list(t["n_videos"][:-1]) == [int(n.get(c, 0)) for c in range(fitted.k_)]
    assert t["n_videos"].iloc[-1] == len(fitted.video_cluster_)


# --------------------------------------------------------------------------- the family

def test_small_clusters_are_served_by_the_global_model_exactly(data):
    w, split, _ = data
    config = StudyConfig(seeds=(0, 1), cluster_k_grid=(2, 3, 4), min_cluster_train_windows=10 ** 6)
    ctx = context(w, split, config)
    glob = fake_global(w)
    fam = ClusterFamily()
    assert fam.tasks(PARAMS, ctx, (0, 1), {"lstm_univariate": glob}) == []
    out = fam.collect(PARAMS, [], ctx, {"lstm_univariate": glob})
    assert out.family == "lstm_cluster" and out.params == PARAMS and out.runs is None
    np.testing.assert_array_equal(out.preds, glob.preds)
    np.testing.assert_array_equal(out.ensemble, glob.ensemble)
    info = out.info
    assert info["k"] == 3 and info["trained"] == [] and info["small"] == [0, 1, 2]
    assert info["cluster_runs"] == {}
    assert [s["trained"] for s in info["sizes"]] == [False] * 3
    assert sum(s["n_train_windows"] for s in info["sizes"]) == len(ctx.train)
    assert sum(s["n_validation_windows"] for s in info["sizes"]) == len(ctx.validation)
    assert len(info["window_cluster"]) == len(w)
    # the global model's forecasts are not changed in place
    np.testing.assert_array_equal(glob.preds[0], glob.runs[0].pred)


def _one_trained(data):
    w, split, _ = data
    config = StudyConfig(seeds=(0, 1), cluster_k_grid=(2, 3, 4), units=4, max_epochs=2,
                         patience=1, batch_size=64, min_cluster_train_windows=290)
    return w, split, config, context(w, split, config)


def test_one_network_per_trained_cluster_and_seed(data):
    w, split, config, ctx = _one_trained(data)
    glob = fake_global(w)
    fam = ClusterFamily()
    params = dict(PARAMS, loss="mae_scaled")
    tasks = fam.tasks(params, ctx, (0, 1), {"lstm_univariate": glob})
    info = fam._clusters(ctx)
    wc = info["window_cluster"]
    sizes = pd.DataFrame(info["sizes"]).set_index("cluster")
    assert info["trained"] == [2] and info["small"] == [0, 1]   # fewer than 290 training windows
    assert sizes.loc[2, "n_train_windows"] >= 290
    assert sizes.loc[2, "n_validation_windows"] >= MIN_CLUSTER_VALIDATION_WINDOWS
    assert (sizes.loc[[0, 1], "n_train_windows"] < 290).all()
    assert [t.seed for t in tasks] == [0, 1]
    for t in tasks:
        np.testing.assert_array_equal(t.train, ctx.train[wc[ctx.train] == 2])
        np.testing.assert_array_equal(t.validation, ctx.validation[wc[ctx.validation] == 2])
        assert not t.multivariate and t.init == "random"
        opts = task_options(params)
        assert (t.units, t.target, t.loss, t.weighting) == (opts["units"], opts["target"],
                                                            "mae", "scale")
    # collect: the cluster's windows from its networks, every other window from the global one
    runs = [Trained(t.label, t.seed, w.views[:, -1] * (2.0 + t.seed)) for t in tasks]
    out = fam.collect(params, runs, ctx, {"lstm_univariate": glob})
    m = wc == 2
    for i in range(2):
        np.testing.assert_array_equal(out.preds[i, m], runs[i].pred[m])
        np.testing.assert_array_equal(out.preds[i, ~m], glob.preds[i, ~m])
    assert out.info["cluster_runs"] == {2: runs}


def test_clusters_are_refitted_for_every_context(data):
    """One family object serves every origin: each context gets its own clusters, even when
    an earlier context was freed (its id may be reused by the next one)."""
    w, _, _ = data
    config = StudyConfig(cluster_k_grid=(2, 3, 4), min_cluster_train_windows=10 ** 6)
    fam = ClusterFamily()
    idx = np.arange(len(w))
    for cut in (300, 600, 900):
        ctx = Context(w, idx[:cut], idx[cut:cut + 100], config)
        mine, fresh = fam._clusters(ctx), ClusterFamily()._clusters(ctx)
        np.testing.assert_array_equal(mine["centroids"], fresh["centroids"])
        assert mine["sizes"] == fresh["sizes"]
        assert sum(s["n_train_windows"] for s in mine["sizes"]) == cut
        del ctx, mine, fresh


@pytest.mark.slow
def test_cluster_family_trains_real_networks(data):
    """One cluster trained (2 networks), two served by the global model; pickling, rerun."""
    w, split, config, ctx = _one_trained(data)
    glob = fake_global(w)

    def run():
        fam = ClusterFamily()
        tasks = fam.tasks(PARAMS, ctx, config.seeds, {"lstm_univariate": glob})
        return fam.collect(PARAMS, run_tasks(tasks, w, config, n_jobs=1), ctx,
                           {"lstm_univariate": glob})

    out = run()
    wc = out.info["window_cluster"]
    runs = out.info["cluster_runs"][2]
    assert [r.seed for r in runs] == [0, 1]
    for i, r in enumerate(runs):
        assert r.pred.shape == (len(w),) and np.isfinite(r.pred).all()
        assert 1 <= r.epochs_run <= config.max_epochs
        np.testing.assert_array_equal(out.preds[i, wc < 2], glob.preds[i, wc < 2])
        np.testing.assert_array_equal(out.preds[i, wc == 2], r.pred[wc == 2])
        assert not np.array_equal(out.preds[i, wc == 2], glob.preds[i, wc == 2])
    again = pickle.loads(pickle.dumps(out))
    np.testing.assert_array_equal(again.preds, out.preds)
    np.testing.assert_array_equal(run().preds, out.preds)      # deterministic

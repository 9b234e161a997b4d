"""Protocol v2 inference and metrics: Holm, the two-way cluster bootstrap, the window-weighted
Diebold-Mariano test, GMRAE and the concentration of a gain, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from ytlstm.evaluate import (concentration, date_blocks, diebold_mariano, gmrae, holm,
                             twoway_test, twoway_weights, weighted_dm)


# --------------------------------------------------------------------------- Holm

def test_holm_by_hand():
    # sorted: 0.005 x4 = 0.02; 0.01 x3 = 0.03; 0.03 x2 = 0.06; 0.04 x1 = 0.04 -> 0.06 (monotone)
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_keeps_order_and_ties():
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])
    np.testing.assert_allclose(holm([0.02, 0.02]), [0.04, 0.04])
    assert holm([0.3]) == [0.3]
    assert holm([]) == []
    p = [0.2, 0.001, 0.04, 0.011]
    adj = holm(p)
    assert all(a >= q for a, q in zip(adj, p))           # never smaller than the raw p
    # the adjusted values keep the order of the raw ones
    assert list(np.argsort(adj, kind="stable")) == list(np.argsort(p, kind="stable"))


# --------------------------------------------------------------------------- two-way bootstrap

def _panel(n_dates: int = 30, n_videos: int = 40, seed: int = 0):
    """Windows of videos trending on runs of consecutive dates, with date and video shocks."""
    rng = np.random.default_rng(seed)
    dates, vids = [], []
    for v in range(n_videos):
        start = int(rng.integers(0, n_dates - 5))
        for t in range(start, min(n_dates, start + int(rng.integers(3, 12)))):
            dates.append(t)
            vids.append(f"v{v:03d}")
    dates, vids = np.array(dates), np.array(vids)
    date_shock = rng.normal(0, 1, n_dates)[dates]
    video_shock = rng.normal(0, 1, n_videos)[np.unique(vids, return_inverse=True)[1]]
    base = 10 + date_shock + video_shock + rng.normal(0, 1, len(dates))
    return dates, vids, base, rng


def test_date_blocks_are_consecutive_dates_of_cube_root_length():
    dates = np.repeat(np.arange(27), 2)
    blk, length = date_blocks(dates)
    assert length == 3                                    # ceil(27 ** (1/3))
    np.testing.assert_array_equal(blk, np.repeat(np.arange(27) // 3, 2))
    assert date_blocks(np.arange(28))[1] == 4
    blk, length = date_blocks(np.array([5, 1, 3, 1]), block_len=2)
    np.testing.assert_array_equal(blk, [1, 0, 0, 0])     # distinct dates 1, 3 | 5


def test_twoway_weights_are_date_block_count_times_video_count():
    dates, vids, _, _ = _panel()
    w = twoway_weights(dates, vids, reps=20, seed=3)
    assert w.shape == (20, len(dates))
    assert (w >= 0).all() and np.array_equal(w, np.round(w))
    # one video: the weights are the date blocks' counts, which sum to the number of blocks
    one = twoway_weights(np.arange(10), np.array(["a"] * 10), reps=5, seed=1, block_len=1)
    np.testing.assert_array_equal(one.sum(axis=1), 10)
    # one date: the weights are the videos' counts
    one = twoway_weights(np.zeros(7, int), np.array(list("abcdefg")), reps=5, seed=1)
    np.testing.assert_array_equal(one.sum(axis=1), 7)
    # windows sharing a date block and a video always get the same weight
    blk, _ = date_blocks(dates)
    i, j = next((i, j) for i in range(len(dates)) for j in range(i + 1, len(dates))
                if blk[i] == blk[j] and vids[i] == vids[j])
    np.testing.assert_array_equal(w[:, i], w[:, j])
    np.testing.assert_array_equal(w, twoway_weights(dates, vids, reps=20, seed=3))


def test_twoway_test_small_p_for_a_clear_difference():
    dates, vids, base, rng = _panel(seed=1)
    better = base - 1.0 + rng.normal(0, 0.3, len(base))
    r = twoway_test(better, base, dates, vids, reps=400, seed=0)
    assert r["mean_diff"] == pytest.approx(np.mean(better - base))
    assert r["mean_diff"] < 0 and r["diff_hi"] < 0
    assert r["diff_lo"] <= r["mean_diff"] <= r["diff_hi"]
    assert r["p_value"] < 0.01
    flipped = twoway_test(base, better, dates, vids, reps=400, seed=0)
    assert flipped["mean_diff"] == pytest.approx(-r["mean_diff"])
    assert flipped["p_value"] == r["p_value"]


def test_twoway_test_large_p_for_no_difference():
    dates, vids, base, rng = _panel(seed=2)
    same = twoway_test(base, base.copy(), dates, vids, reps=200, seed=0)
    assert same["mean_diff"] == 0 and same["p_value"] == 1.0
    # two forecasts with the same error distribution
    a = base + rng.normal(0, 1, len(base))
    b = base + rng.normal(0, 1, len(base))
    r = twoway_test(a, b, dates, vids, reps=400, seed=0)
    assert r["p_value"] > 0.2
    assert r["diff_lo"] < 0 < r["diff_hi"]


def test_twoway_test_is_deterministic_with_a_seed():
    dates, vids, base, rng = _panel(seed=3)
    other = base + rng.normal(0.2, 1, len(base))
    r1 = twoway_test(other, base, dates, vids, reps=300, seed=7)
    assert twoway_test(other, base, dates, vids, reps=300, seed=7) == r1
    r2 = twoway_test(other, base, dates, vids, reps=300, seed=8)
    assert (r2["diff_lo"], r2["diff_hi"]) != (r1["diff_lo"], r1["diff_hi"])
    # given weights are used as they are
    w = twoway_weights(dates, vids, 300, 7)
    assert twoway_test(other, base, None, None, weights=w) == r1
    assert r1["reps"] <= 300


def test_twoway_intervals_are_wider_than_a_window_bootstrap_under_date_shocks():
    # a shock shared by every window of a date makes windows dependent: the two-way bootstrap
    # keeps that dependence, resampling windows one by one would not
    rng = np.random.default_rng(4)
    dates = np.repeat(np.arange(40), 25)
    vids = np.array([f"v{i}" for i in range(len(dates))])          # one window per video
    d = rng.normal(0, 3, 40)[dates] + rng.normal(0, 0.5, len(dates))
    r = twoway_test(d, np.zeros_like(d), dates, vids, reps=500, seed=0)
    naive_se = d.std() / np.sqrt(len(d))
    assert (r["diff_hi"] - r["diff_lo"]) > 2 * 1.96 * naive_se * 2


# --------------------------------------------------------------------------- weighted DM

def test_weighted_dm_mean_is_the_pooled_mean_difference():
    rng = np.random.default_rng(5)
    dates = np.repeat(np.arange(30), rng.integers(1, 20, size=30))     # unequal counts
    a, b = rng.uniform(0, 10, len(dates)), rng.uniform(0, 10, len(dates))
    r = weighted_dm(a, b, dates)
    assert r["mean_diff"] == pytest.approx(np.mean(a - b), rel=1e-12)
    assert r["n_dates"] == 30 and r["lag"] == 3                          # floor(30 ** (1/3))
    # the unweighted daily mean is a different number here
    assert diebold_mariano(a, b, dates)["mean_diff"] != pytest.approx(np.mean(a - b))


def test_weighted_dm_equals_diebold_mariano_with_equal_windows_per_date():
    rng = np.random.default_rng(6)
    dates = np.repeat(np.arange(40), 5)
    a, b = rng.uniform(0, 10, 200), rng.uniform(0, 10, 200)
    w, d = weighted_dm(a, b, dates), diebold_mariano(a, b, dates)
    for k in ("dm_stat", "p_value", "mean_diff"):
        assert w[k] == pytest.approx(d[k], rel=1e-10)


def test_weighted_dm_sign_and_identical_losses():
    rng = np.random.default_rng(7)
    dates = np.repeat(np.arange(40), rng.integers(2, 8, size=40))
    b = rng.uniform(5, 10, len(dates))
    a = b - 1.0 + rng.normal(0, 0.5, len(dates))
    r = weighted_dm(a, b, dates)
    assert r["dm_stat"] < 0 and r["p_value"] < 1e-6
    same = weighted_dm(b, b.copy(), dates)
    assert same["dm_stat"] == 0.0 and same["p_value"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- GMRAE, concentration

def test_gmrae_by_hand():
    groups = np.array(["a", "a", "b", "c", "c"])
    y = np.array([100.0, 100.0, 50.0, 10.0, 20.0])
    p = np.array([110.0, 80.0, 51.0, 10.0, 20.0])      # video MAEs: a 15, b 1, c 0
    naive = np.array([70.0, 130.0, 58.0, 5.0, 25.0])   # video MAEs: a 30, b 8, c 5
    g, left_out = gmrae(y, p, naive, groups)
    # c has a model MAE of 0 and is left out: sqrt(15/30 * 1/8) = 0.25
    assert g == pytest.approx(0.25)
    assert left_out == 1
    g, left_out = gmrae(y, naive, naive, groups)
    assert g == pytest.approx(1.0) and left_out == 0


def test_concentration_by_hand():
    reductions = np.array([10.0, 5.0, 3.0, 1.0, 1.0, 0.0, 0.0, -2.0, 0.0, 2.0])   # total 20
    y = np.full(10, 100.0)
    base = y + 20.0
    p = y + 20.0 - reductions
    groups = np.array([f"v{i}" for i in range(10)])
    c = concentration(y, p, base, groups)
    assert c["gain"] == pytest.approx(20.0)
    assert c["share_top5"] == pytest.approx((10 + 5 + 3 + 2 + 1) / 20)
    assert c["n_top1pct"] == 1 and c["share_top1pct"] == pytest.approx(10 / 20)
    # windows of one video are summed before ranking
    two = concentration(np.append(y, 100.0), np.append(p, 120.0 - 7.0),
                        np.append(base, 120.0), np.append(groups, "v9"))
    assert two["gain"] == pytest.approx(27.0)
    assert two["share_top1pct"] == pytest.approx(10 / 27)
    assert two["share_top5"] == pytest.approx((10 + 9 + 5 + 3 + 1) / 27)


def test_concentration_without_a_net_gain_is_nan():
    y = np.full(4, 100.0)
    c = concentration(y, y + 10.0, y + 5.0, np.array(list("abcd")))
    assert c["gain"] == pytest.approx(-20.0)
    assert np.isnan(c["share_top5"]) and np.isnan(c["share_top1pct"])


def test_concentration_top_one_percent_of_many_videos():
    n = 250
    y = np.full(n, 100.0)
    red = np.arange(n, dtype=float)                      # 0 .. 249
    groups = np.array([f"v{i:03d}" for i in range(n)])
    c = concentration(y, y + 300.0 - red, y + 300.0, groups)
    assert c["n_top1pct"] == 3                            # ceil(2.5)
    assert c["share_top1pct"] == pytest.approx((249 + 248 + 247) / red.sum())

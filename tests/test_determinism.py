"""Two builds of the study from scratch give identical numbers (PROTOCOL section 8).

First at the level of training (``run_tasks`` from scratch, in this process and in two worker
processes: the same networks, bit for bit), then for the whole study.

The study is built twice on the same small synthetic dataset into two empty caches: once
training in this process and once in two worker processes, so the test also shows that a
network's result does not depend on which process trained it or in what order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from test_study_small import CONFIG, _dataset
from ytlstm.predictions import predictions_table
from ytlstm.study import run_study

pytestmark = pytest.mark.slow


def test_training_from_scratch_is_identical_in_process_and_in_workers():
    from test_models import CONFIG, growth_windows
    from ytlstm.training import Task, run_tasks

    w = growth_windows(700, seed=4)
    idx = np.arange(len(w))
    tr, va = idx[:500], idx[500:600]
    cfg = CONFIG.replace(max_epochs=4)
    tasks = [Task(f"s{s}", m, s, tr, va, units=u) for m, u in ((False, 4), (True, 8))
             for s in range(3)]
    a = run_tasks(tasks, w, cfg, n_jobs=1)
    b = run_tasks(tasks, w, cfg, n_jobs=2)
    for ra, rb in zip(a, b):
        np.testing.assert_array_equal(ra.pred, rb.pred, err_msg=ra.label)
        assert ra.val_loss == rb.val_loss and ra.loss == rb.loss
        for wa, wb in zip(ra.weights, rb.weights):
            np.testing.assert_array_equal(wa, wb)


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("determinism")
    files = _dataset(root / "data")
    builds = []
    for i, jobs in enumerate((1, 2)):
        study = run_study(CONFIG, data_dir=files.folder, cache_dir=root / f"cache{i}",
                          results_dir=root / f"results{i}", verbose=False, jobs=jobs)
        assert not study.cache_hits, "a build from scratch must not read any cache"
        builds.append((study, root / f"results{i}"))
    return builds


def test_identical_predictions(two_builds):
    (a, _), (b, _) = two_builds
    pa, pb = predictions_table(a, seeds=True), predictions_table(b, seeds=True)
    assert len(pa) > 0
    pd.testing.assert_frame_equal(pa, pb, check_exact=True)
    pd.testing.assert_frame_equal(predictions_table(a), predictions_table(b), check_exact=True)


def test_identical_metrics_tables(two_builds):
    (_, ra), (_, rb) = two_builds
    for table in ("metrics", "intervals_test", "paired_test", "tuning"):
        ta, tb = pd.read_csv(ra / f"{table}.csv"), pd.read_csv(rb / f"{table}.csv")
        drop = [c for c in ta.columns if c == "seconds"]          # wall-clock times differ
        pd.testing.assert_frame_equal(ta.drop(columns=drop), tb.drop(columns=drop),
                                      check_exact=True, obj=table)

"""Training on a Dask cluster gives exactly the local executor's results (issue 11).

Starts a LocalCluster with 2 worker processes (one thread each, on the loopback interface),
runs a tiny task grid there, once through a Client handed over and once through the
scheduler's address in ``YTLSTM_SCHEDULER`` (the path ``ytlstm run --scheduler`` takes), and
compares every number with 2 local worker processes, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_models import CONFIG, growth_windows
from ytlstm.training import Task, run_tasks

distributed = pytest.importorskip("dask.distributed")
pytestmark = pytest.mark.slow


def _same(a, b) -> None:
    assert [r.label for r in a] == [r.label for r in b]
    for ra, rb in zip(a, b):
        np.testing.assert_array_equal(ra.pred, rb.pred, err_msg=ra.label)
        assert ra.val_loss == rb.val_loss and ra.loss == rb.loss, ra.label
        assert (ra.best_epoch, ra.epochs_run) == (rb.best_epoch, rb.epochs_run)
        for wa, wb in zip(ra.weights, rb.weights):
            np.testing.assert_array_equal(wa, wb)


def test_dask_cluster_equals_local_processes(monkeypatch):
    from ytlstm.executor import SCHEDULER_ENV, DaskCluster

    w = growth_windows(600, seed=3)
    idx = np.arange(len(w))
    tr, va = idx[:400], idx[400:500]
    cfg = CONFIG.replace(max_epochs=3)
    tasks = [Task(f"uni seed {s}", False, s, tr, va, units=4) for s in range(3)]
    tasks += [Task(f"multi seed {s}", True, s, tr, va, units=4, weighting="scale")
              for s in range(2)]
    local = run_tasks(tasks, w, cfg, n_jobs=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            lines = []
            on_dask = run_tasks(tasks, w, cfg, executor=DaskCluster(client=client),
                                progress=lines.append)
            assert "Dask cluster" in lines[-1] and "network-epochs/s" in lines[-1]
        _same(on_dask, local)
        monkeypatch.setenv(SCHEDULER_ENV, cluster.scheduler_address)
        _same(run_tasks(tasks, w, cfg), local)

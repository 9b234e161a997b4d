"""Where training jobs run: one interface, local worker processes or a Dask cluster.

An executor runs ``fn(item, windows, config)`` for every item and yields ``(index, result)``
as items finish. The windows and the configuration are sent to each worker once.

- :class:`InProcess`: in this process, one item after another (``n_jobs=1``);
- :class:`LocalProcesses`: ``n_jobs`` spawned worker processes on this machine, each with
  single-threaded TensorFlow (the default, one per core);
- :class:`DaskCluster`: the workers of an existing Dask distributed cluster
  (``dask.distributed.Client(address)``), chosen by ``ytlstm run --scheduler ADDRESS`` or the
  ``YTLSTM_SCHEDULER`` environment variable. Start its workers with ``--nthreads 1`` (one
  network job per process; TensorFlow is set to one thread there too).

Results do not depend on the executor: each job is deterministic on its own.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterator

#: Environment variable: address of a Dask scheduler (e.g. ``tcp://scheduler-host:8786``).
SCHEDULER_ENV = "YTLSTM_SCHEDULER"


#: Environment variable: number of training processes (default: the number of cores).
JOBS_ENV = "YTLSTM_JOBS"
#: What a worker process holds for the jobs it runs: the windows and the configuration.
WORKER_DATA: dict = {}


def _configure_tf(threads: int) -> None:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"      # deterministic float sums
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # TensorFlow already ran in this process (in-process run): keep its thread pools


def _init_worker(windows: Windows, config: StudyConfig, threads: int) -> None:
    _configure_tf(threads)
    WORKER_DATA["windows"] = windows
    WORKER_DATA["config"] = config


def default_jobs() -> int:
    env = os.environ.get(JOBS_ENV)
    return max(1, int(env)) if env else max(1, os.cpu_count() or 1)



class Executor:
    """Runs ``fn(item, windows, config)`` for many items; see the module docstring."""

    workers: int = 1

    def map(self, fn: Callable, items: list, windows: Any, config: Any
            ) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class InProcess(Executor):
    """In this process, in order (TensorFlow keeps this process's thread pools)."""

    def map(self, fn, items, windows, config):

        _init_worker(windows, config, threads=os.cpu_count() or 1)
        for i, item in enumerate(items):
            yield i, fn(item, windows, config)

    def describe(self) -> str:
        return "1 process"


_POOLS: dict[int, ProcessPoolExecutor] = {}
_LOADED: dict = {"token": None}


def _start_worker() -> None:

    _configure_tf(threads=1)


def _call_in_worker(fn: Callable, item: Any, token: str, path: str) -> Any:
    """Run one item in a pool worker; (re)load the windows and config when they changed."""
    if _LOADED["token"] != token:
        import pickle


        with open(path, "rb") as f:
            windows, config = pickle.load(f)
        _init_worker(windows, config, threads=1)
        _LOADED["token"] = token
    return fn(item)


class LocalProcesses(Executor):
    """``n_jobs`` spawned worker processes, each with single-threaded TensorFlow.

    The pool is kept for the next call in this process (starting a worker and importing
    TensorFlow takes seconds); the windows and configuration go to the workers through a
    temporary file, read once per worker and call.
    """

    def __init__(self, n_jobs: int) -> None:
        self.workers = max(1, int(n_jobs))

    def _pool(self) -> ProcessPoolExecutor:
        pool = _POOLS.get(self.workers)
        if pool is None:
            pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                       initializer=_start_worker)
            _POOLS[self.workers] = pool
        return pool

    def map(self, fn, items, windows, config):
        import pickle
        import tempfile
        import uuid

        token = uuid.uuid4().hex
        with tempfile.TemporaryDirectory(prefix="ytlstm-jobs-") as tmp:
            path = os.path.join(tmp, "data.pkl")
            with open(path, "wb") as f:
                pickle.dump((windows, config), f, protocol=pickle.HIGHEST_PROTOCOL)
            pool = self._pool()
            futures = {pool.submit(_call_in_worker, fn, item, token, path): i
                       for i, item in enumerate(items)}
            try:
                for fut in as_completed(futures):
                    yield futures[fut], fut.result()
            except BaseException:
                for fut in futures:
                    fut.cancel()
                _POOLS.pop(self.workers, None)
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    def describe(self) -> str:
        return f"{self.workers} local process(es)"


def _dask_call(fn: Callable, item: Any, windows: Any, config: Any) -> Any:

    _configure_tf(threads=1)
    return fn(item, windows, config)


class DaskCluster(Executor):
    """The workers of an existing Dask distributed cluster (``Client(address)``)."""

    def __init__(self, address: str | None = None, client=None) -> None:
        try:
            from dask.distributed import Client
        except ImportError as e:  # pragma: no cover - dask is a dependency
            raise RuntimeError("the Dask executor needs dask[distributed] "
                               "(pip install 'dask[distributed]')") from e
        self.address = address
        self._own = client is None
        self.client = client if client is not None else Client(address)
        if self.address is None:
            self.address = str(self.client.scheduler_info().get("address", "?"))
        threads = self.client.nthreads()
        self.workers = max(1, sum(threads.values()))

    def map(self, fn, items, windows, config):
        from dask.distributed import as_completed as dask_completed

        w, c = self.client.scatter([windows, config], broadcast=True)
        futures = [self.client.submit(_dask_call, fn, item, w, c, pure=False)
                   for item in items]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in dask_completed(futures):
                yield index[fut.key], fut.result()
        finally:
            self.client.cancel(futures)

    def describe(self) -> str:
        return f"Dask cluster {self.address} ({self.workers} worker thread(s))"

    def close(self) -> None:
        if self._own:
            self.client.close()


def get_executor(n_jobs: int | None = None, scheduler: str | None = None,
                 n_items: int | None = None) -> Executor:
    """A Dask executor when ``scheduler`` (or ``$YTLSTM_SCHEDULER``) is set, else local.

    Local: ``n_jobs`` processes (default ``$YTLSTM_JOBS`` or the number of cores), in this
    process when that is 1.
    """

    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if scheduler:
        return DaskCluster(scheduler)
    n = n_jobs or default_jobs()
    return InProcess() if n <= 1 else LocalProcesses(n)

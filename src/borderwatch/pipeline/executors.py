"""Where per-tile work runs: in this process, on a local dask cluster, or on a remote scheduler.

Every executor has the same shape: ``map_unordered(fn, items)`` yields results as
they finish, so the caller can store them in batches and a crash loses at most
the batch in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    name: str

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


class InProcessExecutor:
    """Runs tasks one after another here: the simplest and the easiest to debug."""

    name = "in-process"

    def map_unordered(self, fn, items):
        for item in items:
            yield fn(item)

    def close(self) -> None:
        pass


class DaskExecutor:
    """Runs tasks on dask.distributed: a LocalCluster of N worker processes, or a scheduler by address.

    Tasks are submitted in a bounded window so memory does not grow with the
    number of tiles, and results come back as they complete.
    """

    def __init__(self, workers: int | None = None, scheduler: str | None = None, window: int | None = None):
        from distributed import Client, LocalCluster

        # dask logs every worker start at INFO; keep the user's terminal for our progress bar
        logging.getLogger("distributed").setLevel(logging.WARNING)
        self._cluster = None
        if scheduler:
            self.client = Client(scheduler, timeout="20s")
            self.name = f"dask scheduler {scheduler}"
        else:
            n = max(1, workers or 2)
            self._cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.WARNING,
            )
            self.client = Client(self._cluster)
            self.name = f"dask LocalCluster ({n} workers)"
        nworkers = max(1, len(self.client.scheduler_info().get("workers", {})) or (workers or 2))
        self.window = window or 4 * nworkers

    def map_unordered(self, fn, items):
        from distributed import as_completed

        it = iter(items)
        pending = as_completed()
        for item in _take(it, self.window):
            pending.add(self.client.submit(fn, item, pure=False))
        for fut in pending:
            result = fut.result()
            fut.release()
            for item in _take(it, 1):
                pending.add(self.client.submit(fn, item, pure=False))
            yield result

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def _take(it, n):
    for _ in range(n):
        try:
            yield next(it)
        except StopIteration:
            return


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """In-process unless ``workers`` > 1 (LocalCluster) or a ``scheduler`` address is given."""
    if scheduler:
        return DaskExecutor(scheduler=scheduler)
    if workers and workers > 1:
        return DaskExecutor(workers=workers)
    return InProcessExecutor()

"""Overlap reading, grouping and writing: Arrow's readers, compute and writers release the GIL, so a batch
can be read and the previous one written while the current one is grouped.

The writer is the pipeline's slowest stage (Parquet encoding and compression run on one thread), so the
threads that feed it run at a lower scheduling priority: when the cores are contended, the writer gets its
core and the readers and groupers use what is left (bounded queues keep them from running ahead).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()
#: how much nicer than the process the feeding threads run (relative, so a run started with ``nice`` keeps its
#: standing against other processes, and its writer still comes first within it)
FEEDER_NICENESS = 10


def lower_thread_priority() -> None:
    """Make the calling thread yield to the writer under contention (Linux/Unix; a no-op elsewhere)."""
    if hasattr(os, "setpriority"):
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + FEEDER_NICENESS))
        except OSError:  # not permitted or not supported: run at normal priority
            pass


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``items`` in a background thread, keeping up to ``depth`` items ready; errors re-raise here."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        lower_thread_priority()
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((True, _DONE))
        except BaseException as exc:  # handed to the consumer
            q.put((False, exc))

    thread = threading.Thread(target=produce, name="drgkit-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()


class BackgroundWriter:
    """Run ``write(item)`` calls in one background thread, in order; ``close()`` waits and re-raises errors."""

    def __init__(self, write: Callable[[T], None], depth: int = 1) -> None:
        self._write = write
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="drgkit-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _DONE:
                return
            if self._error is None:
                try:
                    self._write(item)
                except BaseException as exc:  # reported by submit/close
                    self._error = exc

    def submit(self, item: T) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(item)

    def close(self) -> None:
        self._q.put(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error


def ordered_map(fn: Callable[[T], object], items: Iterable[T], workers: int = 2) -> Iterator[object]:
    """``map(fn, items)`` on ``workers`` threads, results in input order, at most ``workers`` items in flight.

    Arrow compute and the numba kernel release the GIL, so two batches can be processed on two cores.
    """
    from concurrent.futures import ThreadPoolExecutor

    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix="drgkit-batch", initializer=lower_thread_priority
    ) as pool:
        pending = []
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()

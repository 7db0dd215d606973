"""Upload jobs off the event loop: a few worker processes, a bounded queue and a time limit.

A funding upload is parsed, located and audited in a separate process (spawned, each with its
own read-only warehouse connection), so the server keeps answering while files are processed
and a hostile file costs the worker, not the server, its memory and time:

* at most ``workers`` jobs run at once and at most ``queue`` more wait; a further upload is
  refused at once with :class:`PoolBusyError` (HTTP 503 with ``Retry-After``);
* a job that runs longer than ``timeout`` seconds has its worker killed (and replaced on the
  next job) and ends with :class:`JobTimeoutError`;
* a worker that dies (out of memory, crash) is replaced; the job gets a clear error.

The event loop only awaits a thread that waits on the worker's pipe, so it never blocks.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import DataError

__all__ = ["UploadPool", "PoolBusyError", "JobTimeoutError"]

log = logging.getLogger(__name__)


class PoolBusyError(DataError):
    """Every worker is busy and the queue is full (HTTP 503, retry later)."""

    retry_after = 10


class JobTimeoutError(DataError):
    """A job ran past its time limit; its worker was stopped."""


def _worker_main(conn: Any, db_path: str) -> None:
    """A worker process: open the warehouse read-only, then run jobs until told to stop."""
    from ..errors import NeighbourhoodLensError
    from ..warehouse import connect
    from ._funding import FundingResult, handle_upload

    try:
        con = connect(db_path, read_only=True)
    except Exception as exc:  # reported on every job instead of a silent death
        con, failure = None, f"the upload worker could not open the warehouse: {str(exc)[:200]}"
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        upload, index = message
        try:
            if con is None:
                raise DataError(failure)
            conn.send(("ok", handle_upload(con, upload, index=index)))
        except NeighbourhoodLensError as exc:
            conn.send(("ok", FundingResult(ok=False, errors=[str(exc)])))
        except MemoryError:
            conn.send(("error", f"file {upload.name!r} needs more memory than the server allows"))
        except Exception:  # the server log has the details; the client a one-line message
            log.exception("upload job failed")
            conn.send(("crash", "internal error while analysing the file; the server log has the details"))


class _Worker:
    def __init__(self, ctx: Any, db_path: str) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, db_path), daemon=True,
                                   name="nlens-upload-worker")
        self.process.start()
        child.close()

    def stop(self, *, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                self.process.kill()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()


class UploadPool:
    """``workers`` upload processes with room for ``queue`` waiting jobs and a per-job ``timeout`` (s)."""

    def __init__(self, db_path: str | os.PathLike[str], *, workers: int = 2, queue: int = 4,
                 timeout: float = 120.0) -> None:
        self.db_path, self.workers, self.queue, self.timeout = str(db_path), workers, queue, timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(workers)
        self._pending = 0
        self._threads: ThreadPoolExecutor | None = None

    @property
    def pending(self) -> int:
        """Jobs running or waiting."""
        return self._pending

    def warm(self) -> None:
        """Start every worker now (else they start with the first uploads)."""
        with self._lock:
            while len(self._all) < self.workers:
                worker = _Worker(self._ctx, self.db_path)
                self._all.append(worker)
                self._idle.append(worker)

    async def run(self, upload: Any, index: str) -> Any:
        """Run one upload job in a worker; refuse at once if the pool and its queue are full."""
        with self._lock:
            if self._pending >= self.workers + self.queue:
                raise PoolBusyError(f"the server is analysing {self._pending} uploads already; "
                                    f"retry in {PoolBusyError.retry_after} seconds")
            self._pending += 1
        try:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(max_workers=self.workers + self.queue,
                                                   thread_name_prefix="nlens-upload-wait")
            return await asyncio.get_running_loop().run_in_executor(self._threads, self._run, upload, index)
        finally:
            with self._lock:
                self._pending -= 1

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
                self._all.remove(worker)
            worker = _Worker(self._ctx, self.db_path)
            self._all.append(worker)
            return worker

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        worker.stop(kill=True)

    def _run(self, upload: Any, index: str) -> Any:
        with self._slots:
            worker = self._take()
            try:
                worker.conn.send((upload, index))
                ready = worker.conn.poll(self.timeout)
                status, value = worker.conn.recv() if ready else ("timeout", None)
            except (EOFError, OSError):
                self._discard(worker)
                raise DataError(f"file {upload.name!r} stopped the upload worker (out of memory?); "
                                "try a smaller file") from None
            if status == "timeout":
                self._discard(worker)
                raise JobTimeoutError(f"file {upload.name!r} took longer than {self.timeout:.0f} s to analyse "
                                      "and was stopped; split it into smaller files")
            with self._lock:
                self._idle.append(worker)
            if status == "crash":
                raise RuntimeError(value)  # HTTP 500 with a one-line message
            if status != "ok":
                raise DataError(value)
            return value

    def close(self) -> None:
        """Stop the workers (pending jobs end with an error); a later job starts new ones."""
        with self._lock:
            workers, self._all, self._idle = self._all, [], []
            threads, self._threads = self._threads, None
        for worker in workers:
            worker.stop()
        if threads is not None:
            threads.shutdown(wait=False, cancel_futures=True)

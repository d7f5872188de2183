"""A thread of its own for the dashboard's hottest reads (issue page, class table, summary, audit read).

Each of those requests does about a millisecond of work in a thread, nearly all of it
Python holding the GIL. Sent to the default pool (anyio's 40 threads), 20 concurrent
requests make up to 20 runnable threads that take turns at the GIL with the event
loop: the hand-offs doubled to quadrupled the server's CPU per request and its tail
latency. Measured with 20 concurrent clients on 2 cores (``bench/queries.py``, an issue
page, wrk as the client): 1 thread 0.99 ms of server CPU per request and p95 25 ms
(SQLite), 2 threads 1.70 ms and 37 ms, 4 threads 2.1 ms and 43 ms, 40 threads (the
default pool) 2.8-4.2 ms and 100-135 ms; PostgreSQL alike (1.07 ms / 30 ms with one
thread). So these reads run one at a time per server process and the other requests
wait in the event loop, where waiting costs nothing; a host with more cores runs more
server processes (``labelaudit serve --processes N``), not more threads. The rest of
the API keeps the default pool: its requests are rarer, and some are long.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import anyio
from anyio.lowlevel import RunVar

T = TypeVar("T")

#: Threads the hot reads run on at most, per server process.
HOT_READ_THREADS = 1

_limiter: RunVar[anyio.CapacityLimiter] = RunVar("labelaudit_hot_reads")


async def run_hot_read(fn: Callable[..., T], *args) -> T:
    """``fn(*args)`` in one of the hot reads' threads (a limiter per event loop, as anyio's own pool)."""
    try:
        limiter = _limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(HOT_READ_THREADS)
        _limiter.set(limiter)
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)

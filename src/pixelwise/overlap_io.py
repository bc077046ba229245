"""Overlap a folder's photo I/O with the model: the next input is decoded and the last output encoded in one
worker thread while the model runs on the current photo (Pillow's decoders and zlib release the GIL).

At most one read and one write are in flight, so the extra memory is one decoded input and one finished output.
Errors keep their order and are never lost: a failed read is raised where that photo's turn comes, a failed write
before the next write starts (and at the end), and leaving early still waits for the write in flight, so every
output the caller was told about is on disk. ``enabled=False`` runs everything in the caller's thread (the old
sequential loop: same results, same order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

Item = TypeVar("Item")
Loaded = TypeVar("Loaded")


def read_ahead(items: Iterable[Item], load: Callable[[Item], Loaded], *, enabled: bool = True
               ) -> Iterator[tuple[Item, Loaded]]:
    """Yield ``(item, load(item))`` in order, loading the next item in a worker thread while the caller works on
    the current one."""
    items = list(items)
    if not enabled or len(items) < 2:
        for item in items:
            yield item, load(item)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="pixelwise-read") as pool:
        pending: Future[Loaded] = pool.submit(load, items[0])
        for index, item in enumerate(items):
            loaded = pending.result()
            if index + 1 < len(items):
                pending = pool.submit(load, items[index + 1])
            yield item, loaded


class WriteBehind:
    """Run writes one at a time in a worker thread, the caller going on meanwhile; ``submit`` first waits for the
    previous write (raising its error), the context's exit waits for the last one. ``results`` holds each write's
    return value, in order, once it is done."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.results: list[Any] = []
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="pixelwise-write") if enabled else None
        self._pending: Future[Any] | None = None

    def submit(self, write: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.wait()
        if self._pool is None:
            self.results.append(write(*args, **kwargs))
        else:
            self._pending = self._pool.submit(write, *args, **kwargs)

    def wait(self) -> None:
        """Wait for the write in flight; its error, if any, is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self.results.append(pending.result())

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            if error is None:
                self.wait()
            elif self._pending is not None:  # finish the write in flight; the caller's error is the one raised
                self._pending.exception()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)


__all__ = ["WriteBehind", "read_ahead"]

"""How many bytes of request bodies a worker process reads and decodes at once.

Decoding is where a request's memory goes: JSON's Python objects take about five times the
body (a 3.2 MB body of 500 images as floats: 13 MB once parsed), and a thread holds them
until its images are an array. Requests above the budget wait for it, so a worker never holds
more than one largest body's worth however many of its threads are busy: its memory no longer
grows with the concurrency. Inference, response and logging happen outside the budget.
Waiting costs no throughput: a worker runs on one vCPU, so its threads take turns anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class BodyBudget:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._free = capacity
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, size: int | None) -> Iterator[None]:
        """Wait until `size` bytes are free (the whole budget when the size is unknown), keep them inside."""
        need = self.capacity if size is None else min(size, self.capacity)
        with self._changed:
            self._changed.wait_for(lambda: self._free >= need)
            self._free -= need
        try:
            yield
        finally:
            with self._changed:
                self._free += need
                self._changed.notify_all()

"""Values kept for a while after they were made: an opened provider credential (sender-sms, sender-telegram), an
agency's look (the renderer). A campaign then costs one fetch, not one per message, and a change made elsewhere
(a credential removed, an agency's logo changed) shows once the value has expired.

Thread-safe. A value is made outside the lock (making one is a gRPC call), so two threads missing the same key at
once may both make it; the later one is kept. A value that fails to be made is not kept: the next ask tries again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """``cache.get_or_make(key, make)``: the value kept for ``key`` if it was made less than ``seconds`` ago, else
    ``make()``'s, kept. At most ``max_entries`` are kept: when full, everything is forgotten at once (the keys are
    users or credentials, of which a process sees few; this only bounds a process that sees very many)."""

    def __init__(self, seconds: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._max_entries = max_entries
        self._clock = clock
        self._kept: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        now = self._clock()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        value = make()
        with self._lock:
            if len(self._kept) >= self._max_entries and key not in self._kept:
                self._kept.clear()
            self._kept[key] = (now + self._seconds, value)
        return value

    def forget(self, key: K) -> None:
        """The next ask for ``key`` makes its value again."""
        with self._lock:
            self._kept.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)

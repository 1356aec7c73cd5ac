"""How many exports may stream at once: ``EXPORTS_PER_USER`` per user, and half of the request threads in all.

An export holds a request thread for as long as its rows stream (and, with a slow reader, up to
``GATEWAY_SEND_TIMEOUT`` more per stall), so without a cap a few exports started together would hold every thread
and nobody else would be answered. The count is per gateway process, because the threads are: what the cap protects
is this process's ability to answer. A slot is taken before the export starts and given back when its last row is
sent or its response is closed (waitress closes it at the end, on a disconnect and on an error alike).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, Response, current_app

from postman_gateway.core.errors import ErrorCode
from postman_shared.grpc.errors import ServiceError
from postman_shared.settings import Settings

EXTENSION = "postman_gateway.core.export_slots"
RETRY_AFTER_SECONDS = 30


class ExportSlots:
    def __init__(self, per_user: int, in_all: int) -> None:
        self.per_user = per_user
        self.in_all = in_all
        self._lock = threading.Lock()
        self._by_user: Counter[int] = Counter()

    @classmethod
    def from_settings(cls, settings: Settings) -> "ExportSlots":
        return cls(per_user=settings.exports_per_user, in_all=max(1, settings.gateway_threads // 2))

    def take(self, user_id: int) -> None:
        """Takes a slot for ``user_id``, or raises the 429 that says why there is none."""
        with self._lock:
            if self._by_user[user_id] >= self.per_user:
                raise ServiceError(ErrorCode.RATE_LIMIT,
                                   f"You already have {self.per_user} export(s) downloading; wait for "
                                   "one to finish, then try again", retry_after=RETRY_AFTER_SECONDS)
            if sum(self._by_user.values()) >= self.in_all:
                raise ServiceError(ErrorCode.RATE_LIMIT, "Too many exports are downloading right now; try again in a "
                                                         "minute", retry_after=RETRY_AFTER_SECONDS)
            self._by_user[user_id] += 1

    def give_back(self, user_id: int) -> None:
        with self._lock:
            self._by_user[user_id] -= 1
            if self._by_user[user_id] <= 0:
                del self._by_user[user_id]

    def in_use(self, user_id: int) -> int:
        with self._lock:
            return self._by_user[user_id]


def export_slots() -> ExportSlots:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def install(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION] = ExportSlots.from_settings(settings)


def streamed(user_id: int, respond: Callable[[], Response]) -> Response:
    """``respond()``'s response, made and streamed while holding one of ``user_id``'s export slots."""
    slots = export_slots()
    slots.take(user_id)
    try:
        response = respond()
    except BaseException:
        slots.give_back(user_id)
        raise
    given_back = threading.Event()

    def give_back_once() -> None:
        if not given_back.is_set():
            given_back.set()
            slots.give_back(user_id)

    rows = response.response

    def streaming() -> Iterator[Any]:
        try:
            yield from rows
        finally:  # read to its end, or closed part way
            give_back_once()

    response.response = streaming()
    response.call_on_close(give_back_once)  # closed before a row was read (a generator not started has no finally)
    return response

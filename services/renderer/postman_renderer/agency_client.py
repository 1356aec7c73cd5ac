"""The auth service as the renderer sees it: the agency whose look a user's emails carry (``GetAgency``).

Asked once per send job and for each preview; an answer is kept for a few seconds, so the template editor's preview
(asked at every pause in typing) does not ask auth each time. A change made with ``postmanctl agency`` shows within
that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from postman.v1 import auth_pb2, auth_pb2_grpc
from postman_renderer.theme import EmailLook
from postman_shared.expiring_cache import ExpiringCache
from postman_shared.grpc import client

KEEP_SECONDS = 30.0
MAX_KEPT = 1000


class AgencyClient:
    """Calls AuthService.GetAgency; the channel is opened on first use, not when the client is built."""

    def __init__(self, address: str, default_name: str, keep_seconds: float = KEEP_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._address = address
        self._default_name = default_name
        self._kept: ExpiringCache[int, auth_pb2.Agency] = ExpiringCache(keep_seconds, MAX_KEPT, clock)

    def agency(self, user_id: int) -> auth_pb2.Agency:
        """The user's agency; user 0 (no user: a preview asked without one) has the default agency, no masthead."""
        if user_id <= 0:
            return auth_pb2.Agency(name=self._default_name)

        def ask_auth() -> auth_pb2.Agency:
            stub = client.stub(self._address, auth_pb2_grpc.AuthServiceStub)
            agency: auth_pb2.Agency = client.call(stub.GetAgency, auth_pb2.GetAgencyRequest(user_id=user_id),
                                                  timeout=10.0)
            return agency

        return self._kept.get_or_make(user_id, ask_auth)

    def look(self, user_id: int, show_logo: bool) -> EmailLook:
        """What the theme shows for the user's emails with a template's ``show_logo``."""
        agency = self.agency(user_id)
        return EmailLook.of(agency.name, agency.logo_uri, agency.masthead, show_logo)

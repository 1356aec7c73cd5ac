"""The stats service as the renderer sees it for a retry job: start the retry, and the recipients already done."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import grpc

from postman.v1 import stats_pb2, stats_pb2_grpc
from postman_shared.grpc import client
from postman_shared.grpc.errors import from_rpc_error


class StatsClient:
    """Calls StatsService over gRPC; the channel is opened on first use, not when the client is built."""

    def __init__(self, address: str) -> None:
        self._address = address

    def _stub(self) -> stats_pb2_grpc.StatsServiceStub:
        return client.stub(self._address, stats_pb2_grpc.StatsServiceStub)

    def start_retry(self, campaign_id: int, job_id: int) -> int:
        """Moves the campaign's ERROR outcomes back to unsent for this retry job (idempotent); returns how many."""
        reply = client.call(self._stub().StartRetry, stats_pb2.StartRetryRequest(campaign_id=campaign_id,
                                                                                  job_id=job_id))
        return int(reply.reset)

    def recorded_recipients(self, campaign_id: int, after_id: int) -> Iterator[Sequence[int]]:
        """Ascending batches of the campaign's recipient ids that have an outcome, after ``after_id``. One stream
        without a deadline, read alongside the recipients stream (ServiceError on failure)."""
        request = stats_pb2.RecordedRecipientsRequest(campaign_id=campaign_id, after_id=after_id)
        responses = client.track(self._stub().StreamRecordedRecipients(request, wait_for_ready=True))
        try:
            for batch in responses:
                yield batch.ids
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        finally:  # closed early (a slice of the job is done): the server stops streaming
            responses.cancel()


class SortedIds:
    """Membership of ids in an ascending stream of batches, asked about in ascending order: a merge with the
    recipients stream, so memory stays at one batch whatever the campaign's size."""

    def __init__(self, batches: Iterable[Sequence[int]]) -> None:
        self._batches = iter(batches)
        self._current: Sequence[int] = ()
        self._index = 0
        self._exhausted = False

    def __contains__(self, value: object) -> bool:
        assert isinstance(value, int)
        while True:
            current, index = self._current, self._index
            while index < len(current) and current[index] < value:
                index += 1
            self._index = index
            if index < len(current):
                return current[index] == value
            if self._exhausted:
                return False
            following = next(self._batches, None)
            if following is None:
                self._exhausted = True
                return False
            self._current, self._index = following, 0

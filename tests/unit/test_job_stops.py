"""JobStops: a stop reaches every replica within about a second, while a busy sender asks campaign at most once per
half second, and an unreachable campaign neither stops sending nor costs a wait per message."""

from __future__ import annotations

from postman_shared.grpc.errors import ServiceError
from postman_shared.job_stops import JobStops


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Campaign:
    def __init__(self) -> None:
        self.stopped: set[int] = set()
        self.calls: list[list[int]] = []
        self.down = False

    def __call__(self, job_ids: list[int]) -> list[int]:
        self.calls.append(job_ids)
        if self.down:
            raise ServiceError("service_unavailable", "campaign is down")
        return [job for job in job_ids if job in self.stopped]


def test_campaign_is_asked_once_per_half_second_however_many_messages_ask():
    clock, campaign = Clock(), Campaign()
    stops = JobStops(campaign, clock=clock)

    answers = [stops.is_stopped(7) for _ in range(1000)]
    clock.now += 0.4
    answers.append(stops.is_stopped(7))

    assert not any(answers) and campaign.calls == [[7]]


def test_a_stop_is_seen_at_the_next_check_and_every_job_seen_lately_is_asked_in_one_call():
    clock, campaign = Clock(), Campaign()
    stops = JobStops(campaign, clock=clock)
    assert stops.stopped([7, 8]) == set()

    campaign.stopped.add(8)
    clock.now += 0.5
    assert stops.is_stopped(7) is False  # 8 was asked about with it
    assert stops.is_stopped(8) is True
    assert campaign.calls == [[7, 8], [7, 8]]

    campaign.stopped.clear()  # a job never moves back from STOPPED: no need to ask again
    clock.now += 5
    assert stops.is_stopped(8) is True


def test_when_campaign_cannot_be_reached_the_last_answer_holds_and_it_is_asked_again_later():
    clock, campaign = Clock(), Campaign()
    stops = JobStops(campaign, clock=clock)
    campaign.stopped.add(9)
    assert stops.is_stopped(9)

    campaign.down = True
    clock.now += 1
    assert [stops.is_stopped(10) for _ in range(100)] == [False] * 100
    assert stops.is_stopped(9)
    assert len(campaign.calls) == 2  # one failed call for the hundred checks

    campaign.down = False
    campaign.stopped.add(10)
    clock.now += 1
    assert stops.is_stopped(10)

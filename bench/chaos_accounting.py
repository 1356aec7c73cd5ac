"""The pure parts of ``make chaos`` (bench/chaos.py): the seeded fault schedule, and the accounting that turns what
the fake providers received and what the stats say into lost and duplicated recipients.

Kept apart from the run itself so that they can be checked without stores or processes
(tests/unit/test_chaos_accounting.py): a chaos run is only as good as its arithmetic.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

KILL, BROKER, DATABASE = "kill", "broker", "database"
# Export statuses that say the recipient was not reached, on purpose: an outcome, not a loss.
FAILED_STATUSES = frozenset({"ERROR", "INVALID", "INVALID_RECIPIENT", "BLACKLISTED", "UNSUBSCRIBED"})
# The stats counters of the same outcomes.
FAILED_COUNTERS = ("error", "invalid", "unsubscribed")


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the campaigns were sent
    kind: str  # KILL, BROKER or DATABASE
    target: str = ""  # the service SIGKILLed (KILL only)


def fault_schedule(seed: int, seconds: float, services: Sequence[str], start: float = 5.0,
                   interval: tuple[float, float] = (4.0, 8.0),
                   weights: Mapping[str, float] | None = None) -> list[Fault]:
    """Faults from ``start`` until ``seconds`` after the send, one every ``interval`` seconds (drawn uniformly),
    each a SIGKILL of one of ``services`` or a broker or database fault. The same seed gives the same schedule, so
    a run that finds a loss can be made again."""
    weights = dict(weights or {KILL: 0.6, BROKER: 0.2, DATABASE: 0.2})
    kinds = sorted(weights)
    chooser = random.Random(seed)
    faults: list[Fault] = []
    at = start
    while at <= seconds:
        kind = chooser.choices(kinds, [weights[k] for k in kinds])[0]
        target = chooser.choice(list(services)) if kind == KILL else ""
        faults.append(Fault(round(at, 2), kind, target))
        at += chooser.uniform(*interval)
    return faults


@dataclass(frozen=True)
class Accounting:
    """One campaign, after the run: what the provider received against what was to be sent."""

    recipients: int
    messages: int  # messages of the campaign the provider accepted (to its recipients)
    reached: int  # distinct recipients with at least one message
    failed: int  # not reached, and recorded as an error, invalid, blacklisted or unsubscribed
    lost: int  # not reached, and not recorded as failed: recorded as sent, or with no outcome at all
    lost_recorded_sent: int  # of the lost, those the stats say were sent (known only from the export)
    strangers: int  # messages to anyone not on the list (a test message, an owner's notice)
    examples: tuple[str, ...] = ()  # a few lost recipients, to look for in the logs

    @property
    def duplicates(self) -> int:
        """Messages beyond the first per recipient."""
        return self.messages - self.reached

    @property
    def duplicate_share(self) -> float:
        return self.duplicates / self.reached if self.reached else 0.0


def account(recipients: Iterable[str], received: Iterable[str], stats: Mapping[str, int] | None = None,
            statuses: Mapping[str, str] | None = None, examples: int = 5) -> Accounting:
    """``received`` holds one entry per message the provider accepted, naming its recipient.

    With ``statuses`` (the export: recipient -> status), each unreached recipient is judged by its own status;
    without, by the stats' counters: unreached beyond ``error + invalid + unsubscribed`` are lost (an upper bound
    of what the stats can hide, since a failed recipient may also have been reached)."""
    expected = list(dict.fromkeys(recipients))
    wanted = set(expected)
    counts = Counter(received)
    messages = sum(n for r, n in counts.items() if r in wanted)
    strangers = sum(n for r, n in counts.items() if r not in wanted)
    unreached = [r for r in expected if counts[r] == 0]
    reached = len(expected) - len(unreached)
    if statuses is not None:
        failed = [r for r in unreached if statuses.get(r) in FAILED_STATUSES]
        lost = [r for r in unreached if statuses.get(r) not in FAILED_STATUSES]
        claimed = sum(1 for r in lost if statuses.get(r) in ("SENT", "DELIVERED", "READ"))
        return Accounting(len(expected), messages, reached, len(failed), len(lost), claimed, strangers,
                          tuple(lost[:examples]))
    recorded_failed = sum(int((stats or {}).get(name, 0)) for name in FAILED_COUNTERS)
    failed_count = min(len(unreached), recorded_failed)
    lost_count = len(unreached) - failed_count
    return Accounting(len(expected), messages, reached, failed_count, lost_count, 0, strangers,
                      tuple(unreached[:examples]) if lost_count else ())


def recovery_seconds(faults: Iterable[float], finished_at: float | None) -> float | None:
    """Seconds from the last fault before the campaign finished to its finish; None if it did not finish or no
    fault came before it finished."""
    if finished_at is None:
        return None
    before = [at for at in faults if at <= finished_at]
    return finished_at - max(before) if before else None

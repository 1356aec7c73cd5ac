"""One shape for every service (docs/architecture.md, "The shape of a service"): a use case is a module-level
function taking the ``Database`` that opens its own unit of work; an adapter (a gRPC servicer, a queue consumer)
translates the wire to plain data and back and calls use cases. So an adapter never opens a transaction itself:
where a transaction starts and ends is decided in one place, the use-case module, where it can be read and tested.

The check reads the adapters' source (no import, no database): a call of ``.unit_of_work(``,
``.unit_of_work_retried(`` or ``.session(`` in any of them fails it, naming the file, line and method.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The modules that are adapters, by name, in every service's package.
ADAPTER_MODULES = ("grpc_api.py", "suppression_api.py", "webhook_api.py", "consumer.py", "transactional_api.py")
# What opens a transaction (postman_shared.db.Database): a use case's business, never an adapter's.
TRANSACTION_OPENERS = frozenset({"unit_of_work", "unit_of_work_retried", "session"})


def adapter_files() -> list[Path]:
    return sorted(path for name in ADAPTER_MODULES for path in ROOT.glob(f"services/*/postman_*/{name}"))


def transactions_opened(source: str) -> list[str]:
    """``line: .method(`` for each call that opens a transaction in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in TRANSACTION_OPENERS):
            found.append(f"{node.lineno}: .{node.func.attr}(")
    return sorted(found, key=lambda where: int(where.split(":")[0]))


def test_every_kind_of_adapter_is_found() -> None:
    """The glob must find the adapters, or the check below would pass by checking nothing."""
    names = {path.name for path in adapter_files()}
    assert names == set(ADAPTER_MODULES), f"no adapter module named {sorted(set(ADAPTER_MODULES) - names)}"
    services = {path.parent.parent.name for path in adapter_files()}
    assert {"auth", "campaign", "stats", "renderer", "sender-email", "sender-sms", "sender-telegram"} <= services


@pytest.mark.parametrize("path", adapter_files(), ids=lambda path: str(path.relative_to(ROOT / "services")))
def test_adapter_opens_no_transaction(path: Path) -> None:
    opened = transactions_opened(path.read_text())
    assert not opened, (f"{path.relative_to(ROOT)} opens a transaction itself ({', '.join(opened)}): move that block "
                        "into a use case taking the Database (in the use-case module it belongs to) and call it")


def test_the_check_sees_each_way_of_opening_one() -> None:
    source = """
class Servicer:
    def Get(self, request, context):
        with self._database.session() as session:
            return find(session, request.id)

    def Put(self, request, context):
        with self._database.unit_of_work() as session:
            put(session, request.id)

    def handle(self, batch):
        self._database.unit_of_work_retried(lambda session: record(session, batch))

    def Fine(self, request, context):
        return use_case(self._database, request.id)
"""
    assert transactions_opened(source) == ["4: .session(", "8: .unit_of_work(", "12: .unit_of_work_retried("]


def deliveries_decoded_by_hand(source: str) -> list[int]:
    """Lines calling ``<delivery>.json()`` (a queue delivery read outside ``decode_each``)."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "json"
            and isinstance(node.func.value, ast.Name) and "deliver" in node.func.value.id]


def test_queue_messages_are_decoded_only_by_the_shared_decode_each() -> None:
    """One decoding loop (``postman_shared.broker.batches.decode_each``: malformed deliveries logged and set aside
    for the dead-letter queue, rendered batches unpacked) instead of one per consumer."""
    offenders = [f"{path.relative_to(ROOT)}:{line}" for path in sorted(ROOT.glob("services/*/postman_*/**/*.py"))
                 for line in deliveries_decoded_by_hand(path.read_text())]
    assert not offenders, f"a delivery decoded by hand (use decode_each): {offenders}"
    assert deliveries_decoded_by_hand("for delivery in batch:\n    body = delivery.json()\n") == [2]

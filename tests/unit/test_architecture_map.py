"""docs/architecture.md is the map of the system: its tables of services, queues and database tables must say what
the code says. Each test names what the document is missing and what it lists that the code does not have.

The code's side: the folders under services/; the queues ``declare_topology`` declares (topology.py: the dead-letter
queue, the work queues of ``QUEUE_CONSUMERS`` and the wait queues of ``WAIT_QUEUES``); the tables the Alembic
history creates (rendered offline, no database needed) and, for each, the service whose models' metadata
(``postman_<service>.models.Base``) defines it.
"""

from __future__ import annotations

import importlib
import io
import pkgutil
import re
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from postman_shared.broker.topology import DEAD_LETTER_QUEUE, QUEUE_CONSUMERS, WAIT_QUEUES

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"


# --- the document -----------------------------------------------------------------------------------------------------

def _section_table(heading: str) -> list[list[str]]:
    """The rows (cells, stripped) of the first Markdown table under the `## <heading>` section, header excluded."""
    lines = ARCHITECTURE.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"## {heading}")), None)
    assert start is not None, f"docs/architecture.md has no section '## {heading}'"
    rows: list[list[str]] = []
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))])
        elif rows:
            break  # the end of the first table
    assert len(rows) > 2, f"docs/architecture.md's '## {heading}' section has no table"
    return rows[2:]  # the header and the --- line


def _names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _difference(what: str, documented: set[str], actual: set[str]) -> str:
    missing, extra = sorted(actual - documented), sorted(documented - actual)
    return (f"docs/architecture.md's {what} disagrees with the code: missing {missing or 'nothing'}, "
            f"listed but not in the code {extra or 'nothing'}")


# --- the code ---------------------------------------------------------------------------------------------------------

def _service_folders() -> set[str]:
    return {folder.name for folder in (ROOT / "services").iterdir()
            if folder.is_dir() and not folder.name.startswith((".", "_"))}


def _package(service: str) -> str:
    return "postman_" + service.replace("-", "_")


@cache
def _table_owners() -> dict[str, str]:
    """Every table a service's models define, with that service. A service's tables may be declared outside
    models.py on its Base (an outbox table next to the code that writes it), so every module is imported."""
    owners: dict[str, str] = {}
    for service in sorted(_service_folders()):
        if not (ROOT / "services" / service / _package(service) / "models.py").exists():
            continue
        package = importlib.import_module(_package(service))
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if module.name.rsplit(".", 1)[-1] != "__main__":
                importlib.import_module(module.name)
        metadata: MetaData = importlib.import_module(f"{_package(service)}.models").Base.metadata
        for table in metadata.tables:
            assert table not in owners, f"table {table} is defined by both {owners[table]} and {service}"
            owners[table] = service
    return owners


@cache
def _migrated_tables() -> frozenset[str]:
    """The tables `alembic upgrade head` leaves, from the SQL it would run (offline mode: no database)."""
    output = io.StringIO()
    config = Config(str(ROOT / "alembic.ini"), output_buffer=output)
    config.attributes["database_url"] = "postgresql://offline@localhost/offline"
    command.upgrade(config, "head", sql=True)
    tables: set[str] = set()
    for statement, table in re.findall(r"^(CREATE|DROP) TABLE (\w+)", output.getvalue(), re.MULTILINE):
        (tables.add if statement == "CREATE" else tables.discard)(table)
    tables.discard("alembic_version")
    return frozenset(tables)


# --- services ---------------------------------------------------------------------------------------------------------

def test_the_services_table_lists_exactly_the_services_under_services():
    rows = _section_table("Services")
    documented = [row[0] for row in rows]
    assert len(documented) == len(set(documented)), f"a service is listed twice: {documented}"
    assert set(documented) == _service_folders(), _difference("Services table", set(documented), _service_folders())
    for row in rows:
        assert _names(row[2]) == [f"services/{row[0]}/{_package(row[0])}"], (
            f"docs/architecture.md: service {row[0]}'s package should be `services/{row[0]}/{_package(row[0])}`, "
            f"not {row[2]}")


def test_each_service_owns_in_the_services_table_the_tables_its_models_define():
    owners = _table_owners()
    for row in _section_table("Services"):
        service, owns = row[0], row[3]
        documented = {name for name in _names(owns) if name in owners}
        actual = {table for table, owner in owners.items() if owner == service}
        assert documented == actual, _difference(f"Services table's 'owns' of {service}", documented, actual)


# --- queues -----------------------------------------------------------------------------------------------------------

def test_the_queues_table_lists_exactly_the_declared_queues():
    rows = _section_table("Queues")
    documented = [_names(row[0])[0] for row in rows]
    declared = {DEAD_LETTER_QUEUE, *QUEUE_CONSUMERS, *WAIT_QUEUES}
    assert len(documented) == len(set(documented)), f"a queue is listed twice: {documented}"
    assert set(documented) == declared, _difference("Queues table", set(documented), declared)


def test_the_queues_table_names_each_work_queues_consumer_and_no_consumer_for_the_others():
    for row in _section_table("Queues"):
        queue, consumer = _names(row[0])[0], row[2]
        if queue in QUEUE_CONSUMERS:
            assert consumer.split()[0] == QUEUE_CONSUMERS[queue], (
                f"docs/architecture.md: queue {queue}'s consumer is {QUEUE_CONSUMERS[queue]} (topology.py's "
                f"QUEUE_CONSUMERS), the table says {consumer!r}")
        else:
            assert consumer.startswith("none"), (
                f"docs/architecture.md: {queue} has no consumer by design, the table says {consumer!r}")
        if queue in WAIT_QUEUES:
            assert "(wait queue)" in row[0], f"docs/architecture.md: mark {queue} '(wait queue)'"
            assert f"drains into `{WAIT_QUEUES[queue]}`" in consumer, (
                f"docs/architecture.md: {queue} drains into {WAIT_QUEUES[queue]}, the table says {consumer!r}")


# --- tables -----------------------------------------------------------------------------------------------------------

def test_the_models_define_exactly_the_tables_the_migrations_create():
    modelled, migrated = set(_table_owners()), set(_migrated_tables())
    assert modelled == migrated, (
        f"the services' models and migrations/ disagree: tables only migrated {sorted(migrated - modelled)}, "
        f"only modelled {sorted(modelled - migrated)}")


def test_the_tables_section_lists_exactly_the_migrated_tables_with_their_owners():
    owners = _table_owners()
    documented: dict[str, str] = {}
    for row in _section_table("Tables"):
        (table,) = _names(row[0]) or [row[0]]
        assert table not in documented, f"docs/architecture.md: table {table} is listed twice"
        documented[table] = row[1]
    migrated = set(_migrated_tables())
    assert set(documented) == migrated, _difference("Tables section", set(documented), migrated)
    wrong = {table: f"{owner} (docs) vs {owners.get(table)} (code)"
             for table, owner in documented.items() if owner != owners.get(table)}
    assert not wrong, f"docs/architecture.md's Tables section names the wrong owner: {wrong}"

"""Writes the Grafana dashboard deploy/grafana/postman-overview.json, and the copy under deploy/k8s/monitoring/ that
kustomize turns into the Grafana sidecar's ConfigMap.

Why generated: the dashboard repeats one pattern per channel (send rate, errors, batch time, queue depth, consumers),
every selector must carry the ``$namespace`` (or, for RabbitMQ, ``$vhost``) variable, and every queue must be the one
topology.py declares. Panels written by hand drift from all three; a table of channels does not. The copy exists
because kustomize reads no file outside its kustomization's folder. tests/unit/test_grafana_dashboard.py fails when
either file is not what this script writes (``--check`` gives the same verdict).

Run: ``.venv/bin/python tools/render_dashboard.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from postman_shared.broker import topology
from postman_shared.metrics import DEFAULT_METRICS_PORTS

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "postman-overview.json"
SIDECAR_COPY = ROOT / "deploy" / "k8s" / "monitoring" / "dashboards" / "postman-overview.json"

UID = "postman-overview"  # existing installs are updated in place by uid: never change it
SCHEMA_VERSION = 39
GRID_WIDTH = 24
PANEL_HEIGHT = 8
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
NAMESPACE = 'namespace="$namespace"'
VHOST = 'vhost="$vhost"'
RATE = "[$__rate_interval]"
LAST_HOUR = "[1h]"
SERVICES = tuple(DEFAULT_METRICS_PORTS)  # every service, named as its job, container and Deployment
# Routes (Flask rule templates, the gateway's `route` label) of the transactional API and of providers' callbacks.
TRANSACTIONAL_ROUTES = "/v1/transactional/email/send|/v1/transactional/sms/send"
CALLBACK_ROUTES = "/callbacks/.*|/telegram/webhook/.*"
SUPPRESSED_STATUSES = "BLACKLISTED|UNSUBSCRIBED|WITHHELD"


# --- PromQL ---------------------------------------------------------------------------------------------------------

def postman(metric: str, *matchers: str) -> str:
    """A selector of a metric scraped from the Postman pods or about them (kubelet, kube-state-metrics): always in
    the chosen namespace, so two installations in one Prometheus never mix."""
    return f"{metric}{{{', '.join((NAMESPACE, *matchers))}}}"


def one_of(label: str, values: Iterable[str]) -> str:
    """``label="a"`` for one value, ``label=~"a|b"`` for several."""
    chosen = tuple(values)
    return f'{label}="{chosen[0]}"' if len(chosen) == 1 else f'{label}=~"{"|".join(chosen)}"'


def rabbitmq(metric: str, queues: Iterable[str]) -> str:
    """A selector of RabbitMQ's own per-queue metrics (rabbitmq_prometheus, /metrics/detailed). RabbitMQ usually
    runs outside Postman's namespace, so these are filtered by the installation's virtual host instead."""
    return f"{metric}{{{VHOST}, {one_of('queue', queues)}}}"


def per_second(selector: str, by: str) -> str:
    return f"sum by ({by}) (rate({selector}{RATE}))"


def in_last_hour(selector: str, by: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (increase({selector}{LAST_HOUR}))"


def quantile(q: float, histogram: str, by: str, *matchers: str) -> str:
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({postman(histogram + '_bucket', *matchers)}{RATE})))"


def error_ratio(messages: str, *matchers: str) -> str:
    """Provider errors among messages sent or failed (RETRY and suppressed ones are neither)."""
    failed = postman(messages, 'status="ERROR"', *matchers)
    tried = postman(messages, 'status=~"SENT|ERROR"', *matchers)
    return f"sum(rate({failed}{RATE})) / sum(rate({tried}{RATE}))"


# --- panels ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = "__auto"


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    description: str = ""
    kind: str = "timeseries"  # or "stat": one number, for what must be zero
    width: int = 8


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


def timeseries(title: str, *queries: Query, unit: str = "short", description: str = "", width: int = 8) -> Panel:
    return Panel(title, queries, unit=unit, description=description, width=width)


def stat(title: str, query: Query, unit: str = "short", description: str = "", width: int = 8) -> Panel:
    return Panel(title, (query,), unit=unit, description=description, kind="stat", width=width)


def queue_depth(title: str, queues: Sequence[str], description: str = "") -> Panel:
    return timeseries(
        title,
        Query(f"sum by (queue) ({rabbitmq('rabbitmq_detailed_queue_messages_ready', queues)})", "{{queue}} ready"),
        Query(f"sum by (queue) ({rabbitmq('rabbitmq_detailed_queue_messages_unacked', queues)})",
              "{{queue}} unacked"),
        description=description or "Messages waiting (ready) and delivered to a consumer but not yet acknowledged "
                                   "(unacked), from RabbitMQ's Prometheus plugin.",
    )


def consumers(title: str, queues: Sequence[str]) -> Panel:
    return timeseries(
        title,
        Query(f"sum by (queue) ({rabbitmq('rabbitmq_detailed_queue_consumers', queues)})", "{{queue}}"),
        description="Consumers attached to each queue (one per consuming pod and thread). Zero with messages "
                    "waiting: PostmanQueueWithoutConsumer.",
    )


def batch_time(title: str, queues: Sequence[str]) -> Panel:
    queue = one_of("queue", queues)
    return timeseries(
        title,
        Query(quantile(0.5, "postman_queue_batch_seconds", "queue", queue), "p50 {{queue}}"),
        Query(quantile(0.95, "postman_queue_batch_seconds", "queue", queue), "p95 {{queue}}"),
        unit="s", description="Time a consumer spent on one batch, rate limits included.",
    )


def queue_outcomes(title: str, queues: Sequence[str]) -> Panel:
    return timeseries(
        title,
        Query(per_second(postman("postman_queue_messages_total", one_of("queue", queues)), "queue, outcome"),
              "{{queue}} {{outcome}}"),
        unit="ops", description="What became of each message consumed: acked, requeued (its batch failed) or "
                                "dead_lettered.",
    )


# --- channels -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Channel:
    """A campaign channel: the family counting its messages by status, the queues its sender consumes to send, the
    wait queues feeding them back, and the panels only this channel has."""

    title: str
    messages: str
    by: str
    queues: tuple[str, ...]
    wait_queues: tuple[str, ...] = ()
    extras: tuple[Panel, ...] = field(default_factory=tuple)


def suppressed_by_status(channel: str) -> Panel:
    return timeseries(
        f"{channel}: suppressed and withheld messages per second",
        Query(per_second(postman(f"postman_{channel.lower()}_messages_total",
                                 f'status=~"{SUPPRESSED_STATUSES}"'), "status"), "{{status}}"),
        unit="ops", description="Not sent: the recipient is blacklisted or unsubscribed, or the job was stopped.",
    )


EMAIL = Channel(
    title="Email",
    messages="postman_email_messages_total",
    by="transport, status",
    queues=(topology.EMAIL_SEND, topology.EMAIL_PRIORITY, topology.EMAIL_TEST),
    wait_queues=(topology.EMAIL_SEND_RETRY,),
    extras=(
        timeseries("Email: one-time passwords and campaigns' test emails by outcome",
                   Query(per_second(postman("postman_email_priority_messages_total"), "status"), "priority {{status}}"),
                   Query(per_second(postman("postman_email_test_messages_total"), "transport, status"),
                         "test email {{transport}} {{status}}"),
                   unit="ops"),
        timeseries("Email: suppressed and withheld messages per second",
                   Query(per_second(postman("postman_email_suppressed_messages_total"), "status"), "{{status}}"),
                   unit="ops", description="Not sent: the recipient is on the suppression list or unsubscribed "
                                           "(BLACKLISTED, UNSUBSCRIBED), or the job was stopped (WITHHELD)."),
    ),
)
SMS = Channel(
    title="SMS",
    messages="postman_sms_messages_total",
    by="status",
    queues=(topology.SMS_SEND,),
    extras=(
        timeseries("SMS: requests to Twilio tried again per second",
                   Query(f"sum(rate({postman('postman_sms_provider_retries_total')}{RATE}))", "retries"),
                   unit="ops", description="After a passing failure: 429, 5xx or no connection."),
        suppressed_by_status("SMS"),
    ),
)
TELEGRAM = Channel(
    title="Telegram",
    messages="postman_telegram_messages_total",
    by="status",
    queues=(topology.TELEGRAM_SEND,),
    extras=(
        timeseries("Telegram: sendMessage calls tried again per second, by reason",
                   Query(per_second(postman("postman_telegram_provider_retries_total"), "reason"), "{{reason}}"),
                   unit="ops", description="throttled: 429 (the bot's rate limit); unavailable: 5xx or no connection."),
        suppressed_by_status("Telegram"),
    ),
)
CHANNELS = (EMAIL, SMS, TELEGRAM)


def channel_row(channel: Channel) -> Row:
    name = channel.title
    return Row(name, (
        timeseries(f"{name}: sent per second by outcome",
                   Query(per_second(postman(channel.messages), channel.by), "__auto"), unit="ops",
                   description="Messages of campaigns handed to the provider (SENT), refused (ERROR), to be tried "
                               "again (RETRY) or not sent (suppressed, withheld)."),
        timeseries(f"{name}: provider error ratio", Query(error_ratio(channel.messages), "errors / (sent + errors)"),
                   unit="percentunit", description="Above 10% for 10 minutes: PostmanChannelErrorRatioHigh."),
        batch_time(f"{name}: batch time p50 and p95", channel.queues),
        queue_depth(f"{name}: queue depth", (*channel.queues, *channel.wait_queues)),
        consumers(f"{name}: consumers", channel.queues),
        queue_outcomes(f"{name}: messages consumed per second by outcome", channel.queues),
        *channel.extras,
    ))


# --- the other rows -------------------------------------------------------------------------------------------------

RECEIPT_QUEUES = (topology.EMAIL_EVENTS, topology.SMS_STATUS, topology.TELEGRAM_UPDATES)
RECEIPT_WAIT_QUEUES = (topology.EMAIL_EVENTS_RETRY, topology.SMS_STATUS_RETRY)
PIPELINE_QUEUES = (topology.CAMPAIGN_SEND, topology.DELIVERY_EVENTS, topology.OWNER_NOTICES)


def overview_row() -> Row:
    requests = "gateway_requests_total"
    server_errors = postman(requests, 'status=~"5.."')
    campaign_jobs = postman("postman_jobs", 'channel!=""')
    return Row("Overview", (
        timeseries("API requests per second by status",
                   Query(per_second(postman(requests), "status"), "{{status}}"), unit="reqps"),
        timeseries("API server errors (5xx) among requests",
                   Query(f"sum(rate({server_errors}{RATE})) / "
                         f"sum(rate({postman(requests)}{RATE}))", "5xx ratio"),
                   unit="percentunit", description="Above 5% for 5 minutes: PostmanGateway5xx."),
        timeseries("API latency p50 and p95",
                   Query(quantile(0.5, "gateway_request_seconds", "route"), "p50 {{route}}"),
                   Query(quantile(0.95, "gateway_request_seconds", "route"), "p95 {{route}}"), unit="s"),
        timeseries("Campaign sends not yet finished, by channel and status",
                   Query(f"max by (channel, status) ({campaign_jobs})",
                         "{{channel}} {{status}}"),
                   description="From the jobs table at each scrape (campaign service). READY: scheduled; ENQUEUED, "
                               "SENDING, SENT: running; STOPPED: stopped or halted, waiting for their owner. A "
                               "SENDING count that never falls back means a send is stuck: see the queue panels."),
        stat("Dead letters waiting",
             Query(f"sum({rabbitmq('rabbitmq_detailed_queue_messages', (topology.DEAD_LETTER_QUEUE,))})",
                   "dead letters"),
             description="Messages in postman.dead-letters: look at them with `postmanctl dlq` "
                         "(docs/runbooks/replay-dead-letters.md). Above zero: PostmanDeadLetters."),
        timeseries("Dead-lettered or requeued by queue (last hour)",
                   Query(in_last_hour(postman("postman_queue_messages_total", 'outcome!="acked"'), "queue, outcome"),
                         "{{queue}} {{outcome}}")),
    ))


def transactional_row() -> Row:
    routes = one_of("route", TRANSACTIONAL_ROUTES.split("|"))
    return Row("Transactional", (
        timeseries("Transactional emails per second by transport and outcome",
                   Query(per_second(postman("postman_email_transactional_messages_total"), "transport, status"),
                         "{{transport}} {{status}}"),
                   unit="ops", description="ACCEPTED by the transport, REFUSED by it, or UNAVAILABLE (try again)."),
        timeseries("Transactional SMS per second by transport and outcome",
                   Query(per_second(postman("postman_sms_transactional_messages_total"), "transport, status"),
                         "{{transport}} {{status}}"),
                   unit="ops", description="ACCEPTED by Twilio, or ERROR: Twilio refused it (the caller got a 400)."),
        timeseries("Transactional API requests per second by route and status",
                   Query(per_second(postman("gateway_requests_total", routes), "route, status"),
                         "{{route}} {{status}}"),
                   unit="reqps", description="Sent while the caller waits: a 503 on the email route is a transport "
                                             "that could not take the message."),
        timeseries("Transactional API latency p95 by route",
                   Query(quantile(0.95, "gateway_request_seconds", "route", routes), "{{route}}"), unit="s",
                   description="Sent while the caller waits: the provider's own latency is in here."),
    ))


def receipts_row() -> Row:
    return Row("Receipts", (
        timeseries("Provider reports that moved a campaign message, per second by status",
                   Query(per_second(postman("postman_stats_receipts_total"), "status"), "{{status}}"), unit="ops"),
        timeseries("SES events per second by type and outcome",
                   Query(per_second(postman("postman_email_events_total"), "event_type, outcome"),
                         "{{event_type}} {{outcome}}"), unit="ops"),
        timeseries("Twilio status callbacks per second by outcome",
                   Query(per_second(postman("postman_sms_receipts_total"), "outcome"), "{{outcome}}"), unit="ops"),
        timeseries("Telegram bot updates per second by kind",
                   Query(per_second(postman("postman_telegram_updates_total"), "kind"), "{{kind}}"), unit="ops"),
        timeseries("Bounce mailbox reports and suppression entries added (last hour)",
                   Query(in_last_hour(postman("postman_email_bounce_reports_total"), "kind, outcome"),
                         "mailbox: {{kind}} {{outcome}}"),
                   Query(in_last_hour(postman("postman_suppressions_added_total"), "channel, reason"),
                         "suppressed: {{channel}} {{reason}}")),
        timeseries("Campaigns halted and unsubscribes (last hour)",
                   Query(in_last_hour(postman("postman_campaigns_halted_total")), "campaigns halted"),
                   Query(in_last_hour(postman("postman_unsubscribes_total"), "via"), "unsubscribed via {{via}}")),
        timeseries("Callback requests per second by route and status",
                   Query(per_second(postman("gateway_requests_total", one_of("route", CALLBACK_ROUTES.split("|"))),
                                    "route, status"), "{{route}} {{status}}"),
                   unit="reqps", description="SNS, Twilio and Telegram calling the gateway; 403: a signature or "
                                             "secret that did not match."),
        queue_depth("Receipt queues: depth", (*RECEIPT_QUEUES, *RECEIPT_WAIT_QUEUES)),
        consumers("Receipt queues: consumers", RECEIPT_QUEUES),
        batch_time("Receipt queues: batch time p50 and p95", RECEIPT_QUEUES),
        queue_outcomes("Receipt queues: messages consumed per second by outcome", RECEIPT_QUEUES),
    ))


WEBHOOK_QUEUES = (topology.CLIENT_WEBHOOKS,)


def client_webhooks_row() -> Row:
    return Row("Client webhooks", (
        timeseries("Client webhook deliveries per second by kind and outcome",
                   Query(per_second(postman("postman_client_webhook_deliveries_total"), "kind, outcome"),
                         "{{kind}} {{outcome}}"), unit="ops",
                   description="delivered; failed (retried with backoff); refused (a URL to a non-public address); "
                               "expired (given up after WEBHOOK_RETRY_HOURS); deferred (4 already in flight to that "
                               "webhook); paused and no_webhook (dropped); test."),
        timeseries("Client webhooks paused (last hour)",
                   Query(in_last_hour(postman("postman_client_webhooks_paused_total"), "kind"), "{{kind}}"),
                   description="Each pause emails the webhook's owner; many at once: is egress to the internet "
                               "(port 443) blocked?"),
        queue_depth("Client webhook queues: depth", (*WEBHOOK_QUEUES, topology.CLIENT_WEBHOOKS_RETRY)),
        consumers("Client webhook queues: consumers", WEBHOOK_QUEUES),
        batch_time("Client webhook queues: batch time p50 and p95", WEBHOOK_QUEUES),
        queue_outcomes("Client webhook queues: messages consumed per second by outcome", WEBHOOK_QUEUES),
    ))


def pipeline_row() -> Row:
    return Row("Renderer, stats and owner notices", (
        timeseries("Messages consumed per second by queue (every queue)",
                   Query(per_second(postman("postman_queue_messages_total", 'outcome="acked"'), "queue"), "{{queue}}"),
                   unit="ops"),
        batch_time("Batch time p50 and p95", PIPELINE_QUEUES),
        timeseries("Published per second by routing key",
                   Query(per_second(postman("postman_published_messages_total"), "routing_key"), "{{routing_key}}"),
                   unit="ops"),
        queue_depth("Queue depth", (*PIPELINE_QUEUES, topology.CAMPAIGN_SEND_WAIT)),
        consumers("Consumers", PIPELINE_QUEUES),
        timeseries("gRPC failures per second by method and code",
                   Query(per_second(postman("postman_grpc_requests_total", 'code!="ok"'), "method, code"),
                         "{{method}} {{code}}"), unit="ops"),
        timeseries("gRPC latency p95 by method",
                   Query(quantile(0.95, "postman_grpc_request_seconds", "method"), "{{method}}"), unit="s"),
    ))


def security_row() -> Row:
    return Row("Security", (
        timeseries("Refused gRPC calls, refused API requests and unknown SMS receipts (last hour)",
                   Query(in_last_hour(postman("postman_grpc_refused_total"), "method, caller"),
                         "gRPC refused: {{caller}} → {{method}}"),
                   Query(in_last_hour(postman("gateway_requests_total", 'status=~"401|403|413|429"'), "status"),
                         "HTTP {{status}}"),
                   Query(in_last_hour(postman("postman_sms_receipts_total", 'outcome="unknown_sid"')),
                         "SMS receipts for unknown messages"),
                   width=12, description="429: rate limits; 413: bodies over their route's limit."),
        timeseries("Password-protected messages: opens by outcome and expiries (last hour)",
                   Query(in_last_hour(postman("postman_protected_message_opens_total"), "outcome"), "{{outcome}}"),
                   Query(in_last_hour(postman("postman_protected_messages_expired_total")),
                         "messages erased (expired)"), width=12),
        timeseries("Retention: personal data purged by kind, campaigns redacted (last hour)",
                   Query(in_last_hour(postman("postman_purged_rows_total"), "kind"), "{{kind}} rows deleted"),
                   Query(in_last_hour(postman("postman_campaigns_redacted_total")), "campaigns redacted"),
                   width=24, description="The campaign service's purge (docs/data-protection.md): recipients and "
                                         "outcomes of campaigns finished CAMPAIGN_RETENTION_DAYS ago, transactional "
                                         "messages, audit events. Flat for days while campaigns finish: check the "
                                         "'purge failed' log line."),
    ))


def runtime_row() -> Row:
    service = one_of("container", SERVICES)
    return Row("Runtime", (
        timeseries("Dead worker threads (queue consumers, background loops)",
                   Query(f"sum by (service, thread) (max_over_time({postman('postman_worker_threads_dead')}[5m]))",
                         "{{service}} {{thread}}"),
                   description="A pod with a dead thread reports NOT_SERVING and is restarted by its probes."),
        timeseries("Scraped pods up, by service",
                   Query(f"sum by (job) ({postman('up', one_of('job', SERVICES))})", "{{job}}"),
                   description="Pods whose /metrics Prometheus reached at its last scrape."),
        timeseries("Container restarts (last hour), by service",
                   Query(f"sum by (container) (increase({postman('kube_pod_container_status_restarts_total', service)}"
                         f"{LAST_HOUR}))", "{{container}}"),
                   description="From kube-state-metrics."),
        timeseries("CPU per pod",
                   Query(per_second(postman("container_cpu_usage_seconds_total", service), "pod"), "{{pod}}"),
                   unit="short", width=12, description="Cores used, from the kubelet's cAdvisor."),
        timeseries("Memory (working set) per pod",
                   Query(f"sum by (pod) ({postman('container_memory_working_set_bytes', service)})", "{{pod}}"),
                   unit="bytes", width=12, description="What the kernel counts against the memory limit."),
    ))


def rows() -> tuple[Row, ...]:
    return (overview_row(), *(channel_row(channel) for channel in CHANNELS), transactional_row(), receipts_row(),
            client_webhooks_row(),
            pipeline_row(), security_row(), runtime_row())


# --- Grafana JSON ---------------------------------------------------------------------------------------------------

def _targets(queries: Sequence[Query]) -> list[dict[str, str]]:
    return [{"refId": chr(ord("A") + index), "expr": query.expr, "legendFormat": query.legend}
            for index, query in enumerate(queries)]


def panel_json(panel: Panel, panel_id: int, grid: dict[str, int]) -> dict[str, Any]:
    body: dict[str, Any] = {"id": panel_id, "type": panel.kind, "title": panel.title}
    if panel.description:
        body["description"] = panel.description
    body.update({
        "datasource": DATASOURCE,
        "gridPos": grid,
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "targets": _targets(panel.queries),
    })
    if panel.kind == "stat":
        body["fieldConfig"]["defaults"]["thresholds"] = {
            "mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}]}
        body["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                           "colorMode": "background", "graphMode": "area", "textMode": "auto"}
    return body


def row_json(row: Row, panel_id: int, y: int) -> dict[str, Any]:
    return {"id": panel_id, "type": "row", "title": row.title, "collapsed": False,
            "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y}, "panels": []}


def layout(all_rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Each row's header on a line of its own, then its panels left to right, wrapping at the grid's width."""
    panels: list[dict[str, Any]] = []
    y = 0
    for row in all_rows:
        panels.append(row_json(row, len(panels) + 1, y))
        y, x = y + 1, 0
        for panel in row.panels:
            if x + panel.width > GRID_WIDTH:
                y, x = y + PANEL_HEIGHT, 0
            grid = {"h": PANEL_HEIGHT, "w": panel.width, "x": x, "y": y}
            panels.append(panel_json(panel, len(panels) + 1, grid))
            x += panel.width
        y += PANEL_HEIGHT
    return panels


def variable(name: str, label: str, query: str, current: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name, "label": label, "type": "query", "datasource": DATASOURCE,
        "query": query, "definition": query, "refresh": 2, "sort": 1,
        "includeAll": False, "multi": False, "hide": 0, "options": [],
    }
    if current is not None:
        body["current"] = {"text": current, "value": current}
    return body


def templating() -> dict[str, Any]:
    return {"list": [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
        # Namespaces where the gateway answers requests (its probes alone make gateway_requests_total exist).
        variable("namespace", "Namespace", "label_values(gateway_requests_total, namespace)", current="postman"),
        # Virtual hosts holding Postman's dead-letter queue: those carrying Postman's topology.
        variable("vhost", "RabbitMQ virtual host",
                 f'label_values(rabbitmq_detailed_queue_messages{{queue="{topology.DEAD_LETTER_QUEUE}"}}, vhost)'),
    ]}


def dashboard() -> dict[str, Any]:
    return {
        "title": "Postman: API and message pipeline",
        "uid": UID,
        "tags": ["postman"],
        "timezone": "browser",
        "schemaVersion": SCHEMA_VERSION,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": templating(),
        "panels": layout(rows()),
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether both files are up to date")
    args = parser.parse_args(argv)
    wanted = render()
    if args.check:
        stale = [path for path in (DASHBOARD, SIDECAR_COPY) if not path.exists() or path.read_text() != wanted]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run tools/render_dashboard.py", file=sys.stderr)
        return 1 if stale else 0
    for path in (DASHBOARD, SIDECAR_COPY):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())

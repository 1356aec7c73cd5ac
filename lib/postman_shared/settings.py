"""Configuration, read once from the environment.

Every setting has one helper call here: its name, its environment variable, its type and its default.
Services receive a ``Settings`` object from their bootstrap; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, default)


def _int(env: Mapping[str, str], name: str, default: int, minimum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc
    if not value >= minimum:  # also refuses NaN
        raise SettingsError(f"{name} must be at least {minimum:g}, got {raw!r}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, default).lower()
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _ratio(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if value > 1.0:
        raise SettingsError(f"{name} must be between 0 and 1, got {env.get(name)!r}")
    return value


def _days(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """A comma-separated list of whole numbers of days, each at least 1 (``30,7,1``), largest first; empty: none."""
    raw = env.get(name)
    if raw is None:
        return default
    days: set[int] = set()
    for part in raw.split(","):
        if not part.strip():
            continue
        try:
            day = int(part)
        except ValueError:
            raise SettingsError(f"{name} must be whole numbers of days separated by commas, got {raw!r}") from None
        if day < 1:
            raise SettingsError(f"{name} must list days of at least 1, got {raw!r}")
        days.add(day)
    return tuple(sorted(days, reverse=True))


def _zone(env: Mapping[str, str], name: str, default: str) -> str:
    """A time zone of the tz database by its name (``Asia/Singapore``, ``Europe/London``), checked here so that a
    misspelt zone stops the service at start-up instead of failing the first page that shows a time."""
    raw = env.get(name, "").strip() or default
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{name} must be a time zone name of the tz database, such as Asia/Singapore or "
                            f"Europe/London, got {raw!r} (if the name is right, this system has no tz database: "
                            "install the tzdata package)") from None
    return raw


def _otlp_endpoint(env: Mapping[str, str]) -> str:
    """OTEL_EXPORTER_OTLP_ENDPOINT: an http(s) URL of an OTLP/HTTP collector, or empty (tracing off)."""
    raw = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if raw and not raw.lower().startswith(("http://", "https://")):
        raise SettingsError(f"OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL, got {raw!r}")
    return raw.rstrip("/")


@dataclass(frozen=True)
class Settings:
    """All settings of all services. README.md documents each one."""

    database_url: str = "postgresql://postgres@127.0.0.1:5432/postman"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    # RabbitMQ's management API, where `postmanctl setup` sets the queue policies (delivery limit, dead-lettering).
    # Empty: http://<AMQP_URL's host>:15672. Without user:password in it, AMQP_URL's are used; the vhost is AMQP_URL's.
    rabbitmq_management_url: str = ""
    log_level: str = "INFO"
    log_format: str = "json"  # json | console
    # OpenTelemetry traces: off unless an OTLP/HTTP endpoint is set (a collector's base URL; /v1/traces is added)
    otel_exporter_otlp_endpoint: str = ""
    otel_traces_sampler_arg: float = 1.0  # share of new traces kept (0..1); a traced caller's choice is followed

    # HTTP gateway
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    public_url: str = ""  # base URL that browsers and API clients use to reach the gateway
    gateway_threads: int = 8
    gateway_send_timeout: float = 60.0  # seconds a response may wait for its client to read anything
    exports_per_user: int = 2  # exports (API or CSV) one user may have streaming at once, per gateway process
    display_timezone: str = "Asia/Singapore"  # the zone of every time the pages show and the schedule form reads

    # gRPC addresses (clients) and the bind host of servers
    auth_addr: str = "127.0.0.1:50051"
    campaign_addr: str = "127.0.0.1:50052"
    renderer_addr: str = "127.0.0.1:50053"
    stats_addr: str = "127.0.0.1:50054"
    sms_sender_addr: str = "127.0.0.1:50055"
    telegram_sender_addr: str = "127.0.0.1:50056"
    email_sender_addr: str = "127.0.0.1:50057"  # sender-email's TransactionalEmailService
    grpc_bind_host: str = "127.0.0.1"
    grpc_port: int = 0  # 0: the port of this service's own *_ADDR
    metrics_port: int = -1  # -1: the service's default; 0: disabled
    metrics_bind_host: str = "127.0.0.1"  # metrics and the plaintext health port; a cluster: the pod's IP
    health_port: int = -1  # plaintext gRPC health only, for probes; -1: the service's default (metrics + 100); 0: off
    grpc_tls_dir: Path = Path("var/certs")  # <dir>/<service>/tls.crt, tls.key, ca.crt: each service's identity
    grpc_insecure: bool = False  # plaintext gRPC without identities: local development only (PUBLIC_URL on loopback)

    # uploads
    object_store: str = "local"  # local | s3
    upload_dir: Path = Path("var/uploads")
    upload_signing_key: str = "dev-only-upload-signing-key"
    upload_url_ttl: int = 180
    max_upload_bytes: int = 500 * 1024 * 1024
    upload_abandon_hours: int = 24  # a local-store upload never completed is deleted after this
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "ap-southeast-1"

    # email delivery
    email_transport: str = "outbox"  # outbox | smtp | ses
    email_from: str = "Postman <donotreply@mail.postman.gov.sg>"
    outbox_dir: Path = Path("var/outbox")
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_connections: int = 4
    smtp_timeout: int = 30
    ses_region: str = "ap-southeast-1"
    ses_endpoint_url: str = ""
    ses_configuration_set: str = ""
    ses_untracked_configuration_set: str = ""  # for transactional emails with disable_tracking (no open tracking)
    ses_events_topic_arns: str = ""  # comma-separated SNS topics whose SES events the gateway accepts
    sns_cert_url_prefix: str = ""  # empty: SNS signing certificates only from https://sns.<region>.amazonaws.com/
    sns_ip_limit_per_minute: int = 6000  # SNS messages one IP address may post per minute (/callbacks/ses/events)
    email_retry_delay_seconds: int = 30  # wait before another attempt after a transient provider failure
    email_max_attempts: int = 5  # attempts before a transient failure becomes a permanent ERROR
    twilio_api_base: str = "https://api.twilio.com"  # Twilio's REST API; tests point the real client at a local one
    telegram_api_base: str = "https://api.telegram.org"  # the Bot API; tests point the client at a local one

    # sign-in, sessions, keys, limits (auth and gateway)
    domain_allowlist: str = ".gov.sg"  # ;-separated: ".x" allows domains ending in ".x", "@x" exactly domain x
    session_ttl_hours: int = 24
    api_key_ttl_days: int = 180
    api_key_reminder_days: tuple[int, ...] = (30, 7, 1)  # emails to a key's owner and contacts, days before expiry
    api_key_reminder_poll_seconds: int = 300  # how often auth looks for reminders due (and unsent notices)
    otp_ttl_minutes: int = 10
    otp_max_attempts: int = 4
    otp_resend_seconds: int = 30
    otp_ip_limit_per_hour: int = 30  # one-time passwords one IP address may ask for per hour
    otp_email_limit_per_hour: int = 10  # one-time passwords one address may ask for per hour
    login_ip_limit_per_hour: int = 60  # one-time passwords one IP address may type (sign-in attempts) per hour
    redis_url: str = ""  # shared rate limits (gateways) and send-rate schedule (senders); empty: in-process only
    send_rate_limit_default: int = 10  # per user per second, for sends, unless set with postmanctl
    api_rate_limit: int = 100  # requests per user per second on the whole API
    test_emails_per_campaign_per_day: int = 20  # test emails (…/email/credentials) per user and campaign per day
    trusted_proxies: int = 0  # proxies in front of the gateway whose X-Forwarded-For is trusted for the client IP
    cookie_secure: str = "auto"  # auto: Secure unless PUBLIC_URL is plain-http localhost; true | false

    # SMS and Telegram (issue 4)
    default_phone_region: str = "SG"  # region of phone numbers written without a country code
    sms_max_segments: int = 10  # longest SMS template accepted, in segments
    # largest template accepted per channel, in UTF-8 bytes of each field as written (issue 13: the renderer's work
    # and every preview grow with a template's size, so none is larger than its channel can use)
    email_template_max_bytes: int = 128 * 1024  # subject and body each; Gmail clips an email past ~102 KB anyway
    sms_template_max_bytes: int = 16 * 1024  # SMS_MAX_SEGMENTS still decides the length that is sent
    telegram_template_max_bytes: int = 64 * 1024  # Telegram takes 4,096 characters once its HTML is reduced
    sms_default_rate: int = 10  # SMS per second per campaign when the campaign does not say (sender-sms)
    telegram_max_rate: int = 30  # Telegram messages per second per bot: the default and the most a send may ask
    callback_signing_key: str = "dev-only-callback-signing-key"  # HMAC of provider callback and webhook URLs
    credentials_key: str = ""  # base64 of 32 bytes: master key sealing stored provider credentials
    credentials_key_file: Path = Path("var/credentials.key")  # used when CREDENTIALS_KEY is empty (make run)
    credentials_old_keys: str = ""  # comma-separated base64 keys still accepted for opening, during a rotation
    credentials_kms_key_id: str = ""  # when set, data keys are wrapped by AWS KMS instead of CREDENTIALS_KEY
    kms_region: str = "ap-southeast-1"
    kms_endpoint_url: str = ""

    # after hand-off: bounces, complaints, unsubscribes, suppression, halting (issue 10)
    bounce_address: str = ""  # VERP return path of SMTP campaign email, e.g. bounce@bounces.agency.gov.sg; "": none
    bounce_imap_url: str = ""  # imaps://user:password@host/INBOX of the bounce mailbox; "": not read
    bounce_imap_poll_seconds: int = 30
    unsubscribe_keys: str = ""  # "v2:<secret>,v1:<old>": HMAC keys of unsubscribe links, the first signs
    unsubscribe_mailto: str = ""  # e.g. unsubscribe@bounces.agency.gov.sg: the List-Unsubscribe mailto; "": none
    unsubscribe_scope: str = "owner"  # owner: an unsubscribe skips the owner's later email campaigns | off
    unsubscribe_ip_limit_per_minute: int = 30  # unsubscribe requests one IP address may make per minute
    halt_hard_bounces: int = 10  # a campaign halts when its hard bounces exceed this many...
    halt_hard_bounce_percent: float = 10.0  # ...and this share of its messages with an outcome
    halt_complaints: int = 3  # or when its complaints exceed this many...
    halt_complaint_percent: float = 0.1  # ...and this share

    # password-protected email (issue 11)
    protected_retention_days: int = 30  # a protected message's ciphertext is erased this long after its send
    protect_max_attempts: int = 10  # wrong passwords per message id before it is locked...
    protect_lock_minutes: int = 15  # ...for the rest of this window (opened by the first wrong password)
    protect_ip_limit_per_hour: int = 100  # protected-message opens one IP address may try per hour
    protect_decoy_key: str = ""  # HMAC key of the stand-in parameters shown for unknown ids; required off localhost

    # retention and redaction (issue 16, docs/data-protection.md)
    campaign_retention_days: int = 30  # a finished campaign's recipients and per-message outcomes go after this
    transactional_retention_days: int = 30  # transactional emails and SMS (recipients, bodies) go after this
    audit_retention_days: int = 365  # audit events are deleted this long after they happened
    dead_letter_retention_days: int = 14  # a dead letter (postman.dead-letters) is dropped after this (a policy)
    purge_batch_size: int = 5000  # rows deleted per transaction by the purge
    purge_interval_seconds: int = 300  # how often the campaign service's purge runs

    # client webhooks (issue 16, docs/webhooks.md): delivered by stats
    webhook_allow_private: bool = False  # local development only: http and private addresses (refused off localhost)
    webhook_timeout_seconds: int = 5  # to connect, and to answer, per delivery attempt
    webhook_retry_base_seconds: int = 10  # first wait after a failed attempt; doubles each time, at most an hour
    webhook_retry_hours: int = 24  # an event is tried for this long after its first attempt, then dropped
    webhook_pause_after_failures: int = 20  # consecutive failed attempts that pause a webhook (and tell its owner)
    webhook_delivery_threads: int = 16  # deliveries in flight per stats process
    webhook_log_size: int = 50  # attempts kept per webhook (the delivery log)

    # sender addresses (issue 12)
    sender_confirm_hours: int = 24  # a sender address's confirmation link works this long
    dns_nameserver: str = ""  # host[:port] auth asks for DKIM records; empty: the system's resolver

    # the email theme: agencies and the government masthead (issue 12)
    default_agency_name: str = "Singapore Government"  # the agency of a user whose domain belongs to no agency
    email_masthead_domains: str = ".gov.sg"  # owners whose emails carry the masthead; DOMAIN_ALLOWLIST's syntax

    # pipeline tuning
    render_batch_size: int = 500
    # flow control: rendering stops while a channel's queue holds this many messages or more; 0: no limit
    render_window: int = 2000
    rendered_per_message: int = 50
    sender_prefetch: int = 1000
    sender_batch_size: int = 200
    stats_batch_size: int = 500
    queue_delivery_limit: int = 20

    extra: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        e = os.environ if env is None else env
        gateway_port = _int(e, "GATEWAY_PORT", cls.gateway_port)
        return cls(
            database_url=_str(e, "DATABASE_URL", cls.database_url),
            amqp_url=_str(e, "AMQP_URL", cls.amqp_url),
            rabbitmq_management_url=_str(e, "RABBITMQ_MANAGEMENT_URL", cls.rabbitmq_management_url).strip(),
            log_level=_str(e, "LOG_LEVEL", cls.log_level).upper(),
            log_format=_choice(e, "LOG_FORMAT", cls.log_format, ("json", "console")),
            otel_exporter_otlp_endpoint=_otlp_endpoint(e),
            otel_traces_sampler_arg=_ratio(e, "OTEL_TRACES_SAMPLER_ARG", cls.otel_traces_sampler_arg),
            gateway_host=_str(e, "GATEWAY_HOST", cls.gateway_host),
            gateway_port=gateway_port,
            public_url=_str(e, "PUBLIC_URL", f"http://localhost:{gateway_port}").rstrip("/"),
            gateway_threads=_int(e, "GATEWAY_THREADS", cls.gateway_threads),
            gateway_send_timeout=_float(e, "GATEWAY_SEND_TIMEOUT", cls.gateway_send_timeout, minimum=1.0),
            exports_per_user=_int(e, "EXPORTS_PER_USER", cls.exports_per_user, minimum=1),
            display_timezone=_zone(e, "DISPLAY_TIMEZONE", cls.display_timezone),
            auth_addr=_str(e, "AUTH_ADDR", cls.auth_addr),
            campaign_addr=_str(e, "CAMPAIGN_ADDR", cls.campaign_addr),
            renderer_addr=_str(e, "RENDERER_ADDR", cls.renderer_addr),
            stats_addr=_str(e, "STATS_ADDR", cls.stats_addr),
            sms_sender_addr=_str(e, "SMS_SENDER_ADDR", cls.sms_sender_addr),
            telegram_sender_addr=_str(e, "TELEGRAM_SENDER_ADDR", cls.telegram_sender_addr),
            email_sender_addr=_str(e, "EMAIL_SENDER_ADDR", cls.email_sender_addr),
            grpc_bind_host=_str(e, "GRPC_BIND_HOST", cls.grpc_bind_host),
            grpc_port=_int(e, "GRPC_PORT", cls.grpc_port),
            metrics_port=_int(e, "METRICS_PORT", cls.metrics_port),
            metrics_bind_host=_str(e, "METRICS_BIND_HOST", cls.metrics_bind_host).strip() or cls.metrics_bind_host,
            health_port=_int(e, "HEALTH_PORT", cls.health_port, minimum=-1),
            grpc_tls_dir=Path(_str(e, "GRPC_TLS_DIR", str(cls.grpc_tls_dir))),
            grpc_insecure=_bool(e, "GRPC_INSECURE", cls.grpc_insecure),
            object_store=_choice(e, "OBJECT_STORE", cls.object_store, ("local", "s3")),
            upload_dir=Path(_str(e, "UPLOAD_DIR", str(cls.upload_dir))),
            upload_signing_key=_str(e, "UPLOAD_SIGNING_KEY", cls.upload_signing_key),
            upload_url_ttl=_int(e, "UPLOAD_URL_TTL", cls.upload_url_ttl),
            max_upload_bytes=_int(e, "MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            upload_abandon_hours=_int(e, "UPLOAD_ABANDON_HOURS", cls.upload_abandon_hours, minimum=1),
            s3_bucket=_str(e, "S3_BUCKET", cls.s3_bucket),
            s3_endpoint_url=_str(e, "S3_ENDPOINT_URL", cls.s3_endpoint_url),
            s3_region=_str(e, "S3_REGION", cls.s3_region),
            email_transport=_choice(e, "EMAIL_TRANSPORT", cls.email_transport, ("outbox", "smtp", "ses")),
            email_from=_str(e, "EMAIL_FROM", cls.email_from),
            outbox_dir=Path(_str(e, "OUTBOX_DIR", str(cls.outbox_dir))),
            smtp_host=_str(e, "SMTP_HOST", cls.smtp_host),
            smtp_port=_int(e, "SMTP_PORT", cls.smtp_port),
            smtp_username=_str(e, "SMTP_USERNAME", cls.smtp_username),
            smtp_password=_str(e, "SMTP_PASSWORD", cls.smtp_password),
            smtp_starttls=_bool(e, "SMTP_STARTTLS", cls.smtp_starttls),
            smtp_connections=_int(e, "SMTP_CONNECTIONS", cls.smtp_connections),
            smtp_timeout=_int(e, "SMTP_TIMEOUT", cls.smtp_timeout),
            ses_region=_str(e, "SES_REGION", cls.ses_region),
            ses_endpoint_url=_str(e, "SES_ENDPOINT_URL", cls.ses_endpoint_url),
            ses_configuration_set=_str(e, "SES_CONFIGURATION_SET", cls.ses_configuration_set),
            ses_untracked_configuration_set=_str(e, "SES_UNTRACKED_CONFIGURATION_SET",
                                                 cls.ses_untracked_configuration_set),
            ses_events_topic_arns=_str(e, "SES_EVENTS_TOPIC_ARNS", cls.ses_events_topic_arns),
            sns_cert_url_prefix=_str(e, "SNS_CERT_URL_PREFIX", cls.sns_cert_url_prefix),
            sns_ip_limit_per_minute=_int(e, "SNS_IP_LIMIT_PER_MINUTE", cls.sns_ip_limit_per_minute, minimum=1),
            email_retry_delay_seconds=_int(e, "EMAIL_RETRY_DELAY_SECONDS", cls.email_retry_delay_seconds, minimum=1),
            email_max_attempts=_int(e, "EMAIL_MAX_ATTEMPTS", cls.email_max_attempts, minimum=1),
            twilio_api_base=_str(e, "TWILIO_API_BASE", cls.twilio_api_base).rstrip("/"),
            telegram_api_base=_str(e, "TELEGRAM_API_BASE", cls.telegram_api_base).rstrip("/"),
            domain_allowlist=_str(e, "DOMAIN_ALLOWLIST", cls.domain_allowlist),
            session_ttl_hours=_int(e, "SESSION_TTL_HOURS", cls.session_ttl_hours, minimum=1),
            api_key_ttl_days=_int(e, "API_KEY_TTL_DAYS", cls.api_key_ttl_days, minimum=1),
            api_key_reminder_days=_days(e, "API_KEY_REMINDER_DAYS", cls.api_key_reminder_days),
            api_key_reminder_poll_seconds=_int(e, "API_KEY_REMINDER_POLL_SECONDS", cls.api_key_reminder_poll_seconds,
                                               minimum=1),
            otp_ttl_minutes=_int(e, "OTP_TTL_MINUTES", cls.otp_ttl_minutes, minimum=1),
            otp_max_attempts=_int(e, "OTP_MAX_ATTEMPTS", cls.otp_max_attempts, minimum=1),
            otp_resend_seconds=_int(e, "OTP_RESEND_SECONDS", cls.otp_resend_seconds, minimum=0),
            otp_ip_limit_per_hour=_int(e, "OTP_IP_LIMIT_PER_HOUR", cls.otp_ip_limit_per_hour, minimum=1),
            otp_email_limit_per_hour=_int(e, "OTP_EMAIL_LIMIT_PER_HOUR", cls.otp_email_limit_per_hour, minimum=1),
            login_ip_limit_per_hour=_int(e, "LOGIN_IP_LIMIT_PER_HOUR", cls.login_ip_limit_per_hour, minimum=1),
            redis_url=_str(e, "REDIS_URL", cls.redis_url),
            send_rate_limit_default=_int(e, "SEND_RATE_LIMIT_DEFAULT", cls.send_rate_limit_default, minimum=1),
            api_rate_limit=_int(e, "API_RATE_LIMIT", cls.api_rate_limit, minimum=1),
            test_emails_per_campaign_per_day=_int(e, "TEST_EMAILS_PER_CAMPAIGN_PER_DAY",
                                                  cls.test_emails_per_campaign_per_day, minimum=1),
            trusted_proxies=_int(e, "TRUSTED_PROXIES", cls.trusted_proxies, minimum=0),
            cookie_secure=_choice(e, "COOKIE_SECURE", cls.cookie_secure, ("auto", "true", "false")),
            default_phone_region=_str(e, "DEFAULT_PHONE_REGION", cls.default_phone_region).upper(),
            sms_max_segments=_int(e, "SMS_MAX_SEGMENTS", cls.sms_max_segments, minimum=1),
            email_template_max_bytes=_int(e, "EMAIL_TEMPLATE_MAX_BYTES", cls.email_template_max_bytes, minimum=1),
            sms_template_max_bytes=_int(e, "SMS_TEMPLATE_MAX_BYTES", cls.sms_template_max_bytes, minimum=1),
            telegram_template_max_bytes=_int(e, "TELEGRAM_TEMPLATE_MAX_BYTES", cls.telegram_template_max_bytes,
                                             minimum=1),
            sms_default_rate=_int(e, "SMS_DEFAULT_RATE", cls.sms_default_rate, minimum=1),
            telegram_max_rate=_int(e, "TELEGRAM_MAX_RATE", cls.telegram_max_rate, minimum=1),
            callback_signing_key=_str(e, "CALLBACK_SIGNING_KEY", cls.callback_signing_key),
            credentials_key=_str(e, "CREDENTIALS_KEY", cls.credentials_key),
            credentials_key_file=Path(_str(e, "CREDENTIALS_KEY_FILE", str(cls.credentials_key_file))),
            credentials_old_keys=_str(e, "CREDENTIALS_OLD_KEYS", cls.credentials_old_keys),
            credentials_kms_key_id=_str(e, "CREDENTIALS_KMS_KEY_ID", cls.credentials_kms_key_id),
            kms_region=_str(e, "KMS_REGION", cls.kms_region),
            kms_endpoint_url=_str(e, "KMS_ENDPOINT_URL", cls.kms_endpoint_url),
            bounce_address=_str(e, "BOUNCE_ADDRESS", cls.bounce_address).strip(),
            bounce_imap_url=_str(e, "BOUNCE_IMAP_URL", cls.bounce_imap_url).strip(),
            bounce_imap_poll_seconds=_int(e, "BOUNCE_IMAP_POLL_SECONDS", cls.bounce_imap_poll_seconds, minimum=1),
            unsubscribe_keys=_str(e, "UNSUBSCRIBE_KEYS", cls.unsubscribe_keys),
            unsubscribe_mailto=_str(e, "UNSUBSCRIBE_MAILTO", cls.unsubscribe_mailto).strip(),
            unsubscribe_scope=_choice(e, "UNSUBSCRIBE_SCOPE", cls.unsubscribe_scope, ("owner", "off")),
            unsubscribe_ip_limit_per_minute=_int(e, "UNSUBSCRIBE_IP_LIMIT_PER_MINUTE",
                                                 cls.unsubscribe_ip_limit_per_minute, minimum=1),
            halt_hard_bounces=_int(e, "HALT_HARD_BOUNCES", cls.halt_hard_bounces, minimum=0),
            halt_hard_bounce_percent=_float(e, "HALT_HARD_BOUNCE_PERCENT", cls.halt_hard_bounce_percent),
            halt_complaints=_int(e, "HALT_COMPLAINTS", cls.halt_complaints, minimum=0),
            halt_complaint_percent=_float(e, "HALT_COMPLAINT_PERCENT", cls.halt_complaint_percent),
            protected_retention_days=_int(e, "PROTECTED_RETENTION_DAYS", cls.protected_retention_days, minimum=1),
            protect_max_attempts=_int(e, "PROTECT_MAX_ATTEMPTS", cls.protect_max_attempts, minimum=1),
            protect_lock_minutes=_int(e, "PROTECT_LOCK_MINUTES", cls.protect_lock_minutes, minimum=1),
            protect_ip_limit_per_hour=_int(e, "PROTECT_IP_LIMIT_PER_HOUR", cls.protect_ip_limit_per_hour,
                                           minimum=1),
            protect_decoy_key=_str(e, "PROTECT_DECOY_KEY", cls.protect_decoy_key),
            campaign_retention_days=_int(e, "CAMPAIGN_RETENTION_DAYS", cls.campaign_retention_days, minimum=1),
            transactional_retention_days=_int(e, "TRANSACTIONAL_RETENTION_DAYS", cls.transactional_retention_days,
                                              minimum=1),
            audit_retention_days=_int(e, "AUDIT_RETENTION_DAYS", cls.audit_retention_days, minimum=1),
            dead_letter_retention_days=_int(e, "DEAD_LETTER_RETENTION_DAYS", cls.dead_letter_retention_days,
                                            minimum=1),
            purge_batch_size=_int(e, "PURGE_BATCH_SIZE", cls.purge_batch_size, minimum=1),
            purge_interval_seconds=_int(e, "PURGE_INTERVAL_SECONDS", cls.purge_interval_seconds, minimum=1),
            webhook_allow_private=_bool(e, "WEBHOOK_ALLOW_PRIVATE", cls.webhook_allow_private),
            webhook_timeout_seconds=_int(e, "WEBHOOK_TIMEOUT_SECONDS", cls.webhook_timeout_seconds, minimum=1),
            webhook_retry_base_seconds=_int(e, "WEBHOOK_RETRY_BASE_SECONDS", cls.webhook_retry_base_seconds,
                                            minimum=1),
            webhook_retry_hours=_int(e, "WEBHOOK_RETRY_HOURS", cls.webhook_retry_hours, minimum=1),
            webhook_pause_after_failures=_int(e, "WEBHOOK_PAUSE_AFTER_FAILURES", cls.webhook_pause_after_failures,
                                              minimum=1),
            webhook_delivery_threads=_int(e, "WEBHOOK_DELIVERY_THREADS", cls.webhook_delivery_threads, minimum=1),
            webhook_log_size=_int(e, "WEBHOOK_LOG_SIZE", cls.webhook_log_size, minimum=1),
            sender_confirm_hours=_int(e, "SENDER_CONFIRM_HOURS", cls.sender_confirm_hours, minimum=1),
            dns_nameserver=_str(e, "DNS_NAMESERVER", cls.dns_nameserver).strip(),
            default_agency_name=_str(e, "DEFAULT_AGENCY_NAME", cls.default_agency_name).strip()
            or cls.default_agency_name,
            email_masthead_domains=_str(e, "EMAIL_MASTHEAD_DOMAINS", cls.email_masthead_domains),
            render_batch_size=_int(e, "RENDER_BATCH_SIZE", cls.render_batch_size),
            render_window=_int(e, "RENDER_WINDOW", cls.render_window),
            rendered_per_message=max(1, _int(e, "RENDERED_PER_MESSAGE", cls.rendered_per_message)),
            sender_prefetch=_int(e, "SENDER_PREFETCH", cls.sender_prefetch),
            sender_batch_size=_int(e, "SENDER_BATCH_SIZE", cls.sender_batch_size),
            stats_batch_size=_int(e, "STATS_BATCH_SIZE", cls.stats_batch_size),
            queue_delivery_limit=_int(e, "QUEUE_DELIVERY_LIMIT", cls.queue_delivery_limit),
        )

    @property
    def display_zone(self) -> ZoneInfo:
        """DISPLAY_TIMEZONE as a zone (checked by ``from_env``; the tz database caches each zone)."""
        return ZoneInfo(self.display_timezone)

    def env_names(self) -> list[str]:
        """The environment variable of every setting (used by the README test)."""
        return [f.name.upper() for f in fields(self) if f.name != "extra"]

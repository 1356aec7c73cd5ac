"""Audit records of actions other services perform for a caller (a campaign sent...), reported to the auth
service, which keeps the trail. The action already happened: a failure to record it is logged, not shown to the
caller, whose request succeeded."""

from __future__ import annotations

import json
from typing import Any

from postman.v1 import auth_pb2
from postman_gateway.core.auth import client_ip, current_caller
from postman_gateway.core.backends import backends
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from postman_shared.logging import get_logger

AUDIT_TIMEOUT_SECONDS = 5.0


def record(action: str, target_type: str, target_id: str | int, details: dict[str, Any] | None = None) -> None:
    """Appends ``action`` by the current caller, from the request's IP, to the audit trail."""
    record_ = auth_pb2.AuditRecord(
        user_id=current_caller().user_id, action=action, target_type=target_type, target_id=str(target_id),
        ip=client_ip(), details_json=json.dumps(details) if details else "",
    )
    try:
        client.call(backends().auth.RecordAudit, record_, timeout=AUDIT_TIMEOUT_SECONDS)
    except ServiceError as exc:
        get_logger(component="audit").error("audit record not kept", action=action, target_type=target_type,
                                            target_id=str(target_id), code=exc.code, error=exc.message)

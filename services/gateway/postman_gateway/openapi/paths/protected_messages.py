"""The ``Password-protected messages`` tag: a recipient's page opens their encrypted message (no key: the proof
of the password)."""

from __future__ import annotations

from postman_gateway.openapi.paths.building import Operation, json_body, ok, op, path_param
from postman_gateway.openapi.schemas import obj, ref


def operations() -> list[Operation]:
    """Postman's protect API: a recipient's page fetches their encrypted message. No key: the proof is."""
    return [
        op("POST", "/v1/protect/{messageId}", "Password-protected messages", "Open a protected message",
           "What the link's page (`/p/{version}/{messageId}`) calls after deriving the key in the browser. "
           "`password_hash` is, for a version 1 message, Postman's `b64(SHA-256(key))`, and for a version 2 message "
           "the access token `b64(HKDF(PBKDF2(password)))` (docs/protected-messages.md). A wrong proof and an id "
           "that does not exist answer alike (403 `wrong_password`) and count alike: after PROTECT_MAX_ATTEMPTS "
           "wrong proofs the id is locked (429 `message_locked`, with `Retry-After`) until PROTECT_LOCK_MINUTES "
           "after the first; PROTECT_IP_LIMIT_PER_HOUR attempts per client IP (429 `rate_limit`). After "
           "PROTECTED_RETENTION_DAYS the message is erased: 410 `message_expired`.",
           ok(200, "The ciphertext.", ref("ProtectedPayload"),
              {"payload": "QGN4p0hnnPzuPkn5yHZ3dmOaUiguicHn4X9v2XrZYk26eJ0h5wqcnTYe2+Plw+6aVmwBEK4v2p6Hf9ar/zQ3/b"
                          "AjyONFy3Lu+W8YeQISFQpgxg==.LdoFQsTZFSsFVtpj"}),
           errors=(400, 403, 410, 429, 500, 503), public=True,
           params=[path_param("messageId", "The message's id: the last part of the link.", {"type": "string"},
                              "5f1c2a9e-8d3b-4c6e-9a7f-2b1d3e4f5a60")],
           body=json_body(obj({"password_hash": {"type": "string", "minLength": 1, "maxLength": 256}},
                              ("password_hash",)),
                          {"password_hash": "+Nko0/HDa/MUwYtggLYAnzJW/ip2i1UjtARuy/bOOis="})),
    ]

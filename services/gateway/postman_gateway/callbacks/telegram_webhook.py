"""``POST /telegram/webhook/<credential_id>``: where Telegram delivers the updates of a registered bot.

Outside ``/v1`` and without an API key: Telegram cannot hold one. The credential is the header
``X-Telegram-Bot-Api-Secret-Token``, which must equal the secret derived from ``CALLBACK_SIGNING_KEY`` and the id in
the path (``postman_shared.webhooks``), the one AddBot gave setWebhook. A checked update is put on
``telegram.updates`` for sender-telegram, which holds the bot token and answers the person; the gateway answers
Telegram ``200 {}`` as soon as the broker has confirmed, so Telegram never waits on the conversation (and a 5xx makes
it deliver the update again later).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_shared.broker import OutgoingMessage
from postman_shared.broker.topology import TELEGRAM_UPDATES
from postman_shared.grpc.errors import ServiceError
from postman_shared.logging import get_logger
from postman_shared.messages import TelegramUpdate
from postman_shared.settings import Settings
from postman_shared.webhooks import SECRET_HEADER, is_telegram_webhook_secret

EXTENSION = "postman_gateway.callbacks.telegram_webhook"
MAX_UPDATE_BYTES = 1024 * 1024  # an update is a few KB; Telegram's largest (long message with entities) far below

blueprint = Blueprint("telegram_webhook", __name__)


def install(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION] = settings.callback_signing_key
    app.register_blueprint(blueprint)


@blueprint.post("/telegram/webhook/<int:credential_id>")
def receive_update(credential_id: int) -> Response:
    log = get_logger(component="telegram_webhook")
    if not is_telegram_webhook_secret(current_app.extensions[EXTENSION], credential_id,
                                      request.headers.get(SECRET_HEADER)):
        log.warning("telegram update refused: wrong or missing secret token", credential_id=credential_id)
        raise ServiceError(ErrorCode.UNATHENTICATED,
                           f"The {SECRET_HEADER} header is missing or is not this bot's secret "
                           "token")
    update = _read_update()
    message = TelegramUpdate(credential_id=credential_id, update=update)
    backends().publisher.get().publish([OutgoingMessage(TELEGRAM_UPDATES, message.to_dict(), message.message_id)])
    log.info("telegram update queued", credential_id=credential_id, update_id=update["update_id"])
    return jsonify({})


def _read_update() -> dict[str, Any]:
    if (request.content_length or 0) > MAX_UPDATE_BYTES:
        raise _too_large()
    body = request.stream.read(MAX_UPDATE_BYTES + 1)  # bounded even without a Content-Length (chunked)
    if len(body) > MAX_UPDATE_BYTES:
        raise _too_large()
    try:
        update = json.loads(body)
    except ValueError:
        raise ServiceError(ErrorCode.MALFORMED, "The body must be a Telegram Update: a JSON object") from None
    if not isinstance(update, dict):
        raise ServiceError(ErrorCode.MALFORMED, "The body must be a Telegram Update: a JSON object")
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ServiceError(ErrorCode.MALFORMED, '"update_id" must be a whole number')
    return update


def _too_large() -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"A Telegram update is at most {MAX_UPDATE_BYTES} bytes")

"""``postmanctl disable-user``: the user can do nothing more, and nothing of theirs goes out any more.

First the account is disabled in the auth database (every session ends, every API key is refused, committed at
once), then the campaign service is asked, as postmanctl, to cancel the user's scheduled sends and stop their sending
campaigns (``StopCampaignsOfUser``), and what it did is written to the audit trail (``user.campaigns_stopped``) and
printed. The account is auth's (``postman_auth.operator``); stopping campaigns is the running campaign service's
job, hence the call.

When the campaign service cannot be asked, the account stays disabled, the failure is audited
(``user.campaigns_not_stopped``) and the command exits 1 saying so: running it again (it is idempotent) finishes the
job once the service answers.
"""

from __future__ import annotations

import argparse
import sys

import grpc

from postman.v1 import campaign_pb2, campaign_pb2_grpc
from postman_auth import operator as auth
from postman_shared.db import Database
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError
from postman_shared.grpc.identity import load_identity
from postman_shared.settings import Settings, SettingsError
from postman_shared.timestamps import utcnow

CONNECT_SECONDS = 5.0
STOP_SECONDS = 30.0


class CampaignsUnreachable(Exception):
    pass


def _stop_campaigns(settings: Settings, user_id: int) -> campaign_pb2.StopCampaignsOfUserResponse:
    client.use_identity(load_identity(settings, "postmanctl"))
    try:
        grpc.channel_ready_future(client.channel(settings.campaign_addr)).result(timeout=CONNECT_SECONDS)
    except grpc.FutureTimeoutError:
        raise CampaignsUnreachable(f"the campaign service at {settings.campaign_addr} did not answer within "
                                   f"{CONNECT_SECONDS:g} seconds (is it running, and is CAMPAIGN_ADDR "
                                   "right?)") from None
    stub = client.stub(settings.campaign_addr, campaign_pb2_grpc.CampaignServiceStub)
    return client.call(stub.StopCampaignsOfUser, campaign_pb2.StopCampaignsOfUserRequest(user_id=user_id),
                       timeout=STOP_SECONDS)


def _ids(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids)


def run(args: argparse.Namespace, settings: Settings) -> int:
    database = Database(settings.database_url, pool_size=1)
    try:
        user = auth.disable_user(database, args.email, utcnow())
        user_id, email = user.id, user.email
        print(f"postmanctl: {email} is disabled; {user.sessions_ended} session(s) ended, API keys refused",
              file=sys.stderr)
        try:
            done = _stop_campaigns(settings, user_id)
        except (CampaignsUnreachable, ServiceError, SettingsError) as exc:
            reason = exc.message if isinstance(exc, ServiceError) else str(exc)
            auth.record_action(database, "user.campaigns_not_stopped", user_id=user_id, email=email,
                               target_type="user", target_id=user_id, details={"error": reason[:500]})
            print(f"postmanctl: {email}'s scheduled and sending campaigns were NOT stopped: {reason}. Run "
                  "postmanctl disable-user again once the campaign service answers.", file=sys.stderr)
            return 1
        cancelled, stopped = list(done.cancelled_campaign_ids), list(done.stopped_campaign_ids)
        auth.record_action(database, "user.campaigns_stopped", user_id=user_id, email=email, target_type="user",
                           target_id=user_id,
                           details={"cancelled_campaign_ids": cancelled, "stopped_campaign_ids": stopped})
    finally:
        database.dispose()
    if not cancelled and not stopped:
        print(f"postmanctl: {email} had no scheduled or sending campaigns", file=sys.stderr)
    if cancelled:
        print(f"postmanctl: cancelled {len(cancelled)} scheduled send(s): campaign(s) {_ids(cancelled)}",
              file=sys.stderr)
    if stopped:
        print(f"postmanctl: stopped {len(stopped)} sending campaign(s): campaign(s) {_ids(stopped)}",
              file=sys.stderr)
    return 0

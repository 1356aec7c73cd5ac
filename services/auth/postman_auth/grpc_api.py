"""AuthService over gRPC: a thin layer over the use cases (api_keys, sign_in, audit, agencies, sender_addresses):
translate the request, call one, translate its answer. Transactions are the use cases' own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from postman.v1 import auth_pb2, auth_pb2_grpc
from postman_auth import api_keys, audit, sender_addresses, sign_in
from postman_auth.agencies import AgencyDirectory, agency_of_user
from postman_auth.key_reminders import KeyReminders
from postman_auth.models import ApiKey, SenderAddress, User
from postman_auth.sender_addresses import SenderAddressRules
from postman_auth.sign_in import SignInRules
from postman_shared.broker.publisher import Publisher
from postman_shared.db import Database
from postman_shared.grpc.errors import NotFound
from postman_shared.settings import Settings
from postman_shared.timestamps import to_timestamp


def _user(user: User) -> auth_pb2.User:
    return auth_pb2.User(id=user.id, email=user.email, rate_limit=user.rate_limit,
                         created_at=to_timestamp(user.created_at))


def _key(row: ApiKey) -> auth_pb2.ApiKeyInfo:
    return auth_pb2.ApiKeyInfo(
        id=row.id, label=row.label, last_five=row.last_five, created_at=to_timestamp(row.created_at),
        last_used_at=to_timestamp(row.last_used_at), expires_at=to_timestamp(row.expires_at), test=row.test,
        notification_contacts=row.notification_contacts or [],
    )


def _sender_address(row: SenderAddress) -> auth_pb2.SenderAddress:
    return auth_pb2.SenderAddress(
        id=row.id, user_id=row.user_id, email=row.email, status=row.status, method=row.method,
        created_at=to_timestamp(row.created_at), verified_at=to_timestamp(row.verified_at),
        confirm_expires_at=to_timestamp(row.token_expires_at))


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, database: Database, publisher: Publisher, rules: SignInRules, api_key_ttl: timedelta,
                 sender_rules: SenderAddressRules, agencies: AgencyDirectory | None = None,
                 key_reminders: KeyReminders | None = None) -> None:
        self._database = database
        self._publisher = publisher
        self._key_reminders = key_reminders
        self._rules = rules
        self._api_key_ttl = api_key_ttl
        self._sender_rules = sender_rules
        self._agencies = agencies or AgencyDirectory(Settings.default_agency_name, Settings.email_masthead_domains)

    def Authenticate(self, request: auth_pb2.AuthenticateRequest, context: Any) -> auth_pb2.AuthenticateResponse:
        user = api_keys.authenticate_key(self._database, request.api_key, self._rules.access)
        return auth_pb2.AuthenticateResponse(user_id=user.user_id, email=user.email, api_key_id=user.api_key_id,
                                             rate_limit=user.rate_limit, test=user.test)

    def RequestOtp(self, request: auth_pb2.RequestOtpRequest, context: Any) -> auth_pb2.RequestOtpResponse:
        sent = sign_in.request_otp(self._database, self._publisher, self._rules, request.email, request.ip)
        return auth_pb2.RequestOtpResponse(valid_for_seconds=sent.valid_for_seconds,
                                           resend_after_seconds=sent.resend_after_seconds)

    def Login(self, request: auth_pb2.LoginRequest, context: Any) -> auth_pb2.LoginResponse:
        signed_in = sign_in.login(self._database, self._rules, request.email, request.otp, request.ip,
                                  request.user_agent)
        return auth_pb2.LoginResponse(session_token=signed_in.token, user=_user(signed_in.user),
                                      expires_at=to_timestamp(signed_in.expires_at))

    def ResolveSession(self, request: auth_pb2.ResolveSessionRequest, context: Any) -> auth_pb2.SessionInfo:
        row, user = sign_in.resolve(self._database, self._rules.access, request.session_token)
        return auth_pb2.SessionInfo(session_id=row.id, user=_user(user), expires_at=to_timestamp(row.expires_at))

    def Logout(self, request: auth_pb2.LogoutRequest, context: Any) -> auth_pb2.LogoutResponse:
        sign_in.logout(self._database, request.session_token, request.ip)
        return auth_pb2.LogoutResponse()

    def CreateApiKey(self, request: auth_pb2.CreateApiKeyRequest, context: Any) -> auth_pb2.CreatedApiKey:
        row, key = api_keys.issue_key(self._database, request.user_id, request.label, request.ip, self._api_key_ttl,
                                      test=request.test, contacts=list(request.notification_contacts),
                                      allowed=self._rules.access.is_allowed)
        return auth_pb2.CreatedApiKey(key=_key(row), api_key=key)

    def ListApiKeys(self, request: auth_pb2.ListApiKeysRequest, context: Any) -> auth_pb2.ApiKeyList:
        return auth_pb2.ApiKeyList(keys=[_key(row) for row in api_keys.list_keys(self._database, request.user_id)])

    def RevokeApiKey(self, request: auth_pb2.RevokeApiKeyRequest, context: Any) -> auth_pb2.ApiKeyInfo:
        on_revoked = self._key_reminders.wake if self._key_reminders is not None else None
        return _key(api_keys.revoke_key(self._database, request.user_id, request.api_key_id, request.ip,
                                        on_revoked))

    def RecordAudit(self, request: auth_pb2.AuditRecord, context: Any) -> auth_pb2.RecordAuditResponse:
        details = audit.parse_details(request.details_json)
        audit.record_event(self._database, request.action, user_id=request.user_id or None,
                           target_type=request.target_type or None, target_id=request.target_id or None,
                           ip=request.ip or None, details=details)
        return auth_pb2.RecordAuditResponse()

    def GetAgency(self, request: auth_pb2.GetAgencyRequest, context: Any) -> auth_pb2.Agency:
        look = agency_of_user(self._database, self._agencies, request.user_id)
        return auth_pb2.Agency(name=look.name, logo_uri=look.logo_uri, known=look.known, masthead=look.masthead)

    # --- sender addresses (issue 12) ---

    def ListSenderAddresses(self, request: auth_pb2.ListSenderAddressesRequest,
                            context: Any) -> auth_pb2.SenderAddressList:
        rows = sender_addresses.list_addresses(self._database, request.user_id)
        return auth_pb2.SenderAddressList(addresses=[_sender_address(row) for row in rows])

    def VerifySenderAddress(self, request: auth_pb2.VerifySenderAddressRequest,
                            context: Any) -> auth_pb2.SenderAddress:
        return _sender_address(sender_addresses.verify_address(self._database, self._publisher, self._sender_rules,
                                                               request.user_id, request.email, request.ip))

    def ConfirmSenderAddress(self, request: auth_pb2.ConfirmSenderAddressRequest,
                             context: Any) -> auth_pb2.SenderAddress:
        return _sender_address(sender_addresses.confirm_address(self._database, request.token, request.ip,
                                                                request.check_only))

    def DeleteSenderAddress(self, request: auth_pb2.DeleteSenderAddressRequest,
                            context: Any) -> auth_pb2.SenderAddress:
        if request.user_id <= 0:
            raise NotFound("Sender address")
        return _sender_address(sender_addresses.delete_address(self._database, request.user_id,
                                                               request.sender_address_id, request.ip))

    def GetVerifiedSenders(self, request: auth_pb2.GetVerifiedSendersRequest,
                           context: Any) -> auth_pb2.VerifiedSenders:
        return auth_pb2.VerifiedSenders(emails=sender_addresses.verified_addresses(self._database, request.user_id))

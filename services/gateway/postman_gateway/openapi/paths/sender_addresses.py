"""The ``Sender addresses`` tag: the addresses the signed-in user may send email from (Postman's custom From
addresses, ``/v1/settings/email/from``)."""

from __future__ import annotations

from postman_gateway.openapi.paths.building import CALLER_ERRORS, Operation, json_body, ok, op, path_param, ref_example
from postman_gateway.openapi.schemas import obj, ref


def operations() -> list[Operation]:
    """Postman's custom From addresses (``/settings/email/from``), session only like the API keys."""
    return [
        op("GET", "/v1/settings/email/from", "Sender addresses", "What the caller may send email from",
           "`from` (Postman's shape): the caller's verified addresses, then the default `EMAIL_FROM`, which may be "
           "used with any display name (it then reads \"<name> via Postman\"). `addresses`: every address of the "
           "caller with its state. Session only: with an API key this is 403.",
           ok(200, "The addresses.", ref("SenderAddresses"), ref_example("SenderAddresses")),
           errors=(403, *CALLER_ERRORS)),
        op("POST", "/v1/settings/email/from/verify", "Sender addresses", "Prove an address to send email from",
           "The address (`email`, or Postman's `from`: `Name <address>`) must be one plain address in an agency "
           "domain allowed to sign in; with Amazon SES it must also be verified with DKIM in SES, its DKIM CNAMEs "
           "resolving. It is VERIFIED at once when SES holds the address itself (for officers of its domain); "
           "otherwise a confirmation link is emailed to it (valid `SENDER_CONFIRM_HOURS`, once) and it is PENDING "
           "until the link is followed. What is missing is a 400 `invalid_from_address`; a new link to the same "
           "address within a minute is 429. Session only.",
           ok(200, "Verified, or a link was emailed.", ref("SenderAddressVerification"),
              ref_example("SenderAddressVerification")),
           errors=(400, 403, *CALLER_ERRORS),
           body=json_body(obj({"email": {"type": "string", "minLength": 1,
                                         "description": "The address (or `Name <address>`)."},
                               "from": {"type": "string", "description": "Postman's name for the same field."}}),
                          {"email": "noreply@agency.gov.sg"})),
        op("DELETE", "/v1/settings/email/from/{id}", "Sender addresses", "Remove a sender address",
           "Email whose From uses it is refused from now on, and a scheduled campaign that uses it is not sent. "
           "Another user's address is 404. Session only.",
           ok(200, "Removed.", ref("SenderAddressIdObject"), {"id": 4}), errors=(400, 403, 404, *CALLER_ERRORS),
           params=[path_param("id", "The address's id.", example="4")]),
    ]

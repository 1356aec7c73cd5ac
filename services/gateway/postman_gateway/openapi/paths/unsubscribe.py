"""The ``Unsubscribe`` tag: recipients' unsubscribe links (upstream's API; no key, the link's signature)."""

from __future__ import annotations

from postman_gateway.openapi.paths.building import Operation, json_body, ok, op, path_param, ref_example
from postman_gateway.openapi.schemas import obj, ref


def operations() -> list[Operation]:
    """Upstream's unsubscribe API: no key, the link's signature is the credential."""
    path = "/v1/unsubscribe/{campaignId}/{recipient}"
    params = [path_param("campaignId", "The campaign of the email the link came in.", example="20"),
              path_param("recipient", "The recipient's address, as in the link.", {"type": "string"},
                         "ana@example.com")]
    signature = {"h": {"type": "string", "description": "The link's HMAC (hex)."},
                 "v": {"type": "string", "description": "The version of the key that signed it."}}
    example = {"h": "9f3c" + "0" * 60, "v": "v1"}
    refused = ("A link Postman did not make, or one that was altered, is a 400 `invalid_parameters` "
               "\"Invalid unsubscribe request\" and changes nothing; a campaign id that is not a number is a 404.")
    return [
        op("PUT", path, "Unsubscribe", "Unsubscribe a recipient",
           "What the unsubscribe link's page calls (upstream Postman's API). Records that the recipient "
           "unsubscribed from this campaign's sender: the owner's later email campaigns skip them. " + refused,
           {**ok(201, "Recorded.", ref("Unsubscriber"), ref_example("Unsubscriber")),
            **ok(200, "It was recorded before.", ref("Unsubscriber"), ref_example("Unsubscriber"))},
           errors=(400, 404, 429, 500, 503), params=params, public=True,
           body=json_body(obj({**signature, "reason": {"type": "string", "maxLength": 500}}, ("h", "v")),
                          {**example, "reason": "I receive too many emails"})),
        op("DELETE", path, "Unsubscribe", "Subscribe a recipient again",
           "Withdraws the recipient's unsubscribe from this campaign's sender. " + refused,
           ok(200, "Subscribed again.", ref("Resubscribed"), {"campaignId": 20, "recipient": "ana@example.com"}),
           errors=(400, 404, 429, 500, 503), params=params, public=True,
           body=json_body(obj(signature, ("h", "v")), example)),
    ]

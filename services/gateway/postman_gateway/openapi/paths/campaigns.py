"""The ``Campaigns`` tag (contract section 3): list, create, rename, delete campaigns; cancel a scheduled send."""

from __future__ import annotations

from postman_gateway.openapi.paths.building import (
    CALLER_ERRORS,
    CAMPAIGN_ERRORS,
    CAMPAIGN_ID,
    Operation,
    json_body,
    ok,
    op,
    optional_body,
    path_param,
    query,
    ref_example,
)
from postman_gateway.openapi.schemas import CHANNEL_TYPES, obj, ref


def operations() -> list[Operation]:
    meta = ref_example("CampaignMeta")
    return [
        op("GET", "/v1/campaigns", "Campaigns", "List campaigns",
           "The caller's campaigns, newest first unless `sort_by`/`order_by` say otherwise.",
           ok(200, "A page of campaigns and how many there are in all.", ref("CampaignList"),
              ref_example("CampaignList")),
           errors=(400, *CALLER_ERRORS),
           params=[
               query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}, "Page size.", 10),
               query("offset", {"type": "integer", "minimum": 0, "default": 0}, "How many to skip.", 0),
               query("type", {"type": "string", "enum": CHANNEL_TYPES}, "Only this channel.", "EMAIL"),
               query("status", {"type": "string", "enum": ["Draft", "Sending", "Sent", "Scheduled"]},
                     "Only campaigns in this state (`Scheduled` is the upstream server's extra).", "Draft"),
               query("name", {"type": "string"}, "Only campaigns whose name contains this.", "reminders"),
               query("sort_by", {"type": "string", "enum": ["created_at", "sent_at"], "default": "created_at"},
                     "Sort key.", "created_at"),
               query("order_by", {"type": "string", "enum": ["ASC", "DESC"], "default": "DESC"}, "Sort order.",
                     "DESC"),
           ]),
        op("POST", "/v1/campaigns", "Campaigns", "Create a campaign",
           "A new draft campaign of one channel. `protect` (the upstream server's extra) defaults to false. "
           "`template_id` (an extension of this platform, not part of Postman v1; see the tag Extensions: saved "
           "templates) starts its template as a copy of that saved template, which must be of `type`'s channel; "
           "another user's template is 404.",
           ok(201, "The campaign.", ref("CampaignMeta"), meta), errors=(400, 403, 404, *CALLER_ERRORS),
           body=json_body(obj({"name": {"type": "string", "minLength": 1}, "type": ref("ChannelType"),
                               "protect": {"type": "boolean", "default": False},
                               "template_id": {"type": ["integer", "string"], "pattern": "^[1-9][0-9]*$",
                                               "minimum": 1, "x-postman-extension": "saved templates",
                                               "description": "Extension: a saved template to start from."}},
                              ("name", "type")),
                          {"name": "Appointment reminders", "type": "EMAIL"})),
        op("PUT", "/v1/campaigns/{campaignId}", "Campaigns", "Rename a campaign",
           "Changes the name. `should_save_list` is accepted and ignored: managed lists do not exist here.",
           ok(200, "The campaign.", ref("CampaignMeta"), {**meta, "name": "Renamed"}), errors=CAMPAIGN_ERRORS,
           params=[CAMPAIGN_ID],
           body=json_body(obj({"name": {"type": "string", "minLength": 1}, "should_save_list": {"type": "boolean"}}),
                          {"name": "Renamed"})),
        op("DELETE", "/v1/campaigns/{campaignId}", "Campaigns", "Delete a draft campaign",
           "Deletes a campaign that has not been sent or scheduled, with its template and recipients. A sent or "
           "scheduled one is 403.",
           ok(200, "Deleted.", ref("CampaignIdObject"), {"id": "20"}), errors=CAMPAIGN_ERRORS,
           params=[path_param("campaignId", "The campaign's id (the client types it as a number here).",
                              {"type": "integer", "minimum": 1}, example=20)]),
        op("POST", "/v1/campaigns/{campaignId}/cancel", "Campaigns", "Cancel a scheduled send",
           "Cancels a send scheduled with `scheduledTiming` that has not been released yet; the campaign is a "
           "draft again. Nothing scheduled is 400. The client posts no body (axios adds a form content type).",
           ok(200, "Cancelled.", ref("CampaignIdObject"), {"id": "20"}), errors=CAMPAIGN_ERRORS,
           params=[CAMPAIGN_ID], body=optional_body(obj({}), {}, "No data: ignored if any.")),
    ]

"""``/v1/templates``: saved templates, an extension of v1 (issue 18; not part of Postman's API).

An officer's message kept under a name per channel (email: subject, body, reply-to, From, logo; SMS and Telegram:
body), checked and sanitised by the campaign service exactly as a campaign's template of that channel is. A campaign
starts from one with ``template_id`` in ``POST /v1/campaigns``; a campaign's message is saved as one with
``POST /v1/campaigns/{id}/template/save-as``. Another user's template is 404, as a campaign is. The functions below
the routes are shared with the officers' pages (``web/saved_template_pages.py``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from postman.v1 import campaign_pb2
from postman_gateway.core import audit
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import api_validation
from postman_gateway.core.request_context import current
from postman_gateway.core.validation import (
    json_body,
    one_of,
    optional_bool,
    optional_string,
    positive_id,
    query_choice,
    required_string,
)
from postman_shared.grpc import client
from postman_shared.timestamps import to_iso

CHANNEL_TYPES = ("EMAIL", "SMS", "TELEGRAM")

blueprint = Blueprint("saved_templates", __name__)


def template_ref(raw_id: str, user_id: int) -> campaign_pb2.SavedTemplateRef:
    return campaign_pb2.SavedTemplateRef(template_id=positive_id(raw_id, "templateId"), user_id=user_id)


def serialized(template: campaign_pb2.SavedTemplate) -> dict[str, Any]:
    """A template as the API shows it: the email fields only for an email template."""
    shown: dict[str, Any] = {"id": template.id, "name": template.name, "channel": template.channel}
    if template.channel == "EMAIL":
        shown.update(subject=template.subject, body=template.body,
                     reply_to=template.reply_to if template.HasField("reply_to") else None,
                     **{"from": template.from_address}, show_logo=template.show_logo)
    else:
        shown["body"] = template.body
    shown.update(params=list(template.params), created_at=to_iso(template.created_at),
                 updated_at=to_iso(template.updated_at))
    return shown


def fields_of(body: dict[str, Any], channel: str) -> campaign_pb2.SavedTemplateFields:
    """The template fields of a JSON body; the campaign service checks their content and names a bad field."""
    fields = campaign_pb2.SavedTemplateFields(name=required_string(body, "name"), channel=channel,
                                              body=required_string(body, "body"))
    if channel == "EMAIL":
        fields.subject = optional_string(body, "subject") or ""
        fields.from_address = optional_string(body, "from") or ""
        fields.show_logo = optional_bool(body, "show_logo", default=True)
        reply_to = optional_string(body, "reply_to")
        if reply_to:
            fields.reply_to = reply_to
    return fields


# --- shared with the officers' pages ---------------------------------------------------------------------------------

def list_templates(user_id: int, channel: str = "") -> list[campaign_pb2.SavedTemplate]:
    found = client.call(backends().campaign.ListSavedTemplates,
                        campaign_pb2.ListSavedTemplatesRequest(user_id=user_id, channel=channel))
    return list(found.templates)


def get_template(ref: campaign_pb2.SavedTemplateRef) -> campaign_pb2.SavedTemplate:
    return client.call(backends().campaign.GetSavedTemplate, ref)  # type: ignore[no-any-return]


def create_template(user_id: int, fields: campaign_pb2.SavedTemplateFields,
                    from_campaign: int = 0) -> campaign_pb2.SavedTemplate:
    """A new template from ``fields``, or (``from_campaign``) the campaign's message under ``fields.name``."""
    created = client.call(backends().campaign.CreateSavedTemplate, campaign_pb2.CreateSavedTemplateRequest(
        user_id=user_id, fields=fields, campaign_id=from_campaign))
    audit.record("template.saved", "template", created.id,
                 {"channel": created.channel, **({"campaign_id": from_campaign} if from_campaign else {})})
    return created  # type: ignore[no-any-return]


def update_template(ref: campaign_pb2.SavedTemplateRef,
                    fields: campaign_pb2.SavedTemplateFields) -> campaign_pb2.SavedTemplate:
    updated = client.call(backends().campaign.UpdateSavedTemplate, campaign_pb2.UpdateSavedTemplateRequest(
        template_id=ref.template_id, user_id=ref.user_id, fields=fields))
    audit.record("template.updated", "template", ref.template_id, {})
    return updated  # type: ignore[no-any-return]


def delete_template(ref: campaign_pb2.SavedTemplateRef) -> None:
    client.call(backends().campaign.DeleteSavedTemplate, ref)
    audit.record("template.deleted", "template", ref.template_id, {})


def template_id_of(body: dict[str, Any]) -> int:
    """The optional ``template_id`` of ``POST /v1/campaigns`` (a number, or digits as a string); 0 when absent."""
    raw = body.get("template_id")
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise api_validation("template_id", "must be a template's id (a positive whole number)")
    return positive_id(str(raw), "template_id")


# --- routes ----------------------------------------------------------------------------------------------------------

@blueprint.get("/templates")
def list_saved_templates() -> ResponseReturnValue:
    channel = query_choice("channel", CHANNEL_TYPES)
    return jsonify(templates=[serialized(t) for t in list_templates(current().user_id, channel)])


@blueprint.post("/templates")
def create_saved_template() -> ResponseReturnValue:
    body = json_body()
    channel = one_of(required_string(body, "channel"), "channel", CHANNEL_TYPES)
    return jsonify(serialized(create_template(current().user_id, fields_of(body, channel)))), 201


@blueprint.get("/templates/<template_id>")
def get_saved_template(template_id: str) -> ResponseReturnValue:
    return jsonify(serialized(get_template(template_ref(template_id, current().user_id))))


@blueprint.put("/templates/<template_id>")
def update_saved_template(template_id: str) -> ResponseReturnValue:
    """Replaces the template's name and fields (a field left out takes its default, as on create); the channel
    cannot change."""
    ref = template_ref(template_id, current().user_id)
    body = json_body()
    channel = optional_string(body, "channel") or ""
    if channel:
        one_of(channel, "channel", CHANNEL_TYPES)
    else:
        channel = get_template(ref).channel
    return jsonify(serialized(update_template(ref, fields_of(body, channel))))


@blueprint.delete("/templates/<template_id>")
def delete_saved_template(template_id: str) -> ResponseReturnValue:
    ref = template_ref(template_id, current().user_id)
    delete_template(ref)
    return jsonify(id=ref.template_id)


@blueprint.post("/campaigns/<campaign_id>/template/save-as")
def save_campaign_template(campaign_id: str) -> ResponseReturnValue:
    """The campaign's saved message as a new template named ``name``."""
    source = positive_id(campaign_id, "campaignId")
    name = required_string(json_body(), "name")
    fields = campaign_pb2.SavedTemplateFields(name=name)
    return jsonify(serialized(create_template(current().user_id, fields, from_campaign=source))), 201


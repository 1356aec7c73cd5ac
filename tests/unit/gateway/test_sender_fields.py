"""The template editor's From: a typed name and an address chosen from a drop-down, to a From and back."""

from __future__ import annotations

import pytest

from postman_gateway.web.campaign.sender_fields import error_field, posted, saved

DEFAULT = "Postman <donotreply@mail.postman.gov.sg>"


@pytest.mark.parametrize("header, name, address", [
    ("", "", "donotreply@mail.postman.gov.sg"),
    (DEFAULT, "", "donotreply@mail.postman.gov.sg"),
    ("Ministry of Health via Postman <donotreply@mail.postman.gov.sg>", "Ministry of Health",
     "donotreply@mail.postman.gov.sg"),
    ('"Tan, Ana via Postman" <donotreply@mail.postman.gov.sg>', "Tan, Ana", "donotreply@mail.postman.gov.sg"),
    ("Front Desk <Desk@Agency.gov.sg>", "Front Desk", "desk@agency.gov.sg"),
    ("desk@agency.gov.sg", "", "desk@agency.gov.sg"),
])
def test_a_saved_from_is_shown_as_the_name_without_via_postman_and_the_address(header, name, address):
    fields = saved(header, DEFAULT)
    assert (fields["from_name"], fields["from_address"]) == (name, address)


@pytest.mark.parametrize("form, header", [
    ({"from_name": " Ministry  of Health ", "from_address": "donotreply@mail.postman.gov.sg"},
     "Ministry of Health <donotreply@mail.postman.gov.sg>"),
    ({"from_name": "Tan, Ana", "from_address": "desk@agency.gov.sg"}, '"Tan, Ana" <desk@agency.gov.sg>'),
    ({"from_name": "", "from_address": ""}, "donotreply@mail.postman.gov.sg"),
    ({"from": "Legacy <x@agency.gov.sg>"}, "Legacy <x@agency.gov.sg>"),  # a form without the drop-down
])
def test_the_posted_fields_make_the_from_the_campaign_service_checks(form, header):
    assert posted(form, DEFAULT)["from"] == header


def test_a_refusal_is_shown_on_the_field_it_is_about():
    assert error_field("from 'x <a@b.gov.sg>' is not an address you may send from: send from …") == "from_address"
    assert error_field("the name in from '…' looks like an address") == "from_name"
    assert error_field("from '=?utf-8?q?x?= <…>' holds an encoded word") == "from_name"

"""Every operation of the contract (every documented operation but this platform's own sign-in, key, ping and
upload routes) was driven by a contract test of this session with an answer the document allows.

It runs last (see conftest). When only part of the suite runs, it checks the operations of the modules that ran.
"""

from __future__ import annotations

from postman_gateway.openapi import build_document
from tests.contract.conformance import Document
from tests.contract.conftest import contract_operations

FLOW_MODULES = {"test_email_campaign.py", "test_sms_and_telegram_campaigns.py", "test_transactional.py"}


def test_every_operation_of_the_contract_was_driven(request, driven):
    document = Document(build_document())
    ran = {item.path.name for item in request.session.items}
    missing = contract_operations(document) - driven
    if FLOW_MODULES <= ran:
        assert missing == set(), f"no contract test drives: {sorted(missing)}"
    # 5 + 18 (email) + 17 (sms) + 17 (telegram), each with the stop extension, + 6 transactional + 2 unsubscribe
    assert len(contract_operations(document)) == 66
    assert driven - document.operations() == set()

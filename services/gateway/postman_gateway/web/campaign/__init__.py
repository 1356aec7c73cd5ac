# ruff: noqa: I001 - the steps are imported in the journey's order
"""The campaign pages: the journey one module per step (``journey.py`` says which, and holds what they share), the
campaign list (``listing``), the page of a sent campaign (``sent``) and the framed email of the previews
(``email_frame``).

Importing this package registers the steps' routes on ``blueprint`` (``campaign``), in the journey's order.
"""

from postman_gateway.web.campaign.journey import blueprint

# Each step's module adds its routes to ``blueprint`` when imported (explicit imports, so the import contracts see
# them), in the journey's order.
from postman_gateway.web.campaign import (  # noqa: F401
    create,
    template,
    recipients,
    provider_credentials,
    review,
    lifecycle,
)

__all__ = ["blueprint"]

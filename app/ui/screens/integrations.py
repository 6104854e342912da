"""Email integrations and escalation policies (arriving with notifications)."""

from app.ui.screens.area import EmptyAreaScreen


class IntegrationsScreen(EmptyAreaScreen):
    AREA_TITLE = "Integrations"
    EMPTY_TITLE = "No email integrations yet"
    EMPTY_MESSAGE = (
        "Notification addresses routed by severity (All, Alert, Warning, Info) and escalation "
        "policies will be configured here. They send through the SMTP settings of screen 4."
    )

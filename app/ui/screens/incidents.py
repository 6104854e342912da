"""The incident log (its live table arrives with the incident engine)."""

from app.ui.screens.area import EmptyAreaScreen


class IncidentsScreen(EmptyAreaScreen):
    AREA_TITLE = "Incidents"
    EMPTY_TITLE = "No incidents yet"
    EMPTY_MESSAGE = (
        "Alert mails that your monitoring sends to mailsiren will appear here as incidents, "
        "live, for triage from the keyboard. The mail listener and alert sources come in the "
        "next release.\n\nMeanwhile, press 4 to set up and test your SMTP server."
    )

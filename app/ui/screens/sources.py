"""Alert sources: one address per monitoring system (editors arrive with the engine)."""

from app.ui.screens.area import EmptyAreaScreen


class SourcesScreen(EmptyAreaScreen):
    AREA_TITLE = "Alert sources"
    EMPTY_TITLE = "No alert sources yet"
    EMPTY_MESSAGE = (
        "Each monitoring system (Nagios, Alertmanager, Zabbix…) will get its own address here, "
        "with filters, deduplication and key rules that turn its mails into incidents."
    )

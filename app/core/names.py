"""Vocabulary the command line needs to build its parser, importable without the database layer."""

PERMISSIONS = (
    "view_connections",
    "edit_connections",
    "delete_connections",
    "triage",
    "admin",
)
DEFAULT_PERMISSIONS = ("view_connections",)
PERMISSION_HELP = {
    "view_connections": "see integrations, escalation policies, sources",
    "edit_connections": "create and change them",
    "delete_connections": "delete them",
    "triage": "accept, resolve, reopen, note and assign incidents",
    "admin": "users, groups, settings; implies every permission",
}
INCIDENT_STATES = ("pending", "accepted", "resolved")
OPEN_STATES = ("pending", "accepted")  # "open" in every filter and rule
INCIDENT_STATE_FILTERS = (*INCIDENT_STATES, "open", "all")
SEVERITIES = ("alert", "warning", "info")
# What one mail did for one source (SPEC §4); `rejected` is what the listener refused.
MAIL_OUTCOMES = (
    "created",
    "appended",
    "resolved",
    "threaded",
    "reply",
    "reply_refused",
    "filtered",
    "orphan_resolve",
    "no_key",
    "loop",
    "duplicate",
    "rejected",
)
LEVELS = ("all", *SEVERITIES)  # an email integration's Notification Type
FREQUENCIES = ("instant", "hourly", "daily")  # hourly, daily: digests (§15)
NOTIFY_EVENTS = (
    "incident_opened",
    "incident_retriggered",
    "incident_accepted",
    "incident_resolved",
    "incident_escalated",
)
DEFAULT_NOTIFY_ON = ("incident_opened", "incident_resolved", "incident_escalated")
DELIVERY_STATUSES = ("queued", "sent", "retrying", "failed")

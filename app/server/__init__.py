"""The processes that run beside the UI: the inbound SMTP listener."""

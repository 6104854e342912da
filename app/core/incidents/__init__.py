"""Incidents: the one lifecycle that writes their facts, the views, the log's read model, escalation."""

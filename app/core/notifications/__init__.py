"""Notifications out: routing, integrations, organization settings, the notice, the outbox and its dispatcher."""

"""The Textual user interface: screens, widgets and modals over app.core services."""

"""mailsiren: alert email in, incidents out — a terminal incident log for operations teams."""

__version__ = "1.0.0"

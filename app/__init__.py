"""mailsiren: alert email in, incidents out — a terminal incident log for operations teams."""

__version__ = "0.1.0"

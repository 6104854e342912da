"""Modal screens: confirmations and pickers."""

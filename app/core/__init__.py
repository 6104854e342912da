"""The domain of mailsiren, grouped by the alert's flow (intake, incidents, notifications, sending, store). Never imports the UI."""

"""The domain of mailsiren: storage, secrets, users, mail and SMTP. Never imports the UI."""

"""SMTP out: sessions and Test Configuration, personal and shared configuration, the choice between them."""

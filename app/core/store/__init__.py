"""Storage: the database, its tables, secrets at rest, copying a database and rotating its key."""

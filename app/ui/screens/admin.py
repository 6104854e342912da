"""Administration: users, groups, permissions (management arrives with the shared config)."""

from app.ui.screens.area import EmptyAreaScreen


class AdminScreen(EmptyAreaScreen):
    AREA_TITLE = "Admin"
    EMPTY_TITLE = "Administration"
    EMPTY_MESSAGE = (
        "Users, groups and permissions, and the shared SMTP configuration that an "
        "administrator writes in a file, will be managed here."
    )

"""Who is at the keyboard: the account of the process's effective uid, as the kernel says."""

from __future__ import annotations

import os
import pwd


def current_login() -> str:
    """The login of the effective uid. Never LOGNAME or USER (what `getpass.getuser` reads
    first): any process sets those, and `LOGNAME=root` would make anyone an administrator."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a container's uid with no passwd entry: named by its number
        return f"uid-{uid}"

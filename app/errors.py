"""The one base class of every error that is told to a person rather than shown as a traceback."""


class MailsirenError(Exception):
    """Its message says what happened and what to do; the command line prints it and exits 1.

    `title` is a few words for the UI's notice or dialog heading; each subclass names its own.
    """

    title: str = "Not done"

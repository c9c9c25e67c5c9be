"""The one family of domain failures. Interfaces map them to 4xx answers."""


class ApplicationError(Exception):
    """A refusal a person can act on: a machine `code` and a human `message`."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra or {}


class NotFound(ApplicationError):
    code = "not_found"
    status = 404


class Conflict(ApplicationError):
    code = "conflict"
    status = 409


def file_read_error_message(exc: Exception) -> str:
    """What an upload form says when a file cannot be read: a sentence, never a traceback."""
    if isinstance(exc, UnicodeError):
        return (
            "The file is not UTF-8 text (it may be UTF-16, or a spreadsheet rather than a CSV); "
            "save it as CSV UTF-8 and upload it again."
        )
    message = getattr(exc, "message", None) or str(exc)
    if exc.__class__.__name__ == "StatementError" or isinstance(exc, ApplicationError):
        return str(message)
    return f"The file could not be read as the chosen format ({exc.__class__.__name__}); check the format and the file."

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

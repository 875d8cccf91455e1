"""The domain's exceptions. Routers map them to OGC exception reports or RFC 9457 problem documents."""

from __future__ import annotations


class KartennError(Exception):
    """Base of every error a user may see. ``status`` is the HTTP status it maps to."""

    status = 500
    code = "NoApplicableCode"

    def __init__(self, message: str, *, locator: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.locator = locator


class InvalidInput(KartennError):
    """A file, a parameter or a request body that cannot be used as given."""

    status = 400
    code = "InvalidParameterValue"


class UnsupportedFormat(InvalidInput):
    code = "InvalidFormat"


class UnsafeArchive(InvalidInput):
    code = "InvalidArchive"


class MissingCRS(InvalidInput):
    code = "MissingCRS"


class NotFound(KartennError):
    status = 404
    code = "NotFound"


class Conflict(KartennError):
    status = 409
    code = "Conflict"


class PreconditionFailed(KartennError):
    """A conditional write (``If-Match``) on a resource that changed since the caller read it."""

    status = 412
    code = "PreconditionFailed"


class TooLarge(KartennError):
    status = 413
    code = "PayloadTooLarge"


class Unauthorized(KartennError):
    """No valid credentials where some are needed (or wrong ones were sent)."""

    status = 401
    code = "Unauthorized"


class Forbidden(KartennError):
    """Known caller, not allowed to do this to a resource it may see."""

    status = 403
    code = "Forbidden"


class TooManyRequests(KartennError):
    """Too many attempts from one place; ``retry_after`` seconds until the next may succeed."""

    status = 429
    code = "TooManyRequests"

    def __init__(self, message: str, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidDimensionValue(InvalidInput):
    """A TIME (or other dimension) value the layer does not have."""

    code = "InvalidDimensionValue"

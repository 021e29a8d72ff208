"""The function's errors, each an HTTP status and Google's error shape `{"error": {code, message, status}}`."""

from __future__ import annotations


class ServingError(Exception):
    code = 500
    status = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, dict[str, object]]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


class BadRequestError(ServingError):
    code = 400
    status = "INVALID_ARGUMENT"


class NotFoundError(ServingError):
    code = 404
    status = "NOT_FOUND"


class MethodNotAllowedError(ServingError):
    code = 405
    status = "METHOD_NOT_ALLOWED"


class PayloadTooLargeError(ServingError):
    code = 413
    status = "INVALID_ARGUMENT"


class UnsupportedMediaTypeError(ServingError):
    code = 415
    status = "INVALID_ARGUMENT"


class UnavailableError(ServingError):
    code = 503
    status = "UNAVAILABLE"

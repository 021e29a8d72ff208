"""Errors in Google's shape: `{"error": {"code", "message", "status", "details"}}`."""

from __future__ import annotations

from typing import Any

_STATUS = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    501: "UNIMPLEMENTED",
}


class ApiError(Exception):
    """A request Vertex would refuse; `field` names the request field at fault (a BadRequest detail)."""

    def __init__(self, code: int, message: str, *, status: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or _STATUS.get(code, "UNKNOWN")
        self.field = field

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.field is not None:
            violation = {"field": self.field, "description": self.message}
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}]
        return {"error": error}


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, message, field=field)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)

"""The one exception hierarchy of the `infra` package: every message says what to do next."""

from __future__ import annotations


class InfraError(Exception):
    """Root of every error `infra` raises on purpose; its message is shown to the user as is."""


class StackError(InfraError):
    """A synthesized stack that is missing, malformed or asks for something unsupported."""


class LocalCloudError(InfraError):
    """The local emulators could not be started, reached, provisioned or stopped."""

"""Errors as AWS names them.

Every error a handler can return is one of these classes; the protocol layer turns them into the wire
form (JSON 1.1 ``__type`` for the control plane, ``x-amzn-ErrorType`` for rest-json). Routing is by
class, never by message text.
"""

from __future__ import annotations


class TailorError(Exception):
    """Base of all errors that reach a client. ``code`` is the botocore exception name."""

    code = "InternalFailure"
    status = 500

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidInputException(TailorError):
    code = "InvalidInputException"
    status = 400


class InvalidNextTokenException(TailorError):
    code = "InvalidNextTokenException"
    status = 400


class LimitExceededException(TailorError):
    code = "LimitExceededException"
    status = 400


class ResourceAlreadyExistsException(TailorError):
    code = "ResourceAlreadyExistsException"
    status = 400


class ResourceInUseException(TailorError):
    code = "ResourceInUseException"
    status = 400


class ResourceNotFoundException(TailorError):
    code = "ResourceNotFoundException"
    status = 400


class TooManyTagsException(TailorError):
    code = "TooManyTagsException"
    status = 400


class UnknownOperationException(TailorError):
    code = "UnknownOperationException"
    status = 400


class InternalFailure(TailorError):
    code = "InternalFailure"
    status = 500


# Authentication failures, raised before any operation runs. API Gateway answers these with 403.
class AuthError(TailorError):
    status = 403


class MissingAuthenticationTokenException(AuthError):
    code = "MissingAuthenticationTokenException"


class InvalidSignatureException(AuthError):
    code = "InvalidSignatureException"


class UnrecognizedClientException(AuthError):
    code = "UnrecognizedClientException"


class IncompleteSignatureException(AuthError):
    code = "IncompleteSignatureException"

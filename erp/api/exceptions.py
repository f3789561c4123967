"""One error shape for every 4xx: ``{"detail": "...", "errors": {"field": ["message", ...]}}``.

Validation errors keep DRF's field messages under ``errors``; a database integrity error (a
uniqueness or CHECK violation that slipped past validation) becomes a 409 instead of a 500, and a
Django ValidationError from a service becomes a 400.
"""

import functools
import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger("erp.api")


class Conflict(exceptions.APIException):
    """The object is in a state that forbids the action (answers 409 with the reason)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object is in a state that does not allow this action."
    default_code = "conflict"


def _as_lists(value):
    if isinstance(value, dict):
        return {key: _as_lists(item) for key, item in value.items()}
    if isinstance(value, list):
        if all(not isinstance(item, (dict, list)) for item in value):
            return [str(item) for item in value]
        return [_as_lists(item) for item in value]
    return [str(value)]


def _first_message(errors) -> str:
    """The first message anywhere in a (possibly nested) error structure."""
    if isinstance(errors, str):
        return errors
    items = errors.values() if isinstance(errors, dict) else errors if isinstance(errors, list) else []
    for item in items:
        message = _first_message(item)
        if message:
            return message
    return ""


def _django_validation_to_drf(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError({k: [str(m) for e in v for m in e.messages] for k, v in exc.error_dict.items()})
    return exceptions.ValidationError({"non_field_errors": exc.messages})


@functools.cache
def _constraints_by_name() -> dict:
    from django.apps import apps

    found = {}
    for model in apps.get_models():
        for constraint in model._meta.constraints:
            found[constraint.name] = constraint
    return found


def integrity_error_to_drf(exc: IntegrityError) -> exceptions.APIException:
    """A uniqueness or CHECK violation is bad input: 400 naming the fields; anything else 409."""
    diag = getattr(getattr(exc, "__cause__", None), "diag", None)
    name = getattr(diag, "constraint_name", None)
    constraint = _constraints_by_name().get(name) if name else None
    if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
        fields = [f for f in constraint.fields if f != "tenant"] or ["non_field_errors"]
        return exceptions.ValidationError({f: ["A record with this value already exists."] for f in fields})
    if isinstance(constraint, models.CheckConstraint):
        return exceptions.ValidationError({"non_field_errors": [f"The values break the rule {constraint.name}."]})
    logger.info("integrity error answered as 409: %s", exc)
    return Conflict("The change conflicts with existing data (a duplicate or a broken rule).")


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = _django_validation_to_drf(exc)
    elif isinstance(exc, IntegrityError):
        exc = integrity_error_to_drf(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        errors = _as_lists(data) if isinstance(data, dict) else {"non_field_errors": _as_lists(data)}
        summary = _first_message(errors)
        response.data = {"detail": f"Invalid input: {summary}" if summary else "Invalid input.", "errors": errors}
    else:
        detail = data.get("detail", data) if isinstance(data, dict) else data
        response.data = {"detail": str(detail), "errors": {}}
        if isinstance(data, dict):
            extra = {k: v for k, v in data.items() if k != "detail"}
            if extra:
                response.data["errors"] = _as_lists(extra)
    return response


def bad_request(message: str, **field_errors) -> Response:
    return Response({"detail": message, "errors": {k: [v] for k, v in field_errors.items()}}, status=400)

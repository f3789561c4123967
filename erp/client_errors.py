"""Oversized or malformed request bodies are the client's error: 413 or 400, logged at WARNING
without a traceback (Django logs them at ERROR with the traceback, as if the server had failed).

- A body declared larger than DATA_UPLOAD_MAX_MEMORY_SIZE (multipart uploads excepted: their files
  stream to disk and only their form fields count) is refused with 413 before anything reads it.
- A body that turns out too big, has too many fields or files, or is broken multipart while a view
  reads it answers 400/413 here (the API's error shape under /api/).
- The same errors raised while a middleware reads the form (CSRF, the NUL check) are answered by
  Django itself; their log records are lowered to WARNING without the traceback by the log filter.
"""

import logging

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError

logger = logging.getLogger("erp.request")

CLIENT_ERRORS = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent, MultiPartParserError, UnreadablePostError,
                 BadRequest)
# Where Django logs these (a filter on a logger applies to that logger's own records only).
DJANGO_LOGGERS = ("django.request", "django.security.RequestDataTooBig", "django.security.TooManyFieldsSent",
                  "django.security.TooManyFilesSent", "django.security.SuspiciousOperation")


class ClientErrorLogFilter(logging.Filter):
    """Lowers the record of a client error to WARNING and drops its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, CLIENT_ERRORS):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = record.stack_info = None
        return True


def install_log_filter() -> None:
    for name in DJANGO_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, ClientErrorLogFilter) for f in target.filters):
            target.addFilter(ClientErrorLogFilter())


def status_for(exc: Exception) -> int:
    return 413 if isinstance(exc, RequestDataTooBig) else 400


def message_for(exc: Exception) -> str:
    if isinstance(exc, RequestDataTooBig):
        return f"The request body is too large (at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)."
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return "The request has too many fields or files."
    return "The request body could not be read (malformed form or multipart data)."


def client_error_response(request, exc: Exception):
    status, message = status_for(exc), message_for(exc)
    logger.warning("client error %s on %s %s: %s", status, request.method, request.path, exc.__class__.__name__)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "errors": {}}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class ClientErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        install_log_filter()

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return client_error_response(request, BadRequest("Content-Length is not a number."))
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and declared > limit and not request.content_type.startswith("multipart/"):
            return client_error_response(request, RequestDataTooBig())
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, CLIENT_ERRORS):
            return client_error_response(request, exception)
        return None


def not_found(request, exception=None):
    """404 for a URL that matches no route: the API's error shape under /api/, the page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "errors": {}}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)

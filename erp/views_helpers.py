"""Helpers for purpose-built operator pages."""

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.shortcuts import render

from erp.admin_site import role_may


def tenant_page(*, app_label: str, write: bool = False):
    """Require a logged-in member of the current tenant whose role may read (or write) ``app_label``.

    GET/HEAD need read access; other methods need write access (or all of them with write=True).
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(request, "membership", None) is None:
                return render(request, "erp/no_tenant.html", status=403)
            needs_write = write or request.method not in ("GET", "HEAD", "OPTIONS")
            if not role_may(request, app_label, write=needs_write):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.tenant_page_app = app_label
        return wrapped

    return decorator


@dataclass
class KeysetPage:
    rows: list
    next_url: str  # "?...&before=<id>" for the next (older) page, "" on the last page
    params: QueryDict  # the query string without "before": for filters, exports and links


def keyset_page(request, queryset, *, size: int = 50) -> KeysetPage:
    """One page of ``queryset``, newest id first, after the ``before`` id of the query string: no
    OFFSET and no COUNT, so a page costs the same on the millionth row as on the first."""
    before = request.GET.get("before", "")
    if before.isdigit():
        queryset = queryset.filter(pk__lt=int(before))
    rows = list(queryset.order_by("-pk")[: size + 1])
    params = request.GET.copy()
    params.pop("before", None)
    next_url = ""
    if len(rows) > size:
        rows = rows[:size]
        following = params.copy()
        following["before"] = rows[-1].pk
        next_url = "?" + following.urlencode()
    return KeysetPage(rows=rows, next_url=next_url, params=params)


def error_text(exc, *, labels=None, model=None) -> str:
    """One line for an operator from a refusal: a 409 Conflict's reason, a ValidationError's
    messages (each after the field it is about), or the exception's text. A field is named by
    ``labels`` (field -> the label the form shows), else by ``model``'s verbose name of it, else by
    its key."""
    from rest_framework.exceptions import APIException

    if isinstance(exc, APIException):
        return str(exc.detail)
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field_label(k, labels=labels, model=model)}: {' '.join(v)}" if k != "__all__"
                         else " ".join(v) for k, v in exc.message_dict.items())
    return "; ".join(getattr(exc, "messages", [str(exc)]))


def field_label(key: str, *, labels=None, model=None) -> str:
    """How a form names the field ``key`` of a refusal (see error_text)."""
    from django.core.exceptions import FieldDoesNotExist
    from django.utils.text import capfirst

    if labels and key in labels:
        return str(labels[key])
    if model is not None:
        try:
            return str(capfirst(model._meta.get_field(key).verbose_name))
        except FieldDoesNotExist:
            pass
    return key


def filtered(request, filter_fn, queryset):
    """``filter_fn(queryset, request.GET)`` -> (queryset, applied); a malformed parameter (the
    ValidationError filter_fn raises, naming fields) is shown as an error message and left out."""
    from django.contrib import messages
    from django.core.exceptions import ValidationError

    try:
        return filter_fn(queryset, request.GET)
    except ValidationError as exc:
        for field, problems in exc.message_dict.items():
            messages.error(request, f"{field}: {'; '.join(problems)}")
        good = request.GET.copy()
        for field in exc.message_dict:
            good.pop(field, None)
        return filter_fn(queryset, good)

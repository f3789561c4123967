"""Test support: build a row of any tenant model in the current tenant.

The generic isolation test needs one row of every TenantScopedModel. ``build_row(Model)`` fills
required fields with plausible values and creates required related rows recursively in the same
tenant. A model it cannot build automatically registers a builder with ``register_row_builder``.
"""

import datetime
import itertools
import uuid
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone

from .context import require_tenant
from .models import Tenant, TenantScopedModel

_builders: dict[type, callable] = {}
_counter = itertools.count(1)


def register_row_builder(model, builder):
    _builders[model] = builder


def _value_for(field):
    n = next(_counter)
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, (models.SlugField,)):
        return f"x{n}-{uuid.uuid4().hex[:6]}"[: field.max_length]
    if isinstance(field, models.EmailField):
        return f"x{n}@example.com"
    if isinstance(field, models.URLField):
        return "https://example.com/"
    if isinstance(field, (models.CharField, models.TextField)):
        text = f"x{n}-{uuid.uuid4().hex[:8]}"
        return text[: field.max_length] if field.max_length else text
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DecimalField):
        return Decimal("1")
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return 1
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return datetime.date.today()
    if isinstance(field, models.DurationField):
        return datetime.timedelta(minutes=1)
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.JSONField):
        return {}
    raise NotImplementedError(f"cannot invent a value for {field.model.__name__}.{field.name} ({type(field).__name__})")


def build_row(model):
    """Create one row of ``model`` in the current tenant (registered builder, or automatic)."""
    require_tenant()
    if model in _builders:
        return _builders[model]()
    values = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name == "tenant" or field.has_default() or field.null:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        if field.is_relation:
            target = field.related_model
            if target is Tenant:
                values[field.name] = require_tenant()
            elif issubclass(target, TenantScopedModel):
                values[field.name] = build_row(target)
            elif target is get_user_model():
                values[field.name] = get_user_model().objects.create(username=f"u{next(_counter)}-{uuid.uuid4().hex[:6]}")
            else:
                raise NotImplementedError(f"{model.__name__}.{field.name} -> {target.__name__}: register a row builder")
            continue
        values[field.name] = _value_for(field)
    return model.objects.create(**values)


def api_routes(prefix: str = "api/v1/"):
    """Every DRF route under ``prefix``: (regex string, callback) for the project's urlconf."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, base):
        for pattern in patterns:
            regex = base + _pattern_regex(pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, regex)
            elif isinstance(pattern, URLPattern):
                yield regex, pattern.callback

    for regex, callback in walk(get_resolver().url_patterns, ""):
        if regex.startswith(prefix) and (hasattr(callback, "cls") or hasattr(callback, "view_class")):
            yield regex, callback


def _pattern_regex(pattern) -> str:
    from django.urls.resolvers import RegexPattern, RoutePattern

    inner = pattern.pattern
    if isinstance(inner, RoutePattern):
        text = str(inner)
        import re

        return re.sub(r"<(?:\w+:)?(\w+)>", r"(?P<\1>[^/]+)", text)
    if isinstance(inner, RegexPattern):
        return str(inner).lstrip("^").rstrip("$").replace("\\Z", "")
    return str(inner)


def route_url(regex: str, **values) -> str | None:
    """Fill a route's named groups; None when a group has no value or the route has a format suffix."""
    import re

    if "(?P<format>" in regex:
        return None
    missing = []

    def fill(match):
        name = match.group(1)
        if name not in values:
            missing.append(name)
            return ""
        return str(values[name])

    url = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", fill, regex)
    if missing:
        return None
    return "/" + url.replace("\\.", ".").replace("\\", "")


def view_model(callback):
    """The model a DRF view serves, when it declares one."""
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    model = getattr(cls, "model", None)
    if model is None:
        queryset = getattr(cls, "queryset", None)
        model = getattr(queryset, "model", None)
    return model

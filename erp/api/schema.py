"""OpenAPI naming: give every choice set on a commonly named field (status, kind...) a stable,
readable enum name derived from its model, so the schema needs no hand-kept override list."""

from collections import defaultdict

from django.apps import apps
from django.conf import settings


def _choice_key(choices) -> tuple:
    return tuple((str(value), str(label)) for value, label in choices)


def enum_name_overrides() -> dict[str, list]:
    by_field_name: dict[str, dict[tuple, tuple[str, list]]] = defaultdict(dict)
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not field.choices or not all(isinstance(value, (str, int)) for value, _ in field.flatchoices):
                continue
            name = f"{model.__name__}{field.name.title().replace('_', '')}Enum"
            by_field_name[field.name].setdefault(_choice_key(field.flatchoices), (name, list(field.flatchoices)))
    overrides = {}
    for choice_sets in by_field_name.values():
        if len(choice_sets) < 2:
            continue  # no collision: drf-spectacular's own name is fine
        for name, choices in choice_sets.values():
            overrides[name] = choices  # labels stay lazy: they must hash as the schema renders them
    return overrides


def install() -> None:
    spectacular = settings.SPECTACULAR_SETTINGS
    spectacular["ENUM_NAME_OVERRIDES"] = {**enum_name_overrides(), **spectacular.get("ENUM_NAME_OVERRIDES", {})}


# --- component names ------------------------------------------------------------------------------
from drf_spectacular.openapi import AutoSchema as _SpectacularAutoSchema  # noqa: E402
from rest_framework import serializers as _drf_serializers  # noqa: E402

_shared_names: set[str] | None = None


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def _project_packages() -> set[str]:
    base = str(settings.BASE_DIR)
    return {c.name.split(".")[0] for c in apps.get_app_configs() if str(c.path).startswith(base)}


def shared_serializer_names() -> set[str]:
    """Serializer class names defined in more than one of our apps (orders and members both have a
    ``MergeSerializer``): their schema components get the app's name in front."""
    global _shared_names
    if _shared_names is None:
        ours = _project_packages()
        homes: dict[str, set[str]] = defaultdict(set)
        for cls in _all_subclasses(_drf_serializers.BaseSerializer):
            package = cls.__module__.split(".")[0]
            if package in ours:
                homes[cls.__name__].add(package)
        _shared_names = {name for name, packages in homes.items() if len(packages) > 1}
    return _shared_names


class AutoSchema(_SpectacularAutoSchema):
    """drf-spectacular's schema, with component names made unique across apps."""

    def get_serializer_name(self, serializer, direction):
        name = super().get_serializer_name(serializer, direction)
        cls = serializer if isinstance(serializer, type) else type(serializer)
        if cls.__name__ in shared_serializer_names():
            prefix = "".join(part.title() for part in cls.__module__.split(".")[0].split("_"))
            if not name.startswith(prefix):
                name = prefix + name
        return name

    # --- the error answers every operation may give (one shape: erp.api.exceptions) ------------------
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None or not path.startswith("/api/v1/"):
            return operation
        responses = operation.setdefault("responses", {})
        for code, description in error_responses(method, has_body="requestBody" in operation):
            responses.setdefault(code, {"description": description,
                                        "content": {"application/json": {"schema": ERROR_SCHEMA}}})
        return operation


ERROR_SCHEMA = {
    "type": "object",
    "description": 'Every error: {"detail": "...", "errors": {"field": ["message"]}}.',
    "properties": {
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True},
    },
    "required": ["detail", "errors"],
}


def error_responses(method: str, *, has_body: bool) -> list[tuple[str, str]]:
    """The 4xx answers of an operation: bad input (body, query or path), authentication, role,
    a missing object (or page), a wrong state, a too large body, throttling."""
    codes = [("400", "Invalid input (field messages under errors)."),
             ("401", "No or an invalid token."),
             ("403", "The token's role may not do this."),
             ("404", "No such object in this tenant (or no such page).")]
    if method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
        codes.append(("409", "The object's state does not allow this, or the change conflicts with stored data."))
    if has_body:
        codes.append(("413", "The request body is too large."))
    codes.append(("429", "Too many requests for this token."))
    return codes

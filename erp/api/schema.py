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

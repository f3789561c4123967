"""Encrypted storage for secrets such as platform credentials (Fernet, key from settings)."""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models


def _fernet() -> Fernet:
    secret = settings.FIELD_ENCRYPTION_KEY or settings.SECRET_KEY
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def encrypt_text(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: FIELD_ENCRYPTION_KEY/SECRET_KEY changed since this was stored") from exc


class EncryptedJSONField(models.TextField):
    """A dict stored encrypted at rest; reads and writes plain dicts."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return {}
        return json.loads(decrypt_text(value))

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        if value in (None, ""):
            return {}
        try:
            return json.loads(value)
        except (TypeError, ValueError):
            return json.loads(decrypt_text(value))

    def get_prep_value(self, value):
        if value in (None, ""):
            value = {}
        return encrypt_text(json.dumps(value, sort_keys=True))

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, "erp.fields.EncryptedJSONField", args, kwargs

"""Where uploaded import files are kept while their job lives: ``DATAIMPORT_DIR`` (default
``<project>/var/imports``), one folder per tenant. The web server and the Celery workers must share it
(a volume in docker compose)."""

import os
import uuid
from pathlib import Path

from django.conf import settings


def base_dir() -> Path:
    configured = getattr(settings, "DATAIMPORT_DIR", None) or os.environ.get("DATAIMPORT_DIR")
    return Path(configured) if configured else Path(settings.BASE_DIR) / "var" / "imports"


def new_path(*, tenant_id: int, file_name: str) -> Path:
    suffix = Path(file_name).suffix.lower()[:10]
    folder = base_dir() / str(int(tenant_id))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{uuid.uuid4().hex}{suffix}"


def save_upload(*, tenant_id: int, upload, file_name: str = "") -> tuple[str, int]:
    """Write an uploaded file (Django UploadedFile, a file object or bytes) to disk in chunks."""
    path = new_path(tenant_id=tenant_id, file_name=file_name or getattr(upload, "name", "") or "upload")
    size = 0
    with open(path, "wb") as out:
        if isinstance(upload, bytes | bytearray):
            out.write(upload)
            size = len(upload)
        elif hasattr(upload, "chunks"):
            for chunk in upload.chunks():
                out.write(chunk)
                size += len(chunk)
        else:
            while chunk := upload.read(1024 * 1024):
                out.write(chunk)
                size += len(chunk)
    return str(path), size


def absolute(path: str) -> str:
    return path

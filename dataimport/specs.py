"""What an import type is: its columns (key, English and Chinese header, aliases, required, example,
parser), its natural key, the owning app's writer and read-back, and the file-side totals for the
reconciliation report.

The writer lives in the owning app (``<app>.services.imports``), named by a dotted path and imported
when first used, so this app depends on no other app's internals::

    writer(*, rows: list[dict], commit: bool, options: dict) -> dict
        rows: parsed rows ({"line": n, <column key>: value, ...}; a blank optional cell is absent),
        one batch. With commit=False it only reads (dry run). Answers {"created", "updated",
        "unchanged": int, "errors": [(line, column, message)], "posted": {...}, "changes":
        {"app_label.model": {"created": [ids], "updated": [ids]}}} (changes: the rows it wrote, kept
        as the job's history, dataimport.ImportChange) - rows with an error
        are not written; the others are (set-based: bulk INSERT ... ON CONFLICT, never save() per row).
    reconcile(*, rows: list[dict], options: dict) -> dict[str, number]
        the same totals as ``file_totals`` for these rows, read back from the database.

``after_batch`` functions get the writer's ``posted`` after each committed batch (in its
transaction: e.g. members books the buyers' imported historical orders) and may answer ``changes``
like a writer; ``on_done`` functions run
once when the whole file is committed (e.g. members recomputes RFM).
"""

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.utils.translation import get_language


@dataclass(frozen=True)
class Column:
    key: str
    en: str
    zh: str
    parse: Callable[[Any], Any]
    required: bool = False
    example: str = ""
    help_en: str = ""
    help_zh: str = ""
    aliases: tuple[str, ...] = ()

    def label(self) -> str:
        return self.zh if (get_language() or "").lower().startswith("zh") else self.en

    def help(self) -> str:
        return self.help_zh if (get_language() or "").lower().startswith("zh") else self.help_en


@dataclass(frozen=True)
class ImportType:
    name: str
    en: str
    zh: str
    app_label: str  # the app whose data it writes (its write policy decides who may import)
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # the natural key: column keys
    writer: str  # "app.services.imports:function"
    reconcile: str | tuple[str, ...]  # one or more read-backs; their figures are merged
    file_totals: Callable[[list[dict], dict], dict] | None = None
    batch_size: int = 2000
    whole_file: bool = False  # written in one batch (e.g. a voucher that must balance)
    description_en: str = ""
    description_zh: str = ""
    metric_labels: dict[str, tuple[str, str]] = field(default_factory=dict)
    post_to_books: str | None = None  # "app.services.imports:function"(posted=..., options=...) after a batch
    after_batch: tuple[str, ...] = ()  # more "app.services.imports:function"(posted=..., options=...) after a batch
    on_done: tuple[str, ...] = ()  # "app.services.imports:function"(options=...) once the whole file is committed

    def label(self) -> str:
        return self.zh if (get_language() or "").lower().startswith("zh") else self.en

    def description(self) -> str:
        return self.description_zh if (get_language() or "").lower().startswith("zh") else self.description_en

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    def required_keys(self) -> list[str]:
        return [c.key for c in self.columns if c.required]

    def writer_fn(self):
        return _resolve(self.writer)

    def reconcile_fn(self):
        paths = (self.reconcile,) if isinstance(self.reconcile, str) else self.reconcile
        fns = [_resolve(p) for p in paths]

        def merged(*, rows, options):
            out = {}
            for fn in fns:
                out.update(fn(rows=rows, options=options))
            return out

        return merged

    def after_batch_fns(self):
        return [_resolve(p) for p in self.after_batch]

    def on_done_fns(self):
        return [_resolve(p) for p in self.on_done]

    def post_to_books_fn(self):
        return _resolve(self.post_to_books) if self.post_to_books else None


def _resolve(path: str):
    module, _sep, name = path.partition(":")
    return getattr(import_module(module), name)


def normalise_header(text) -> str:
    """Headers compare case-, width- and punctuation-blind: "SKU Code*", "sku_code", "ＳＫＵ　code" match."""
    text = unicodedata.normalize("NFKC", str(text or "")).lower()
    return "".join(ch for ch in text if ch.isalnum())


def header_index(import_type: ImportType) -> dict[str, str]:
    """Every accepted spelling (normalised) -> column key: the key, English and Chinese headers, aliases."""
    index: dict[str, str] = {}
    for column in import_type.columns:
        for spelling in (column.key, column.en, column.zh, *column.aliases):
            index.setdefault(normalise_header(spelling), column.key)
    return index


REGISTRY: dict[str, ImportType] = {}


def register(import_type: ImportType) -> ImportType:
    REGISTRY[import_type.name] = import_type
    return import_type


def get_type(name: str) -> ImportType | None:
    from . import types  # noqa: F401  (registers the types)

    return REGISTRY.get(name)


def all_types() -> list[ImportType]:
    from . import types  # noqa: F401

    return list(REGISTRY.values())

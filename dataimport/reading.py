"""Reading an uploaded table, streamed: .xlsx (openpyxl read-only) and .csv / .txt in UTF-8 (with or
without BOM), GB18030 (what Chinese Excel writes for "CSV") or UTF-16 (Excel's "Unicode text").

``open_table(path)`` sniffs the real type from the bytes (not the file name), checks size and
encoding, and answers a ``Table``: ``headers`` (the first non-empty row) and ``rows()``, a
generator of ``(line_number, values)`` where the line number is the row's number as a spreadsheet
shows it (the header is usually line 1). Nothing holds the whole file in memory.

Every problem with the file itself raises ``FileRefused`` with a message for the person who
uploaded it (wrong type, empty, too large, unreadable text)."""

import codecs
import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _

SNIFF_BYTES = 64 * 1024
DEFAULT_MAX_BYTES = 200 * 1024 * 1024


class FileRefused(Exception):
    """The file as a whole cannot be imported; the message says why and what to do."""


def max_file_bytes() -> int:
    return int(getattr(settings, "DATAIMPORT_MAX_FILE_BYTES", DEFAULT_MAX_BYTES))


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


@dataclass
class Table:
    path: str
    file_format: str  # "xlsx" | "csv"
    encoding: str = ""
    delimiter: str = ","
    headers: list[str] = field(default_factory=list)
    header_line: int = 1

    def rows(self) -> Iterator[tuple[int, list]]:
        """Data rows after the header: (line number, values). Wholly empty rows are skipped."""
        source = _xlsx_rows(self.path) if self.file_format == "xlsx" else _csv_rows(self.path, self.encoding, self.delimiter)
        for line, values in source:
            if line <= self.header_line:
                continue
            if all(_blank(v) for v in values):
                continue
            yield line, values


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def open_table(path: str) -> Table:
    size = os.path.getsize(path)
    if size == 0:
        raise FileRefused(_("The file is empty."))
    limit = max_file_bytes()
    if size > limit:
        raise FileRefused(_("The file is %(size)s; the limit is %(limit)s. Split it into several files of the same "
                            "type and import them one after another.") % {"size": _mb(size), "limit": _mb(limit)})
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(b"PK\x03\x04"):
        table = Table(path=path, file_format="xlsx")
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(_("This is an old Excel .xls file (or another Office document). Open it in Excel and save it "
                            "as .xlsx or as CSV, then upload that."))
    elif head.startswith(b"%PDF"):
        raise FileRefused(_("This is a PDF, not a table. Upload an .xlsx or .csv file."))
    else:
        table = Table(path=path, file_format="csv", encoding=_detect_encoding(path, head))
        if b"\x00" in head and not table.encoding.startswith("utf-16"):
            raise FileRefused(_("This is not a text or Excel file. Upload an .xlsx or .csv file."))
        table.delimiter = _detect_delimiter(path, table.encoding)
    for line, values in (_xlsx_rows(path) if table.file_format == "xlsx" else _csv_rows(path, table.encoding, table.delimiter)):
        if any(not _blank(v) for v in values):
            headers = ["" if v is None else str(v).strip() for v in values]
            while headers and not headers[-1]:
                headers.pop()
            table.headers = headers
            table.header_line = line
            break
    else:
        raise FileRefused(_("The file has no rows: the first row must hold the column headers."))
    return table


def _detect_encoding(path: str, head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    for encoding in ("utf-8", "gb18030"):
        if _decodes(path, encoding):
            return encoding
    raise FileRefused(_("The text of the file is neither UTF-8 nor GB18030. Save it from Excel as "
                        "\"CSV UTF-8\" (or as .xlsx) and upload it again."))


def _decodes(path: str, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _detect_delimiter(path: str, encoding: str) -> str:
    with open(path, encoding=encoding, newline="") as fh:
        first = fh.readline()
    counts = {d: first.count(d) for d in (",", "\t", ";", "，")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _csv_rows(path: str, encoding: str, delimiter: str) -> Iterator[tuple[int, list]]:
    csv.field_size_limit(1024 * 1024)
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            yield from enumerate(reader, start=1)
        except csv.Error as exc:
            raise FileRefused(_("The CSV cannot be read after line %(line)s: %(error)s.")
                              % {"line": reader.line_num, "error": exc})


def _xlsx_rows(path: str) -> Iterator[tuple[int, list]]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    handle = open(path, "rb")  # a file object: the stored name has no .xlsx suffix to check
    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, InvalidFileException) as exc:
        handle.close()
        raise FileRefused(_("The file looks like a zip archive but is not a readable .xlsx workbook (%(error)s). "
                            "Open it in Excel and save it as .xlsx again.") % {"error": exc})
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(row)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise FileRefused(_("The workbook cannot be read (%(error)s).") % {"error": exc})
    finally:
        workbook.close()
        handle.close()


def text_of(value) -> str:
    """A cell as text, for messages and keys."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def write_csv_bytes(rows: list[list]) -> bytes:
    """A small CSV (UTF-8 with BOM, so Excel opens it with the right characters)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")

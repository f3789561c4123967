"""CSV and XLSX downloads of a table, the same way on every page.

CSV is UTF-8 with a byte-order mark (Excel on Windows then reads Chinese correctly) and is
streamed, so an export of 100,000 rows never sits in memory; XLSX is openpyxl's write-only
workbook. Times are written in the tenant's timezone (Excel has no time zones), Decimals stay
numbers, None is an empty cell.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterable, Sequence

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value):
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


class _Echo:
    def write(self, value):
        return value


def table_response(name: str, header: Sequence, rows: Iterable[Sequence], fmt: str = "csv", *,
                   preamble: Iterable[Sequence] = (), stamp: bool = True) -> HttpResponse:
    """A download of ``header`` and ``rows`` (``preamble`` rows come first, e.g. a document's
    header fields). ``fmt`` is "xlsx" or anything else for CSV; the file is ``name`` plus the
    local time when ``stamp``."""
    filename = f"{name}-{timezone.localtime().strftime('%Y%m%d-%H%M')}" if stamp else name
    if fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(name[:31])
        for row in (*preamble, header):
            sheet.append([_cell(v) for v in row])
        for row in rows:
            sheet.append([_cell(v) for v in row])
        response = HttpResponse(content_type=XLSX_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
        workbook.save(response)
        return response
    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff"
        for row in (*preamble, header):
            yield writer.writerow(["" if v is None else _cell(v) for v in row])
        for row in rows:
            yield writer.writerow(["" if v is None else _cell(v) for v in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response

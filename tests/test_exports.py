"""erp.exports: one way to download a table."""

import datetime
from decimal import Decimal
from io import BytesIO

from django.utils import timezone

from erp.exports import table_response

ROWS = [["A-1", Decimal("12.50"), datetime.datetime(2026, 11, 1, 16, 30, tzinfo=datetime.UTC), None]]


def test_csv_is_streamed_utf8_with_bom_times_local_and_none_empty():
    with timezone.override("Asia/Shanghai"):
        response = table_response("things", ["code", "amount", "at", "note"], iter(ROWS), "csv", stamp=False)
        body = response.getvalue().decode("utf-8")
    assert response.streaming and response["Content-Disposition"] == 'attachment; filename="things.csv"'
    assert body.startswith("\ufeffcode,amount,at,note\r\n")
    assert "A-1,12.50,2026-11-02 00:30:00," in body  # 16:30 UTC is 00:30 the next day in Shanghai


def test_xlsx_keeps_numbers_and_writes_local_times_after_a_preamble():
    from openpyxl import load_workbook

    with timezone.override("Asia/Shanghai"):
        response = table_response("things", ["code", "amount", "at", "note"], ROWS, "xlsx",
                                  preamble=[["Document", "PO-1"], []])
    rows = list(load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("Document", "PO-1") and rows[2] == ("code", "amount", "at", "note")
    assert rows[3][0] == "A-1" and rows[3][1] == 12.5 and rows[3][2] == datetime.datetime(2026, 11, 2, 0, 30)

"""PDFs with ReportLab: the pick list of a wave (A4) and the thermal waybill label (100 x 180 mm)."""

from __future__ import annotations

import io

from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

FONT = "STSong-Light"  # CID font shipped with ReportLab: Chinese receiver names and addresses render
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
LABEL_SIZE = (100 * mm, 180 * mm)


def _fit(text: str, width: float, size: float) -> str:
    """``text`` cut to ``width`` points at ``size`` (a long Chinese name must not run into the next column)."""
    if pdfmetrics.stringWidth(text, FONT, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", FONT, size) > width:
        text = text[:-1]
    return text + "…"


def _wrap(text: str, width: float, size: float) -> list[str]:
    """``text`` broken into lines of at most ``width`` points, at ", " where it can."""
    lines, line = [], ""
    for part in text.split(", "):
        candidate = f"{line}, {part}" if line else part
        if line and pdfmetrics.stringWidth(candidate, FONT, size) > width:
            lines.append(line + ",")
            line = part
        else:
            line = candidate
    return [*lines, line] if line else lines


def pick_list_pdf(*, wave, rows, title: str, headers: tuple[str, str, str, str]) -> bytes:
    """The pick list in bin order; under each SKU the orders it goes to, by their position in the wave
    (the picker sorts a multi-item wave's units into those slots), as on the page."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    width, height = A4
    y = height - 20 * mm

    def header():
        nonlocal y
        pdf.setFont(FONT, 14)
        pdf.drawString(15 * mm, y, f"{title} {wave.number}")
        y -= 10 * mm
        pdf.setFont(FONT, 10)
        for x, text in zip((15, 45, 95, 180), headers, strict=True):
            pdf.drawString(x * mm, y, text)
        y -= 6 * mm

    header()
    for row in rows:
        if y < 20 * mm:
            pdf.showPage()
            y = height - 20 * mm
            header()
        pdf.setFont(FONT, 10)
        pdf.drawString(15 * mm, y, _fit(row.bin or "-", 29 * mm, 10))
        pdf.drawString(45 * mm, y, _fit(row.sku_code, 49 * mm, 10))
        pdf.drawString(95 * mm, y, _fit(row.sku_name, 82 * mm, 10))
        pdf.drawRightString(195 * mm, y, str(row.quantity))
        y -= 6 * mm
        pdf.setFont(FONT, 8)
        for line in _wrap(", ".join(row.orders), 150 * mm, 8):
            if y < 15 * mm:
                pdf.showPage()
                y = height - 20 * mm
                header()
                pdf.setFont(FONT, 8)
            pdf.drawString(45 * mm, y + 1 * mm, line)
            y -= 4 * mm
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def label_pdf(*, parcel) -> bytes:
    buf = io.BytesIO()
    width, height = LABEL_SIZE
    pdf = canvas.Canvas(buf, pagesize=LABEL_SIZE)
    label = parcel.label or {}
    pdf.setFont(FONT, 16)
    pdf.drawString(6 * mm, height - 14 * mm, str(label.get("carrier", parcel.carrier_code)))
    pdf.setFont(FONT, 22)
    pdf.drawRightString(width - 6 * mm, height - 15 * mm, str(label.get("route_code", "")))
    barcode = code128.Code128(parcel.tracking_no, barHeight=22 * mm, barWidth=0.42 * mm)
    barcode.drawOn(pdf, 6 * mm, height - 45 * mm)
    pdf.setFont(FONT, 12)
    pdf.drawString(6 * mm, height - 52 * mm, parcel.tracking_no)
    y = height - 66 * mm
    for caption, value in (("收", f"{label.get('receiver', '')} {label.get('receiver_phone', '')}"),
                           ("", label.get("receiver_address", "")), ("寄", label.get("sender", "")),
                           ("#", parcel.order_no), ("kg", f"{(parcel.weight_g or label.get('weight_g') or 0) / 1000:.2f}")):
        pdf.drawString(6 * mm, y, f"{caption} {value}"[:40])
        y -= 9 * mm
    barcode.drawOn(pdf, 6 * mm, 12 * mm)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()

"""A check on paper: its QR code (SVG, for the HTML page) and its PDF (fpdf2).

Both carry the same content as the printable page: check number, date, payee, the
amount in figures and in words, memo, signature line, the writer's name, the QR code
linking to the deposit page with the number and code, and the number and code in
clear for manual entry. Nothing here reads the database or decides anything: the view
passes what to print (only for the check's writer).
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from datetime import datetime

import qrcode
import qrcode.image.svg
from fpdf import FPDF

from core.money import format_money

from .checks_words import amount_in_words

# fontTools (used by fpdf2 to subset the font) narrates every step at DEBUG: keep it quiet.
logging.getLogger("fontTools").setLevel(logging.WARNING)

# A Unicode font when the system has one (names like "Zoë" or "Łukasz"); otherwise the PDF core
# font, with characters outside Latin-1 replaced by "?" rather than failing.
UNICODE_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)


@dataclass(frozen=True)
class PrintableCheck:
    number: str
    date: datetime
    payee: str
    amount: int
    currency: str
    memo: str
    writer_name: str
    deposit_code: str  # as printed ("ABCD-EFGH-JKMN")
    deposit_url: str  # absolute URL of the deposit page with number and code
    status_label: str = ""

    @property
    def amount_figures(self) -> str:
        return format_money(self.amount, self.currency)

    @property
    def amount_words(self) -> str:
        return amount_in_words(self.amount, self.currency)


def qr_svg(data: str) -> str:
    """An inline ``<svg>`` of a QR code of ``data`` (no XML declaration: it goes inside HTML)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = image.to_string(encoding="unicode")
    if svg.startswith("<?xml"):
        svg = svg.split("?>", 1)[1].lstrip()
    return svg


def _qr_matrix(data: str) -> list[list[bool]]:
    code = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


class _Pdf(FPDF):
    def __init__(self):
        super().__init__(orientation="L", unit="mm", format=(90, 200))
        self.set_auto_page_break(False)
        self.set_margins(8, 8, 8)
        path = next((p for p in UNICODE_FONTS if os.path.exists(p)), None)
        if path:
            self.add_font("body", "", path)
            self.family = "body"
            self.unicode = True
        else:
            self.family = "helvetica"
            self.unicode = False

    def text_of(self, value: str) -> str:
        if self.unicode:
            return value
        return value.encode("latin-1", "replace").decode("latin-1")

    def write_at(self, x: float, y: float, text: str, *, size: float = 10, width: float = 0, align: str = "L"):
        self.set_font(self.family, size=size)
        self.set_xy(x, y)
        self.cell(width, 6, self.text_of(text), align=align)


def check_pdf(check: PrintableCheck) -> bytes:
    """The check as a one-page PDF (landscape, 200 × 90 mm) with the QR code drawn as vectors."""
    pdf = _Pdf()
    pdf.add_page()
    pdf.set_title(pdf.text_of(f"Check {check.number}"))
    pdf.set_draw_color(40, 40, 40)
    pdf.rect(4, 4, 192, 82)
    pdf.write_at(8, 7, check.writer_name, size=12)
    pdf.write_at(120, 7, f"No. {check.number}", size=11, width=68, align="R")
    pdf.write_at(120, 13, f"Date: {check.date:%B %-d, %Y}", size=10, width=68, align="R")
    pdf.write_at(8, 24, "PAY TO THE ORDER OF", size=8)
    pdf.write_at(42, 23, check.payee, size=12)
    pdf.line(42, 29, 150, 29)
    pdf.rect(152, 22, 36, 8)
    pdf.write_at(152, 23, check.amount_figures, size=12, width=36, align="C")
    pdf.write_at(8, 33, f"{check.amount_words} {check.currency}", size=10)
    pdf.line(8, 39, 188, 39)
    pdf.write_at(8, 46, f"Memo: {check.memo}" if check.memo else "Memo:", size=9)
    pdf.line(18, 52, 90, 52)
    pdf.line(120, 58, 188, 58)
    pdf.write_at(120, 59, "Signature", size=8)
    pdf.write_at(8, 62, f"Deposit at {check.deposit_url.split('?')[0]} with:", size=8)
    pdf.write_at(8, 67, f"Check number {check.number}", size=10)
    pdf.write_at(8, 72, f"Deposit code {check.deposit_code}", size=10)
    if check.status_label:
        pdf.write_at(8, 78, check.status_label.upper(), size=9)
    # The QR code: one filled square per dark module.
    matrix = _qr_matrix(check.deposit_url)
    side = 26.0
    module = side / len(matrix)
    left, top = 92.0, 56.0
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(matrix):
        for col_index, dark in enumerate(row):
            if dark:
                pdf.rect(left + col_index * module, top + row_index * module, module, module, style="F")
    out = io.BytesIO()
    pdf.output(out)
    return out.getvalue()

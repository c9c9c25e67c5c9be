"""The accountant files as XLSX, written with openpyxl (write-only mode: rows stream to the file).

One or more sheets, a bold frozen header row, text cells always text (a cell such as '=1+1' is
never read as a formula), numbers from Decimal or int with the number format of their decimals
(JPY 0, USD 2, KWD 3: 0, 0.00, 0.000), and dates as real spreadsheet dates (yyyy-mm-dd). No floats:
a Decimal is written as its exact text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import TYPE_STRING
from openpyxl.styles import Font
from openpyxl.utils.exceptions import IllegalCharacterError
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

Cell = str | int | Decimal | date | None

_MAX_DECIMALS = 4
_BOLD = Font(bold=True)
# XML 1.0 forbids most control characters; a ledger description could carry one.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Sheet:
    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Cell]]


def _sheet_title(title: str) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\."""
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet"


def _cell(sheet: WriteOnlyWorksheet, value: Cell) -> WriteOnlyCell | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        value = "TRUE" if value else "FALSE"
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=None)
        cell.value = _NOT_XML.sub("", value)
        cell.data_type = TYPE_STRING  # never a formula, whatever it starts with
        return cell
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    elif isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        decimals = min(-exponent, _MAX_DECIMALS) if isinstance(exponent, int) and exponent < 0 else 0
        cell.number_format = "0." + "0" * decimals if decimals else "0"
    else:
        cell.number_format = "0"
    return cell


def _header(sheet: WriteOnlyWorksheet, names: Sequence[str]) -> list[WriteOnlyCell]:
    cells = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = _BOLD
        cells.append(cell)
    return cells


def workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    """The .xlsx file holding `sheets`, in order."""
    workbook = Workbook(write_only=True)
    for spec in sheets:
        sheet = workbook.create_sheet(_sheet_title(spec.title))
        sheet.freeze_panes = "A2"
        sheet.append(_header(sheet, spec.header))
        for row in spec.rows:
            sheet.append([_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    try:
        workbook.save(buffer)
    except IllegalCharacterError as exc:  # _NOT_XML keeps them out; a sentence if one slips through
        raise ValueError(f"a cell holds a character a spreadsheet cannot: {exc}") from exc
    return buffer.getvalue()

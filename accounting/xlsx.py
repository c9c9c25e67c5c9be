"""A small write-only XLSX (Office Open XML spreadsheet) writer on the standard library.

Enough for the accountant files: one or more sheets, a bold frozen header row, text cells as
inline strings (never read as formulas, so a cell such as '=1+1' stays text), numbers from
Decimal or int with the number format of their decimals (JPY 0, USD 2, KWD 3: 0, 0.00, 0.000),
and dates as real spreadsheet dates (yyyy-mm-dd). No floats are involved: a Decimal is written
as its exact text.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

Cell = str | int | Decimal | date | None

# cellXfs indices in STYLES: 0 plain, 1 bold header, 2 date, 3.. numbers with 0..4 decimals.
_HEADER, _DATE, _NUMBER_BASE = 1, 2, 3
_MAX_DECIMALS = 4
_EXCEL_EPOCH = date(1899, 12, 30)
# XML 1.0 forbids most control characters; a ledger description could carry one.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Sheet:
    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Cell]]


def _column(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("", value))


def _cell(ref: str, value: Cell, *, style: int = 0) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        value = "TRUE" if value else "FALSE"
    if isinstance(value, date):
        return f'<c r="{ref}" s="{_DATE}"><v>{(value - _EXCEL_EPOCH).days}</v></c>'
    if isinstance(value, int):
        return f'<c r="{ref}" s="{_NUMBER_BASE}"><v>{value}</v></c>'
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        decimals = min(-exponent, _MAX_DECIMALS) if isinstance(exponent, int) and exponent < 0 else 0
        return f'<c r="{ref}" s="{_NUMBER_BASE + decimals}"><v>{value:f}</v></c>'
    return f'<c r="{ref}" t="inlineStr" s="{style}"><is><t xml:space="preserve">{_text(str(value))}</t></is></c>'


def _sheet_xml(sheet: Sheet) -> str:
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">',
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
        'state="frozen"/></sheetView></sheetViews>',
        "<sheetData>",
    ]
    header = "".join(_cell(f"{_column(i)}1", name, style=_HEADER) for i, name in enumerate(sheet.header))
    parts.append(f'<row r="1">{header}</row>')
    for number, row in enumerate(sheet.rows, start=2):
        cells = "".join(_cell(f"{_column(i)}{number}", value) for i, value in enumerate(row))
        parts.append(f'<row r="{number}">{cells}</row>')
    parts.append("</sheetData></worksheet>")
    return "".join(parts)


def _styles_xml() -> str:
    custom = {164 + d: "0." + "0" * d for d in range(1, _MAX_DECIMALS + 1)}
    num_fmts = "".join(f'<numFmt numFmtId="{fid}" formatCode="{code}"/>' for fid, code in custom.items())
    number_xfs = '<xf numFmtId="1" fontId="0" fillId="0" borderId="0" applyNumberFormat="1"/>' + "".join(
        f'<xf numFmtId="{fid}" fontId="0" fillId="0" borderId="0" applyNumberFormat="1"/>' for fid in custom
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<numFmts count="{len(custom) + 1}">{num_fmts}<numFmt numFmtId="200" formatCode="yyyy-mm-dd"/></numFmts>'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{3 + 1 + len(custom)}">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        '<xf numFmtId="200" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        f"{number_xfs}</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )


def _sheet_title(title: str) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\."""
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet"


def workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    """The .xlsx file holding `sheets`, in order."""
    names = [_sheet_title(sheet.title) for sheet in sheets]
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>"
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    )
    sheet_entries = "".join(
        f'<sheet name="{_text(name)}" sheetId="{i}" r:id="rId{i}"/>' for i, name in enumerate(names, start=1)
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"<sheets>{sheet_entries}</sheets></workbook>"
    )
    sheet_rels = "".join(
        f'<Relationship Id="rId{i}" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        f'Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    styles_id = len(sheets) + 1
    workbook_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f"{sheet_rels}"
        f'<Relationship Id="rId{styles_id}" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        "</Relationships>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", root_rels)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        archive.writestr("xl/styles.xml", _styles_xml())
        for i, sheet in enumerate(sheets, start=1):
            archive.writestr(f"xl/worksheets/sheet{i}.xml", _sheet_xml(sheet))
    return buffer.getvalue()

"""The history as CSV, safe to open in a spreadsheet.

A supervisor opens the export in Excel or LibreOffice. A cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is taken there as a formula, and the
texts in it came from operators (close notes) and from devices (messages): a note like
``=HYPERLINK("http://…")`` would run. Such a text cell gets a leading ``'`` (OWASP's
CSV-injection advice); the spreadsheet shows the text as written. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_CHARS = 65536


def cell(value: Any) -> Any:
    """One value as a CSV cell: None is empty, a formula-looking text is quoted."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The header and rows as CSV text, in chunks of about 64 KB (streamed)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])
        if out.tell() > CHUNK_CHARS:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()

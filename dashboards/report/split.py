"""One PDF of many reports cut into one PDF per report, in plain Python.

Chromium spends most of a print on work done once per print job (a print frame, the
layout for paper, the font subset, writing the file), so reports printed together cost a
third of reports printed one by one (dashboards/report/render.py). This cuts such a job
apart: each part gets its pages and every object they reach (content, fonts, images),
renumbered, under a catalog and an Info dictionary of its own (its own title).

It reads the PDFs Chromium's Skia writes: a classic cross-reference table, no object
streams, stream lengths written directly, untagged (Page.printToPDF with
generateTaggedPDF false: a structure tree spans the whole job and cannot be cut with its
pages). Anything else raises SplitError, and the caller prints those reports one by one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

HEADER: Final = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
_REF: Final = re.compile(rb"(\d+) 0 R\b")
_OBJ: Final = re.compile(rb"(\d+) 0 obj\s*")
_LENGTH: Final = re.compile(rb"/Length (\d+)\b")
_XREF_ROW: Final = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_KIDS: Final = re.compile(rb"/Kids\s*\[([^\]]*)\]")
_PARENT: Final = re.compile(rb"/Parent \d+ 0 R\s*")
#: a page's key that points into the document-wide structure tree
_STRUCT: Final = re.compile(rb"/StructParents \d+\s*")


class SplitError(ValueError):
    """The PDF is not one this module can cut (not Skia's plain output)."""


class _Pdf:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offsets = self._xref()
        self.cache: dict[int, tuple[bytes, bytes]] = {}

    def _xref(self) -> dict[int, int]:
        at = self.data.rfind(b"startxref")
        if at < 0:
            raise SplitError("no startxref")
        start = int(self.data[at + 9:].split()[0])
        if not self.data.startswith(b"xref", start):
            raise SplitError("not a classic cross-reference table (xref stream?)")
        lines = self.data[start:self.data.index(b"trailer", start)].split(b"\n")[1:]
        offsets: dict[int, int] = {}
        number = 0
        for line in (raw.strip() for raw in lines):
            row = _XREF_ROW.fullmatch(line)
            if row:
                if row.group(3) == b"n":
                    offsets[number] = int(row.group(1))
                number += 1
            elif line:
                number = int(line.split()[0])
        self.trailer = self.data[self.data.index(b"trailer", start):at]
        return offsets

    def obj(self, number: int) -> tuple[bytes, bytes]:
        """The object's dictionary (or value) text, and its stream bytes (b'' if none)."""
        if number in self.cache:
            return self.cache[number]
        if number not in self.offsets:
            raise SplitError(f"object {number} is not in the table")
        head = _OBJ.match(self.data, self.offsets[number])
        if not head or int(head.group(1)) != number:
            raise SplitError(f"object {number} is not where the table says")
        begin = head.end()
        end = self.data.index(b"endobj", begin)
        body = self.data[begin:end]
        at = body.find(b"stream")
        stream = b""
        if at >= 0 and (at == 0 or body[:at].rstrip().endswith(b">>")):
            length = _LENGTH.search(body[:at])
            if not length:
                raise SplitError(f"object {number}: a stream without a direct /Length")
            data_at = begin + at + len(b"stream")
            data_at += 2 if self.data[data_at:data_at + 2] == b"\r\n" else 1
            stream = self.data[data_at:data_at + int(length.group(1))]
            body = body[:at]
        self.cache[number] = (body.strip(), stream)
        return self.cache[number]

    def root(self) -> int:
        found = re.search(rb"/Root (\d+) 0 R", self.trailer)
        if not found:
            raise SplitError("no /Root in the trailer")
        return int(found.group(1))

    def pages(self) -> list[int]:
        """The page objects in order (the page tree walked depth first)."""
        catalog, _ = self.obj(self.root())
        top = re.search(rb"/Pages (\d+) 0 R", catalog)
        if not top:
            raise SplitError("no /Pages in the catalog")
        self.tree: set[int] = set()
        out: list[int] = []

        def walk(number: int) -> None:
            body, _ = self.obj(number)
            kids = _KIDS.search(body)
            if b"/Type /Pages" in body and kids:
                self.tree.add(number)
                for kid in _REF.findall(kids.group(1)):
                    walk(int(kid))
            else:
                out.append(number)

        walk(int(top.group(1)))
        return out


def _text(value: str) -> bytes:
    """A PDF text string: UTF-16BE with its byte-order mark, in hex."""
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode() + b">"


def split(pdf: bytes, parts: Sequence[tuple[int, str]]) -> list[bytes]:
    """``pdf`` cut into consecutive parts of (page count, title); the counts must add up
    to the document's pages."""
    doc = _Pdf(pdf)
    pages = doc.pages()
    if sum(n for n, _ in parts) != len(pages):
        raise SplitError(f"{len(pages)} page(s), parts of {sum(n for n, _ in parts)}")
    if b"/StructTreeRoot" in doc.obj(doc.root())[0]:
        raise SplitError("a tagged PDF: its structure tree spans every page")
    out = []
    first = 0
    for count, title in parts:
        out.append(_part(doc, pages[first:first + count], set(pages) | doc.tree, title))
        first += count
    return out


def _part(doc: _Pdf, pages: list[int], skip: set[int], title: str) -> bytes:
    # numbers 1-3: Info, catalog, page tree; then the pages and what they reach
    numbers: dict[int, int] = {}
    order: list[int] = []

    def keep(number: int) -> None:
        if number in numbers:
            return
        numbers[number] = len(order) + 4
        order.append(number)
        body, _ = doc.obj(number)
        for ref in _REF.findall(_PARENT.sub(b"", body)):
            if int(ref) not in skip:  # another page (a link's target): not this part's
                keep(int(ref))

    for page in pages:
        numbers[page] = len(order) + 4
        order.append(page)
    for page in pages:
        body, _ = doc.obj(page)
        for ref in _REF.findall(_PARENT.sub(b"", body)):
            if int(ref) not in skip:
                keep(int(ref))

    def renumber(body: bytes) -> bytes:
        def one(m: re.Match[bytes]) -> bytes:
            new = numbers.get(int(m.group(1)))
            return b"null" if new is None else b"%d 0 R" % new
        return _REF.sub(one, body)

    chunks = [HEADER]
    offsets = []
    size = len(HEADER)

    def emit(number: int, body: bytes, stream: bytes = b"") -> None:
        nonlocal size
        text = b"%d 0 obj\n" % number + body
        text += (b" stream\n" + stream + b"\nendstream" if stream else b"") + b"\nendobj\n"
        offsets.append(size)
        chunks.append(text)
        size += len(text)

    emit(1, b"<</Title " + _text(title) + b"\n/Producer (Skia/PDF, cut by hj212)>>")
    emit(2, b"<</Type /Catalog\n/Pages 3 0 R\n/ViewerPreferences <</Type "
            b"/ViewerPreferences\n/DisplayDocTitle true>>>>")
    kids = b" ".join(b"%d 0 R" % numbers[p] for p in pages)
    emit(3, b"<</Type /Pages\n/Count %d\n/Kids [%s]>>" % (len(pages), kids))
    for old in order:
        body, stream = doc.obj(old)
        body = renumber(_STRUCT.sub(b"", _PARENT.sub(b"", body)) if old in pages else body)
        if old in pages:  # its new parent, added after renumbering (3 is a new number)
            if not body.endswith(b">>"):
                raise SplitError(f"page object {old} is not a dictionary")
            body = body[:-2] + b"\n/Parent 3 0 R>>"
        emit(numbers[old], body, stream)
    xref = [b"xref\n0 %d\n" % (len(offsets) + 1), b"0000000000 65535 f \n"]
    xref += [b"%010d 00000 n \n" % at for at in offsets]
    trailer = (b"trailer\n<</Size %d\n/Root 2 0 R\n/Info 1 0 R>>\nstartxref\n%d\n%%%%EOF\n"
               % (len(offsets) + 1, size))
    return b"".join(chunks + xref) + trailer

"""Reports printed many to a job and cut apart: dashboards/report/split.py on a PDF built
here the way Chromium's Skia writes them (pages sharing a font, binary streams, a page
tree of two levels), and the batch page of html.py (its own footer and page name for each
report, names escaped inside the CSS)."""

from __future__ import annotations

import dataclasses
import re
import zlib

import pytest

from dashboards.report.data import build_reports
from dashboards.report.html import css_string, render_batch, render_html, report_title
from dashboards.report.split import SplitError, split
from tests.unit.test_report_model import NOW, WEEK, rows


def skia_like(pages: list[bytes], *, tagged: bool = False) -> bytes:
    """A PDF of one content stream per page, all pages using font 2 (a stream of binary
    bytes, among them the word 'endobj'), two pages per /Pages node."""
    objs: dict[int, bytes] = {}
    font_file = b"\x00\xffendobj\x00stream" + bytes(range(256))
    objs[1] = b"<</Title (whole job)\n/Producer (Skia/PDF m156)>>"
    objs[2] = b"<</Type /Font\n/FontFile2 3 0 R>>"
    objs[3] = b"<</Length %d>> stream\n%s\nendstream" % (len(font_file), font_file)
    nodes, kids, number = [], [], 10
    for i, text in enumerate(pages):
        content = zlib.compress(b"BT /F1 12 Tf (" + text + b") Tj ET")
        objs[number] = (b"<</Filter /FlateDecode\n/Length %d>> stream\n%s\nendstream"
                        % (len(content), content))
        node = 100 + i // 2
        objs[number + 1] = (b"<</Type /Page\n/Resources <</Font <</F1 2 0 R>>>>\n/Contents "
                            b"%d 0 R\n/StructParents %d\n/Parent %d 0 R>>"
                            % (number, i, node))
        kids.append((node, number + 1))
        number += 2
    for node in sorted({n for n, _ in kids}):
        mine = b" ".join(b"%d 0 R" % page for n, page in kids if n == node)
        nodes.append(node)
        objs[node] = (b"<</Type /Pages\n/Count %d\n/Kids [%s]\n/Parent 99 0 R>>"
                      % (mine.count(b" R"), mine))
    objs[99] = b"<</Type /Pages\n/Count %d\n/Kids [%s]>>" % (
        len(pages), b" ".join(b"%d 0 R" % n for n in nodes))
    objs[98] = (b"<</Type /Catalog\n/Pages 99 0 R" + (b"\n/StructTreeRoot 1 0 R" if tagged
                                                          else b"") + b">>")
    out, offsets = bytearray(b"%PDF-1.4\n%\xd3\xeb\xe9\xe1\n"), {}
    for n in sorted(objs):
        offsets[n] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (n, objs[n])
    size = max(objs) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for n in range(1, size):
        out += (b"%010d 00000 n \n" % offsets[n]) if n in offsets else b"0000000000 65535 f \n"
    out += b"trailer\n<</Size %d\n/Root 98 0 R\n/Info 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (
        size, xref)
    return bytes(out)


def objects(pdf: bytes) -> dict[int, bytes]:
    """Every object of ``pdf`` by its cross-reference table (which must point right)."""
    start = int(pdf[pdf.rindex(b"startxref") + 9:].split()[0])
    assert pdf.startswith(b"xref", start)
    table = pdf[start:].split(b"trailer")[0].split(b"\n")[2:]
    out = {}
    for number, row in enumerate(table):
        if row.endswith(b"n "):
            at = int(row[:10])
            head = re.match(rb"(\d+) 0 obj\n", pdf[at:])
            assert head and int(head.group(1)) == number, (number, pdf[at:at + 20])
            out[number] = pdf[at + head.end():pdf.index(b"\nendobj", at)]
    return out


def page_texts(pdf: bytes) -> list[bytes]:
    objs = objects(pdf)
    catalog = next(o for o in objs.values() if b"/Type /Catalog" in o)
    top = objs[int(re.search(rb"/Pages (\d+) 0 R", catalog).group(1))]  # type: ignore[union-attr]
    out = []
    for kid in re.findall(rb"(\d+) 0 R", top.split(b"/Kids")[1]):
        page = objs[int(kid)]
        content = objs[int(re.search(rb"/Contents (\d+) 0 R", page).group(1))]  # type: ignore[union-attr]
        data = content.split(b"stream\n", 1)[1].rsplit(b"\nendstream", 1)[0]
        out.append(re.search(rb"\((.*)\)", zlib.decompress(data)).group(1))  # type: ignore[union-attr]
    return out


def test_a_job_is_cut_into_its_reports_pages():
    job = skia_like([b"A1", b"B1", b"B2", b"C1", b"D1"])
    parts = split(job, [(1, "甲 周报"), (2, "乙"), (1, "丙"), (1, "丁")])
    assert [page_texts(p) for p in parts] == [[b"A1"], [b"B1", b"B2"], [b"C1"], [b"D1"]]
    for part, title in zip(parts, ["甲 周报", "乙", "丙", "丁"], strict=True):
        objs = objects(part)
        info = objs[int(re.search(rb"/Info (\d+) 0 R", part).group(1))]  # type: ignore[union-attr]
        assert b"<FEFF" + title.encode("utf-16-be").hex().upper().encode() + b">" in info
        # the shared font and its binary file go along, byte for byte
        font_file = next(o for o in objs.values() if o.startswith(b"<</Length 271>>"))
        assert font_file.endswith(b"\x00\xffendobj\x00stream" + bytes(range(256))
                                  + b"\nendstream")
        pages = [o for o in objs.values() if b"/Type /Page\n" in o]
        tree = next(n for n, o in objs.items() if b"/Type /Pages" in o)
        assert all(f"/Parent {tree} 0 R".encode() in p for p in pages)
        assert all(b"/StructParents" not in p for p in pages)
        assert sum(b"/Type /Page\n" in o for o in objs.values()) == len(page_texts(part))
    assert page_texts(parts[1]) == [b"B1", b"B2"]


def test_parts_must_cover_the_pages_and_tags_are_refused():
    job = skia_like([b"A1", b"B1"])
    with pytest.raises(SplitError, match="2 page"):
        split(job, [(1, "a")])
    with pytest.raises(SplitError, match="tagged"):
        split(skia_like([b"A1"], tagged=True), [(1, "a")])
    with pytest.raises(SplitError):
        split(b"%PDF-1.4\nnothing here", [(1, "a")])


def test_css_strings_cannot_leave_their_quotes_or_the_style():
    assert css_string("甲化工") == '"甲化工"'
    tricky = css_string('a"b\\c</style><script>\n')
    assert '"' not in tricky[1:-1] and "<" not in tricky and "\n" not in tricky
    assert tricky == '"a\\22 b\\5c c\\3c /style\\3e \\3c script\\3e \\a "'


def test_the_batch_page_gives_each_report_its_page_and_footer():
    reports = build_reports(rows(), WEEK, NOW)
    reports[0] = dataclasses.replace(reports[0], enterprise='A"</style>')
    html = render_batch(reports)
    assert html.count("<article class=\"report report-") == len(reports)
    for i, report in enumerate(reports, 1):
        assert f"article.report-{i} {{ page: report-{i}; }}" in html
        assert (f"@page report-{i} {{ @bottom-center {{ content: \"第 1 页 / 共 1 页 · \" "
                f"{css_string(report_title(report))}; }} }}") in html
    assert "A&#34;&lt;/style&gt;" in html  # in the page's text, HTML-escaped
    assert html.count("</style>") == 1
    # a report alone numbers its pages with the page counters
    alone = render_html(reports[1])
    assert ('content: "第 " counter(page) " 页 / 共 " counter(pages) " 页 · " '
            f"{css_string(report_title(reports[1]))};") in alone
    assert "page: report-" not in alone

#!/usr/bin/env python3
"""CSV conformance corpus for the Sluice CSV source, with reference output.

What it is
    This script writes every corpus file in the folder it lives in:

      NN-name.csv             the input, byte for byte as built here
      NN-name.options.json    source options in config names (delimiter, quote,
                              escape, header, column_names, skip_rows); only the
                              non-defaults, {} when none
      NN-name.expected.jsonl  one JSON object per good row, keys in header order,
                              every value a string, json.dumps(ensure_ascii=False)
      NN-name.dlq.jsonl       one {"line": N, "class": "..."} per bad row, where N
                              is the 1-based physical line on which the bad row
                              starts; empty file when there are none
      README.md               the table of cases (generated; edit this script)

    The reference is Python's csv module:
        csv.reader(io.TextIOWrapper(open(path, 'rb'), encoding='utf-8-sig',
                                    errors='surrogateescape', newline=''),
                   delimiter=..., quotechar=..., escapechar=..., doublequote=...)
    errors='surrogateescape' is the one addition to the plain recipe: it lets the
    reader get past invalid UTF-8 (the bytes become U+DC80..U+DCFF), and any row
    holding such a character is classed csv.invalid_utf8. Line numbers come from
    a wrapper around the text stream that counts the physical lines the reader
    pulls (with newline='' a line ends at LF, CR LF or a lone CR). A row that the
    reader only finished because the input ran out is an unterminated quote.

    Every case is checked three ways before anything is written, and the script
    stops with an AssertionError on any disagreement:
      1. the intent recorded while the file was built (header, the values of each
         good row, and line/class of each bad row, with line numbers counted from
         the bytes written so far) must equal the csv-module result;
      2. an independent byte-level parser written from the semantics below must
         equal the csv-module result;
      3. the written .expected.jsonl / .dlq.jsonl are read back and compared
         with the intent (row counts, values, key order).

Semantics (RFC 4180 with Python's lenient behaviour)
    A quote char in the middle of an unquoted field is literal; characters after
    a closing quote are appended to the field; LF, CR LF and a lone CR end a row
    outside quotes and are kept exactly inside them; a UTF-8 BOM at the start is
    skipped; blank lines are skipped everywhere (also before the header); the
    header (first non-blank row after skip_rows) fixes the field count; a row
    with another count is csv.field_count; a row with invalid UTF-8 anywhere is
    csv.invalid_utf8; a quote still open at end of file makes everything from
    that row's start to EOF one csv.unterminated_quote row. No row in the corpus
    is both invalid UTF-8 and of the wrong field count (asserted), so the corpus
    does not depend on which of the two classes wins.

How to re-run
    cd connectors/csv/Tests/Corpus && python3 make_corpus.py
    The output is deterministic: fixed seed (a self-contained splitmix64, so it
    does not depend on the random module), no timestamps, no set or hash order.

Python version used
    CPython 3.11.7. csv.field_size_limit is raised to 16 MiB for the ~1 MB field
    (the default limit is 128 KiB).
"""

import csv
import io
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BOM = b"\xef\xbb\xbf"
BREAK_RE = re.compile(rb"\r\n|\r|\n")
SURROGATE_RE = re.compile("[\udc80-\udcff]")
CLASSES = ("csv.field_count", "csv.invalid_utf8", "csv.unterminated_quote")
MAX_FILE = 1_500_000
MAX_FOLDER = 3_000_000

csv.field_size_limit(16 * 1024 * 1024)


# ---------------------------------------------------------------- deterministic PRNG

class Rng:
    """splitmix64; stable across Python versions."""

    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.s = seed & self.MASK

    def next64(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & self.MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next64() % n

    def choice(self, seq):
        return seq[self.below(len(seq))]

    def word(self, lo=1, hi=10):
        return "".join(self.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(lo + self.below(hi - lo + 1)))


# ---------------------------------------------------------------- file builder with intent

class Doc:
    """Builds a file's bytes and records what a correct reader must make of them."""

    def __init__(self, opts=None):
        self.opts = dict(opts or {})
        self.delim = self.opts.get("delimiter", ",")
        self.quote = self.opts.get("quote", '"')
        self.escape = self.opts.get("escape")
        self.buf = bytearray()
        self.header = None
        if self.opts.get("header", True) is False:
            self.header = list(self.opts["column_names"])
        self.good = []  # list of value lists
        self.bad = []  # list of (line, class)
        self.skipped = []  # raw bytes of rows meant to be skipped by skip_rows

    def line(self):
        body = bytes(self.buf)
        if body.startswith(BOM):
            body = body[len(BOM):]
        return 1 + len(BREAK_RE.findall(body))

    def _append(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        # a row must not start with the LF of a CR LF that began in the previous piece
        assert not (self.buf.endswith(b"\r") and data.startswith(b"\n")), "split CR LF"
        start = self.line()
        self.buf += data
        return start

    def enc(self, values, quote_all=False):
        d, q, e = self.delim, self.quote, self.escape
        out = []
        for v in values:
            needs = quote_all or any(ch in v for ch in (d, q, "\r", "\n")) or (e is not None and e in v)
            if len(values) == 1 and v == "":
                needs = True  # an unquoted lone empty value would be a blank line
            if needs:
                body = v.replace(e, e + e).replace(q, e + q) if e is not None else v.replace(q, q + q)
                out.append(q + body + q)
            else:
                out.append(v)
        return d.join(out)

    # pieces without intent ---------------------------------------------------------
    def bom(self):
        assert not self.buf
        self.buf += BOM

    def blank(self, eol="\n"):
        assert eol in ("\n", "\r\n", "\r")
        self._append(eol)

    def junk(self, raw):
        self.skipped.append(raw)
        self._append(raw)

    # pieces with intent ------------------------------------------------------------
    def head(self, names, eol="\n", raw=None):
        assert self.header is None
        self.header = list(names)
        self._append(raw if raw is not None else self.enc(names) + eol)

    def row(self, values, eol="\n", quote_all=False):
        self.good.append(list(values))
        self._append(self.enc(values, quote_all) + eol)

    def good_raw(self, raw, expect):
        self.good.append(list(expect))
        self._append(raw)

    def bad_raw(self, cls, raw):
        assert cls in CLASSES
        self.bad.append((self._append(raw), cls))


# ---------------------------------------------------------------- reference 1: Python's csv module

class CountingLines:
    """Iterator over a text stream's lines that counts how many were consumed."""

    def __init__(self, stream):
        self.stream = stream
        self.lines = 0
        self.exhausted = False

    def __iter__(self):
        return self

    def __next__(self):
        line = self.stream.readline()
        if line == "":
            self.exhausted = True
            raise StopIteration
        self.lines += 1
        return line


def python_kwargs(opts):
    kw = {"delimiter": opts.get("delimiter", ","), "quotechar": opts.get("quote", '"')}
    if "escape" in opts:
        kw["escapechar"] = opts["escape"]
        kw["doublequote"] = False
    return kw


def python_reference(path, opts):
    """Returns (header, good rows, bad [(line, class)]) using csv.reader."""
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        src = CountingLines(text)
        reader = csv.reader(src, **python_kwargs(opts))
        header = None if opts.get("header", True) else list(opts["column_names"])
        to_skip = opts.get("skip_rows", 0)
        good, bad = [], []
        while True:
            start = src.lines + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            unterminated = src.exhausted  # the reader only stopped because input ended
            if row == []:
                continue  # blank line
            if to_skip:
                to_skip -= 1
                continue
            if header is None:
                assert not unterminated and not any(SURROGATE_RE.search(f) for f in row), "bad header"
                assert len(set(row)) == len(row), "duplicate header names"
                header = row
                continue
            if unterminated:
                bad.append((start, "csv.unterminated_quote"))
                continue
            classes = []
            if any(SURROGATE_RE.search(f) for f in row):
                classes.append("csv.invalid_utf8")
            if len(row) != len(header):
                classes.append("csv.field_count")
            assert len(classes) <= 1, f"line {start}: row is ambiguous ({classes}); keep the corpus unambiguous"
            if classes:
                bad.append((start, classes[0]))
            else:
                good.append(row)
    return header, good, bad


# ---------------------------------------------------------------- reference 2: independent byte-level parser

def spec_parse(data, delim, quote, escape):
    """Byte-level parser written from the stated semantics; knows nothing of csv.

    Returns [(start_line, fields or None for a blank line, unterminated)]."""
    for ch in (delim, quote) + ((escape,) if escape else ()):
        assert len(ch.encode()) == 1, "single-byte ASCII specials only"
    D, Q = delim.encode()[0], quote.encode()[0]
    E = escape.encode()[0] if escape else None
    CR, LF = 13, 10
    if data.startswith(BOM):
        data = data[len(BOM):]
    n, i, line, out = len(data), 0, 1, []

    def after_break(k):
        return k + 2 if data[k] == CR and k + 1 < n and data[k + 1] == LF else k + 1

    while i < n:
        start = line
        if data[i] in (CR, LF):
            i = after_break(i)
            line += 1
            out.append((start, None, False))
            continue
        fields, field = [], bytearray()
        quoted, field_start, unterminated = False, True, False
        while True:
            if i >= n:
                unterminated = quoted
                fields.append(bytes(field))
                break
            c = data[i]
            if quoted:
                if E is not None and c == E:
                    assert i + 1 < n and data[i + 1] not in (CR, LF), "escaped line break / EOF not modelled"
                    field.append(data[i + 1])
                    i += 2
                elif c == Q:
                    if E is None and i + 1 < n and data[i + 1] == Q:
                        field.append(Q)
                        i += 2
                    else:
                        quoted = False  # closing quote; what follows is appended literally
                        i += 1
                elif c in (CR, LF):
                    j = after_break(i)
                    field += data[i:j]
                    i = j
                    line += 1
                else:
                    field.append(c)
                    i += 1
                continue
            if field_start and c == Q:
                quoted, field_start = True, False
                i += 1
                continue
            field_start = False
            if c == D:
                fields.append(bytes(field))
                field, field_start = bytearray(), True
                i += 1
            elif c in (CR, LF):
                i = after_break(i)
                line += 1
                fields.append(bytes(field))
                break
            else:
                assert E is None or c != E, "escape char outside quotes is not modelled"
                field.append(c)  # includes a quote in the middle of an unquoted field
                i += 1
        out.append((start, fields, unterminated))
    return out


def spec_reference(data, opts):
    recs = spec_parse(data, opts.get("delimiter", ","), opts.get("quote", '"'), opts.get("escape"))
    header = None if opts.get("header", True) else list(opts["column_names"])
    to_skip = opts.get("skip_rows", 0)
    good, bad = [], []
    for start, fields, unterminated in recs:
        if fields is None:
            continue
        if to_skip:
            to_skip -= 1
            continue
        if header is None:
            header = [f.decode("utf-8") for f in fields]
            continue
        if unterminated:
            bad.append((start, "csv.unterminated_quote"))
            continue
        try:
            values = [f.decode("utf-8") for f in fields]
        except UnicodeDecodeError:
            bad.append((start, "csv.invalid_utf8"))
            continue
        if len(values) != len(header):
            bad.append((start, "csv.field_count"))
            continue
        good.append(values)
    return header, good, bad


# ---------------------------------------------------------------- the cases

CASES = []


def case(slug, what):
    def register(fn):
        CASES.append((slug, what, fn))
        return fn
    return register


@case("basic", "Plain comma CSV with a header row, LF endings")
def _():
    d = Doc()
    d.head(["id", "name", "city"])
    d.row(["1", "Alice", "Paris"])
    d.row(["2", "Bob", "London"])
    d.row(["3", "Carol", "New York"])
    d.row(["4", "Dan", "Rio de Janeiro"])
    return d


@case("quoted-delimiters", "Quoted fields holding the delimiter")
def _():
    d = Doc()
    d.head(["id", "address", "note"])
    d.good_raw('1,"12 Main St, Springfield",plain\n', ["1", "12 Main St, Springfield", "plain"])
    d.good_raw('2,"a,b,c",","\n', ["2", "a,b,c", ","])
    d.good_raw('3,"trailing,",",leading"\n', ["3", "trailing,", ",leading"])
    d.good_raw('4,",,,",x\n', ["4", ",,,", "x"])
    d.good_raw('"5",quoted id,"x"\n', ["5", "quoted id", "x"])
    return d


@case("doubled-quotes", "Doubled quotes inside quoted fields")
def _():
    d = Doc()
    d.head(["id", "text", "note"])
    d.good_raw('1,"She said ""hi""",ok\n', ["1", 'She said "hi"', "ok"])
    d.good_raw('2,"""wrapped""",ok\n', ["2", '"wrapped"', "ok"])
    d.good_raw('3,"""",only a quote\n', ["3", '"', "only a quote"])
    d.good_raw('4,"a ""b"", c",ok\n', ["4", 'a "b", c', "ok"])
    d.good_raw('5,"""""""",three quotes\n', ["5", '"""', "three quotes"])
    d.good_raw('6,"ends with quote""",ok\n', ["6", 'ends with quote"', "ok"])
    return d


@case("quoted-lf", "LF inside quoted fields (kept), including an empty line inside quotes")
def _():
    d = Doc()
    d.head(["id", "text", "tail"])
    d.good_raw('1,"line one\nline two",x\n', ["1", "line one\nline two", "x"])
    d.good_raw('2,"\nleading newline",x\n', ["2", "\nleading newline", "x"])
    d.good_raw('3,"trailing newline\n",x\n', ["3", "trailing newline\n", "x"])
    d.good_raw('4,"has\n\nblank line inside",x\n', ["4", "has\n\nblank line inside", "x"])
    d.good_raw('5,"\n",x\n', ["5", "\n", "x"])
    d.good_raw("6,plain,x\n", ["6", "plain", "x"])
    return d


@case("quoted-crlf", "CR LF inside quoted fields (kept exactly), CR LF row endings")
def _():
    d = Doc()
    d.head(["id", "text", "tail"], eol="\r\n")
    d.good_raw('1,"line one\r\nline two",x\r\n', ["1", "line one\r\nline two", "x"])
    d.good_raw('2,"a\r\n\r\nb",x\r\n', ["2", "a\r\n\r\nb", "x"])
    d.good_raw('3,"\r\n",x\r\n', ["3", "\r\n", "x"])
    d.good_raw('4,"trailing\r\n",x\r\n', ["4", "trailing\r\n", "x"])
    d.good_raw("5,plain,x\r\n", ["5", "plain", "x"])
    return d


@case("line-endings-lf", "All rows end in LF")
def _():
    d = Doc()
    d.head(["id", "name", "note"])
    d.row(["1", "a", "first"])
    d.row(["2", "b", "with, comma"])
    d.row(["3", "c", "last"])
    return d


@case("line-endings-crlf", "All rows end in CR LF; the file ends in CR LF")
def _():
    d = Doc()
    d.head(["id", "name", "note"], eol="\r\n")
    d.row(["1", "a", "first"], eol="\r\n")
    d.row(["2", "b", "with, comma"], eol="\r\n")
    d.row(["3", "c", "last"], eol="\r\n")
    return d


@case("line-endings-mixed", "LF and CR LF mixed in one file; ends in CR LF")
def _():
    d = Doc()
    d.head(["id", "name"], eol="\n")
    d.row(["1", "a"], eol="\r\n")
    d.row(["2", "b\nc"], eol="\n")
    d.row(["3", "c"], eol="\r\n")
    d.row(["4", "d"], eol="\n")
    d.row(["5", "e"], eol="\r\n")
    return d


@case("line-endings-cr", "Lone CR line endings (classic Mac), a lone CR inside quotes; ends in CR")
def _():
    d = Doc()
    d.head(["id", "name", "note"], eol="\r")
    d.row(["1", "a", "first"], eol="\r")
    d.good_raw('2,"a\rb",cr inside quotes\r', ["2", "a\rb", "cr inside quotes"])
    d.row(["3", "c", "last"], eol="\r")
    return d


@case("no-final-newline", "Last row has no line break (unquoted last field)")
def _():
    d = Doc()
    d.head(["id", "name"])
    d.row(["1", "a"])
    d.row(["2", "b"])
    d.good_raw("3,last", ["3", "last"])
    return d


@case("no-final-newline-quoted", "Last row has no line break and ends in a quoted field; CR LF before")
def _():
    d = Doc()
    d.head(["id", "name"], eol="\r\n")
    d.row(["1", "a"], eol="\r\n")
    d.good_raw('2,"last, quoted"', ["2", "last, quoted"])
    return d


@case("bom", "UTF-8 byte-order mark before an unquoted header")
def _():
    d = Doc()
    d.bom()
    d.head(["id", "name", "city"])
    d.row(["1", "a", "x"])
    d.row(["2", "b", "y"])
    return d


@case("bom-quoted-header", "UTF-8 BOM directly before a quoted header field; CR LF")
def _():
    d = Doc()
    d.bom()
    d.head(["id", "name"], raw='"id","name"\r\n')
    d.row(["1", "a"], eol="\r\n")
    d.good_raw('"2","b"\r\n', ["2", "b"])
    return d


@case("blank-lines", "Blank lines before the header, between rows, several in a row, LF and CR LF, at the end")
def _():
    d = Doc()
    d.blank("\n")
    d.head(["id", "name"])
    d.blank("\n")
    d.row(["1", "a"])
    d.blank("\n")
    d.blank("\n")
    d.blank("\n")
    d.row(["2", "b"])
    d.blank("\r\n")
    d.row(["3", "c"], eol="\r\n")
    d.blank("\r\n")
    d.blank("\r\n")
    d.row(["4", "d"])
    d.blank("\n")
    d.blank("\n")
    return d


@case("unicode", "Accents (NFC and NFD), CJK, astral chars, emoji with ZWJ/flags, RTL text, in values and header")
def _():
    d = Doc()
    d.head(["id", "名前", "café", "🔑", "שם"])
    d.row(["1", "東京", "Zoë", "👍", "שלום"])
    d.row(["2", "漢字テスト 𠜎", "naïve façade", "👨\u200d👩\u200d👧", "مرحبا بالعالم"])
    d.row(["3", "한국어, 中文", "Ñandú", "🇯🇵", "עברית, עם פסיק"])
    d.row(["4", "简体", "cafe\u0301 (NFD)", "🏳\ufe0f\u200d🌈", "\u200fRLM then abc 123"])
    d.row(["5", "「引用」", "Ærø Øst", "👍🏽", '"ציטוט" in quotes'])
    return d


@case("tab-delimiter", "Tab delimiter (TSV-like); commas are literal")
def _():
    d = Doc({"delimiter": "\t"})
    d.head(["id", "name", "note"])
    d.good_raw("1\tAlice Smith\tcommas, are, literal\n", ["1", "Alice Smith", "commas, are, literal"])
    d.good_raw('2\t"tab\tinside"\t"quoted"\n', ["2", "tab\tinside", "quoted"])
    d.good_raw("3\t\tempty middle\n", ["3", "", "empty middle"])
    d.good_raw("4\t  spaces  \t;|\n", ["4", "  spaces  ", ";|"])
    return d


@case("semicolon-delimiter", "Semicolon delimiter; commas are literal")
def _():
    d = Doc({"delimiter": ";"})
    d.head(["id", "price", "label"])
    d.good_raw('1;3,14;"semi;colon"\n', ["1", "3,14", "semi;colon"])
    d.good_raw("2;1.000,50;plain, with comma\n", ["2", "1.000,50", "plain, with comma"])
    d.good_raw('3;"";"say ""hi"""\n', ["3", "", 'say "hi"'])
    return d


@case("pipe-delimiter", "Pipe delimiter")
def _():
    d = Doc({"delimiter": "|"})
    d.head(["id", "path", "note"])
    d.good_raw('1|/usr/bin|"a|b"\n', ["1", "/usr/bin", "a|b"])
    d.good_raw("2|C:\\dir\\file|commas, literal\n", ["2", "C:\\dir\\file", "commas, literal"])
    d.good_raw("3||\n", ["3", "", ""])
    return d


@case("single-quote", "Custom quote character ' ; double quotes are then ordinary characters")
def _():
    d = Doc({"quote": "'"})
    d.head(["id", "text", "note"])
    d.good_raw("1,'a,b',ok\n", ["1", "a,b", "ok"])
    d.good_raw("2,'it''s',ok\n", ["2", "it's", "ok"])
    d.good_raw('3,say "hi",double quotes are literal\n', ["3", 'say "hi"', "double quotes are literal"])
    d.good_raw('4,"x,y"\n', ["4", '"x', 'y"'])
    d.good_raw("5,'',empty\n", ["5", "", "empty"])
    d.good_raw("6,'multi\nline',ok\n", ["6", "multi\nline", "ok"])
    d.good_raw("7,'''',only a quote\n", ["7", "'", "only a quote"])
    return d


@case("backslash-escape", "Escape char backslash inside quoted fields (doublequote off); no backslash outside quotes")
def _():
    d = Doc({"escape": "\\"})
    d.head(["id", "text", "note"])
    d.good_raw('1,"say \\"hi\\"",ok\n', ["1", 'say "hi"', "ok"])
    d.good_raw('2,"back\\\\slash",ok\n', ["2", "back\\slash", "ok"])
    d.good_raw('3,"comma\\, inside",ok\n', ["3", "comma, inside", "ok"])
    d.good_raw('4,"\\"",only an escaped quote\n', ["4", '"', "only an escaped quote"])
    d.good_raw('5,"ends with backslash\\\\",ok\n', ["5", "ends with backslash\\", "ok"])
    d.good_raw('6,"multi\nline",ok\n', ["6", "multi\nline", "ok"])
    d.good_raw('7,"",empty\n', ["7", "", "empty"])
    d.good_raw("8,plain,ok\n", ["8", "plain", "ok"])
    return d


@case("no-header", "header false with column_names; one row with too few fields")
def _():
    d = Doc({"header": False, "column_names": ["id", "name", "score"]})
    d.row(["1", "Alice", "90"])
    d.row(["2", "Bob", "85"])
    d.bad_raw("csv.field_count", "3,Carol\n")
    d.row(["4", "Dan", "70"])
    d.row(["5", "Eve, Jr.", "60"])
    return d


@case("skip-rows", "skip_rows 2: two junk lines (field counts differ from the header) before the header; one bad row")
def _():
    d = Doc({"skip_rows": 2})
    d.junk("Quarterly export\n")
    d.junk("generated by,legacy tool\n")
    d.head(["id", "name", "score"])
    d.row(["1", "a", "10"])
    d.bad_raw("csv.field_count", "2,b,20,extra\n")
    d.row(["3", "c", "30"])
    return d


@case("empty-fields", "Empty fields, quoted empty fields, space-only fields (kept exactly), trailing delimiter at EOF")
def _():
    d = Doc()
    d.head(["a", "b", "c"])
    d.good_raw("1,,3\n", ["1", "", "3"])
    d.good_raw(",,\n", ["", "", ""])
    d.good_raw('"","",""\n', ["", "", ""])
    d.good_raw("   ,  ,x\n", ["   ", "  ", "x"])
    d.good_raw('" "," x ",""\n', [" ", " x ", ""])
    d.good_raw(',"",   \n', ["", "", "   "])
    d.good_raw("x,y,", ["x", "y", ""])
    return d


@case("single-column", "One column: a quoted empty line is a row, an empty line is not")
def _():
    d = Doc()
    d.head(["value"])
    d.row(["a"])
    d.good_raw('""\n', [""])
    d.blank("\n")
    d.good_raw('"  "\n', ["  "])
    d.good_raw('" , "\n', [" , "])
    d.row(["b"])
    return d


@case("quote-edge-cases", 'Only an escaped quote; ab"cd literal; "ab"cd gives abcd; space after closing quote; quote after leading space')
def _():
    d = Doc()
    d.head(["id", "value", "next"])
    d.good_raw('1,"""",x\n', ["1", '"', "x"])
    d.good_raw('2,ab"cd,x\n', ["2", 'ab"cd', "x"])
    d.good_raw('3,"ab"cd,x\n', ["3", "abcd", "x"])
    d.good_raw('4,"ab" ,x\n', ["4", "ab ", "x"])
    d.good_raw('5,abc",x\n', ["5", 'abc"', "x"])
    d.good_raw('6, "ab",x\n', ["6", ' "ab"', "x"])
    d.good_raw('7,"a""b"c,x\n', ["7", 'a"bc', "x"])
    d.good_raw('8,"ab"cd"ef",x\n', ["8", 'abcd"ef"', "x"])
    d.good_raw('9,x,"ab"cd\n', ["9", "x", "abcd"])
    d.good_raw('10,"",""""\n', ["10", "", '"'])
    return d


@case("huge-field", "A ~1 MB quoted field (with \"\", commas, LF, CR LF, multi-byte chars), a 100 kB unquoted field; a bad row after them")
def _():
    rng = Rng(0x51C0_0001)
    seps = [" "] * 40 + [", ", '"', ' "q" ', "\n", "\r\n", " é ", " 東京 ", " 😀 ", "\t"]
    parts, size = [], 0
    while size < 1_000_000:
        piece = rng.word() + rng.choice(seps)
        parts.append(piece)
        size += len(piece.encode("utf-8"))
    payload = "".join(parts)
    parts, size = [], 0
    while size < 100_000:
        piece = rng.word() + " "
        parts.append(piece)
        size += len(piece)
    plain = "".join(parts).rstrip()
    d = Doc()
    d.head(["id", "payload", "tail"])
    d.row(["1", payload, "end"])
    d.row(["2", plain, "end"])
    d.bad_raw("csv.field_count", "3,too few\n")
    d.row(["4", "small", "end"])
    return d


@case("wide-1000-columns", "1,000 columns; values quoted or not, some multi-line; rows with 999 and 1,001 fields are bad")
def _():
    rng = Rng(0x51C0_0002)
    header = [f"c{i:04d}" for i in range(1, 1001)]

    def value():
        r = rng.below(20)
        if r == 0:
            return ""
        if r == 1:
            return "a,b"
        if r == 2:
            return 'say "x"'
        if r == 3:
            return "é東"
        if r == 4:
            return "  "
        if r == 5 and rng.below(10) == 0:
            return "multi\nline"
        if r < 12:
            return str(rng.below(100000))
        return rng.word(1, 6)

    d = Doc()
    d.head(header)
    d.row([value() for _ in header])
    d.row([value() for _ in header])
    d.bad_raw("csv.field_count", d.enc([value() for _ in range(999)]) + "\n")
    d.row([value() for _ in header])
    d.bad_raw("csv.field_count", d.enc([value() for _ in range(1001)]) + "\n")
    d.row([value() for _ in header])
    return d


@case("bad-field-count", "Too few / too many fields among good rows, incl. a multi-line bad row and one after a blank line")
def _():
    d = Doc()
    d.head(["id", "name", "score"])
    d.row(["1", "a", "10"])
    d.bad_raw("csv.field_count", "2,b\n")
    d.row(["3", "c", "30"])
    d.bad_raw("csv.field_count", "4,d,40,extra\n")
    d.row(["5", "multi\nline", "50"])
    d.bad_raw("csv.field_count", '6,"bad\nmulti",60,70\n')
    d.blank("\n")
    d.row(["7", "g", "70"])
    d.bad_raw("csv.field_count", ",\n")
    d.bad_raw("csv.field_count", "single\n")
    d.row(["8", "h", "80"])
    d.bad_raw("csv.field_count", "9,i,90,\n")
    return d


@case("bad-invalid-utf8", "Rows with invalid UTF-8 (\\xff\\xfe, lone \\xc3, lone continuation, overlong, surrogate, > U+10FFFF, truncated)")
def _():
    d = Doc()
    d.head(["id", "name", "note"])
    d.row(["1", "ok", "fine"])
    d.bad_raw("csv.invalid_utf8", b"2,\xff\xfe,bom-like bytes\n")
    d.bad_raw("csv.invalid_utf8", b"3,caf\xc3,lone lead byte before the delimiter\n")
    d.row(["4", "good", "é valid"])
    d.bad_raw("csv.invalid_utf8", b"5,x,lone lead byte before LF \xc3\n")
    d.bad_raw("csv.invalid_utf8", b'6,"multi\nline \x80 continuation",x\n')
    d.bad_raw("csv.invalid_utf8", b"7,overlong \xc0\xaf,x\n")
    d.bad_raw("csv.invalid_utf8", b"8,surrogate \xed\xa0\x80,x\n")
    d.bad_raw("csv.invalid_utf8", b"9,too big \xf4\x90\x80\x80,x\n")
    d.bad_raw("csv.invalid_utf8", b"10,truncated \xe6\x97,x\n")
    d.row(["11", "after", "still good"])
    return d


@case("bad-unterminated-quote", "Last row opens a quote that never closes; the rest (with \"\" but no lone quote) is one bad row")
def _():
    d = Doc()
    d.head(["id", "name", "note"])
    d.row(["1", "a", "ok"])
    d.good_raw('2,b,"closed"\n', ["2", "b", "closed"])
    d.bad_raw("csv.unterminated_quote", '3,c,"never closed\n4,d,looks like a row\n\n5,e,say ""hi""\n')
    return d


@case("bad-unterminated-quote-eof", "Unterminated quote on the last line, no line break at all after it; CR LF")
def _():
    d = Doc()
    d.head(["id", "value"], eol="\r\n")
    d.row(["1", "x"], eol="\r\n")
    d.bad_raw("csv.unterminated_quote", '2,"open at EOF')
    return d


@case("bad-mixed", "BOM, CR LF, lone CR in quotes and as a row end, blank lines, and every bad class in one file")
def _():
    d = Doc()
    d.bom()
    d.head(["id", "name", "note"], eol="\r\n")
    d.good_raw('1,a,"cr\rinside"\r\n', ["1", "a", "cr\rinside"])
    d.bad_raw("csv.field_count", "2,b\r\n")
    d.blank("\r\n")
    d.blank("\r\n")
    d.good_raw('3,c,"x\r\ny"\r\n', ["3", "c", "x\r\ny"])
    d.bad_raw("csv.invalid_utf8", b"4,\xff,z\r\n")
    d.row(["5", "e", "lf end"], eol="\n")
    d.row(["6", "f", "cr end"], eol="\r")
    d.bad_raw("csv.field_count", "7,g,ok,extra\r\n")
    d.row(["8", "h", "good"], eol="\r\n")
    d.bad_raw("csv.unterminated_quote", '9,i,"never closed\r\n10,j,rest\r\n\r\n')
    return d


# ---------------------------------------------------------------- driver

def jsonl(objs):
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode("utf-8")


def md_cell(s):
    return s.replace("|", "\\|")


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    readme_rows = []
    written = []
    for index, (slug, what, build) in enumerate(CASES, start=1):
        name = f"{index:02d}-{slug}"
        doc = build()
        data = bytes(doc.buf)
        opts = doc.opts
        csv_path = os.path.join(HERE, name + ".csv")
        write(csv_path, data)

        # skipped rows are plain one-line, non-blank, quote-free rows, so "skip N lines"
        # and "skip N records" agree
        assert len(doc.skipped) == opts.get("skip_rows", 0)
        for raw in doc.skipped:
            assert raw.endswith("\n") and raw.count("\n") == 1 and raw.strip() and doc.quote not in raw

        py = python_reference(csv_path, opts)
        intent = (doc.header, doc.good, doc.bad)
        spec = spec_reference(data, opts)
        assert py == intent, f"{name}: csv module disagrees with the intent\n{py!r:.2000}\n{intent!r:.2000}"
        assert spec == py, f"{name}: independent parser disagrees with the csv module"

        header, good, bad = py
        for row in good:
            assert not any(SURROGATE_RE.search(v) for v in row)
        exp_path = os.path.join(HERE, name + ".expected.jsonl")
        dlq_path = os.path.join(HERE, name + ".dlq.jsonl")
        opt_path = os.path.join(HERE, name + ".options.json")
        write(exp_path, jsonl(dict(zip(header, row)) for row in good))
        write(dlq_path, jsonl({"line": line, "class": cls} for line, cls in bad))
        write(opt_path, (json.dumps(opts, ensure_ascii=False) + "\n").encode("utf-8"))

        # read back what was written and compare with the intent
        exp_lines = open(exp_path, "rb").read().decode("utf-8").split("\n")
        dlq_lines = open(dlq_path, "rb").read().decode("utf-8").split("\n")
        assert exp_lines[-1] == "" and dlq_lines[-1] == ""
        back_good = [json.loads(s) for s in exp_lines[:-1]]
        back_bad = [json.loads(s) for s in dlq_lines[:-1]]
        assert len(back_good) + len(back_bad) == len(doc.good) + len(doc.bad), name
        assert [list(o.keys()) for o in back_good] == [doc.header] * len(doc.good), name
        assert [list(o.values()) for o in back_good] == doc.good, name
        assert all(isinstance(v, str) for o in back_good for v in o.values()), name
        assert [(o["line"], o["class"]) for o in back_bad] == doc.bad, name
        assert json.loads(open(opt_path, encoding="utf-8").read()) == opts, name

        written += [csv_path, opt_path, exp_path, dlq_path]
        readme_rows.append((name + ".csv", what, json.dumps(opts, ensure_ascii=False), len(good), len(bad)))
        print(f"{name}: {len(data)} bytes, {len(good)} good, {len(bad)} bad")

    readme = [
        "# CSV conformance corpus",
        "",
        "Generated by `make_corpus.py` (CPython 3.11.7) — do not edit by hand; change the script and run",
        "`python3 make_corpus.py` in this folder. Output is deterministic.",
        "",
        "For each `NN-name.csv`:",
        "",
        "- `NN-name.options.json` — source options (`delimiter`, `quote`, `escape`, `header`, `column_names`,",
        "  `skip_rows`); only non-defaults, `{}` when none. `escape` present means doubled quotes are off.",
        "- `NN-name.expected.jsonl` — one JSON object per good row, keys in header order, values are the",
        "  field text exactly as Python's `csv.reader` returns it.",
        "- `NN-name.dlq.jsonl` — one `{\"line\": N, \"class\": C}` per bad row; `N` is the 1-based physical",
        "  line where the row starts (every LF, CR LF or lone CR counts, also inside quotes, and the header,",
        "  skipped rows and blank lines count). `C` is `csv.field_count`, `csv.invalid_utf8` or",
        "  `csv.unterminated_quote`. Empty when there are no bad rows.",
        "",
        "Semantics: RFC 4180 read leniently as Python does — a quote inside an unquoted field is literal;",
        "text after a closing quote is appended (`\"ab\"cd` → `abcd`); LF, CR LF and lone CR end a row outside",
        "quotes and are kept exactly inside them; a leading BOM is skipped; blank lines are skipped (also",
        "before the header); the header (first non-blank row after `skip_rows`) fixes the field count; a quote",
        "still open at EOF makes the rest of the file one bad row. The ~1 MB field needs a field-size limit",
        "above 1 MB (Python's default is 128 KiB).",
        "",
        "| File | Tests | Options | Good | Bad |",
        "|---|---|---|---:|---:|",
    ]
    for fname, what, opts_json, ngood, nbad in readme_rows:
        readme.append(f"| `{fname}` | {md_cell(what)} | `{md_cell(opts_json)}` | {ngood} | {nbad} |")
    write(os.path.join(HERE, "README.md"), ("\n".join(readme) + "\n").encode("utf-8"))
    written.append(os.path.join(HERE, "README.md"))

    # sizes, and files that an earlier version of this script may have left behind
    ours = set(os.path.basename(p) for p in written) | {os.path.basename(__file__)}
    stray = sorted(f for f in os.listdir(HERE) if f not in ours and not f.startswith("."))
    if stray:
        print("warning: files not made by this run:", ", ".join(stray), file=sys.stderr)
    for p in written:
        assert os.path.getsize(p) < MAX_FILE, f"{p} is over {MAX_FILE} bytes"
    total = sum(os.path.getsize(os.path.join(HERE, f)) for f in os.listdir(HERE)
                if os.path.isfile(os.path.join(HERE, f)))
    assert total < MAX_FOLDER, f"folder is {total} bytes"
    print(f"{len(CASES)} cases, folder {total} bytes")


if __name__ == "__main__":
    main()

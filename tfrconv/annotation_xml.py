"""Reading Pascal-VOC-style annotation XML: the helpers the VOC and Pets formats share.

Public (exported from `tfrconv`) for any format plugin whose annotations are VOC-like XML:

- `read_annotation_file(path, root=None)`: the file's bytes; a missing or unreadable file, one
  that is not a regular file (a pipe, a device) or, with `root`, one outside that folder is a
  `DataError`.
- `parse_annotation_xml(path, data=None)`: the `<annotation>` root parsed by lxml, the parser of
  record: safe (no entities, DTDs or network), with source lines for messages; bad XML or another
  root element is a one-line `DataError` naming the file and line.
- `parse_annotation_xml_fast(data)`: the same root parsed by expat (`xml.etree`), about three
  times cheaper to walk, or None when the document is unusual (a DTD, a syntax error, an unknown
  encoding, another root) and must go to `parse_annotation_xml`. Elements it returns have no
  source lines: on a `DataError` while reading them, read again from `parse_annotation_xml` so
  the message names the line.
- `xml_children(element)`: tag → child element, one pass (a repeated tag keeps the last one, as
  the OD API's `recursive_parse_xml_to_dict` does).
- `xml_number(child, tag, path, cast=float)`: a child's number, None when the child is absent or
  empty; text that is not a number is a `DataError` naming the file and line.
- `xml_text(child)`: a child's stripped text, '' when absent.
- `xml_line(element)`: the element's source line (lxml), else None.

Importing this module is cheap: lxml and expat load on first use.
"""

from __future__ import annotations

import threading

from .datafiles import OutsideRoot, read_dataset_file
from .errors import DataError

ROOT_TAG = "annotation"
_local = threading.local()


def read_annotation_file(path: str, root: str | None = None) -> bytes:
    """The bytes of an annotation file, or a one-line `DataError` naming it. With `root`, the
    file must resolve inside that folder (symlinks included), as image paths must."""
    try:
        return read_dataset_file(path, root)
    except FileNotFoundError:
        raise DataError("annotation file not found", file=path) from None
    except OutsideRoot:
        raise DataError(f"the annotation path leads outside the annotation folder {root}",
                        file=path) from None
    except OSError as exc:
        raise DataError(f"cannot read the annotation: {exc.strerror}", file=path) from None


def _lxml_parser():
    # Never resolve entities, load DTDs or touch the network: XXE and entity bombs stay inert.
    # lxml parsers are not shared between threads.
    parser = getattr(_local, "parser", None)
    if parser is None:
        from lxml import etree

        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                 huge_tree=False, remove_comments=True, remove_pis=True,
                                 collect_ids=False)           # no xml:id lookups here
        _local.parser = parser
    return parser


def parse_annotation_xml(path: str, data: bytes | None = None):
    """The <annotation> element of `data` (read from `path` when None), parsed by lxml."""
    from lxml import etree

    if data is None:
        data = read_annotation_file(path)
    try:
        root = etree.fromstring(data, _lxml_parser())   # bytes: encoding declarations just work
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        raise DataError(f"not valid XML: {exc.msg}", file=path, line=line) from None
    if root is None or root.tag != ROOT_TAG:
        tag = None if root is None else root.tag
        raise DataError(f"expected an <{ROOT_TAG}> root element, found <{tag}>", file=path)
    return root


def parse_annotation_xml_fast(data: bytes):
    """The <annotation> element parsed by expat, or None to use `parse_annotation_xml`.

    A document with a DTD never reaches expat, so no entity is ever expanded; one that expat
    rejects or cannot decode is left to lxml, which reports it with its line.
    """
    # UTF-16 or UTF-32 text (NUL bytes among the first four) would hide "<!DOCTYPE" from the
    # byte check, and expat would expand its entities: such rare files go to lxml too.
    if b"<!DOCTYPE" in data or b"\x00" in data[:4]:
        return None
    from xml.etree.ElementTree import ParseError, XMLParser

    parser = XMLParser()
    try:
        parser.feed(data)
        root = parser.close()
    except (ParseError, ValueError, LookupError):
        return None
    return root if root.tag == ROOT_TAG else None


def xml_children(element) -> dict:
    """tag → child element; one pass over the children is several times faster than a
    findtext() per field."""
    return {child.tag: child for child in element}


def xml_number(child, tag: str, path: str, cast=float):
    """The number in `child` (None when absent or blank), converted by `cast`."""
    if child is None:
        return None
    text = child.text
    try:
        value = float(text)          # float() ignores surrounding whitespace itself
        return value if cast is float else cast(value)
    except (TypeError, ValueError, OverflowError):
        if text is None or not text.strip():
            return None
        raise DataError(f"<{tag}> is not a number: {text.strip()!r}", file=path,
                        line=xml_line(child)) from None


def xml_text(child) -> str:
    return "" if child is None or child.text is None else child.text.strip()


def xml_line(element) -> int | None:
    """lxml's source line; expat's elements have none (read again with lxml for messages)."""
    return getattr(element, "sourceline", None)

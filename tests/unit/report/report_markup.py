"""Checks every page test applies: the markup is balanced, each SVG is well-formed XML, and the page
is self-contained (no script, no stylesheet or image fetched, no URL but the SVG namespace)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}
SVG_NS = "{http://www.w3.org/2000/svg}"


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <rect/> and friends inside SVG

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_page(doc: str) -> str:
    """Assert the page is sound and self-contained; returns its text content (what a reader sees)."""
    assert doc.startswith("<!DOCTYPE html>")
    parser = _Balance()
    parser.feed(doc)
    parser.close()
    assert not parser.errors, parser.errors[:5]
    assert not parser.stack, f"unclosed: {parser.stack}"
    lowered = doc.lower()
    for banned in ("<script", "<link", "<img", "<iframe", "src=", "@import", "url(http", "javascript:"):
        assert banned not in lowered, f"{banned!r} in a page that must work offline and run nothing"
    urls = set(re.findall(r"https?://[^\s\"'<>]+", doc))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    for svg in svgs(doc):
        assert svg.tag == f"{SVG_NS}svg"
    return "".join(parser.text)


def svgs(doc: str) -> list[ET.Element]:
    """Every inline <svg> of the page, parsed as XML (which also proves it is well-formed)."""
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", doc, flags=re.S)]


def titles(svg: ET.Element, cls: str) -> list[str]:
    """The hover texts of the elements of class `cls` (e.g. "band MASTER")."""
    want = set(cls.split())
    found = []
    for g in svg.iter(f"{SVG_NS}g"):
        if want <= set((g.get("class") or "").split()):
            title = g.find(f"{SVG_NS}title")
            found.append(title.text or "" if title is not None else "")
    return found

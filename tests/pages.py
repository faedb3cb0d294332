"""Find elements of a rendered page by id, class or data attribute, so that page tests assert the
structure (what is shown, listed, hidden, in which order) rather than the wording around it."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The element's text, whitespace collapsed; text on either side of a tag is kept apart
        (table cells read "a b", not "ab")."""
        return " ".join(" ".join(self.parts).split())

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _Finder(HTMLParser):
    def __init__(self, matches):
        super().__init__(convert_charrefs=True)
        self.matches = matches
        self.found: list[Element] = []
        self.open: list[tuple[str, Element | None]] = []

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {name: value or "" for name, value in attrs})
        wanted = self.matches(element)
        if wanted:
            self.found.append(element)
        if tag not in VOID:
            self.open.append((tag, element if wanted else None))

    def handle_endtag(self, tag):
        # Close up to the matching tag (tolerates an unclosed <p> or <li>).
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                return

    def handle_data(self, data):
        for _, element in self.open:
            if element is not None:
                element.parts.append(data)


def elements(page: str | bytes, *, tag: str | None = None, id: str | None = None,  # noqa: A002
             cls: str | None = None, **attrs: str) -> list[Element]:
    """Elements of ``page`` in document order having the given tag, id, class and attributes
    (``data_code="x"`` stands for ``data-code="x"``; ``None`` as a value: the attribute is present)."""
    if isinstance(page, bytes):
        page = page.decode()
    wanted = {name.replace("_", "-"): value for name, value in attrs.items()}

    def matches(element: Element) -> bool:
        return ((tag is None or element.tag == tag) and (id is None or element.attrs.get("id") == id)
                and (cls is None or cls in element.classes)
                and all(name in element.attrs and (value is None or element.attrs[name] == value)
                        for name, value in wanted.items()))

    finder = _Finder(matches)
    finder.feed(page)
    finder.close()
    return finder.found


def element(page: str | bytes, **criteria) -> Element:
    """The one element matching ``criteria`` (fails when there is none or several)."""
    found = elements(page, **criteria)
    assert len(found) == 1, f"{len(found)} elements match {criteria}"
    return found[0]

"""The report's HTML: sections of inline PNG images, notes and tables, in one self-contained page.

Nothing is fetched when the page opens: no scripts, fonts or stylesheets from the network; every image is
a ``data:image/png;base64`` URI.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass
class Image:
    """One PNG, base64-encoded, with its alt text."""

    png_base64: str
    alt: str


@dataclass
class Section:
    """One part of the report.

    Args:
        anchor: the HTML id (also used by tests to find the section).
        title: the heading.
        intro: one sentence saying how to read the section (plain text).
        images: the plots.
        html: extra trusted HTML (tables), placed after the images.
        notes: what could not be shown and why (plain text), shown as notes.
    """

    anchor: str
    title: str
    intro: str = ""
    images: list[Image] = field(default_factory=list)
    html: str = ""
    notes: list[str] = field(default_factory=list)


CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; background: #f6f7f9;
       color: #1d1f23; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 0 0 6px; }
.sub { color: #5b616b; font-size: 13px; margin: 0 0 18px; }
section { background: #fff; border: 1px solid #e2e4e8; border-radius: 8px; padding: 16px 20px; margin: 0 0 18px; }
section p.intro { color: #5b616b; font-size: 13px; margin: 0 0 10px; }
section img { max-width: 100%; height: auto; display: block; margin: 6px 0; }
p.note { background: #fff8e1; border-left: 4px solid #f0b429; padding: 6px 10px; font-size: 13px; margin: 6px 0; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid #e7e9ec; padding: 4px 10px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f3f5; font-weight: 600; }
td b { color: #0b5394; }
nav { margin: 0 0 14px; }
nav a { margin-right: 14px; font-size: 13px; color: #0b5394; text-decoration: none; }
details { font-size: 13px; margin: 6px 0; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
"""


def note_html(text: str) -> str:
    """A note paragraph (text escaped)."""
    return f'<p class="note">{html.escape(text)}</p>'


def section_html(section: Section) -> str:
    """One ``<section>`` element."""
    parts = [f'<section id="{html.escape(section.anchor)}">', f"<h2>{html.escape(section.title)}</h2>"]
    if section.intro:
        parts.append(f'<p class="intro">{html.escape(section.intro)}</p>')
    for img in section.images:
        parts.append(f'<img alt="{html.escape(img.alt)}" src="data:image/png;base64,{img.png_base64}">')
    parts.append(section.html)
    parts.extend(note_html(n) for n in section.notes)
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def page_html(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole page."""
    nav = " ".join(f'<a href="#{html.escape(s.anchor)}">{html.escape(s.title)}</a>' for s in sections)
    body = "\n".join(section_html(s) for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            f"<h1>{html.escape(title)}</h1>\n<p class=\"sub\">{html.escape(subtitle)}</p>\n<nav>{nav}</nav>\n"
            f"{body}\n</main>\n</body>\n</html>\n")

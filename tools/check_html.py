"""Fail when the built book shows Markdown or math that was never rendered.

Usage: ``python tools/check_html.py [_build/html] [--symbols]``. Reads every page and reports:

- ``table``: a Markdown table left as text (a paragraph of ``| a | b |`` rows with a ``|---|`` line),
  what myst-nb shows when a ``text/markdown`` output is parsed as CommonMark;
- ``math``: ``$$`` or a ``$...$`` pair left in the page text (outside code, and outside the math
  elements Sphinx writes for rendered math);
- ``glue``: a ``{glue:}`` role or a ``{{ substitution }}`` left as text.

With ``--symbols`` it also lists symbols a reader's fonts may lack (check marks, crosses, emoji);
those are reported, not fatal. Exit status 1 when anything fatal is found.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

#: elements whose text is code or already-rendered math, never checked
SKIP_TAGS = {"script", "style", "pre", "code", "kbd", "samp", "textarea", "svg", "math", "tt", "var"}
SKIP_CLASSES = {"math", "highlight", "MathJax", "MathJax_Display", "MathJax_Preview", "tex2jax_ignore", "mathjax_ignore"}
#: elements that end a run of text (so two cells never join into one match)
BLOCK_TAGS = {"p", "div", "li", "td", "th", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "section",
              "blockquote", "table", "tr", "ul", "ol", "dl", "figure", "figcaption", "caption", "br", "hr",
              "article", "aside", "nav", "header", "footer", "main", "body", "details", "summary"}
VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}

TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?[-\u2013\u2014]+:?\s*\|\s*:?[-\u2013\u2014]+", re.M)
TABLE_ROW = re.compile(r"^\s*\|.*\|", re.M)
DISPLAY_MATH = re.compile(r"\$\$")
INLINE_MATH = re.compile(r"(?<![\\$\w])\$(?=[^\s$\d])[^$\n]{1,200}?(?<=[^\s\\])\$(?![\w$])")
GLUE = re.compile(r"\{glue(?::[a-z]*)?\}`?|\{\{\s*[\w.-]+\s*\}\}")
SYMBOLS = re.compile("[\u2705\u274c\u2713\u2714\u2717\u2718\u2611\u2612\u274e\U0001f300-\U0001faff]")


@dataclass(frozen=True)
class Problem:
    page: str
    line: int
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.kind}: {self.text}"


class _TextBlocks(HTMLParser):
    """Collect the visible, non-code text of a page as runs separated at block boundaries."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.blocks: list[tuple[int, str]] = []
        self.code: list[tuple[int, str]] = []  # skipped text (code, outputs), for the symbol notes
        self._buf: list[str] = []
        self._start = 1

    @property
    def skipping(self) -> bool:
        return any(skip for _, skip in self.stack)

    def _flush(self) -> None:
        text = "".join(self._buf)
        if text.strip():
            self.blocks.append((self._start, text))
        self._buf = []

    def handle_starttag(self, tag, attrs):
        if tag in BLOCK_TAGS:
            self._flush()
        if tag in VOID_TAGS:
            return
        classes = set((dict(attrs).get("class") or "").split())
        self.stack.append((tag, tag in SKIP_TAGS or bool(classes & SKIP_CLASSES)))

    def handle_startendtag(self, tag, attrs):
        if tag in BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        for i in range(len(self.stack) - 1, -1, -1):  # tolerate unclosed inner tags
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        if tag in BLOCK_TAGS:
            self._flush()

    def handle_data(self, data):
        if self.skipping:
            if data.strip() and not any(tag in ("script", "style") for tag, _ in self.stack):
                self.code.append((self.getpos()[0], data))
            return
        if not self._buf:
            self._start = self.getpos()[0]
        self._buf.append(data)

    def close(self):
        super().close()
        self._flush()


def _snippet(text: str, start: int = 0, width: int = 90) -> str:
    s = " ".join(text[max(0, start - 10): start + width].split())
    return s if len(s) <= width else s[: width - 3] + "..."


def check_page(html: str, page: str = "<page>", symbols: bool = False) -> list[Problem]:
    """The problems in one page's HTML (see the module docstring)."""
    parser = _TextBlocks()
    parser.feed(html)
    parser.close()
    out: list[Problem] = []
    for line, text in parser.blocks:
        if TABLE_DELIMITER.search(text) and len(TABLE_ROW.findall(text)) >= 1:
            out.append(Problem(page, line, "table", "unrendered Markdown table: " + _snippet(text, text.find("|"))))
        for rx, what in ((DISPLAY_MATH, "unrendered display math ($$)"), (INLINE_MATH, "unrendered inline math ($...$)")):
            m = rx.search(text)
            if m:
                out.append(Problem(page, line, "math", f"{what}: " + _snippet(text, m.start())))
                break
        m = GLUE.search(text)
        if m:
            out.append(Problem(page, line, "glue", "glue placeholder left as text: " + _snippet(text, m.start())))
    if symbols:
        for line, text in sorted(parser.blocks + parser.code):
            m = SYMBOLS.search(text)
            if m:
                out.append(Problem(page, line, "symbol", f"U+{ord(m.group()):04X} may be missing from readers' fonts: "
                                   + _snippet(text, m.start())))
    return out


def pages(root: Path) -> list[Path]:
    """Every HTML page of the built book except copied assets and sources."""
    skip = {"_static", "_sources", "_images", "_sphinx_design_static"}
    return sorted(p for p in root.rglob("*.html") if not (set(p.relative_to(root).parts) & skip))


def check_book(root: Path, symbols: bool = False) -> list[Problem]:
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder; build the book first (jupyter-book build .)")
    found = pages(root)
    if not found:
        raise FileNotFoundError(f"no .html pages under {root}")
    return [p for page in found for p in check_page(page.read_text(encoding="utf-8"), str(page.relative_to(root)), symbols)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", nargs="?", default="_build/html", type=Path)
    ap.add_argument("--symbols", action="store_true", help="also list symbols readers' fonts may lack (not fatal)")
    args = ap.parse_args(argv)
    problems = check_book(args.root, args.symbols)
    fatal = [p for p in problems if p.kind != "symbol"]
    for p in problems:
        print(p)
    n = len(pages(args.root))
    print(f"checked {n} pages: {len(fatal)} unrendered Markdown/math/glue problem(s)"
          + (f", {len(problems) - len(fatal)} symbol note(s)" if args.symbols else ""))
    return 1 if fatal else 0


if __name__ == "__main__":
    sys.exit(main())

"""tools/check_html.py finds unrendered Markdown tables, math and glue in built pages, and nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import check_html  # noqa: E402


def kinds(html: str, **kw) -> list[str]:
    return [p.kind for p in check_html.check_page(html, **kw)]


# what myst-nb wrote for a display(Markdown(table)) output parsed as CommonMark (smart dashes on)
RAW_TABLE = """<div class="cell_output docutils container"><div class="output text_markdown">
<p>| grid | MLM-U exact | next-token exact |
|—|—|—|
| 5 | 0.98 | 0.91 |</p>
</div></div>"""
RAW_TABLE_ASCII = "<div><p>| a | b |\n| :--- | ---: |\n| 1 | 2 |</p></div>"
RENDERED_TABLE = """<div class="output text_markdown"><table class="table">
<thead><tr class="row-odd"><th class="head"><p>grid</p></th><th class="head"><p>exact</p></th></tr></thead>
<tbody><tr><td><p>5</p></td><td><p>0.98</p></td></tr></tbody></table></div>"""

RAW_INLINE_MATH = "<p>The loss is $\\mathcal{L} = -\\log p$ per token.</p>"
RAW_DISPLAY_MATH = "<p>$$\na^2 + b^2 = c^2\n$$</p>"
RENDERED_MATH = ('<p>The loss is <span class="math notranslate nohighlight">\\(\\mathcal{L} = -\\log p\\)</span>.</p>'
                 '<div class="math notranslate nohighlight">\\[a^2 + b^2 = c^2\\]</div>')
CODE_WITH_DOLLARS = ('<div class="highlight"><pre><span>echo $HOME $PATH</span></pre></div>'
                     '<p>Run <code class="docutils literal"><span class="pre">x = $a$</span></code> and '
                     '<code>| a | b |\n|---|---|</code></p>')
PROSE_WITH_DOLLARS = "<p>It costs $5 and $10 on a GPU; a 5$ fee.</p>"
RAW_GLUE = "<p>Our speed-up is {glue:}`speedup` times.</p>"
RAW_GLUE_TEXT = "<p>Our speed-up is {glue:text}`speedup:.2f` times.</p>"
RAW_SUBSTITUTION = "<p>Version {{ version }} here.</p>"
DOCSTRING_BARS = "<dd><p>|P_t| &lt;= mu |P_n| for every contact, and |v| is the speed.</p></dd>"


@pytest.mark.parametrize(
    "html, expected",
    [
        (RAW_TABLE, ["table"]),
        (RAW_TABLE_ASCII, ["table"]),
        (RAW_INLINE_MATH, ["math"]),
        (RAW_DISPLAY_MATH, ["math"]),
        (RAW_GLUE, ["glue"]),
        (RAW_GLUE_TEXT, ["glue"]),
        (RAW_SUBSTITUTION, ["glue"]),
        (RENDERED_TABLE, []),
        (RENDERED_MATH, []),
        (CODE_WITH_DOLLARS, []),
        (PROSE_WITH_DOLLARS, []),
        (DOCSTRING_BARS, []),
    ],
    ids=["raw-table", "raw-table-ascii", "inline-math", "display-math", "glue", "glue-text", "substitution",
         "rendered-table", "rendered-math", "code", "prose-dollars", "docstring-bars"],
)
def test_check_page_flags_only_unrendered_text(html, expected):
    assert kinds(html) == expected


def test_problems_carry_page_line_and_a_snippet():
    page = "<html><body>\n<h1>T</h1>\n" + RAW_TABLE + "\n</body></html>"
    (p,) = check_html.check_page(page, "notebooks/03_mazes.html")
    assert p.page == "notebooks/03_mazes.html" and p.line == 4
    assert "| grid | MLM-U exact" in str(p)


def test_blocks_do_not_join_across_elements():
    # two separate cells each holding one dollar sign must not pair up into "math"
    assert kinds("<table><tr><td><p>$5</p></td><td><p>x$</p></td></tr></table>") == []


def test_symbols_are_listed_only_on_request():
    html = "<pre>PASS</pre><p>\u2705 discounted_returns: matches</p><pre>\u2713 ok</pre><script>'\u2717'</script>"
    assert kinds(html) == []
    assert kinds(html, symbols=True) == ["symbol", "symbol"]


def test_main_scans_a_book_folder_and_sets_the_exit_status(tmp_path, capsys):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "index.html").write_text("<p>fine</p>" + RENDERED_MATH, encoding="utf-8")
    (tmp_path / "_static" / "x.html").write_text(RAW_TABLE, encoding="utf-8")  # assets are not pages
    assert check_html.main([str(tmp_path)]) == 0
    (tmp_path / "notebooks" / "a.html").write_text(RAW_TABLE + RAW_GLUE, encoding="utf-8")
    assert check_html.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "notebooks/a.html" in out and "table" in out and "glue" in out and "checked 2 pages: 2" in out
    with pytest.raises(FileNotFoundError, match="build the book"):
        check_html.main([str(tmp_path / "missing")])


def test_book_config_parses_markdown_outputs_as_myst():
    """The setting that makes display(Markdown(table)) render as a table in every chapter."""
    yaml = pytest.importorskip("yaml")
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "_config.yml").read_text())
    sphinx = cfg["sphinx"]["config"]
    assert sphinx["nb_render_markdown_format"] == "myst"
    assert sphinx["myst_dmath_double_inline"] is True
    assert "dollarmath" in cfg["parse"]["myst_enable_extensions"]

"""The headless-Chromium page check of tests/rendered.py on small pages made here: it reports
good, broken and folded (lazy) images, raw TeX and a table cut at the page edge, and it always
reports (it waits for each image's load/error event with a deadline, not for ``img.decode()``)."""

import struct
import zlib

import pytest
from rendered import check_in_chromium, chromium

pytestmark = pytest.mark.skipif(
    chromium() is None,
    reason="Debian's chromium is not installed (scripts/setup_env.sh installs it as root with apt)",
)


def _png(path, w=4, h=3):
    """A real w x h grey PNG."""
    raw = b"".join(b"\x00" + bytes([128] * w) for _ in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def _page(tmp_path, body):
    page = tmp_path / "page.html"
    page.write_text(f"<html><head><title>t</title></head><body><article>{body}</article></body></html>")
    return page


def test_good_folded_and_broken_images(tmp_path):
    _png(tmp_path / "a.png")
    _png(tmp_path / "b.png", 8, 8)
    page = _page(
        tmp_path,
        '<p>text</p><img src="a.png">'
        '<details><summary>more</summary><img loading="lazy" src="b.png"></details>'
        '<img src="missing.png">',
    )
    result = check_in_chromium(page, timeout=90)
    assert result["images"] == 3
    assert result["broken"] == ["missing.png"]
    assert result["raw"] == [] and result["cut"] == []


def test_raw_tex_and_a_cut_table_are_reported(tmp_path):
    wide = "<table id='wide'><tr>" + "<td>0.123456789</td>" * 60 + "</tr></table>"
    page = _page(tmp_path, r"<p>left over \(x^2\) formula</p>" + f"<div style='width:600px'>{wide}</div>")
    result = check_in_chromium(page, timeout=90)
    assert result["images"] == 0 and result["broken"] == []
    assert any(r"\(x^2\)" in r for r in result["raw"])
    assert result["cut"] == ["wide"]


def test_code_that_scrolls_sideways_and_long_unfolded_logs_are_reported(tmp_path):
    wide = "x = " + " + ".join(["value"] * 60)
    log = "\n".join(f"epoch {i}" for i in range(40))
    body = (
        f"<div class='cell'><div class='cell_input'><pre style='overflow-x:auto'>{wide}\nshort</pre></div>"
        f"<div class='cell_output'><pre>{log}</pre></div></div>"
        f"<div class='cell'><div class='cell_input'><pre>fits = 1</pre></div>"
        f"<details><summary>Show output</summary><div class='cell_output'><pre>{log}</pre></div></details>"
        f"<div class='cell_output'><div style='max-height:10em;overflow-y:auto'><pre>{log}</pre></div></div></div>"
    )
    result = check_in_chromium(_page(tmp_path, f"<div style='width:500px'>{body}</div>"), timeout=90)
    assert result["scroll"] == [wide[:120]]
    assert len(result["long"]) == 2 and all(r.startswith("40 lines") for r in result["long"])


def test_links_outside_the_site_are_reported(tmp_path):
    from rendered import outside_links

    site = tmp_path / "html"
    (site / "book").mkdir(parents=True)
    (site / "index.html").write_text('<a href="book/a.html">in</a><a href="https://x.org">web</a>')
    (site / "book" / "a.html").write_text(
        '<a href="../index.html">up</a><a href="../../../shared/papers/README.md">out</a>'
        "<p>see ../shared/papers/README.md</p>"
    )
    assert outside_links(site) == [
        "book/a.html -> ../../../shared/papers/README.md",
        "book/a.html names ../shared/papers",
    ]


def test_a_wide_numbered_table_and_a_table_shown_twice_are_reported(tmp_path):
    row = "<tr>" + "<td>0.123456789</td>" * 30 + "</tr>"
    narrow = "<table><tr><td>row one</td><td>0.5</td></tr><tr><td>row two</td><td>0.25</td></tr></table>"
    body = (
        # a numbered table inside a scroll container: no longer accepted
        f"<figure id='table-a1'><div style='overflow-x:auto'><table>{row}</table></div></figure>"
        f"<figure id='table-a2'>{narrow}</figure>"
        f"<div class='cell_output'>{narrow}</div>"
    )
    page = _page(tmp_path, f"<div style='width:900px'>{body}</div>")
    result = check_in_chromium(page, timeout=90)
    assert result["cut"] == []
    assert result["wide"] == ["table-a1"]
    assert result["twice"] == ["table"]


def test_a_displayed_formula_cut_at_the_column_edge_is_reported(tmp_path):
    def formula(width, name):
        return (
            f"<div id='{name}'><mjx-container display='true' style='display:block;overflow:hidden'>"
            f"<span style='display:inline-block;width:{width}px'>I = {name}</span></mjx-container></div>"
        )

    page = _page(tmp_path, f"<div style='width:500px'>{formula(2000, 'long')}{formula(200, 'short')}</div>")
    result = check_in_chromium(page, timeout=90)
    assert result["math"] == ["long: I = long"]

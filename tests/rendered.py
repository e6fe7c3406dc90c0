"""Checks of a built HTML book: local links and anchors, no CDN resources, and what headless
Chromium shows (images load, math typeset).  Used by tests/test_rendered_pages.py."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

RESOURCE_ATTRS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "link": "href"}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        attr = RESOURCE_ATTRS.get(tag)
        if attr and a.get(attr) and not (tag == "link" and a.get("rel") in ("canonical",)):
            self.resources.append(a[attr])


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def pages(html_root: Path) -> list[Path]:
    """The book's pages (Sphinx's generated index and search pages left out)."""
    skip = {"genindex.html", "search.html"}
    found = [
        p
        for p in html_root.rglob("*.html")
        if p.name not in skip
        and not p.name.startswith(".")
        and "_static" not in p.parts
        and "_sources" not in p.parts
    ]
    return sorted(p for p in found if 'http-equiv="Refresh"' not in p.read_text(encoding="utf-8")[:2000])


def broken_links(html_root: Path) -> list[str]:
    """``page -> href`` for every local link whose file or ``#anchor`` does not exist."""
    parsed: dict[Path, _Page] = {}

    def page_of(path):
        if path not in parsed:
            parsed[path] = parse(path)
        return parsed[path]

    bad = []
    for page in pages(html_root):
        for href in page_of(page).links + page_of(page).resources:
            url = urlsplit(href)
            if url.scheme or href.startswith("//"):
                continue
            target = page if not url.path else (page.parent / unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(html_root)} -> {href}"
            if not target.is_file():
                bad.append(where + " (no such file)")
            elif (
                url.fragment and target.suffix == ".html" and unquote(url.fragment) not in page_of(target).ids
            ):
                bad.append(where + " (no such anchor)")
    return bad


def remote_resources(html_root: Path) -> list[str]:
    """``page -> url`` for every script, style sheet, image or frame a page loads from the net."""
    out = []
    for page in pages(html_root):
        for src in parse(page).resources:
            if urlsplit(src).scheme in ("http", "https") or src.startswith("//"):
                out.append(f"{page.relative_to(html_root)} -> {src}")
    return out


#: how long (virtual ms) the page waits for images and MathJax before it reports anyway; images
#: still not loaded then count as broken, so a page that never settles fails with a message
IMAGE_DEADLINE_MS = 20000
#: an output block longer than this must be folded (a final progress line, or a folded log)
MAX_LOG_LINES = 30
#: the reader's window: code must fit the page's code column at this width
WINDOW = (1280, 1700)

CHECK_SCRIPT = r"""
<script>
(function () {
  var reported = false;
  function report() {
    if (reported) return;
    reported = true;
    var imgs = Array.from(document.querySelectorAll('img'));
    var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                     .map(function (i) { return (i.getAttribute('src') || '').slice(0, 80); });
    var body = document.body.cloneNode(true);
    body.querySelectorAll('pre, code, script, style, textarea, mjx-container, #repro-check')
        .forEach(function (e) { e.remove(); });
    var text = body.textContent, raw = [];
    ['\\(', '\\[', '$$'].forEach(function (t) {
      var i = text.indexOf(t);
      if (i >= 0) raw.push(text.slice(Math.max(0, i - 40), i + 40));
    });
    var cut = [], page = document.querySelector('article') || document.body;
    var edge = page.getBoundingClientRect().right + 1;
    document.querySelectorAll('table').forEach(function (t) {
      if (!page.contains(t) || t.getBoundingClientRect().right <= edge) return;
      for (var p = t.parentElement; p && p !== page; p = p.parentElement) {
        var ox = getComputedStyle(p).overflowX;
        if ((ox === 'auto' || ox === 'scroll') && p.getBoundingClientRect().right <= edge) return;
      }
      cut.push((t.closest('[id]') || {}).id || 'table');
    });
    // code that scrolls sideways (a cell's source, or a literalinclude of the helpers), and
    // output blocks of more than MAX_LOG_LINES lines shown unfolded (only a closed <details>, a
    // folded output, counts as folded: a scroll box still shows the reader a wall of log)
    var scroll = [], long = [];
    document.querySelectorAll('.cell_input pre, div[class*="highlight-python"] pre').forEach(function (p) {
      if (p.closest('.cell_output') || p.offsetParent === null) return;
      if (p.scrollWidth > p.clientWidth + 1) scroll.push(p.textContent.split('\n').filter(function (l) {
        return l.length > 0; }).sort(function (a, b) { return b.length - a.length; })[0].slice(0, 120));
    });
    document.querySelectorAll('.cell_output pre').forEach(function (p) {
      if (p.offsetParent === null || (p.closest('details') && !p.closest('details').open)) return;
      var lines = p.textContent.replace(/\n+$/, '').split('\n').length;
      if (lines <= MAX_LOG_LINES) return;
      long.push(lines + ' lines: ' + p.textContent.slice(0, 80));
    });
    // A displayed formula must fit the page's column (MathJax does not wrap one: it is cut).
    var math = [];
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (m) {
      var box = m.getBoundingClientRect(), inner = m.firstElementChild;
      var right = inner ? inner.getBoundingClientRect().right : box.right;
      if (m.offsetParent !== null && (right > Math.min(box.right, edge) + 1 || m.scrollWidth > m.clientWidth + 1))
        math.push(((m.closest('[id]') || {}).id || 'formula') + ': ' + m.textContent.slice(0, 60));
    });
    // A numbered table (a glued figure named table-*) must fit its column without scrolling.
    var wide = [];
    document.querySelectorAll('figure[id^="table-"] table').forEach(function (t) {
      var fig = t.closest('figure'), room = Math.min(fig.getBoundingClientRect().right, edge);
      if (t.getBoundingClientRect().right > room + 1 || t.scrollWidth > t.clientWidth + 1)
        wide.push(fig.id);
    });
    // No table shown twice (a numbered table and the same table as raw cell output).
    var seen = {}, twice = [];
    document.querySelectorAll('table').forEach(function (t) {
      if (!page.contains(t) || t.closest('.repro-parameters')) return;
      // a stacked table's parts (helpers.core.report.StackedTable) count with their group's name
      var prev = t.previousElementSibling;
      var label = prev && prev.classList.contains('repro-group') ? prev.textContent + ': ' : '';
      var key = label + t.textContent.replace(/\s+/g, ' ').trim();
      if (key.length < 20) return;
      if (seen[key]) twice.push((t.closest('[id]') || {}).id || 'table');
      seen[key] = true;
    });
    var out = document.createElement('pre');
    out.id = 'repro-check';
    out.textContent = JSON.stringify({images: imgs.length, broken: broken, raw: raw, cut: cut, scroll: scroll, long: long, wide: wide, twice: twice, math: math,
      typeset: document.querySelectorAll('mjx-container').length,
      mathjax: !!(window.MathJax && window.MathJax.startup)});
    document.body.appendChild(out);
  }
  // Each image settles on its own load or error event, or at a deadline (virtual time, so it
  // fires within --virtual-time-budget); img.decode() is not used: in Chromium 156 headless it
  // never settles for some images, and the report would never be written.
  function settled() {
    var waited = Array.from(document.querySelectorAll('img')).map(function (i) {
      i.loading = 'eager';
      if (i.complete) return Promise.resolve();
      return new Promise(function (done) {
        i.addEventListener('load', done, {once: true});
        i.addEventListener('error', done, {once: true});
      });
    });
    var math = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
    return Promise.all([Promise.all(waited), math.catch(function () {})]);
  }
  function deadline(ms) { return new Promise(function (done) { setTimeout(done, ms); }); }
  // The window's load event can itself be held up; a second deadline reports regardless.
  setTimeout(report, IMAGE_DEADLINE_MS + 5000);
  window.addEventListener('load', function () {
    Promise.race([settled(), deadline(IMAGE_DEADLINE_MS)]).then(report, report);
  });
})();
</script>
"""


def chromium() -> str | None:
    """Path of Debian's ``chromium`` (or another Chromium/Chrome binary), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


#: how Chromium starts here: as root (no sandbox), without a GPU, with a small /dev/shm, offline
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium_cmd(profile_dir: str) -> list[str]:
    return [chromium(), "--headless", *CHROMIUM_FLAGS, "--hide-scrollbars", f"--user-data-dir={profile_dir}"]


def check_in_chromium(page: Path, timeout: float = 120) -> dict:
    """Open ``page`` in headless Chromium (a 1280 px window) and report images, broken images,
    raw TeX left, typeset formulas, tables cut off at the page edge (``cut``), numbered tables
    wider than their column (``wide``), tables shown twice (``twice``), code that scrolls sideways
    (``scroll``: its longest line) and unfolded outputs over ``MAX_LOG_LINES`` lines (``long``)
    (a copy of the page with a checking script, next to the page)."""
    probe = page.with_name(f".check-{page.name}")
    source = page.read_text(encoding="utf-8")
    script = CHECK_SCRIPT.replace("IMAGE_DEADLINE_MS", str(IMAGE_DEADLINE_MS)).replace(
        "MAX_LOG_LINES", str(MAX_LOG_LINES)
    )
    probe.write_text(source.replace("</body>", script + "</body>", 1), encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory() as profile:
            out = subprocess.run(
                _chromium_cmd(profile)
                + [
                    f"--window-size={WINDOW[0]},{WINDOW[1]}",
                    "--virtual-time-budget=40000",
                    "--dump-dom",
                    probe.as_uri(),
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=_env(),
            )
    finally:
        probe.unlink(missing_ok=True)
    found = re.search(r'<pre id="repro-check"[^>]*>(.*?)</pre>', out.stdout, re.S)
    if not found:
        raise AssertionError(f"Chromium gave no result for {page.name}: {out.stderr[-2000:]}")
    return json.loads(html.unescape(found[1]))


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 1700, timeout: float = 120) -> Path:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            _chromium_cmd(profile)
            + [
                f"--window-size={width},{height}",
                "--virtual-time-budget=20000",
                f"--screenshot={png}",
                page.as_uri(),
            ],
            capture_output=True,
            timeout=timeout,
            check=True,
            env=_env(),
        )
    return png


def _env() -> dict:
    env = dict(os.environ)
    env.setdefault("HOME", tempfile.gettempdir())
    return env


def outside_links(html_root: Path) -> list[str]:
    """``page -> href`` for every link or resource that leaves the built site (a relative path
    above its root, a ``file:`` URL) and every page that sends the reader to ``../shared``, a
    folder outside the repository that no reader has."""
    root = html_root.resolve()
    bad = []
    for page in pages(html_root):
        parsed = parse(page)
        where = page.relative_to(html_root)
        for href in parsed.links + parsed.resources:
            url = urlsplit(href)
            if url.scheme == "file":
                bad.append(f"{where} -> {href}")
            elif not url.scheme and not href.startswith("//") and url.path:
                target = (page.parent / unquote(url.path)).resolve()
                if not target.is_relative_to(root):
                    bad.append(f"{where} -> {href}")
        if "../shared/papers" in page.read_text(encoding="utf-8"):
            bad.append(f"{where} names ../shared/papers")
    return bad


GLUE_TEXT = re.compile(r"\{glue:text\}`([^`]*)`")
PASTED = re.compile(r'<span class="pasted-text">(.*?)</span>', re.S)


def _glue_role(content: str) -> tuple[str, str, str]:
    """``(document, key, format spec)`` of a ``{glue:text}`` role, as myst_nb splits it."""
    parts = content.rsplit(":", 1)
    key, fmt = parts if len(parts) == 2 else (parts[0], "s")
    doc, _, key = key.rpartition("::")
    return doc, key, fmt


def _shown(page: Path) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", s)).strip()
        for s in PASTED.findall(page.read_text(encoding="utf-8"))
    ]


def glued_text_mismatches(html_root: Path, sources: Path) -> list[str]:
    """Every ``{glue:text}`` value a hand-written page (``book/*.md``) shows, against the same key
    on the notebook page it comes from; where that page does not show the key, against the
    notebook's glued value formatted as the role asks.  ``sources``: the book's root (the
    ``book/executed/*.ipynb`` the build rendered)."""
    from myst_nb.core.variables import format_plain_text

    from helpers.book.checks import glued_outputs

    problems = []
    notebook_shown: dict[str, dict[str, str]] = {}
    for md in sorted((sources / "book").glob("*.md")):
        roles = [_glue_role(c) for c in GLUE_TEXT.findall(md.read_text(encoding="utf-8"))]
        if not roles:
            continue
        page = html_root / "book" / f"{md.stem}.html"
        shown = _shown(page)
        if len(shown) != len(roles):
            problems.append(f"{page.name}: {len(roles)} glued values in the source, {len(shown)} on the page")
            continue
        for (doc, key, fmt), value in zip(roles, shown):
            nb = (md.parent / doc).resolve()
            if nb.stem not in notebook_shown:
                source = nb.read_text(encoding="utf-8")
                keys = [_glue_role(c)[1] for c in GLUE_TEXT.findall(_markdown_of(source))]
                values = _shown(html_root / "book" / "executed" / f"{nb.stem}.html")
                notebook_shown[nb.stem] = dict(zip(keys, values)) if len(keys) == len(values) else {}
            expected = notebook_shown[nb.stem].get(key)
            if expected is None:
                expected = format_plain_text(glued_outputs(nb)[key]["text/plain"], fmt)
            if value != expected:
                problems.append(f"{page.name}: {key} shows {value!r}, notebook {nb.stem} shows {expected!r}")
    return problems


def _markdown_of(notebook_json: str) -> str:
    cells = json.loads(notebook_json)["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")

"""The README's full-results section, generated from ``results/full.json``
(``python -m helpers.record readme``; a test checks that README and record agree).
"""

from __future__ import annotations

from pathlib import Path

from helpers.book import answers
from helpers.core.config import REPO_ROOT
from helpers.core.errors import ReproError
from helpers.core.recorded import B_METRICS, caption, collapsed_cell, fmt, load

README = REPO_ROOT / "README.md"
START, END = "<!-- full-results:start -->", "<!-- full-results:end -->"


def _cell(text: str) -> str:
    """A Markdown table cell: run names such as ``"alexnet | paper recipe | book head"`` keep
    their bars escaped, so they stay one column."""
    return str(text).replace("|", "\\|")


def readme_section(record: dict | None, profile: str = "full") -> str:
    """The README's text between the full-results markers, generated from ``record``."""
    cmd = f"python -m helpers.run all record --profile {profile}"
    if record is None:
        return (
            f"No {profile} run has been recorded yet: `results/{profile}.json` does not exist. "
            f"`{cmd}` runs the whole book at full scale (estimated 2 to 2.5 h on 2 CPU cores, see "
            "`book/running.md`) and records it; `python -m helpers.record readme` then fills "
            "this section."
        )
    lines = [
        f"Recorded {caption(record)}; `{cmd}`, or one paper at a time (`paper-a` / `paper-b` in "
        "place of `all`, book/running.md).",
        "",
        "| notebook | " + " | ".join(k[:2] for k in record["notebooks"]) + " | total |",
        "|---|" + "---|" * (len(record["notebooks"]) + 1),
        "| minutes | "
        + " | ".join(f"{v['wall_s'] / 60:.1f}" for v in record["notebooks"].values())
        + f" | {record['total_wall_s'] / 60:.1f} |",
        "",
    ]
    a1 = record["tables"].get("A1", [])
    lines += [
        "**Table A1** (Paper A, IMDB; mean ± std over seeds; the paper: 0.81-0.82 validation accuracy; "
        "a collapsed seed gave one class to ≥ 95 % of the validation reviews)",
        "",
        "| row | val. acc., final epoch | val. acc., authors' cumulative | test acc. | seeds | collapsed seeds |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {_cell(r['row'])} | {fmt(r.get('val_acc'))} | {fmt(r.get('val_acc_cumulative'))} | "
        f"{fmt(r.get('test_acc'))} | {len(r.get('seeds', []))} | {collapsed_cell(r)} |"
        for r in a1
    ]
    for name, title in (
        ("B1", "Table B1 (Paper B, CUB birds, unseen classes)"),
        ("B2", "Table B2 (Paper B, Oxford-102 flowers, unseen classes)"),
    ):
        rows = record["tables"].get(name)
        lines += ["", f"**{title}**", ""]
        if rows is None:
            lines.append(f"Not recorded yet: `python -m helpers.run paper-b record --profile {profile}`.")
            continue
        if not rows:
            lines.append("Not computed: the data folder has no captions for this data set.")
            continue
        lines += ["| text | image | " + " | ".join(B_METRICS) + " |", "|---|---|" + "---|" * len(B_METRICS)]
        lines += [
            f"| {r['text']} | {r['image']} | " + " | ".join(fmt(r.get(m)) for m in B_METRICS) + " |"
            for r in rows
        ]

    lines += ["", "**What the full run answers**", "", answers.paper_a(record), "", answers.paper_b(record)]
    return "\n".join(lines)


def readme_text(text: str, record: dict | None, profile: str = "full") -> str:
    """``text`` (the README) with its full-results section regenerated."""
    if START not in text or END not in text:
        raise ReproError(f"README.md has no {START} ... {END} markers.")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{readme_section(record, profile)}\n{END}{tail}"


def update_readme(readme: Path = README, profile: str = "full", results_dir: Path | None = None) -> bool:
    """Rewrite the README section from ``results/<profile>.json``; True when it changed."""
    old = readme.read_text()
    new = readme_text(old, load(profile, results_dir), profile)
    if new != old:
        readme.write_text(new)
    return new != old

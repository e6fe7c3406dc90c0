"""The papers' questions answered from the recorded full-scale run (``results/full.json``), as text.

Notebook 04 shows :func:`paper_a` under Table A1 and notebook 07 :func:`paper_b` under Table B1;
the README repeats both (``helpers.book.readme.readme_section``).  Every number comes from the record,
so the text changes when a new run is recorded; nothing here is typed in by hand except the
papers' own numbers.

* Paper A: does the image detour reach the paper's 0.81-0.82 with the stand-ins, does it beat
  the logistic regression on the [CLS] vectors, does ImageNet pre-training beat the randomly
  initialised slice?
* Paper B: which text/image pair wins on the unseen classes, and how do the numbers under Reed
  et al.'s protocol compare with their published CUB top-1?
"""

from __future__ import annotations

from helpers.book import verdicts
from helpers.paper_a.facts import CONTROL_SUFFIXES, LAYOUT_SUFFIX, RANDOM_SUFFIX, VAL_ACC_RANGE, slice_of
from helpers.paper_b.facts import REED_CUB_TOP1

CLS_PROBE = "linear probe: [CLS] vectors"
PIXEL_PROBE = "linear probe: DeepInsight pixels"
CHANCE = 0.52  # IMDB is balanced: a classifier that learned nothing scores about 0.50


def _mean(row: dict | None, metric: str):
    return ((row or {}).get(metric) or {}).get("mean")


def _pts(x: float) -> str:
    return f"{100 * x:+.1f} points"


def _none(record: dict | None) -> str | None:
    if record:
        return None
    return (
        "No full-scale run has been recorded yet (`results/full.json` is missing), so the book cannot "
        "answer this question at the papers' scale; `book/running.md` says how to record one."
    )


def _used(choice: dict | None, fallback: str) -> str:
    """The model that ran for a recorded ModelChoice (``models`` of the record), short form."""
    return (choice or {}).get("used", fallback).split(" (")[0]


def _image_rows(rows: list[dict]) -> list[dict]:
    """Table A1's rows trained on an ImageNet slice (not the probes, not the random control)."""
    return [
        r
        for r in rows
        if not r["row"].startswith("linear probe")
        and not r["row"].split(" | ")[0].endswith(tuple(CONTROL_SUFFIXES))
        and _mean(r, "val_acc") is not None
    ]


def _verdict_word(v: verdicts.Verdict) -> str:
    return v.word[0].upper() + v.word[1:]


def collapsed_runs(rows: list[dict]) -> list[tuple[str, list[int]]]:
    """``(run, collapsed seeds)`` of every trained row of a recorded Table A1 with one."""
    out = []
    for r in rows:
        if r["row"].startswith("linear probe"):
            continue
        seeds = verdicts.collapsed(r)
        if seeds:
            out.append((r["row"], seeds))
    return out


def paper_a(record: dict | None) -> str:
    """Markdown: Paper A's three questions answered from the record's Table A1, each with the
    verdict of :mod:`helpers.book.verdicts` (yes / no / not determined)."""
    if (missing := _none(record)) is not None:
        return missing
    if "A1" not in record["tables"]:
        return "Paper A's part of the run (notebooks 01-04) is not recorded yet."
    rows = record["tables"]["A1"]
    by_run = {r["row"]: r for r in rows}
    image = _image_rows(rows)
    if not image:
        return "The recorded run has no trained Table A1 row."
    alive = [r for r in image if not verdicts.collapsed(r)] or image
    best = max(alive, key=lambda r: _mean(r, "val_acc"))
    finals = [_mean(r, "val_acc") for r in image]
    lo, hi = VAL_ACC_RANGE
    cumulative = _mean(best, "val_acc_cumulative")
    extractors = {
        c["requested"]: c for c in ((record.get("models") or {}).get("A1") or {}).get("extractors") or []
    }
    best_name = best["row"].split(" | ")[0]
    ran = f" (frozen slice: {_used(extractors[best_name], best_name)})" if best_name in extractors else ""
    reach = verdicts.interval(best, lo)
    out = [
        f"**Does the image detour reach {lo:.2f}-{hi:.2f} with the stand-ins?** "
        + _verdict_word(reach)
        + f": the best run{' without a collapsed seed' if verdicts.collapsed(best) is not None else ''}, "
        f"*{best['row']}*{ran}, ends at a validation accuracy of "
        f"{_mean(best, 'val_acc'):.3f}"
        + (f" (authors' cumulative measure {cumulative:.3f})" if cumulative is not None else "")
        + f", against {lo:.2f}: {reach.text()}; the {len(image)} runs on ImageNet slices range from "
        f"{min(finals):.3f} to {max(finals):.3f}."
    ]
    gone = collapsed_runs(rows)
    if gone:
        out.append(
            "Collapsed seeds, not counted as results: "
            + "; ".join(verdicts.collapse_text(name, seeds) for name, seeds in gone)
            + "."
        )
    elif any(verdicts.collapsed(r) is None for r in rows if not r["row"].startswith("linear probe")):
        stuck = [
            r["row"]
            for r in rows
            if not r["row"].startswith("linear probe") and (_mean(r, "val_acc") or 1) <= CHANCE
        ]
        out.append(
            "The record keeps no per-seed predictions, so collapsed seeds (one class for every review) "
            "cannot be named"
            + (
                "; runs whose mean validation accuracy stayed at chance level "
                f"(≤ {CHANCE:.2f}): " + ", ".join(f"*{name}*" for name in stuck)
                if stuck
                else ""
            )
            + "; a mean between chance and the best runs with a large std means that some seeds "
            "stayed at chance and others learned."
        )
    probe, pixels = by_run.get(CLS_PROBE), by_run.get(PIXEL_PROBE)
    if probe and _mean(probe, "val_acc") is not None:
        beat = verdicts.interval(best, probe, deterministic=(False, True))
        out.append(
            "**Does it beat the logistic regression on the [CLS] vectors?** "
            + _verdict_word(beat)
            + f": the probe reaches {_mean(probe, 'val_acc'):.3f} on the same validation reviews, "
            f"the best image run against it: {beat.text()}"
            + (
                f"; a logistic regression on the DeepInsight pixels themselves reaches {_mean(pixels, 'val_acc'):.3f}."
                if pixels and _mean(pixels, "val_acc") is not None
                else "."
            )
        )
    out += [_control_answer(rows, by_run, suffix) for suffix in CONTROL_SUFFIXES]
    out.append(verdicts.RULE)
    return "\n\n".join(out)


CONTROL_QUESTIONS = {
    RANDOM_SUFFIX: (
        "Does ImageNet pre-training beat the random slice?",
        "the same slice randomly initialised",
    ),
    LAYOUT_SUFFIX: (
        "Does the DeepInsight layout matter?",
        "the same slice on the layout control (features on permuted pixels)",
    ),
}


def _control_answer(rows: list[dict], by_run: dict, suffix: str) -> str:
    """One control question of :data:`CONTROL_QUESTIONS`: every Table A1 run beside its control run
    (the same recipe and head on ``<slice><suffix>``), each pair with its verdict."""
    question, control = CONTROL_QUESTIONS[suffix]
    texts = []
    for r in rows:
        name, _, rest = r["row"].partition(" | ")
        base = f"{slice_of(name)} | {rest}"
        if name.endswith(suffix) and base in by_run and _mean(r, "val_acc") is not None:
            pre = by_run[base]
            texts.append(
                f"*{pre['row']}* {_mean(pre, 'val_acc'):.3f} against {_mean(r, 'val_acc'):.3f} with "
                f"{control}: {verdicts.interval(pre, r).text()}"
            )
    if not texts:
        return f"**{question}** Not determined: the recorded run has no such control (it was recorded without it)."
    return f"**{question}** " + "; ".join(texts) + "."


def best_pair(rows: list[dict]) -> tuple[list[dict], verdicts.Verdict | None]:
    """Table B1's rows (record form: mean ± std and ``per_seed``) ranked by mean Top-1, and the
    verdict of the rule on "is the first ahead of the second?" (None with one pair)."""
    ranked = sorted(rows, key=lambda r: _mean(r, "top1"), reverse=True)
    if len(ranked) < 2:
        return ranked, None
    return ranked, verdicts.interval(ranked[0], ranked[1], "top1", n_reviews=ranked[0].get("queries"))


def ranking_text(rows: list[dict]) -> str:
    """Notebook 07, "Over fine-tuning seeds": the best pair of this build over its seeds, the
    second, and whether the first is really ahead (:func:`best_pair`, the rule of
    :mod:`helpers.book.verdicts`)."""
    rows = [r for r in rows if _mean(r, "top1") is not None]
    if not rows:
        return "no pair has a Top-1 in this build"
    ranked, win = best_pair(rows)
    n = len(ranked[0].get("per_seed") or [])
    said = f"the best pair by mean Top-1 over {n} fine-tuning seed{'s' if n != 1 else ''} is {ranked[0]['text']}-{ranked[0]['image']}"
    if win is None:
        return said
    return f"{said}, ahead of {ranked[1]['text']}-{ranked[1]['image']}: is it really ahead? {win.text()}"


def paper_b(record: dict | None) -> str:
    """Markdown: Paper B's two questions answered from the record's Table B1 (CUB)."""
    if (missing := _none(record)) is not None:
        return missing
    if "B1" not in record["tables"]:
        return "Paper B's part of the run (notebooks 05-08) is not recorded yet."
    rows = [r for r in record["tables"]["B1"] if _mean(r, "top1") is not None]
    if not rows:
        return "The recorded run has no Table B1 numbers."
    classes = ((record.get("data") or {}).get("cub") or {}).get("classes", {}).get("test")
    on = f"{classes} unseen CUB classes" if classes else "the unseen CUB classes"
    ranked, win = best_pair(rows)
    best, second = ranked[0], ranked[1] if len(ranked) > 1 else None

    models = (record.get("models") or {}).get("B") or {}

    def pair(r):
        if not r.get("text model"):
            return f"{r['text']}-{r['image']}"
        text = "TF-IDF" if r["text model"] == "tfidf" else _used(models.get("text"), r["text model"])
        image = _used((models.get("images") or {}).get(f"cub/{r['image model']}"), r["image model"])
        return f"{r['text']}-{r['image']} (ran as {text} → {image})"

    out = [
        f"**Which text/image pair wins on {on}?** {pair(best)}: Top-1 {_mean(best, 'top1'):.3f}, "
        f"Top-5 {_mean(best, 'top5'):.3f}, macro F1 {_mean(best, 'f1'):.3f}"
        + (
            f"; next comes {second['text']}-{second['image']} at {_mean(second, 'top1'):.3f}; "
            f"is the first ahead of the second? {win.text()}"
            if second
            else ""
        )
        + f"; the weakest pair scores {_mean(ranked[-1], 'top1'):.3f}."
    ]
    reed = [r for r in rows if _mean(r, "reed_top1") is not None]
    if reed:
        top = max(reed, key=lambda r: _mean(r, "reed_top1"))
        value = _mean(top, "reed_top1")
        images = top.get("images") or ((record.get("data") or {}).get("cub") or {}).get("images", {}).get(
            "test"
        )
        of = f"the {images:,} test images" if images else "the test images"
        k = top.get("reed_k")
        how = (
            "each test image gets the class whose averaged caption embedding has the highest inner "
            f"product with it; AP@50 {_mean(top, 'reed_ap50'):.3f}, the share of each class query's "
            f"{k} highest-scoring images that have its class, averaged over the test classes"
            if k is not None
            else "recorded with the earlier code, which ranked classes by Euclidean distance to the "
            "unnormalised class means (Reed et al. score by inner product) and did not record the k "
            "of its AP@50; a new run records both"
        )
        out.append(
            "**Under Reed et al.'s protocol** (one class-averaged caption query per class), the best pair, "
            f"{top['text']}-{top['image']}, classifies {100 * value:.1f} % of {of} of the {on} correctly "
            f"(top-1, a share of test images: {how}), against Reed et al.'s published CUB top-1 of "
            f"{100 * REED_CUB_TOP1:.1f} % with their own encoders on their 50 test classes "
            f"({_pts(value - REED_CUB_TOP1)}; the class sets and the encoders differ, so this places the "
            "run on their scale rather than repeating their experiment, and gets no verdict)."
        )
    out += [_shipped_answer(record, rows), verdicts.RULE]
    return "\n\n".join(out)


def _shipped_answer(record: dict, rows: list[dict]) -> str:
    """What fine-tuning buys on CUB: each Table B1 pair against the same pair with the models as
    they ship (``B1_shipped``: no fine-tuning, one deterministic fit), with its verdict."""
    question = "**What does fine-tuning buy?**"
    base = {(r["text"], r["image"]): r for r in record["tables"].get("B1_shipped") or []}
    texts = []
    for r in rows:
        b = base.get((r["text"], r["image"]))
        if b is None or _mean(b, "top1") is None:
            continue
        v = verdicts.interval(r, b, "top1", deterministic=(False, True), n_reviews=r.get("queries"))
        texts.append(
            f"{r['text']}-{r['image']} Top-1 {_mean(r, 'top1'):.3f} fine-tuned against "
            f"{_mean(b, 'top1'):.3f} with the models as they ship: {v.text()}"
        )
    if not texts:
        return (
            f"{question} Not determined: the recorded run has no baseline of the models as they ship "
            "(it was recorded without it)."
        )
    return f"{question} " + "; ".join(texts) + "."

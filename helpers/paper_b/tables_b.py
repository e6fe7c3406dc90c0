"""Tables B1 and B2 (notebook 07): the paper's metrics beside the recorded run and this build.

* :func:`paper_table`, :func:`side_by_side`: the paper's Table 1 / 2 beside this run's metrics;
* :func:`choices_of`, :func:`models_that_ran`, :func:`choice_rows`: which models produced them
  (provenance, read from notebook 06's ``info.json``);
* :func:`table_beside_paper`: the three column groups of the book's table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.core import report
from helpers.core.errors import ReproError
from helpers.core.recorded import three_groups
from helpers.core.weights import ModelChoice
from helpers.paper_b import retrieval
from helpers.paper_b.facts import PAPER_TABLES
from helpers.paper_b.retrieval import METRICS


def paper_table(dataset: str) -> pd.DataFrame:
    """The paper's Table 1 (``"cub"``) or Table 2 (``"flowers"``) as a DataFrame."""
    if dataset not in PAPER_TABLES:
        raise ReproError(f"The paper has no table for {dataset!r}; choose 'cub' or 'flowers'.")
    rows = [{"text": t, "image": i, **dict(zip(METRICS, v))} for (t, i), v in PAPER_TABLES[dataset].items()]
    return pd.DataFrame(rows).set_index(["text", "image"])


def side_by_side(ours: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Our metrics next to the paper's, indexed by the paper's (text, image) names;
    ``ours`` has the index (text, image) in paper names and the columns of ``METRICS``.
    Missing values on either side stay NaN (shown as "-" in the book)."""
    paper = paper_table(dataset)
    idx = paper.index.union(ours.index, sort=False)
    cols = {}
    for m in METRICS:
        cols[(m, "paper")] = paper[m].reindex(idx)
        cols[(m, "here")] = ours[m].reindex(idx) if m in ours else np.nan
    return pd.DataFrame(cols, index=idx)


def choice_rows(choices: dict, text_choice: ModelChoice | None) -> dict:
    """Notebook 06: the ModelChoices of its embeddings as they go into ``info.json``: ``choices``
    keyed ``"<dataset>/<model>"`` (from ``{(dataset, model): ModelChoice}``) and ``text_choice``
    (rows of :meth:`ModelChoice.as_row`); :func:`choices_of` reads them back.

    Explained in notebook 06, section "Saving the embeddings".
    """
    return {
        "choices": {f"{d}/{n}": c.as_row() for (d, n), c in choices.items()},
        "text_choice": text_choice.as_row() if text_choice else None,
    }


def choices_of(info: dict, dataset: str) -> list[ModelChoice]:
    """Notebooks 07-08: the image models behind ``dataset``'s embeddings, then the fine-tuned text
    model (if any), as ModelChoices read from notebook 06's ``info.json`` (:func:`choice_rows`).

    Explained in notebook 07, section "Models used".
    """
    out = [ModelChoice.from_row(c) for key, c in info["choices"].items() if key.startswith(f"{dataset}/")]
    if info.get("text_choice"):
        out.append(ModelChoice.from_row(info["text_choice"]))
    return out


def models_that_ran(info: dict, dataset: str) -> dict[str, str]:
    """Notebook 07: model name (as in notebook 06's parameters) -> the model that produced the
    embeddings of ``dataset`` (``ModelChoice.used``)."""
    used = {
        key.split("/", 1)[1]: ModelChoice.from_row(c).used
        for key, c in info["choices"].items()
        if key.startswith(f"{dataset}/")
    }
    if info.get("text_choice"):
        used[info["text_model"]] = ModelChoice.from_row(info["text_choice"]).used
    used["tfidf"] = "TF-IDF txc (fitted here)"
    return used


def table_beside_paper(
    results: pd.DataFrame, dataset: str, info: dict, *, record: dict | None = None
) -> pd.DataFrame:
    """Notebook 07, Tables B1 (``"cub"``) and B2 (``"flowers"``) in three column groups
    (:func:`helpers.core.recorded.three_groups`): the paper's metrics | the recorded full-scale run
    (``results/full.json``; ``record={}``: none) | this build's (:func:`side_by_side`,
    rounded to 3 digits) with a last column naming the text and image models behind them.
    ``results`` is :func:`helpers.paper_b.retrieval.evaluate_pairs`' table (may be empty).

    Explained in notebook 07, section "Tables 1 and 2 beside the paper".
    """
    metrics = list(retrieval.METRICS)
    if results.empty:
        ours = pd.DataFrame(columns=metrics, index=pd.MultiIndex.from_tuples([], names=["text", "image"]))
    else:
        ours = results.set_index(["text", "image"])[metrics]
    both = side_by_side(ours, dataset).round(3)
    paper, here = both.xs("paper", axis=1, level=1), both.xs("here", axis=1, level=1).copy()
    if not results.empty:
        used = models_that_ran(info, dataset)
        ran = results.set_index(["text", "image"])[["text model", "image model"]].replace(used)
        here["models that ran"] = (ran["text model"] + " → " + ran["image model"]).reindex(here.index)
    name = {"cub": "B1", "flowers": "B2"}[dataset]
    return three_groups(name, paper, here, record=record)


def concentration_sentence(conc: pd.DataFrame, column: str = "top 1% share of |W|") -> str:
    """The paper's "TF-IDF maps are sparser" said from notebook 08's numbers (Table B6): the mean
    share of |W| in the largest 1 % of weights, TF-IDF pairs against the dense-encoder pairs."""
    text = conc.index.to_series().str.split(" - ").str[0]
    tfidf = conc.loc[text == "TF-IDF", column]
    dense = conc.loc[text != "TF-IDF", column]
    if tfidf.empty or dense.empty:
        return "one of the two text encoders has no projection in this run"
    name = text[text != "TF-IDF"].iloc[0]
    a, b = float(tfidf.mean()), float(dense.mean())
    said = report.compare_text(
        "the mean share of |W| held by the largest 1 % of weights in the TF-IDF maps",
        a,
        f"in the {name} maps",
        b,
        more="larger",
        less="smaller",
        same="about the same",
    )
    if abs(a - b) <= 0.05 * max(a, b):
        return f"{said}: neither encoder's maps are the sparser ones here"
    sparser = "TF-IDF" if a > b else name
    verdict = "agrees with" if a > b else "contradicts"
    return f"{said}: the {sparser} maps are the more concentrated (sparser) ones, which {verdict} the paper's reading"


def reed_table(results: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Notebook 07's table of Reed et al.'s protocol (``table-b-reed``): per data set with captions
    and per pair, Reed's zero-shot top-1 and AP@k, ``k``, the classes under ``k`` and the
    per-caption Top-1, rounded to 3 digits.

    Explained in notebook 07, section "Tables 1 and 2 beside the paper".
    """
    columns = ["reed_top1", "reed_ap50", "reed_k", "reed_under_k", "top1"]
    parts = {d: r.set_index(["text", "image"])[columns] for d, r in results.items() if not r.empty}
    return pd.concat(parts).round(3)


def projection_table(by_method: dict[str, dict[str, pd.DataFrame]]) -> pd.DataFrame:
    """Notebook 07's projection comparison (``table-b-projection``): the
    :func:`helpers.paper_b.retrieval.projection_comparison` of every data set in ``by_method``
    (data set -> projection -> :func:`helpers.paper_b.retrieval.evaluate_pairs` table), one under
    the other; empty when no data set has captions.

    Explained in notebook 07, section "Least squares or the authors' MLP?".
    """
    if not by_method:
        return pd.DataFrame()
    return pd.concat({d: retrieval.projection_comparison(m) for d, m in by_method.items()})


def shipped_table(results: dict[str, pd.DataFrame], shipped: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Notebook 07's "what fine-tuning buys" table (``table-b-shipped``): per data set with both and
    per pair, Top-1 and Top-5 with the fine-tuned models and with the models as they ship (the same
    projection and search), and the Top-1 gain in points; empty without the baseline.

    Explained in notebook 07, section "What fine-tuning buys".
    """
    parts = {}
    for d, r in results.items():
        s = shipped.get(d)
        if r.empty or s is None or s.empty:
            continue
        a, b = r.set_index(["text", "image"]), s.set_index(["text", "image"])
        parts[d] = pd.DataFrame(
            {
                "Top-1 fine-tuned": a["top1"],
                "Top-1 as shipped": b["top1"],
                "Top-1 gain (points)": 100 * (a["top1"] - b["top1"]),
                "Top-5 fine-tuned": a["top5"],
                "Top-5 as shipped": b["top5"],
            }
        )
    return pd.concat(parts).round(3) if parts else pd.DataFrame()


_LABELS = {"top1": "Top-1", "top5": "Top-5", "f1": "F1"}


def ranking_sentence(comparison: pd.DataFrame, metric: str = "top1") -> str:
    """Whether the pair ranking of Tables B1-B2 holds under every projection of notebook 07's
    comparison (``table-b-projection``): per data set, the best pair by ``metric`` under each
    fit and the Spearman correlation of each fit's order of the pairs with the first fit's.
    Describes one build (one fine-tuning seed); it is not a verdict.

    Explained in notebook 07, section "Least squares or the authors' MLP?".
    """
    if comparison.empty:
        return "no data set has captions in this run, so no projection was compared"
    parts = []
    for d in dict.fromkeys(comparison.index.get_level_values(0)):
        scores = comparison[comparison.index.get_level_values(0) == d].droplevel(0)[metric]
        fits = list(scores.columns)
        best = {f: " - ".join(scores[f].idxmax()) for f in fits}
        same_best = len(set(best.values())) == 1
        rho = {f: scores[fits[0]].corr(scores[f], method="spearman") for f in fits[1:]}
        said = ", ".join(f"{f}: {b}" for f, b in best.items())
        corr = "; ".join(f"{f} {r:.2f}" for f, r in rho.items())
        parts.append(
            f"on {d}, the best pair by {_LABELS.get(metric, metric)} is "
            + (f"{best[fits[0]]} under every fit" if same_best else f"not the same under every fit ({said})")
            + (f"; rank correlation of the pairs' order with {fits[0]}'s: {corr}" if rho else "")
        )
    return "; ".join(parts)


def seeds_table(seed_results: dict[str, pd.DataFrame], metric: str = "top1") -> pd.DataFrame:
    """Notebook 07's Table B1 over fine-tuning seeds (``table-b-seeds``): per data set and pair,
    ``metric`` for each seed of :func:`helpers.paper_b.retrieval.evaluate_seeds`, their mean and
    standard deviation (empty without captions; no std with one seed).

    Explained in notebook 07, section "Over fine-tuning seeds".
    """
    parts = {}
    for d, r in seed_results.items():
        if r.empty:
            continue
        wide = r.pivot_table(index=["text", "image"], columns="seed", values=metric, sort=False)
        wide.columns = [f"{_LABELS.get(metric, metric)} seed {s}" for s in wide.columns]
        parts[d] = wide.assign(mean=wide.mean(axis=1), std=wide.std(axis=1, ddof=1)).round(3)
    return pd.concat(parts) if parts else pd.DataFrame()


def projection_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The projection comparison as the page shows it (``table-b-projection``): one row per data set,
    pair and fit, the metrics as columns (narrow enough for the page with three fits), 3 digits.

    Explained in notebook 07, section "Least squares or the authors' MLP?".
    """
    if comparison.empty:
        return comparison
    long = comparison.stack(level=1)
    long.index = long.index.set_names(["data set", "text", "image", "fit"])
    return long.round(3)

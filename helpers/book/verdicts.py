"""The one rule by which the book answers a question yes / no / not determined (issue 14).

Every answer of :mod:`helpers.book.answers` compares a recorded mean with another run's mean or
with a fixed number, and says **yes** or **no** only when the 95 % confidence interval of the
difference lies entirely on one side of zero; otherwise **not determined**.  The interval
(:func:`interval`) is Welch's t interval over seeds with the validation reviews' sampling error
added:

* a run's mean is the mean over its seeds of the per-seed value (e.g. the final validation
  accuracy); its squared standard error is ``s² / n`` (``s``: the standard deviation over its
  ``n`` seeds) plus ``p (1 - p) / N`` (binomial sampling error of an accuracy ``p`` on ``N``
  validation reviews; the same reviews serve every seed, so it is not divided by ``n``);
* the difference's standard error adds the two runs' squared errors (a fixed number has none);
  the degrees of freedom are Welch-Satterthwaite's over the seed terms (the review terms count
  as known);
* a trained run needs at least two seeds (one seed has no seed-to-seed spread), a deterministic
  control (the linear probes: one fit) only the review term;
* a run with a *collapsed* seed (its final model gave one class to at least 95 % of the
  validation reviews, :data:`helpers.paper_a.table_a1_runs.COLLAPSE_SHARE`) is not counted as a
  result: any comparison with it is not determined, and the seed is named;
* a record without per-seed values (written before issue 14, e.g. the first ``results/full.json``)
  gives "not determined" wherever the rule needs them, and says so.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy import stats

from helpers.paper_a.table_a1_runs import COLLAPSE_SHARE

LEVEL = 0.95
YES, NO, UNDETERMINED = "yes", "no", "not determined"

RULE = (
    "*How the answers decide:* yes or no only when the 95 % confidence interval of the difference "
    "lies entirely above or below zero, otherwise *not determined*.  The interval is Welch's t "
    "interval over seeds (each run's standard error: the seed-to-seed standard deviation over √n, "
    "plus the binomial sampling error of an accuracy on its evaluation items, the validation "
    "reviews or, for Paper B, the test captions; Welch-Satterthwaite degrees of freedom).  A trained run needs at least two seeds; a seed whose final model gave "
    f"one class to at least {100 * COLLAPSE_SHARE:.0f} % of the validation reviews *collapsed* and is "
    "named, and a comparison with its run is not determined.  A record without per-seed values "
    "(recorded before they were kept) gives not determined."
)

OLD_RECORD = "no per-seed values in this record, which predates them: re-record the run"


@dataclass(frozen=True)
class Verdict:
    """``word``: yes / no / not determined; ``diff``: the difference of means (or None);
    ``ci``: its 95 % interval (or None); ``why``: the reason when not determined."""

    word: str
    diff: float | None = None
    ci: tuple[float, float] | None = None
    why: str = ""

    def text(self) -> str:
        """``"yes (+3.1 points, 95 % CI +1.0 to +5.2)"`` or ``"not determined (why)"``."""
        parts = []
        if self.diff is not None:
            parts.append(f"{100 * self.diff:+.1f} points")
        if self.ci is not None:
            lo, hi = self.ci
            parts.append(
                f"95 % CI {100 * lo:+.1f} to {100 * hi:+.1f}"
                if math.isfinite(hi - lo)
                else "95 % CI unbounded"
            )
        if self.why:
            parts.append(self.why)
        return f"{self.word} ({'; '.join(parts)})" if parts else self.word


def seed_values(row: dict | None, metric: str) -> list[float] | None:
    """The per-seed values of ``metric`` in a recorded row; None when the record keeps none."""
    per_seed = (row or {}).get("per_seed")
    if not per_seed:
        return None
    return [float(s[metric]) for s in per_seed if s.get(metric) is not None]


def collapsed(row: dict | None) -> list[int] | None:
    """The recorded row's collapsed seeds ([]: none), None when the record cannot tell."""
    per_seed = (row or {}).get("per_seed")
    if not per_seed or all(s.get("val_majority_share") is None for s in per_seed):
        return (row or {}).get("collapsed")
    return [int(s["seed"]) for s in per_seed if (s.get("val_majority_share") or 0) >= COLLAPSE_SHARE]


def collapse_text(name: str, seeds: list[int]) -> str:
    """``"seed 0 of *run* collapsed (one class for >= 95 % of the validation reviews)"``."""
    which = ", ".join(str(s) for s in seeds)
    return (
        f"seed{'s' if len(seeds) > 1 else ''} {which} of *{name}* collapsed (one class for ≥ "
        f"{100 * COLLAPSE_SHARE:.0f} % of the validation reviews)"
    )


def _side(row: dict, metric: str, deterministic: bool, n_reviews: int | None):
    """``(mean, seed variance term, seed df, review variance term)`` or a reason string."""
    name = row.get("row") or f"{row.get('text')}-{row.get('image')}"
    vals = seed_values(row, metric)
    if vals is None:
        return OLD_RECORD
    if not vals:
        return f"*{name}* has no {metric}"
    bad = collapsed(row) if "row" in row else []
    if bad:
        return collapse_text(name, bad)
    n = len(vals)
    if n < 2 and not deterministic:
        return f"*{name}* has one seed, so no seed-to-seed spread"
    mean = sum(vals) / n
    seed_var = statistics.variance(vals) / n if n >= 2 else 0.0
    reviews = n_reviews or next((s.get("n_val") for s in row["per_seed"] if s.get("n_val")), None)
    review_var = mean * (1 - mean) / reviews if reviews and 0 <= mean <= 1 else 0.0
    return mean, seed_var, (n - 1 if n >= 2 else None), review_var


def interval(
    a: dict,
    b: dict | float,
    metric: str = "val_acc",
    *,
    deterministic: tuple[bool, bool] = (False, False),
    n_reviews: int | None = None,
) -> Verdict:
    """Is ``a``'s mean of ``metric`` above ``b`` (a recorded row, or a fixed number)?  The rule of
    the module docstring; ``deterministic``: which side is a one-fit control; ``n_reviews``: the
    number of evaluation items (default: the rows' ``n_val``)."""
    sa = _side(a, metric, deterministic[0], n_reviews)
    if isinstance(sa, str):
        return Verdict(UNDETERMINED, why=sa)
    if isinstance(b, dict):
        sb = _side(b, metric, deterministic[1], n_reviews)
        if isinstance(sb, str):
            return Verdict(UNDETERMINED, why=sb)
    else:
        sb = (float(b), 0.0, None, 0.0)
    diff = sa[0] - sb[0]
    var = sa[1] + sa[3] + sb[1] + sb[3]
    seed_terms = [(v, df) for v, df in ((sa[1], sa[2]), (sb[1], sb[2])) if df]
    denom = sum(v * v / df for v, df in seed_terms)
    df = var * var / denom if denom > 0 else math.inf
    se = math.sqrt(var)
    half = stats.t.ppf(0.5 + LEVEL / 2, df) * se if se > 0 else 0.0
    ci = (diff - half, diff + half)
    if ci[0] > 0:
        word = YES
    elif ci[1] < 0:
        word = NO
    else:
        word = UNDETERMINED
    return Verdict(word, round(diff, 6), ci, "" if word != UNDETERMINED else "within noise")

"""Speed benchmarks of the book's heavy steps: baseline and fast path measured side by side, in one run.

    .venv/bin/python -m benchmarks            # or: python benchmarks/run.py
    .venv/bin/python -m benchmarks --only encoding,retrieval --no-write

Real data from the data folder (``helpers.core.config.data_source()``) and the packaged stand-in models,
at small sizes so that the whole run takes a few minutes on 2 CPU cores.  Prints a markdown table
of ratios (baseline time / fast time), writes it with the date, the machine and the commit to
``benchmarks/latest.md`` and copies it into the "Running the book" page (``book/running.md``,
between the ``% benchmarks:start`` / ``% benchmarks:end`` lines).  These are timings, not tests:
the test suite never runs them.  The fast paths must give the baseline's result; each row says how
that was checked.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import sys
import time
import tracemalloc
from pathlib import Path

from helpers.paper_a import head_recipes, preprocess

if __package__ in (None, ""):  # python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from helpers.book import record
from helpers.core.config import REPO_ROOT

LATEST = REPO_ROOT / "benchmarks" / "latest.md"
RUNNING = REPO_ROOT / "book" / "running.md"
START, END = "% benchmarks:start", "% benchmarks:end"
BENCHMARKS = ("encoding", "features", "head", "deepinsight", "retrieval", "grid")


def timed(fn, repeat: int = 1):
    """(best wall seconds over ``repeat`` calls, last result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def peak_memory(fn):
    """(peak traced Python/NumPy allocation in MB, result) of one call (``tracemalloc``)."""
    gc.collect()
    tracemalloc.start()
    try:
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    return peak, out


class Row(dict):
    """One line of the table: what, baseline, fast path, times, ratio, goal, check."""


def row(step, baseline, fast, t_base, t_fast, unit, check, goal="", items=1, extra=""):
    scale = 1000.0 / items if unit == "ms/item" else 1.0
    return Row(
        step=step,
        baseline=baseline,
        fast=fast,
        base=t_base * scale,
        fast_t=t_fast * scale,
        unit=unit,
        ratio=t_base / t_fast if t_fast else float("nan"),
        goal=goal,
        check=check,
        extra=extra,
    )


def _threads(n: int) -> None:
    torch.set_num_threads(n)


# --------------------------------------------------------------------------- the benchmarks


class Context:
    """Real inputs shared by the benchmarks (computed once, outside the timed parts)."""

    def __init__(self, n_reviews: int, threads: int):
        from helpers.data import imdb as data_imdb
        from helpers.models import text_encoders

        self.threads = threads
        reviews = data_imdb.load_imdb(splits="train", per_class=n_reviews // 2, seed=0)
        reviews = reviews[reviews.split == "train"]
        self.texts = reviews.text.tolist()
        self.labels = reviews.label.to_numpy()
        self.tokenizer, self.model, self.choice = text_encoders.load_text_encoder("bert-base-uncased")
        self.cls = None
        self._images = None

    def images(self, n: int) -> np.ndarray:
        """Z-normalised DeepInsight images of the real reviews' [CLS] stacks (layout fitted on them),
        tiled to ``n`` rows."""
        if self._images is None:
            from helpers.paper_a import deepinsight

            di = deepinsight.DeepInsight(max_iter=250).fit(self.cls.reshape(len(self.cls), -1))
            imgs = di.transform(self.cls.reshape(len(self.cls), -1))
            self._images = preprocess.z_normalize(imgs, *preprocess.z_stats(imgs))
            self.deepinsight = di
        reps = -(-n // len(self._images))
        return np.concatenate([self._images] * reps)[:n]


def bench_encoding(ctx: Context) -> list[Row]:
    """The authors' one review at a time (max_length 512, truncated) against length-sorted batches
    with dynamic padding (``text_encoders.cls_last_layers``)."""
    from helpers.models import text_encoders

    tok, model = ctx.tokenizer, ctx.model.eval()
    _threads(ctx.threads)

    def authors():
        out = []
        with torch.no_grad():
            for text in ctx.texts:
                enc = tok(text, truncation=True, max_length=512, return_tensors="pt")
                states = model(**enc, output_hidden_states=True).hidden_states[-6:]
                out.append(np.stack([s[0, 0].numpy() for s in states]))
        return np.stack(out)

    def batched():
        return text_encoders.cls_last_layers(
            ctx.texts, tok, model, n_layers=6, max_length=512, batch_size=32, progress=False
        )

    t_a, ref = timed(authors)
    t_b, fast = timed(batched)
    ctx.cls = fast
    diff = float(np.abs(ref - fast).max())
    return [
        row(
            "review encoding ([CLS] of 6 layers, 512 tokens)",
            "one review at a time",
            "length-sorted batches of 32, dynamic padding",
            t_a,
            t_b,
            "ms/item",
            f"max abs diff {diff:.1e}",
            items=len(ctx.texts),
            extra=f"{len(ctx.texts)} IMDB reviews, {ctx.choice.used}, {ctx.threads} threads",
        )
    ]


def bench_features(ctx: Context, n_images: int) -> list[Row]:
    """Frozen slice ms/image: eager ``no_grad`` on 1 thread against ``frozen_slices.extract_features``
    (``inference_mode`` + ``channels_last``) on ``threads`` threads, and each change on its own."""
    from helpers.models import training
    from helpers.paper_a import frozen_slices

    images = ctx.images(n_images)
    rows = []
    for name in ("alexnet", "vgg16"):
        module, choice = frozen_slices.frozen_extractor(name)

        def eager(threads):
            def go():
                _threads(threads)
                m = module.to(memory_format=torch.contiguous_format)
                out = []
                with torch.no_grad():
                    for b in range(0, len(images), 64):
                        out.append(m(preprocess.upsample(images[b : b + 64])).numpy().astype(np.float16))
                return np.concatenate(out)

            return go

        def fast(threads, channels_last=True, dtype="float32"):
            def go():
                _threads(threads)
                return frozen_slices.extract_features(
                    module, images, channels_last=channels_last, dtype=dtype
                )

            return go

        t_ref, ref = timed(eager(1))
        t_1, _ = timed(fast(1))
        t_2, _ = timed(eager(ctx.threads))
        t_fast, out = timed(fast(ctx.threads))
        t_bf16, out_bf16 = timed(fast(ctx.threads, dtype="bfloat16"))
        rel = float(
            np.abs(out_bf16.astype(np.float32) - ref.astype(np.float32)).mean()
            / np.abs(ref.astype(np.float32)).mean()
        )
        diff = float(np.abs(ref.astype(np.float32) - out.astype(np.float32)).max())
        scale = float(np.abs(ref.astype(np.float32)).max())
        label = f"frozen features, {name} slice ({choice.used.split(' (')[0]})"
        rows.append(
            row(
                label,
                "eager no_grad, 1 thread",
                f"eager no_grad, {ctx.threads} threads",
                t_ref,
                t_2,
                "ms/item",
                "same module",
                items=len(images),
            )
        )
        rows.append(
            row(
                label,
                "eager no_grad, 1 thread",
                "inference_mode + channels_last, 1 thread",
                t_ref,
                t_1,
                "ms/item",
                "same module",
                items=len(images),
            )
        )
        rows.append(
            row(
                label,
                "eager no_grad, 1 thread",
                f"extract_features: inference_mode + channels_last, {ctx.threads} threads",
                t_ref,
                t_fast,
                "ms/item",
                f"max abs diff {diff:.1e} (largest value {scale:.0f}; float16)",
                items=len(images),
                extra=f"{len(images)} real review images, 150 px, batch 64",
            )
        )
        rows.append(
            row(
                label,
                "eager no_grad, 1 thread",
                f"extract_features, bfloat16 autocast, {ctx.threads} threads",
                t_ref,
                t_bf16,
                "ms/item",
                f"mean relative difference {rel:.1%} (bfloat16)",
                items=len(images),
                extra="compute_dtype=bfloat16 (the full profile); CPU with native bfloat16: "
                + ("yes" if training.cpu_has_bf16() else "no"),
            )
        )
        module.to(memory_format=torch.contiguous_format)
    _threads(ctx.threads)
    return rows


def bench_head(ctx: Context, n_train: int, n_val: int) -> list[Row]:
    """One training epoch of the Table I model: the authors' end-to-end loop (the frozen slice
    recomputed every epoch: ``train_head(extractor=...)``) against the head trained on cached
    features (``train_head`` on ``extract_features`` output)."""
    from helpers.paper_a import frozen_slices, sentiment_model

    _threads(ctx.threads)
    images = ctx.images(n_train + n_val)
    y = np.arange(n_train + n_val) % 2
    module, _ = frozen_slices.frozen_extractor("alexnet")
    # the book recipe (global Z, eval-mode batch norm): the computation the cache reproduces exactly
    rc = head_recipes.recipe("alexnet", "book", epochs=1, batch_size=32)
    tr, va = slice(0, n_train), slice(n_train, n_train + n_val)

    def end_to_end():
        return sentiment_model.train_head(
            images[tr],
            y[tr],
            images[va],
            y[va],
            recipe=rc,
            seed=0,
            extractor=module,
            desc="end-to-end",
            znorm_stats=(0.0, 1.0),  # the images are Z-normalised already
        )[1]

    t_cache, feats = timed(lambda: frozen_slices.extract_features(module, images))

    def cached():
        return sentiment_model.train_head(
            feats[tr], y[tr], feats[va], y[va], recipe=rc, seed=0, desc="cached"
        )[1]

    t_e2e, h_e2e = timed(end_to_end)
    t_c, h_c = timed(cached)
    check = f"train loss {h_e2e['train_loss'][0]:.4f} vs {h_c['train_loss'][0]:.4f} (float16 cache)"
    return [
        row(
            "head training, one epoch (alexnet slice stand-in)",
            "end to end: slice every epoch",
            "cached features",
            t_e2e,
            t_c,
            "s",
            check,
            goal=">= 10x",
            extra=f"{n_train} train + {n_val} val images, batch 32; computing the cache once: {t_cache:.1f} s",
        )
    ]


def _import_torch() -> str:
    import torch

    return torch.__version__


def bench_grid(ctx: Context, n_images: int, epochs: int = 4) -> list[Row]:
    """A small Table A1 grid (2 cached-feature rows x 2 seeds, book recipe): ``train_runs`` in this
    process on ``threads`` torch threads against the same tasks on a 2-worker Dask ``LocalCluster``
    (``helpers.core.tasks``, one torch thread per worker) on the same cores; the cluster's start (two
    processes importing torch) is timed apart and counted in the fast time."""
    import tempfile

    from helpers.core import tasks
    from helpers.paper_a import frozen_slices, head_recipes, table_a1_runs

    _threads(ctx.threads)
    images = ctx.images(n_images)
    y = np.concatenate([ctx.labels] * -(-n_images // len(ctx.labels)))[:n_images]
    a, b = int(n_images * 0.6), int(n_images * 0.8)
    idx = {"train": np.arange(a), "val": np.arange(a, b), "test": np.arange(b, n_images)}
    runs = {
        f"{name} | book recipe | book head": (name, head_recipes.recipe(name, "book", epochs=epochs))
        for name in ("alexnet", "vgg16")
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in ("alexnet", "vgg16"):
            module, _ = frozen_slices.frozen_extractor(name)
            np.save(tmp / f"features_{name}.npy", frozen_slices.extract_features(module, images))

        def grid(scratch, executor=None):
            results, histories = table_a1_runs.train_runs(
                runs,
                [0, 1],
                lambda row: (np.load(tmp / f"features_{row}.npy", mmap_mode="r"), None),
                idx,
                y,
                device="cpu",
                scratch=tmp / scratch,
                scale=3,
                znorm=None,
                evaluate_test=True,
                executor=executor,
            )
            return [{k: v for k, v in r.items() if k != "seconds"} for r in results], histories

        t_one, ref = timed(lambda: grid("one"))
        t0 = time.perf_counter()
        with tasks.executor(workers=2) as ex:
            ex.client.wait_for_workers(2)
            ex.client.run(_import_torch)
            t_start = time.perf_counter() - t0
            t_run, out = timed(lambda: grid("two", ex))
        _threads(ctx.threads)
    same = "identical results" if out == ref else "DIFFERENT results"
    return [
        row(
            f"Table A1 grid, 2 rows x 2 seeds, {epochs} epochs (cached features)",
            f"one process, {ctx.threads} torch threads",
            "Dask LocalCluster, 2 workers x 1 thread (start included)",
            t_one,
            t_start + t_run,
            "s",
            same + " (accuracies and learning curves)",
            extra=f"{a} train + {b - a} val + {n_images - b} test review images; cluster start "
            f"{t_start:.1f} s, the grid alone {t_run:.1f} s ({t_one / t_run:.1f}x)",
        )
    ]


def bench_deepinsight(ctx: Context, n_rows: int) -> list[Row]:
    """``DeepInsight.transform`` (fast) against ``DeepInsight.transform_reference`` (pyDeepInsight's):
    identical output required; time and peak traced memory."""
    ctx.images(1)
    di = ctx.deepinsight
    x = np.concatenate([ctx.cls.reshape(len(ctx.cls), -1)] * (-(-n_rows // len(ctx.cls))))[:n_rows]
    label = "DeepInsight transform"
    if not hasattr(di, "transform_reference"):
        return [
            Row(
                step=label,
                baseline="pyDeepInsight (transform_reference)",
                fast="DeepInsight.transform",
                base=float("nan"),
                fast_t=float("nan"),
                unit="s",
                ratio=float("nan"),
                goal=">= 3x",
                check="not available: DeepInsight.transform_reference is missing in this build",
                extra="",
            )
        ]
    t_ref, ref = timed(lambda: di.transform_reference(x))
    t_fast, out = timed(lambda: di.transform(x))
    m_ref, _ = peak_memory(lambda: di.transform_reference(x))
    m_fast, _ = peak_memory(lambda: di.transform(x))
    same = ref.shape == out.shape and ref.dtype == out.dtype and np.array_equal(ref, out)
    return [
        row(
            label,
            "pyDeepInsight (transform_reference)",
            "DeepInsight.transform",
            t_ref,
            t_fast,
            "s",
            ("identical" if same else f"DIFFERENT (max abs diff {float(np.abs(ref - out).max()):.1e})"),
            goal=">= 3x",
            extra=f"{n_rows} rows x {x.shape[1]} features; peak memory {m_ref:.0f} MB -> "
            f"{m_fast:.0f} MB (tracemalloc)",
        )
    ]


def bench_retrieval(n_images: int, n_queries: int, dim: int) -> list[Row]:
    """The paper's k-d tree against brute force (``retrieval.nearest_images``), same neighbours."""
    from helpers.paper_b import retrieval

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(60, dim))
    img = centres[rng.integers(0, 60, n_images)] + rng.normal(size=(n_images, dim))
    q = retrieval.l2_normalize(centres[rng.integers(0, 60, n_queries)] + rng.normal(size=(n_queries, dim)))
    t_k, (_, i_k) = timed(lambda: retrieval.nearest_images(q, img, k=5, method="kdtree"))
    t_b, (_, i_b) = timed(lambda: retrieval.nearest_images(q, img, k=5, method="brute"))
    agree = float(np.mean(i_k[:, 0] == i_b[:, 0]))
    return [
        row(
            "retrieval, 5 nearest images",
            "k-d tree (cKDTree, the paper's)",
            "brute force (one matrix product)",
            t_k,
            t_b,
            "s",
            f"same top-1 for {agree:.1%} of queries",
            extra=f"{n_queries} queries x {n_images} images, {dim} dims (synthetic clustered embeddings "
            "of the full profile's image-side size)",
        )
    ]


# --------------------------------------------------------------------------- report


def _fmt_t(v: float) -> str:
    return "–" if v != v else (f"{v:.3g}" if v < 100 else f"{v:.0f}")


def table(rows: list[Row]) -> str:
    lines = [
        "| step | baseline | fast path | baseline | fast | unit | ratio | goal | check | setting |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "–" if r["ratio"] != r["ratio"] else f"**{r['ratio']:.1f}x**"
        lines.append(
            f"| {r['step']} | {r['baseline']} | {r['fast']} | {_fmt_t(r['base'])} | {_fmt_t(r['fast_t'])} "
            f"| {r['unit']} | {ratio} | {r['goal']} | {r['check']} | {r['extra']} |"
        )
    return "\n".join(lines)


def header(threads: int, seconds: float, note: str) -> str:
    m = record.machine()
    git = record.git_state()
    commit = (git["commit"] or "unknown")[:10] + (" (with uncommitted changes)" if git["dirty"] else "")
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    gpu = m["gpu"] or "none (CPU only)"
    text = (
        f"Measured {when} on {m['cores']} CPU cores ({m['cpu']}, torch CPU capability "
        f"{m['cpu_capability']}), {m['ram_gb']:g} GB RAM, GPU: {gpu}; "
        f"commit {commit}; torch {torch.__version__}, {threads} torch threads for the fast paths; "
        f"the whole run took {seconds:.0f} s (`python -m benchmarks`)."
    )
    return text + (f" {note}" if note else "")


def write_outputs(text: str) -> None:
    LATEST.write_text("<!-- written by `python -m benchmarks`; do not edit -->\n" + text + "\n")
    page = RUNNING.read_text()
    if START in page and END in page:
        head, rest = page.split(START, 1)
        _, tail = rest.split(END, 1)
        RUNNING.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {', '.join(BENCHMARKS)}"
    )
    p.add_argument("--threads", type=int, default=2, help="torch threads of the fast paths (default 2)")
    p.add_argument("--reviews", type=int, default=48, help="real IMDB reviews encoded (default 48)")
    p.add_argument("--images", type=int, default=256, help="review images through each frozen slice")
    p.add_argument("--note", default="", help="a sentence added to the header (e.g. 'machine shared')")
    p.add_argument("--no-write", action="store_true", help="print only; leave latest.md and the book alone")
    args = p.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        p.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {', '.join(BENCHMARKS)}")
    start = time.perf_counter()
    rows: list[Row] = []
    ctx = Context(args.reviews, args.threads) if set(chosen) - {"retrieval"} else None
    if ctx is not None:
        rows += bench_encoding(ctx) if "encoding" in chosen else []
        if ctx.cls is None:
            from helpers.models import text_encoders

            ctx.cls = text_encoders.cls_last_layers(
                ctx.texts, ctx.tokenizer, ctx.model, max_length=512, progress=False
            )
    for name in chosen:
        print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
        if name == "features":
            rows += bench_features(ctx, args.images)
        elif name == "head":
            rows += bench_head(ctx, n_train=2 * args.images, n_val=args.images // 2)
        elif name == "deepinsight":
            rows += bench_deepinsight(ctx, n_rows=2000)
        elif name == "retrieval":
            rows += bench_retrieval(n_images=3000, n_queries=3000, dim=1280)
        elif name == "grid":
            rows += bench_grid(ctx, n_images=3 * args.images)
    text = header(args.threads, time.perf_counter() - start, args.note) + "\n\n" + table(rows)
    print(text)
    if not args.no_write:
        write_outputs(text)
        print(f"\nwritten to {LATEST} and {RUNNING}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

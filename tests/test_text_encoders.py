"""helpers.models.text_encoders: [CLS] layers, stand-in resolution, classifiers, TF-IDF "txc"."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.core import weights
from helpers.core.errors import ReproError
from helpers.models import text_encoders as te

SENTENCES = [
    "I loved this film.",
    "The plot dragged on for far too long, and by the final act I had stopped caring about any of the characters.",
    "Brilliant.",
    "A quiet, well acted drama about a family that slowly falls apart.",
    "Not worth the ticket price, to be honest.",
]
POS = [
    "This movie was wonderful, I loved every minute of it.",
    "A brilliant film with superb acting and a moving story.",
    "One of the best movies I have ever seen, truly a masterpiece.",
    "I enjoyed it a lot; funny, warm and beautifully shot.",
    "Great performances and a delightful script. Highly recommended.",
    "An excellent, touching film that I will watch again.",
    "Fantastic direction and a wonderful cast.",
    "A joy to watch from start to finish.",
    "The story is beautiful and the music is great.",
    "Absolutely loved it, a charming and clever movie.",
]
NEG = [
    "This movie was terrible, I hated every minute of it.",
    "A boring film with awful acting and a stupid story.",
    "One of the worst movies I have ever seen, a complete waste of time.",
    "I disliked it a lot; dull, cold and badly shot.",
    "Poor performances and a dreadful script. Avoid it.",
    "An awful, tedious film that I will never watch again.",
    "Horrible direction and a miserable cast.",
    "A pain to sit through from start to finish.",
    "The story is ugly and the music is annoying.",
    "Absolutely hated it, a boring and stupid movie.",
]
TINY_BERT = dict(num_hidden_layers=6, hidden_size=32, num_attention_heads=2, intermediate_size=64)
TINY_DISTILBERT = dict(n_layers=6, dim=32, n_heads=2, hidden_dim=64)


@pytest.fixture(scope="module")
def minilm():
    return te.load_text_encoder("all-MiniLM-L6-v2")


def test_packaged_minilm_cls_last_layers_shape_and_order(minilm):
    tokenizer, model, choice = minilm
    assert not choice.is_standin and "all-MiniLM-L6-v2" in choice.used
    assert model.config.num_hidden_layers == 6  # "last six layers" = all of its layers
    x = te.cls_last_layers(SENTENCES, tokenizer, model, batch_size=2, progress=False)
    assert x.shape == (5, 6, 384) and x.dtype == np.float32 and np.isfinite(x).all()
    # sorted batches must give back the input order: compare with unsorted one-by-one runs
    one_by_one = np.stack([te.cls_last_layers([s], tokenizer, model, progress=False)[0] for s in SENTENCES])
    np.testing.assert_allclose(x, one_by_one, atol=1e-4)
    # layer order oldest -> last: the last entry is the final layer's [CLS]
    enc = tokenizer(SENTENCES[1], return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_hidden_states=True)
    np.testing.assert_allclose(x[1, -1], out.last_hidden_state[0, 0].numpy(), atol=1e-4)
    np.testing.assert_allclose(x[1, 0], out.hidden_states[1][0, 0].numpy(), atol=1e-4)
    # fewer layers = the tail of the six
    np.testing.assert_allclose(
        te.cls_last_layers(SENTENCES, tokenizer, model, n_layers=2, progress=False), x[:, -2:], atol=1e-4
    )


def test_cls_vectors_carry_sentiment(minilm):
    """Leave-one-out nearest-centroid on the last layer's [CLS]: clear reviews separate."""
    tokenizer, model, _ = minilm
    x = te.cls_last_layers(POS + NEG, tokenizer, model, progress=False)[:, -1]
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = np.r_[np.ones(len(POS)), np.zeros(len(NEG))]
    correct = 0
    for i in range(len(y)):
        rest = np.arange(len(y)) != i
        pos_c, neg_c = x[rest & (y == 1)].mean(0), x[rest & (y == 0)].mean(0)
        correct += int((x[i] @ pos_c > x[i] @ neg_c) == bool(y[i]))
    assert correct / len(y) >= 0.75


@pytest.mark.parametrize("name", te.PAPER_TEXT_MODELS)
def test_paper_text_model_resolution_is_honest(name):
    cached = weights.hf_model_cached(name)
    choice = te.resolve_text_model(name)
    assert choice.requested == name and choice.is_standin == (not cached)
    if not cached:
        assert "all-MiniLM-L6-v2" in choice.used and choice.reason
        with pytest.raises(ReproError, match="huggingface"):
            te.resolve_text_model(name, allow_standin=False)


def test_hf_cache_check_without_network(tmp_path):
    assert weights.hf_model_cached(te.standin_path())  # a local folder with config.json
    assert not weights.hf_model_cached(str(tmp_path))  # a folder without a model
    assert not weights.hf_model_cached("no-such-org/no-such-model-xyz")
    with pytest.raises(ReproError, match="Unknown text model"):
        te.resolve_text_model("no-such-org/no-such-model-xyz")


def test_random_bert_full_config_without_network():
    tokenizer, model, choice = te.load_text_encoder("bert-base-uncased", random_init=True)
    assert choice.weights == "random init" and not choice.is_standin
    assert (model.config.num_hidden_layers, model.config.hidden_size, model.config.vocab_size) == (
        12,
        768,
        30522,
    )
    x = te.cls_last_layers(SENTENCES[:2], tokenizer, model, progress=False)
    assert x.shape == (2, 6, 768)


def test_random_tiny_distilbert_shapes():
    tokenizer, model, choice = te.load_text_encoder(
        "distilbert-base-uncased", random_init=True, config_overrides=TINY_DISTILBERT
    )
    assert type(model).__name__ == "DistilBertModel"
    x = te.cls_last_layers(SENTENCES, tokenizer, model, n_layers=6, batch_size=3, progress=False)
    assert x.shape == (5, 6, 32) and np.isfinite(x).all()
    with pytest.raises(ReproError, match="n_layers"):
        te.cls_last_layers(SENTENCES, tokenizer, model, n_layers=7, progress=False)
    with pytest.raises(ReproError, match="list of texts"):
        te.cls_last_layers("one string", tokenizer, model, progress=False)


@pytest.mark.parametrize(
    "name,overrides,arch",
    [
        ("distilbert-base-uncased", TINY_DISTILBERT, "DistilBertForSequenceClassification"),
        ("bert-base-uncased", TINY_BERT, "BertForSequenceClassification"),
    ],
)
def test_text_classifier_embeddings_drop_the_head(name, overrides, arch):
    tokenizer, model, _ = te.load_text_classifier(name, 4, random_init=True, config_overrides=overrides)
    assert type(model).__name__ == arch and model.config.num_labels == 4
    emb = te.text_embeddings(SENTENCES, tokenizer, model, batch_size=2, progress=False)
    assert emb.shape == (5, 32)
    enc = tokenizer(SENTENCES[3], return_tensors="pt")
    with torch.no_grad():
        ref = model.base_model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    np.testing.assert_allclose(emb[3], ref.last_hidden_state[0, 0].numpy(), atol=1e-5)
    assert logits.shape == (1, 4)
    with pytest.raises(ReproError, match="num_labels"):
        te.load_text_classifier(name, 1, random_init=True, config_overrides=overrides)


def test_packaged_classifier_standin_loads_encoder_weights(minilm):
    _, encoder, _ = minilm
    tokenizer, model, choice = te.load_text_classifier("all-MiniLM-L6-v2", 3)
    torch.testing.assert_close(
        model.base_model.embeddings.word_embeddings.weight, encoder.embeddings.word_embeddings.weight
    )
    emb = te.text_embeddings(SENTENCES, tokenizer, model, progress=False)
    ref = te.cls_last_layers(SENTENCES, tokenizer, encoder, n_layers=1, max_length=64, progress=False)[:, 0]
    np.testing.assert_allclose(emb, ref, atol=1e-4)


def test_tfidf_txc_hand_checked():
    txc = te.TfidfTxc().fit(["cat cat dog", "dog fish"])
    assert txc.vocabulary_size == 3 and txc.vocabulary == {"cat": 0, "dog": 1, "fish": 2}
    m = txc.transform(["cat cat dog", "dog fish", "Dog dog unknownword"]).toarray()
    expected = np.array([[2, 1, 0] / np.sqrt(5), [0, 1, 1] / np.sqrt(2), [0, 1, 0]])
    np.testing.assert_allclose(m, expected)  # raw tf, no idf ("dog" in every document keeps weight), l2
    assert np.allclose(te.TfidfTxc().fit_transform(["cat cat dog", "dog fish"]).toarray(), expected[:2])


def test_tfidf_txc_needs_fit():
    with pytest.raises(ReproError, match="before fit"):
        te.TfidfTxc().transform(["a b"])


def test_layer_choice_paper_text_vs_authors_code():
    # BERT-base: the text's "last six layers" are 7-12, the authors' hidden_states[6:][:-1] are 6-11
    assert te.layer_indices(12, 6, "paper_text") == [7, 8, 9, 10, 11, 12]
    assert te.layer_indices(12, 6, "authors_code") == [6, 7, 8, 9, 10, 11]
    assert te.layer_names(6, 6, "authors_code") == ["embeddings"] + [f"layer {i}" for i in range(1, 6)]
    with pytest.raises(ReproError, match="layers must be"):
        te.layer_indices(12, 6, "middle")


def test_authors_code_layers_are_shifted_by_one(minilm):
    tokenizer, model, _ = minilm
    text = te.cls_last_layers(SENTENCES[:3], tokenizer, model, progress=False)
    code = te.cls_last_layers(SENTENCES[:3], tokenizer, model, progress=False, layers="authors_code")
    np.testing.assert_allclose(code[:, 1:], text[:, :-1], atol=1e-4)  # one layer down
    enc = tokenizer(SENTENCES[0], return_tensors="pt")
    with torch.no_grad():
        emb = model(**enc, output_hidden_states=True).hidden_states[0][0, 0].numpy()
    np.testing.assert_allclose(code[0, 0], emb, atol=1e-4)  # embedding output first
    assert not np.allclose(code[:, -1], text[:, -1], atol=1e-3)

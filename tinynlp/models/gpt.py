"""A small GPT: a decoder-only Transformer language model with a KV cache for generation.

For token ids t₁ … t_T (GPT-2's pre-LN layout)::

    h⁰ = E[t] + P[0 … T−1]                          token + learned position embeddings
    hˡ = hˡ⁻¹ + MHA(LN(hˡ⁻¹)), causal               for each of num_layers blocks
    hˡ = hˡ   + W₂ gelu(W₁ LN(hˡ) + b₁) + b₂          (TransformerDecoder, normalize_first)
    z  = LN(h^L) Eᵀ                                  logits (B, T, V), tied to E
                                                     (a separate Dense if tie_embeddings=False)

Train it on next-token prediction: targets are the inputs shifted by one,
with ``loss=tn.losses.SparseCategoricalCrossentropy(from_logits=True)``.

Generation (:meth:`GPT.generate`, :meth:`GPT.generate_stream`) keeps one
:class:`~tinynlp.layers.KVCache` per block: the prompt is run once (the
"prefill") and every new token costs one step over the cached keys and
values.  When prompt + new tokens exceed ``sequence_length`` the context is
cropped to the last ``sequence_length`` tokens, as nanoGPT does: from then on
every step re-runs that window (the positions of all its tokens change, so
the cache cannot be reused) — the same tokens with and without the cache.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import Tensor, is_grad_enabled, no_grad
from ..autograd.ops import transpose
from ..layers import (
    Dense,
    Dropout,
    LayerNormalization,
    TokenAndPositionEmbedding,
    TransformerDecoder,
)
from ..layers.initializers import normal
from ..layers.registry import register_layer
from .blocks import block_choice, join_blocks
from .generation import (
    check_sampling_args,
    check_suppress_tokens,
    left_pad_prompts,
    make_generators,
    positions_from_mask,
    sample_next_token,
)
from .model import Model

__all__ = ["GPT"]


def _array(a):
    return a.data if isinstance(a, Tensor) else np.asarray(a)


def gpt_initializer(shape, dtype=np.float32):
    """N(0, 0.02²), GPT-2's initial weights (embeddings and kernels)."""
    return normal(shape, dtype, stddev=0.02)


def _positive(value, arg):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"GPT: {arg} must be a positive integer, got {value!r}")
    return int(value)


@register_layer
class GPT(Model):
    """Decoder-only Transformer LM (see the module docstring); ``gpt(ids) → logits (B, T, V)``.

    ``activation`` is the feed-forward activation's name ("gelu" by default, the
    exact erf form; GPT-2 itself used the tanh approximation).
    Weights: token embedding (V, d), position embedding (sequence_length, d),
    each block's 16 (KerasHub's TransformerDecoder order), the final
    LayerNorm's γ, β, then the head's kernel (d, V) if not tied.
    """

    def __init__(self, vocab_size, sequence_length, num_layers, num_heads, hidden_dim,
                 intermediate_dim, dropout=0.0, tie_embeddings=True, layer_norm_epsilon=1e-5,
                 activation="gelu", name=None, trainable=True, dtype="float32", **kwargs):
        super().__init__(name=name, trainable=trainable, dtype=dtype, **kwargs)
        self.vocab_size = _positive(vocab_size, "vocab_size")
        self.sequence_length = _positive(sequence_length, "sequence_length")
        self.num_layers = _positive(num_layers, "num_layers")
        self.num_heads = _positive(num_heads, "num_heads")
        self.hidden_dim = _positive(hidden_dim, "hidden_dim")
        self.intermediate_dim = _positive(intermediate_dim, "intermediate_dim")
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"GPT: hidden_dim {self.hidden_dim} must divide by num_heads "
                             f"{self.num_heads} (each head gets hidden_dim / num_heads "
                             f"features)")
        self.dropout = float(dropout)
        self.tie_embeddings = bool(tie_embeddings)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.activation = activation
        dt = self.dtype.name
        self.embedding = TokenAndPositionEmbedding(
            self.vocab_size, self.sequence_length, self.hidden_dim,
            embeddings_initializer=gpt_initializer, dtype=dt, name=f"{self.name}/embedding")
        self.embedding_dropout = Dropout(self.dropout, dtype=dt,
                                         name=f"{self.name}/embedding_dropout")
        self.blocks = [TransformerDecoder(self.intermediate_dim, self.num_heads, self.dropout,
                                          activation=activation,
                                          layer_norm_epsilon=self.layer_norm_epsilon,
                                          kernel_initializer=gpt_initializer,
                                          normalize_first=True, dtype=dt,
                                          name=f"{self.name}/block_{i}")
                       for i in range(self.num_layers)]
        self.final_norm = LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=dt,
                                             name=f"{self.name}/final_norm")
        self.lm_head = None if self.tie_embeddings else Dense(
            self.vocab_size, use_bias=False, kernel_initializer=gpt_initializer, dtype=dt,
            name=f"{self.name}/lm_head")

    # ---- the forward pass -----------------------------------------------------------------
    def _check_ids(self, token_ids):
        ids = token_ids.data if isinstance(token_ids, Tensor) else np.asarray(token_ids)
        if ids.dtype.kind == "f" and np.all(ids == np.round(ids)):
            ids = ids.astype(np.int64)
        if ids.dtype.kind not in "iu" or ids.ndim != 2:
            raise ValueError(f"{self.name}: expected integer token ids of shape (batch, time), "
                             f"got {ids.dtype} of shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"{self.name}: token ids must be in [0, {self.vocab_size}), got "
                             f"values in [{ids.min()}, {ids.max()}]")
        return ids

    def _logits(self, h):
        if self.tie_embeddings:
            return F.dense(h, transpose(self.embedding.token_embedding.embeddings))
        return self.lm_head(h)

    def _trunk(self, ids, training=False, padding_mask=None, positions=None, start_index=0,
               caches=None):
        x = self.embedding(ids, start_index=start_index, positions=positions)
        x = self.embedding_dropout(x, training=training)
        for i, block in enumerate(self.blocks):
            if caches is None:
                x = block(x, decoder_padding_mask=padding_mask, training=training)
            else:
                x, _ = block(x, decoder_padding_mask=padding_mask, training=training,
                             self_attention_cache=caches[i])
        return self.final_norm(x)

    def call(self, token_ids, training=False, mask=None, padding_mask=None, positions=None):
        """Logits (B, T, vocab_size) for token ids (B, T).  ``padding_mask`` (B, T) (True =
        real token; a mask passed along by ``fit`` also works) hides padded keys;
        ``positions`` (B, T) overrides each token's position (default 0 … T−1)."""
        if padding_mask is None:
            padding_mask = mask
        ids = _array(token_ids)
        if self._may_run_in_blocks(ids, training, padding_mask, positions):
            # inference: each sequence on its own, so maybe in blocks of the batch
            return block_choice(self).run(
                ids.shape,
                lambda: self._logits(self.hidden_states(token_ids, False, padding_mask,
                                                        positions)),
                lambda lo, hi: self._logits_of_rows(ids, padding_mask, positions, lo, hi),
                join_blocks)
        return self._logits(self.hidden_states(token_ids, training, padding_mask, positions))

    def _rows_independent_in_training(self) -> bool:
        """Each sequence is computed from itself alone (attention stays within a row), so
        without dropout a train step may run in blocks of the batch
        (:mod:`tinynlp.models.train_blocks`); once built."""
        return self.dropout == 0.0 and self.final_norm.built

    def _may_run_in_blocks(self, ids, training, padding_mask, positions):
        """Inference (not training, no gradient) on a built model, with ids (B > 1, T) and
        any mask and positions of that shape (a wrong shape raises in the whole path)."""
        built = self.final_norm.built and (self.lm_head is None or self.lm_head.built)
        return (not training and not is_grad_enabled() and built
                and isinstance(ids, np.ndarray) and ids.ndim == 2 and ids.shape[0] > 1
                and all(a is None or _array(a).shape == ids.shape
                        for a in (padding_mask, positions)))

    def _logits_of_rows(self, token_ids, padding_mask, positions, lo, hi):
        """The logits of rows [lo, hi) of the batch, an ndarray (one block of :meth:`call`)."""
        def rows(a):
            return None if a is None else _array(a)[lo:hi]

        with no_grad():                      # grad mode is per thread
            h = self.hidden_states(rows(token_ids), False, rows(padding_mask), rows(positions))
            return self._logits(h).data

    def hidden_states(self, token_ids, training=False, padding_mask=None, positions=None):
        """The last block's output after the final LayerNorm, ``LN(h^L)`` (B, T, hidden_dim):
        what the logits are read from (``z = LN(h^L) Eᵀ``), and the features a fine-tuning
        head reads (:mod:`tinynlp.pretrained`).  Arguments as :meth:`call`."""
        ids = self._check_ids(token_ids)
        if ids.shape[1] > self.sequence_length:
            raise ValueError(f"{self.name}: a sequence of {ids.shape[1]} tokens is longer than "
                             f"the sequence_length {self.sequence_length} of this GPT")
        return self._trunk(ids, training, padding_mask, positions)

    # ---- cached decoding --------------------------------------------------------------------
    def _ensure_built(self):
        if not self.embedding.built:
            with no_grad():
                self(np.zeros((1, 1), dtype=np.int64))

    def init_cache(self, batch_size, capacity=None, dtype=None) -> list:
        """One empty :class:`~tinynlp.layers.KVCache` per block, for up to ``capacity``
        tokens (default and maximum: ``sequence_length``)."""
        self._ensure_built()
        capacity = self.sequence_length if capacity is None else int(capacity)
        if not 1 <= capacity <= self.sequence_length:
            raise ValueError(f"{self.name}.init_cache: capacity must be in [1, "
                             f"{self.sequence_length}] (sequence_length), got {capacity}")
        return [block.init_cache(batch_size, capacity, dtype) for block in self.blocks]

    def call_with_cache(self, token_ids, caches, positions=None, padding_mask=None,
                        last_only=False) -> np.ndarray:
        """Run new tokens (B, T_new) after those in ``caches`` (from :meth:`init_cache`),
        appending their keys and values; returns their logits (B, T_new, V) as an
        ndarray, or the last position's (B, V) with ``last_only=True``.

        ``positions`` (B, T_new) default to ``cache length + 0 … T_new − 1``;
        ``padding_mask`` (B, T_new) marks padding among the new tokens (kept in
        the caches, so later tokens never attend to it).  No gradient is recorded.
        """
        ids = self._check_ids(token_ids)
        if len(caches) != self.num_layers:
            raise ValueError(f"{self.name}.call_with_cache: expected {self.num_layers} caches "
                             f"(one per block), got {len(caches)}")
        start = caches[0].length
        if start + ids.shape[1] > caches[0].capacity:
            raise ValueError(f"{self.name}.call_with_cache: {ids.shape[1]} new token(s) after "
                             f"{start} cached exceed the cache capacity {caches[0].capacity}")
        with no_grad():
            h = self._trunk(ids, False, padding_mask, positions,
                            start_index=start if positions is None else 0, caches=caches)
            if last_only:
                h = h[:, -1:]
            logits = self._logits(h).data
        return logits[:, -1] if last_only else logits

    # ---- generation ---------------------------------------------------------------------
    def generate_stream(self, token_ids, max_new_tokens, temperature=1.0, top_k=None,
                        top_p=None, seed=None, use_cache=True, eos_token_id=None,
                        suppress_tokens=None):
        """Yield, step by step, a (B,) int64 array of the tokens just chosen.

        Arguments as :meth:`generate`.  A row that has produced
        ``eos_token_id`` is finished: it yields ``eos_token_id`` again while
        other rows go on, and the stream stops when every row is finished or
        after ``max_new_tokens`` steps.  The arguments are checked at the call,
        before the first token.
        """
        check_sampling_args(max_new_tokens, temperature, top_k, top_p, eos_token_id,
                            self.vocab_size)
        ids, real, _ = left_pad_prompts(token_ids)
        self._check_ids(ids)
        gens = make_generators(seed, ids.shape[0])
        suppress = check_suppress_tokens(suppress_tokens, self.vocab_size)
        self._ensure_built()
        return self._stream(ids, real, max_new_tokens, temperature, top_k, top_p, gens,
                            use_cache, eos_token_id, suppress)

    def _stream(self, ids, real, max_new_tokens, temperature, top_k, top_p, gens, use_cache,
                eos_token_id, suppress=None):
        B, T0 = ids.shape
        S = self.sequence_length
        buf = np.zeros((B, T0 + max_new_tokens), dtype=np.int64)
        buf[:, :T0] = ids
        mask = np.ones((B, T0 + max_new_tokens), dtype=bool)
        mask[:, :T0] = real
        count = real.sum(axis=1)                  # real tokens so far, per row
        finished = np.zeros(B, dtype=bool)
        caches = None
        n = T0
        for _ in range(max_new_tokens):
            if use_cache and caches is not None and n <= S:
                logits = self.call_with_cache(buf[:, n - 1:n], caches,
                                              positions=(count - 1)[:, None], last_only=True)
            else:
                lo = max(0, n - S)                 # crop to the last sequence_length tokens
                window, wmask = buf[:, lo:n], mask[:, lo:n]
                pos = positions_from_mask(wmask)
                pad = None if wmask.all() else wmask
                if use_cache:
                    if caches is None:
                        caches = self.init_cache(B, S)
                    for c in caches:
                        c.reset()
                    logits = self.call_with_cache(window, caches, positions=pos,
                                                  padding_mask=pad, last_only=True)
                else:
                    with no_grad():
                        logits = self.call(window, padding_mask=pad, positions=pos).data[:, -1]
            if suppress is not None:
                logits = logits.copy()
                logits[:, suppress] = -np.inf
            nxt = sample_next_token(logits, temperature, top_k, top_p, gens)
            if eos_token_id is not None:
                nxt[finished] = eos_token_id
                finished |= nxt == eos_token_id
            buf[:, n] = nxt
            n += 1
            count += 1
            yield nxt.copy()
            if eos_token_id is not None and finished.all():
                return

    def generate(self, token_ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
                 seed=None, use_cache=True, eos_token_id=None, suppress_tokens=None):
        """The prompt followed by ``max_new_tokens`` sampled tokens (nanoGPT / Hugging Face).

        ``token_ids``: (B, T) → (B, T + max_new_tokens); (T,) or a list of ints →
        (T + max_new_tokens,); a list of 1-D sequences of any lengths → a list of
        1-D arrays, each equal to generating that prompt alone (prompts are
        left-padded with a padding mask, positions counted per row).
        ``temperature`` 0 or ``top_k=1``: greedy.  ``top_k`` / ``top_p``: sample
        from the k most likely tokens / the nucleus of probability top_p.
        ``seed``: None (``tn.random``), an int (one generator for the batch), or
        one int per prompt (a row's sample then does not depend on the others).
        ``use_cache``: KV cache (same result, one step per token instead of
        re-running the prefix).  ``eos_token_id``: a row stops there; in an
        array result its remaining places are filled with ``eos_token_id``; a
        list result's rows end at their eos.
        """
        ids, real, form = left_pad_prompts(token_ids)
        B = ids.shape[0]
        steps = list(self.generate_stream(token_ids, max_new_tokens, temperature, top_k, top_p,
                                          seed, use_cache, eos_token_id, suppress_tokens))
        new = np.stack(steps, axis=1) if steps else np.zeros((B, 0), dtype=np.int64)
        if new.shape[1] < max_new_tokens:            # every row finished early
            fill = np.full((B, max_new_tokens - new.shape[1]), eos_token_id, dtype=np.int64)
            new = np.concatenate([new, fill], axis=1)
        if form == "2d":
            return np.concatenate([ids, new], axis=1)
        if form == "1d":
            return np.concatenate([ids[0], new[0]])
        out = []
        for b in range(B):
            row = new[b]
            if eos_token_id is not None and (row == eos_token_id).any():
                row = row[:int(np.argmax(row == eos_token_id)) + 1]
            out.append(np.concatenate([ids[b][real[b]], row]))
        return out

    # ---- config -------------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, sequence_length=self.sequence_length,
                      num_layers=self.num_layers, num_heads=self.num_heads,
                      hidden_dim=self.hidden_dim, intermediate_dim=self.intermediate_dim,
                      dropout=self.dropout, tie_embeddings=self.tie_embeddings,
                      layer_norm_epsilon=self.layer_norm_epsilon, activation=self.activation)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

"""The Transformer benchmark models in PyTorch: a minimal GPT and nn.TransformerEncoderLayer.

``TorchGPT`` is nanoGPT's model written out small (fused q/k/v ``nn.Linear``,
``F.scaled_dot_product_attention(is_causal=True)``, pre-LN blocks, exact GELU,
the head tied to the token embedding) with GPT-2's biases, as ``tn.models.GPT``
has them; ``generate`` keeps its own KV cache (preallocated per block, one
step per new token).  ``TorchTransformerCls`` stacks
``nn.TransformerEncoderLayer`` (post-LN, ReLU, batch_first) as the tinynlp
model stacks ``TransformerEncoder``.  Weights come from
:func:`benchmarks.transformer_layout.transformer_torch_layout`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as TF

from .specs import EPSILON, GPT_ADAMW, LEARNING_RATE, ModelSpec


class Block(nn.Module):
    """x + attn(LN₁ x), then x + W₂ gelu(W₁ LN₂ x); causal self-attention, optional cache."""

    def __init__(self, width, heads, ffn):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.fc1, self.fc2 = nn.Linear(width, ffn), nn.Linear(ffn, width)

    def forward(self, x, cache=None, start=0):
        B, T, E = x.shape
        q, k, v = (t.view(B, T, self.heads, E // self.heads).transpose(1, 2)
                   for t in self.attn(self.ln1(x)).split(E, dim=2))
        if cache is not None:                       # (B, H, capacity, d) keys and values
            cache[0][:, :, start:start + T] = k
            cache[1][:, :, start:start + T] = v
            k, v = cache[0][:, :, :start + T], cache[1][:, :, :start + T]
        causal = T > 1
        if causal and k.shape[2] != T:              # a chunk after cached tokens
            mask = torch.ones(T, k.shape[2], dtype=torch.bool).tril(k.shape[2] - T)
            y = TF.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            y = TF.scaled_dot_product_attention(q, k, v, is_causal=causal)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, E))
        return x + self.fc2(TF.gelu(self.fc1(self.ln2(x))))


class TorchGPT(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        self.tok = nn.Embedding(s["vocab"], s["width"])
        self.pos = nn.Embedding(s["context"], s["width"])
        self.blocks = nn.ModuleList(Block(s["width"], s["heads"], s["ffn"])
                                    for _ in range(s["layers"]))
        self.ln_f = nn.LayerNorm(s["width"])

    def forward(self, ids, caches=None, start=0):
        T = ids.shape[1]
        x = self.tok(ids) + self.pos(torch.arange(start, start + T))
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i], start)
        return self.ln_f(x) @ self.tok.weight.T

    @torch.no_grad()
    def generate(self, ids, max_new_tokens):
        """Greedy decoding with a KV cache: the prompt once, then one step per token."""
        B, T0 = ids.shape
        s = self.s
        d = s["width"] // s["heads"]
        caches = [(torch.empty(B, s["heads"], s["context"], d),
                   torch.empty(B, s["heads"], s["context"], d)) for _ in self.blocks]
        logits = self(ids, caches, 0)
        out = [ids]
        n = T0
        for _ in range(max_new_tokens):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            out.append(nxt)
            if len(out) - 1 == max_new_tokens:
                break
            logits = self(nxt, caches, n)
            n += 1
        return torch.cat(out, dim=1)


class TorchTransformerCls(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.tok = nn.Embedding(s["vocab"], s["dim"])
        self.pos = nn.Embedding(s["maxlen"], s["dim"])
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(s["dim"], s["heads"], s["ffn"], dropout=0.0,
                                       activation="relu", layer_norm_eps=1e-5,
                                       batch_first=True, norm_first=False)
            for _ in range(s["layers"]))
        self.fc = nn.Linear(s["dim"], 1)

    def forward(self, ids):
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        for layer in self.layers:
            x = layer(x)
        return torch.sigmoid(self.fc(x.mean(dim=1)))


class TorchTransformerModel:
    """Train step and inference of a twin: BCE + Adam (classifier) or next-token
    cross-entropy + AdamW (GPT)."""

    def __init__(self, spec, module):
        self.spec = spec
        self.module = module
        if spec.kind == "gpt":
            g = GPT_ADAMW
            self.optimizer = torch.optim.AdamW(module.parameters(), lr=g["lr"], betas=g["betas"],
                                               eps=g["eps"], weight_decay=g["weight_decay"])
        else:
            self.optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE,
                                              eps=EPSILON)

    @staticmethod
    def convert_x(x):
        return torch.from_numpy(x)

    @staticmethod
    def convert_y(y):
        return torch.from_numpy(y)

    def loss(self, x, y):
        out = self.module(x)
        if self.spec.kind == "gpt":
            return TF.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        return TF.binary_cross_entropy(out, y)

    def train_step(self, x, y) -> float:
        self.module.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(x, y)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def predict(self, x) -> np.ndarray:
        self.module.eval()
        with torch.no_grad():
            return self.module(x).numpy()


def make_module(spec: ModelSpec) -> nn.Module:
    return TorchGPT(spec.sizes) if spec.kind == "gpt" else TorchTransformerCls(spec.sizes)


def build(spec: ModelSpec, torch_weights: dict) -> TorchTransformerModel:
    module = make_module(spec)
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in torch_weights.items()})
    return TorchTransformerModel(spec, module)

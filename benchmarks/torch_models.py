"""The benchmark models in PyTorch (idiomatic ``nn.Module``s, channels-first conv).

The loss is ``F.binary_cross_entropy`` on the sigmoid output (as the Keras and
tinynlp models: probabilities, not logits); the optimizer ``torch.optim.Adam``
with the same learning rate and epsilon.  Inputs are converted to the torch
layout once, outside the timed step (conv inputs to (B, C, L)).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as TF

from . import torch_transformers
from .specs import EPSILON, LEARNING_RATE, ModelSpec


class SeedRNN(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.rnn = nn.RNN(s["features"], s["units"], nonlinearity="relu", batch_first=True)
        self.fc = nn.Linear(s["units"], 1)

    def forward(self, x):
        _, h = self.rnn(x)
        return torch.sigmoid(self.fc(h[0]))


class SeedCNN(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.conv = nn.Conv1d(1, s["filters"], s["kernel"])
        steps = (s["length"] - s["kernel"] + 1) // 2
        self.fc1 = nn.Linear(s["filters"] * steps, s["hidden"])
        self.fc2 = nn.Linear(s["hidden"], 1)

    def forward(self, x):                       # x (B, 1, L)
        h = TF.max_pool1d(torch.relu(self.conv(x)), 2)
        h = torch.relu(self.fc1(h.flatten(1)))
        return torch.sigmoid(self.fc2(h))


class EmbRNN(nn.Module):
    def __init__(self, s, cell, sparse=False):
        super().__init__()
        self.emb = nn.Embedding(s["vocab"], s["dim"], sparse=sparse)
        self.rnn = (nn.LSTM if cell == "lstm" else nn.RNN)(s["dim"], s["units"],
                                                           batch_first=True)
        self.fc = nn.Linear(s["units"], 1)

    def forward(self, ids):
        _, h = self.rnn(self.emb(ids))
        if isinstance(h, tuple):                # LSTM: (h, c)
            h = h[0]
        return torch.sigmoid(self.fc(h[0]))


class EmbCNN(nn.Module):
    def __init__(self, s, sparse=False):
        super().__init__()
        self.emb = nn.Embedding(s["vocab"], s["dim"], sparse=sparse)
        self.conv = nn.Conv1d(s["dim"], s["filters"], s["kernel"])
        self.fc = nn.Linear(s["filters"], 1)

    def forward(self, ids):
        h = torch.relu(self.conv(self.emb(ids).transpose(1, 2)))
        return torch.sigmoid(self.fc(h.amax(dim=2)))


def make_module(spec: ModelSpec, sparse=False) -> nn.Module:
    s = spec.sizes
    if spec.kind in ("gpt", "transformer_cls"):
        return torch_transformers.make_module(spec)
    if spec.kind == "seed_rnn":
        return SeedRNN(s)
    if spec.kind == "seed_cnn":
        return SeedCNN(s)
    if spec.kind == "emb_cnn":
        return EmbCNN(s, sparse)
    return EmbRNN(s, "lstm" if spec.kind == "emb_lstm" else "rnn", sparse)


class TorchModel:
    def __init__(self, spec, module, sparse=False):
        self.spec = spec
        self.module = module
        # tinynlp/Keras have one recurrent bias; torch two.  All of it lives in
        # bias_ih and bias_hh stays a frozen zero, so the same values train.
        for name, p in module.named_parameters():
            if name.startswith("rnn.bias_hh"):
                p.requires_grad_(False)
        params = [p for n, p in module.named_parameters() if p.requires_grad]
        if sparse:
            emb = [module.emb.weight]
            rest = [p for p in params if p is not module.emb.weight]
            self.optimizers = [torch.optim.SparseAdam(emb, lr=LEARNING_RATE, eps=EPSILON),
                               torch.optim.Adam(rest, lr=LEARNING_RATE, eps=EPSILON)]
        else:
            self.optimizers = [torch.optim.Adam(params, lr=LEARNING_RATE, eps=EPSILON)]

    def convert_x(self, x: np.ndarray):
        if self.spec.kind == "seed_cnn":
            x = np.ascontiguousarray(x.transpose(0, 2, 1))
        return torch.from_numpy(x)

    @staticmethod
    def convert_y(y: np.ndarray):
        return torch.from_numpy(y)

    def train_step(self, x, y) -> float:
        self.module.train()
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        loss = TF.binary_cross_entropy(self.module(x), y)
        loss.backward()
        for opt in self.optimizers:
            opt.step()
        return float(loss.detach())

    def predict(self, x) -> np.ndarray:
        self.module.eval()
        with torch.no_grad():
            return self.module(x).numpy()


def build(spec: ModelSpec, torch_weights: dict, sparse: bool = False) -> TorchModel:
    if spec.kind in ("gpt", "transformer_cls"):
        if sparse:
            raise ValueError(f"{spec.name} has no row-sparse variant")
        return torch_transformers.build(spec, torch_weights)
    module = make_module(spec, sparse)
    state = module.state_dict()
    missing = set(state) - set(torch_weights)
    if missing:
        raise RuntimeError(f"torch weights for {spec.name} lack {sorted(missing)}")
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in torch_weights.items()})
    return TorchModel(spec, module, sparse)

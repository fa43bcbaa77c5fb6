"""Classifier modules: they take tokenizer keyword inputs and return logits."""
from __future__ import annotations

import torch
from torch import nn


class EncoderClassifier(nn.Module):
    """encoder -> pooling (the checkpoint's own: mean, cls or max) -> dropout -> linear."""

    def __init__(self, encoder: nn.Module, hidden: int, num_labels: int, pooling: str = "mean", dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_labels)
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    @property
    def config(self):
        return self.encoder.config

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, **_):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        kw = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kw["token_type_ids"] = token_type_ids
        h = self.encoder(**kw).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        if self.pooling == "cls":
            pooled = h[:, 0]
        elif self.pooling == "max":
            pooled = h.masked_fill(m == 0, torch.finfo(h.dtype).min).amax(1)
        else:
            pooled = (h * m).sum(1) / m.sum(1).clamp_min(1.0)
        return self.classifier(self.dropout(pooled))


class HFClassifier(nn.Module):
    """A transformers sequence-classification model, returning plain logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    @property
    def config(self):
        return self.model.config

    def forward(self, **inputs):
        return self.model(**inputs).logits

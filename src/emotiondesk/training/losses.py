"""Losses and adversarial training: focal loss, class weights, FGM.

Example:
    >>> import torch
    >>> loss = FocalLoss(gamma=2.0)
    >>> float(loss(torch.tensor([[4.0, -4.0]]), torch.tensor([0]))) < 1e-3
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class FocalLoss(nn.Module):
    """Multi-class focal loss (Lin et al. 2017): ``-(1 - p_t)^gamma * log p_t``.

    ``gamma = 0`` is cross-entropy. ``weight`` (per class) and
    ``label_smoothing`` behave as in :func:`torch.nn.functional.cross_entropy`.
    """

    def __init__(
        self,
        gamma: float = 2.0,
        weight: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.gamma = float(gamma)
        self.label_smoothing = float(label_smoothing)
        self.weight: torch.Tensor | None
        self.register_buffer("weight", weight if weight is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp = F.log_softmax(logits.float(), dim=-1)
        k = logits.shape[-1]
        onehot = F.one_hot(target, k).to(logp.dtype)
        if self.label_smoothing > 0:
            onehot = onehot * (1 - self.label_smoothing) + self.label_smoothing / k
        p = logp.exp()
        per_class = -onehot * (1 - p).pow(self.gamma) * logp
        if self.weight is not None:
            per_class = per_class * self.weight.to(per_class.dtype)
            norm = self.weight.to(logp.dtype)[target].sum().clamp(min=1e-12)
            return per_class.sum() / norm
        return per_class.sum(-1).mean()


def balanced_class_weights(label_ids: Sequence[int] | np.ndarray, n_classes: int) -> torch.Tensor:
    """``n / (k * count_c)`` per class, as scikit-learn's ``class_weight="balanced"``."""
    counts = np.bincount(np.asarray(label_ids, dtype=np.int64), minlength=n_classes).astype(float)
    counts[counts == 0] = 1.0
    weights = counts.sum() / (n_classes * counts)
    return torch.tensor(weights, dtype=torch.float32)


def make_loss(
    kind: str,
    *,
    weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    gamma: float = 2.0,
) -> nn.Module:
    """``ce`` (cross-entropy) or ``focal``, with optional class weights and label smoothing."""
    if kind == "focal":
        return FocalLoss(gamma=gamma, weight=weight, label_smoothing=label_smoothing)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)


class FGM:
    """Fast Gradient Method (Miyato et al. 2017) on the word embeddings.

    After the normal backward pass: ``attack()`` adds ``epsilon * g / ||g||``
    to the embedding weights, run forward/backward again (gradients add up),
    then ``restore()``.

    Example:
        >>> fgm = FGM(model, epsilon=1.0)                   # doctest: +SKIP
        >>> loss.backward(); fgm.attack()                   # doctest: +SKIP
        >>> loss_fn(model(**batch), y).backward(); fgm.restore()  # doctest: +SKIP
    """

    def __init__(
        self, model: nn.Module, epsilon: float = 1.0, emb_name: str = "word_embeddings"
    ) -> None:
        self.model = model
        self.epsilon = float(epsilon)
        self.emb_name = emb_name
        self.backup: dict[str, torch.Tensor] = {}

    def _params(self):  # type: ignore[no-untyped-def]
        for name, param in self.model.named_parameters():
            if param.requires_grad and self.emb_name in name:
                yield name, param

    def attack(self) -> bool:
        """Perturb the embeddings along their gradient; False if there was nothing to perturb."""
        done = False
        for name, param in self._params():
            if param.grad is None:
                continue
            norm = torch.norm(param.grad)
            if norm != 0 and not torch.isnan(norm):
                self.backup[name] = param.data.clone()
                param.data.add_(self.epsilon * param.grad / norm)
                done = True
        return done

    def restore(self) -> None:
        for name, param in self._params():
            if name in self.backup:
                param.data = self.backup[name]
        self.backup = {}

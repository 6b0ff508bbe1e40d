"""Training: transformer fine-tuning, MLM pretraining, calibration, ONNX export.

Heavy dependencies (torch, transformers, peft, accelerate, onnxruntime) are
imported by the submodules that need them, not here.
"""

from __future__ import annotations

from typing import Any

from emotiondesk.training.args import TaskData, TrainingArgs

__all__ = ["TaskData", "TrainingArgs", "train_transformer"]


def train_transformer(args: TrainingArgs, **kwargs: Any) -> Any:
    """Fine-tune a transformer (see :mod:`emotiondesk.training.trainer`)."""
    from emotiondesk.training.trainer import train_transformer as _train

    return _train(args, **kwargs)

"""Training: n-gram fitting, transformer fine-tuning, MLM pretraining, calibration, ONNX export.

Heavy dependencies (torch, transformers, peft, accelerate, onnxruntime) are
imported by the submodules that need them, not here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emotiondesk.training.args import TaskData, TrainingArgs

__all__ = ["TaskData", "TrainingArgs", "fine_tune"]


def fine_tune(args: TrainingArgs, **kwargs: Any) -> Path:
    """Fine-tune a transformer (see :func:`emotiondesk.training.trainer.fine_tune`)."""
    from emotiondesk.training.trainer import fine_tune as _fine_tune

    return _fine_tune(args, **kwargs)

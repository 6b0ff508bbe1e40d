"""The dev-set figures every trainer records: in its summary and in the model card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emotiondesk.data import LabelledData


def record_dev_figures(
    clf: Any, dev: LabelledData, *, task: str, out: str | Path, summary: dict[str, Any]
) -> None:
    """Evaluate the model saved at ``out`` on ``dev``, exactly as it will be loaded.

    The figures go into ``summary["dev"]`` and into ``clf.training_info_["dev"]``
    (the model card), and the model is saved again to ``out`` with them.
    """
    from emotiondesk.evaluation.evaluate import evaluate_data

    report = evaluate_data(dev, task=task, model=out)
    summary["dev"] = {k: report[k] for k in ("n", "accuracy", "macro_f1", "per_class")}
    clf.training_info_["dev"] = {
        "source": dev.source,
        "n": report["n"],
        "accuracy": round(report["accuracy"], 4),
        "macro_f1": round(report["macro_f1"], 4),
    }
    clf.save_pretrained(out)

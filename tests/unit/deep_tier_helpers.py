"""A pack whose transformer tier is a tiny random BERT exported to int8 ONNX (seconds)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from emotiondesk.labels import SCHEMES
from tests.unit.deep_helpers import make_tiny_bert


def make_deep_pack(root: Path, tiny_pack: Path) -> Path:
    """``tiny_pack`` with an int8 ONNX multi-task model ``deep`` on every route.

    zh polarity reads it through an ensemble with the n-gram model (as the
    default pack's blends do); the other routes read it directly.
    """
    from transformers import AutoModel, AutoTokenizer

    from emotiondesk.models.ensemble import EnsembleClassifier
    from emotiondesk.models.transformer import MultiTaskNet, TransformerClassifier
    from emotiondesk.training.export import export_onnx

    base = make_tiny_bert(root / "tiny-bert")
    net = MultiTaskNet(
        AutoModel.from_pretrained(str(base)),
        {"polarity": len(SCHEMES["polarity"]), "emotion": len(SCHEMES["emotion"])},
        pooling="mean_norm",
    )
    clf = TransformerClassifier.from_parts(
        net,
        AutoTokenizer.from_pretrained(str(base)),
        tasks={t: list(SCHEMES[t]) for t in ("polarity", "emotion")},
        max_length=32,
    )
    clf.save_pretrained(root / "deep-torch")
    pack = root / "pack"
    shutil.copytree(tiny_pack, pack)
    export_onnx(root / "deep-torch", pack / "deep", method="weight-only", min_agreement=0.0)
    spec = json.loads((pack / "pack.json").read_text(encoding="utf-8"))
    EnsembleClassifier(
        [spec["routes"]["zh"]["polarity"], "deep"], [0.5, 0.5], tasks=[None, "polarity"]
    ).save_pretrained(pack / "zh-polarity-blend")
    spec["routes"] = {
        "zh": {"polarity": "zh-polarity-blend", "emotion": "deep"},
        "en": {"polarity": "deep", "emotion": "deep"},
    }
    (pack / "pack.json").write_text(json.dumps(spec), encoding="utf-8")
    return pack

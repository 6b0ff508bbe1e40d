from __future__ import annotations

import json
from pathlib import Path

import pytest

from emotiondesk.errors import ModelError
from emotiondesk.models.base import load_model, read_config
from emotiondesk.pack import read_pack


def _write_pack(root: Path, routes: dict, **extra: object) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for tasks in routes.values():
        for rel in tasks.values():
            (root / rel).mkdir(parents=True, exist_ok=True)
    (root / "pack.json").write_text(json.dumps({"routes": routes, **extra}), encoding="utf-8")
    return root


def test_read_pack(tmp_path: Path) -> None:
    root = _write_pack(
        tmp_path / "p",
        {"en": {"polarity": "a", "emotion": "b"}},
        name="mine",
        version="3",
        notes="kept",
    )
    spec = read_pack(root)
    assert (spec.name, spec.version, spec.fallback_language) == ("mine", "3", "en")
    assert spec.model_dir("en", "emotion") == root / "b"
    assert spec.extra == {"notes": "kept"}


def test_pack_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a model pack"):
        read_pack(tmp_path)
    (tmp_path / "pack.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot read"):
        read_pack(tmp_path)
    (tmp_path / "pack.json").write_text(json.dumps({"routes": {"en": {"polarity": "gone"}}}))
    with pytest.raises(ModelError, match="missing"):
        read_pack(tmp_path)
    root = _write_pack(tmp_path / "q", {"en": {"sarcasm": "x"}})
    with pytest.raises(ModelError, match="unknown task"):
        read_pack(root)
    root = _write_pack(tmp_path / "r", {"zh": {"polarity": "x"}})
    with pytest.raises(ModelError, match="fallback_language"):
        read_pack(root)


def test_model_dir_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        read_config(tmp_path / "nope")
    with pytest.raises(ModelError, match=r"no config\.json"):
        read_config(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "crystal-ball"}))
    with pytest.raises(ModelError, match="unknown model_type"):
        load_model(tmp_path)

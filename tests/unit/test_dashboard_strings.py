"""The dashboard's interface strings: every key in both languages, every key the code
uses defined, every Chinese string actually Chinese, and the shipped CSS built from
its source (CI does not run npm)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend" / "src"
STATIC = ROOT / "src" / "emotiondesk" / "web" / "static"
CJK = re.compile(r"[\u4e00-\u9fff]")
#: Strings that read the same in both languages (identifiers, numbers, formats).
SAME_IN_ZH = {"n_of", "act_other", "and", "list_sep"}


def strings() -> dict[str, dict[str, object]]:
    """STRINGS of i18n.js, read with node when present, else parsed here."""
    src = FRONTEND / "i18n.js"
    try:
        out = subprocess.run(
            [
                "node",
                "--input-type=module",
                "-e",
                f"import {{ STRINGS }} from {json.dumps(src.as_uri())}; "
                "process.stdout.write(JSON.stringify(STRINGS));",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        return json.loads(out)
    except (FileNotFoundError, subprocess.CalledProcessError):
        text = src.read_text(encoding="utf-8")
        body = text[text.index("{") :].rstrip().rstrip(";")
        body = re.sub(r"^\s*//.*$", "", body, flags=re.M)
        body = re.sub(r"(?m)^(\s*)([A-Za-z_][A-Za-z0-9_]*):", r'\1"\2":', body)
        body = re.sub(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*):", r'\1"\2":', body)
        body = re.sub(r",(\s*[}\]])", r"\1", body)
        return json.loads(body)


def flatten(d: dict[str, object], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = str(v)
    return out


def test_both_languages_have_the_same_keys() -> None:
    s = strings()
    en, zh = flatten(s["en"]), flatten(s["zh"])
    assert sorted(set(en) - set(zh)) == [], "keys without a Chinese translation"
    assert sorted(set(zh) - set(en)) == [], "keys only in Chinese"


def test_every_chinese_string_is_chinese() -> None:
    zh = flatten(strings()["zh"])
    untranslated = [
        k for k, v in zh.items() if k not in SAME_IN_ZH and k != "language" and not CJK.search(v)
    ]
    assert untranslated == [], f"Chinese UI strings still in English: {untranslated}"


def test_every_placeholder_is_kept_in_translation() -> None:
    s = strings()
    en, zh = flatten(s["en"]), flatten(s["zh"])
    for k, v in en.items():
        assert set(re.findall(r"\{\w+\}", v)) == set(re.findall(r"\{\w+\}", zh[k])), k


def test_every_key_the_code_uses_is_defined() -> None:
    code = (FRONTEND / "main.js").read_text(encoding="utf-8")
    en = strings()["en"]
    used = set(re.findall(r"\bt\(\s*\"([a-z_0-9]+)\"\s*[,)]", code))
    assert used, "no t(...) calls found: the pattern is out of date"
    assert sorted(used - set(en)) == []
    # keys built at run time: their prefixes must exist
    for prefix in re.findall(r"\bt\(\s*`([a-z_]+)\$\{", code):
        assert any(k.startswith(prefix) for k in en), prefix


def test_no_hard_coded_english_in_markup() -> None:
    """Text between tags in main.js's templates comes from t(...), not literals."""
    code = (FRONTEND / "main.js").read_text(encoding="utf-8")
    literal = re.findall(r">\s*([A-Za-z][A-Za-z ]{3,})\s*<", code)
    assert literal == [], literal


def test_shipped_css_is_the_built_source() -> None:
    assert (STATIC / "dashboard.css").read_bytes() == (FRONTEND / "dashboard.css").read_bytes()

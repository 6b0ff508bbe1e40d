"""Reply suggestions: language, fit to the emotion, variety, FAQ/catalog files, the LLM backend."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from emotiondesk.errors import ConfigError, DataError
from emotiondesk.replies import (
    Catalog,
    FaqIndex,
    LLMBackend,
    ReplySuggester,
    SuggestionRequest,
)
from emotiondesk.replies.suggest import _library

HAN = re.compile(r"[\u4e00-\u9fff]")


def req(
    text: str, language: str, emotion: str = "neutral", intensity: float = 0.8, **kw
) -> SuggestionRequest:
    polarity = kw.pop(
        "polarity", "negative" if emotion in ("anger", "sadness", "fear", "disgust") else "neutral"
    )
    return SuggestionRequest(
        text=text, language=language, emotion=emotion, intensity=intensity, polarity=polarity, **kw
    )


@pytest.fixture(scope="module")
def suggester() -> ReplySuggester:
    return ReplySuggester()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_suggestions_are_in_the_customer_language(suggester, language):
    text = "我的退款什么时候到账？" if language == "zh" else "When will my refund arrive?"
    out = suggester.suggest(req(text, language, "fear"))
    assert 1 <= len(out.suggestions) <= 3
    assert [s.kind for s in out.suggestions] == ["empathy", "faq", "closing"]
    for s in out.suggestions:
        has_han = bool(HAN.search(s.text))
        assert has_han == (language == "zh"), s.text
    assert out.suggestions[1].source == (
        "faq:tuikuan-shijian" if language == "zh" else "faq:refund-time"
    )


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize(
    "emotion", ["anger", "disgust", "fear", "sadness", "surprise", "joy", "neutral"]
)
def test_openings_come_from_the_emotion_and_intensity_pool(suggester, language, emotion):
    lib = _library(language)["empathy"][emotion]
    strong = suggester.suggest(req("hello there", language, emotion, 0.9, first_turn=True))
    weak = suggester.suggest(req("hello there", language, emotion, 0.4))
    assert strong.suggestions[0].text in lib["high"]
    assert weak.suggestions[0].text in lib["low"]


def test_decisions_add_their_sentence(suggester):
    lib = _library("en")["actions"]
    out = suggester.suggest(
        req("this is a joke", "en", "anger", decisions=["escalate_to_senior", "apologise"])
    )
    assert any(line in out.suggestions[0].text for line in lib["escalate_to_senior"])
    out = suggester.suggest(req("I'm scared it got lost", "en", "fear", decisions=["reassure"]))
    assert any(line in out.suggestions[0].text for line in lib["reassure"])


def test_openings_do_not_repeat_word_for_word_across_turns(suggester):
    used: list[str] = []
    openings = []
    for _ in range(5):
        out = suggester.suggest(req("still broken", "en", "anger", 0.9, used_templates=tuple(used)))
        used.extend(out.used_templates)
        openings.append(out.suggestions[0].text)
    pool = _library("en")["empathy"]["anger"]["high"]
    assert len(set(openings)) == min(5, len(pool))
    # whole replies differ turn to turn too
    replies = []
    used = []
    for _ in range(3):
        out = suggester.suggest(req("我要投诉", "zh", "anger", 0.9, used_templates=tuple(used)))
        used.extend(out.used_templates)
        replies.append(" ".join(s.text for s in out.suggestions))
    assert len(set(replies)) == 3


def test_recommend_uses_the_catalog(suggester):
    out = suggester.suggest(
        req("太好了，耳机音质很棒，谢谢", "zh", "joy", polarity="positive", decisions=["recommend"])
    )
    closing = out.suggestions[-1]
    assert closing.kind == "closing" and "catalog:" in closing.source
    assert out.recommended and out.recommended[0] != "p-earbuds"
    assert HAN.search(closing.text)


def test_no_faq_hit_means_two_suggestions(suggester):
    out = suggester.suggest(req("hmm", "en"))
    assert [s.kind for s in out.suggestions] == ["empathy", "closing"]


def test_faq_files_with_missing_fields_fail_with_entry_and_line(tmp_path: Path):
    y = tmp_path / "faq.yaml"
    y.write_text(
        "- id: a\n  lang: en\n  question: Where is it?\n  answer: On its way.\n"
        "- id: b\n  lang: en\n  question: Refund?\n",
        "utf-8",
    )
    with pytest.raises(DataError, match=r"entry #2 \(line 5\): missing 'answer'"):
        FaqIndex.load(y)
    c = tmp_path / "faq.csv"
    c.write_text("id,lang,question,answer\na,zh,退款多久,三天\nb,zh,,五天\n", "utf-8")
    with pytest.raises(DataError, match=r"entry #2 \(line 3\): missing 'question'"):
        FaqIndex.load(c)
    c.write_text("id,lang,question,answer\na,fr,Où?,Ici\n", "utf-8")
    with pytest.raises(DataError, match="lang must be zh or en"):
        FaqIndex.load(c)
    with pytest.raises(DataError, match="does not exist"):
        FaqIndex.load(tmp_path / "none.yaml")
    t = tmp_path / "faq.txt"
    t.write_text("x", "utf-8")
    with pytest.raises(DataError, match="yaml"):
        FaqIndex.load(t)
    c.write_text("id,lang,question,answer\na,zh,退款多久到账,三个工作日内到账\n", "utf-8")
    assert FaqIndex.load(c).search("退款什么时候到账", "zh")[0].entry.answer == "三个工作日内到账"


def test_catalog_files_are_validated(tmp_path: Path):
    c = tmp_path / "cat.csv"
    c.write_text("id,name_en,category,related\na,Mug,home,b\n", "utf-8")
    with pytest.raises(DataError, match="unknown related item 'b'"):
        Catalog.load(c)
    c.write_text("id,name_en,category\na,,home\n", "utf-8")
    with pytest.raises(DataError, match="missing 'name_en' or 'name_zh'"):
        Catalog.load(c)
    y = tmp_path / "cat.yaml"
    y.write_text(
        "- {id: a, name_en: Mug, category: home, related: [b]}\n- {id: b, name_en: Tea, category: food}\n"
    )
    assert [p.id for p in Catalog.load(y).recommend(["I love the mug"], "en")] == ["b"]


# -- the LLM backend against a real local HTTP server -------------------------------------------


class FakeOpenAI:
    """A tiny OpenAI-compatible chat-completions server on loopback."""

    def __init__(self, mode: str = "ok", delay: float = 0.0) -> None:
        self.mode = mode
        self.delay = delay
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                time.sleep(outer.delay)
                if outer.mode == "error":
                    payload, status = b'{"error": "overloaded"}', 503
                elif outer.mode == "garbage":
                    payload, status = b"not json", 200
                else:
                    reply = {
                        "choices": [
                            {
                                "message": {
                                    "role": "assistant",
                                    "content": "LLM: so sorry, a senior colleague takes over.",
                                }
                            }
                        ]
                    }
                    payload, status = json.dumps(reply).encode(), 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def test_llm_reply_comes_first_and_the_prompt_has_emotion_and_decision(fake_llm):
    s = ReplySuggester(llm=LLMBackend(fake_llm.url, "tiny-chat", api_key="k-123", timeout=5))
    out = s.suggest(
        req(
            "退款多久到账？气死了",
            "zh",
            "anger",
            decisions=["escalate_to_senior"],
            reasons=["angry"],
        )
    )
    assert out.llm_error is None
    assert out.suggestions[0].kind == "llm" and out.suggestions[0].text.startswith("LLM:")
    assert out.suggestions[0].source == "llm:tiny-chat"
    assert len(out.suggestions) == 3
    sent = fake_llm.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer k-123"
    assert sent["body"]["model"] == "tiny-chat"
    system = sent["body"]["messages"][0]["content"]
    assert "anger" in system and "escalate_to_senior" in system and "Chinese" in system
    assert sent["body"]["messages"][-1] == {"role": "user", "content": "退款多久到账？气死了"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_llm_falls_back_to_templates():
    s = ReplySuggester(llm=LLMBackend(f"http://127.0.0.1:{_free_port()}/v1", "m", timeout=2))
    out = s.suggest(req("where is my parcel", "en", "fear"))
    assert out.llm_error and "unreachable" in out.llm_error
    assert out.suggestions[0].kind == "empathy"


@pytest.mark.parametrize(
    ("mode", "delay", "fragment"),
    [("ok", 1.5, "within"), ("error", 0, "HTTP 503"), ("garbage", 0, "not a chat completion")],
)
def test_failing_llm_falls_back_to_templates(mode, delay, fragment):
    with FakeOpenAI(mode, delay) as server:
        s = ReplySuggester(llm=LLMBackend(server.url, "m", timeout=0.5))
        out = s.suggest(req("where is my parcel", "en", "fear"))
    assert out.llm_error and fragment in out.llm_error
    assert all(x.kind != "llm" for x in out.suggestions)


def test_llm_settings():
    from emotiondesk.config import Settings

    assert LLMBackend.from_settings(Settings()) is None  # off by default
    on = Settings(
        llm_enabled=True, llm_base_url="http://127.0.0.1:9/v1", llm_model="m", llm_api_key="s"
    )
    backend = LLMBackend.from_settings(on)
    assert backend is not None and backend.api_key == "s"
    with pytest.raises(ConfigError):
        LLMBackend("ftp://x", "m")
    with pytest.raises(ConfigError):
        LLMBackend("http://x", "")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_template_library_is_complete_and_varied(language):
    from emotiondesk.labels import EMOTION_LABELS
    from emotiondesk.policy import ACTIONS

    lib = _library(language)
    for emotion in EMOTION_LABELS:
        for level in ("high", "low"):
            pool = lib["empathy"][emotion][level]
            assert len(pool) >= 2 and len(set(pool)) == len(pool), (emotion, level)
    for action in set(ACTIONS) - {"tag", "alert"}:
        assert len(lib["actions"][action]) >= 3
    for tone in ("negative", "neutral", "positive"):
        assert len(lib["closing"][tone]) >= 3
    texts = [t for pools in lib["empathy"].values() for pool in pools.values() for t in pool]
    assert all(bool(HAN.search(t)) == (language == "zh") for t in texts)

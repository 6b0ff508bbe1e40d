"""Live swap and shadow scoring in process: the service follows the registry's champion.

The same through a real server (several requests in flight during the swap,
`learn` and rollback from the CLI) is tests/integration/test_learning_loop.py.
"""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from emotiondesk.registry import Registry
from emotiondesk.service import create_app
from emotiondesk.storage import repository as repo
from emotiondesk.storage.shadow import save_shadow_counts, shadow_totals
from emotiondesk.training.learn import FeedbackRow, build_candidate
from tests.learning_data import domain_messages
from tests.unit.test_service import Service, make_settings


def _registry(tmp_path: Path, tiny_pack: Path) -> Registry:
    reg = Registry.init(tmp_path / "registry", source=tiny_pack, by="t")
    rows = [
        FeedbackRow(id=i, message_id=str(i), text=t, language="zh", emotion="anger")
        for i, t in enumerate(domain_messages())
    ]
    build_candidate(reg, rows)  # v2, the challenger
    return reg


def _wait_for(client: TestClient, headers: dict[str, str], model: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = client.get("/v1/models", headers=headers).json()
        if body["model"] == model:
            return body
        time.sleep(0.05)
    raise AssertionError(f"the service did not switch to {model}: {body}")


def test_promotion_and_rollback_are_served_without_a_restart(
    tmp_path: Path, tiny_pack: Path
) -> None:
    reg = _registry(tmp_path, tiny_pack)
    app = create_app(make_settings(tmp_path, reg.root, model_poll_seconds=0.05))
    with TestClient(app) as client:
        svc = Service(client)
        h = svc.h("read")
        first = _wait_for(client, h, "tiny-v1")
        assert first["registry"] and first["champion"] == "v1" and first["swaps"] == 0
        text = domain_messages()[0]
        assert svc.post("/v1/analyze", {"texts": [text]}).json()["results"][0]["model"] == "tiny-v1"
        reg.promote("v2", force=True, by="t")
        body = _wait_for(client, h, "tiny-v2")
        assert body["champion"] == "v2" and body["swaps"] == 1
        assert svc.post("/v1/analyze", {"texts": [text]}).json()["results"][0]["model"] == "tiny-v2"
        assert client.get("/readyz").json()["model"] == "tiny-v2"
        reg.rollback(by="t")
        assert _wait_for(client, h, "tiny-v1")["swaps"] == 2
        metrics = client.get("/metrics").text
        assert "emotiondesk_model_swaps_total 2.0" in metrics
        assert 'emotiondesk_model_version{version="tiny-v1"} 1.0' in metrics


def test_a_version_that_fails_to_load_keeps_the_old_one(tmp_path: Path, tiny_pack: Path) -> None:
    reg = _registry(tmp_path, tiny_pack)
    app = create_app(make_settings(tmp_path, reg.root, model_poll_seconds=0.05))
    with TestClient(app) as client:
        svc = Service(client)
        broken = reg.version_dir("v2") / "zh-emotion-v2" / "weights.safetensors"
        broken.write_bytes(b"not safetensors")
        reg.promote("v2", force=True)
        time.sleep(0.5)
        body = client.get("/v1/models", headers=svc.h("read")).json()
        assert body["model"] == "tiny-v1" and body["swaps"] == 0
        assert svc.post("/v1/analyze", {"texts": ["谢谢"]}).status_code == 200


def test_shadow_scoring_counts_agreement_and_never_answers(tmp_path: Path, tiny_pack: Path) -> None:
    reg = _registry(tmp_path, tiny_pack)
    app = create_app(make_settings(tmp_path, reg.root, model_poll_seconds=0.05, shadow=True))
    with TestClient(app) as client:
        svc = Service(client)
        texts = [*domain_messages()[:20], "谢谢客服，非常满意", "请问什么时候发货"]
        r = svc.post("/v1/analyze", {"texts": texts}).json()["results"]
        assert {x["model"] for x in r} == {"tiny-v1"}  # callers get the champion only
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            body = client.get("/v1/models", headers=svc.h("read")).json()
            if body["shadow"] and body["shadow"]["compared"] >= len(texts):
                break
            time.sleep(0.05)
        shadow = body["shadow"]
        assert body["challenger"] == "v2" and shadow["challenger"] == "v2"
        assert shadow["compared"] == len(texts)
        # the counts come from the database (one row per worker), summed
        assert shadow["scope"] == "service" and shadow["workers"] == 1
        assert shadow["champion"] == "v1"
        with app.state.sessions() as s:
            stored = shadow_totals(s, challenger="v2", champion="v1")
        assert stored["compared"] == len(texts) and stored["workers"] == 1
        assert shadow["agreement"]["emotion"] < 1.0  # the challenger reads the domain as anger
        pairs = {(d["champion"], d["challenger"]) for d in shadow["disagreements"]["emotion"]}
        assert ("neutral", "anger") in pairs
        assert 'emotiondesk_shadow_predictions_total{agree="false",task="emotion"}' in (
            client.get("/metrics").text
        )
        # the shadow figures count every workspace's traffic: other workspaces do not see them
        with app.state.sessions() as s:
            _, other = repo.create_api_key(s, name="shop-b", scopes=["read"], workspace="shop-b")
            s.commit()
        theirs = client.get("/v1/models", headers={"X-API-Key": other}).json()
        assert theirs["model"] == "tiny-v1" and theirs["shadow"] is None


def test_a_promotion_during_startup_is_picked_up(tmp_path: Path, tiny_pack: Path) -> None:
    from emotiondesk.analyzer import load_analyzer

    reg = _registry(tmp_path, tiny_pack)
    loaded_before = load_analyzer(reg.version_dir("v1"))  # what a worker loaded at start
    reg.promote("v2", force=True)  # ... while the promotion happened
    app = create_app(
        make_settings(tmp_path, reg.root, model_poll_seconds=0.05), analyzer=loaded_before
    )
    with TestClient(app) as client:
        svc = Service(client)
        assert _wait_for(client, svc.h("read"), "tiny-v2")["champion"] == "v2"


def test_shadow_counts_of_several_workers_are_summed(tmp_path: Path) -> None:
    from emotiondesk.storage import make_engine, make_session_factory, upgrade_database

    engine = make_engine(f"sqlite:///{tmp_path / 'shadow.sqlite'}")
    upgrade_database(engine)
    sessions = make_session_factory(engine)
    with sessions() as s:
        for worker, n, agree, pair in (("w1", 10, 8, 2), ("w2", 6, 5, 1)):
            save_shadow_counts(
                s,
                challenger="v2",
                champion="v1",
                worker=worker,
                compared=n,
                skipped=1,
                agree={"polarity": n, "emotion": agree},
                pairs={"polarity": [], "emotion": [["neutral", "anger", pair]]},
            )
        # another pair is not mixed in
        save_shadow_counts(
            s, challenger="v3", champion="v1", worker="w1", compared=99, skipped=0,
            agree={}, pairs={},
        )  # fmt: skip
        s.commit()
        # a worker overwrites its own row with its running totals
        save_shadow_counts(
            s, challenger="v2", champion="v1", worker="w1", compared=12, skipped=1,
            agree={"polarity": 12, "emotion": 9}, pairs={"emotion": [["neutral", "anger", 3]]},
        )  # fmt: skip
        s.commit()
        got = shadow_totals(s, challenger="v2", champion="v1")
    engine.dispose()
    assert got["workers"] == 2 and got["compared"] == 18 and got["skipped"] == 2
    assert got["agree"] == {"polarity": 18, "emotion": 14}
    assert got["pairs"]["emotion"][("neutral", "anger")] == 4


def test_a_closed_shadow_scorer_drops_work_instead_of_failing_the_request() -> None:
    """Requests in flight while a challenger changes (or the service stops) must not fail."""
    from types import SimpleNamespace

    from emotiondesk.service.live_models import ShadowScorer

    metrics = SimpleNamespace()  # never touched: nothing is scored
    scorer = ShadowScorer(analyzer=None, version="v2", metrics=metrics)  # type: ignore[arg-type]
    scorer.close()
    scorer.submit(["物流太慢了"], None, [None])  # after close: no RuntimeError
    assert scorer._pending == 0 and scorer.compared == 0

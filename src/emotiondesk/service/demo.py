"""``emotiondesk demo``: the service on SQLite with a dev key and sample conversations.

The sample conversations below were written for this project (no real
customer is quoted); they include phone numbers and addresses so the PII
masking shows in what is stored.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

from emotiondesk.config import get_settings
from emotiondesk.service.auth import DEV_API_KEY

logger = logging.getLogger(__name__)

#: (conversation fields, [(role, text), ...])
SAMPLE_CONVERSATIONS: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
    (
        {
            "channel": "app",
            "customer_id": "cn-10231",
            "product_id": "sku-air-fryer-5l",
            "category": "kitchen",
            "agent_id": "agent-lin",
            "metadata": {"tier": "gold"},
        },
        [
            ("customer", "你好，我买的空气炸锅已经一个星期了还没发货，怎么回事？"),
            ("agent", "您好，非常抱歉让您久等了，我马上帮您查询物流情况。"),
            ("customer", "昨天就说马上查，今天还是没消息，物流太慢了，气死我了！"),
            ("agent", "实在抱歉，仓库显示今天下午发出，我给您申请了10元补偿券。"),
            ("customer", "好吧，希望这次别再拖了。"),
        ],
    ),
    (
        {
            "channel": "web",
            "customer_id": "cn-20877",
            "product_id": "sku-wool-coat-m",
            "category": "apparel",
            "agent_id": "agent-zhou",
            "metadata": {},
        },
        [
            ("customer", "大衣收到了，颜色和图片一样，面料很舒服，尺码也合适，很满意！"),
            ("agent", "谢谢您的认可！天冷了注意保暖哦。"),
            ("customer", "请问同款有没有黑色的？想再给我妈买一件，寄到杭州市西湖区文三路100号。"),
        ],
    ),
    (
        {
            "channel": "phone",
            "customer_id": "cn-33410",
            "product_id": "sku-glass-set-6",
            "category": "home",
            "agent_id": "agent-lin",
            "metadata": {"tier": "standard"},
        },
        [
            ("customer", "杯子到的时候碎了两个，包装太简陋了，好失望。"),
            ("agent", "非常抱歉给您带来不好的体验，麻烦拍一下破损的照片。"),
            ("customer", "照片发了，我电话13812345678，尽快给我处理，不然我要投诉。"),
        ],
    ),
    (
        {
            "channel": "email",
            "customer_id": "us-5521",
            "product_id": "sku-anc-headphones",
            "category": "electronics",
            "agent_id": "agent-sam",
            "metadata": {"tier": "vip"},
        },
        [
            (
                "customer",
                "My noise-cancelling headphones stopped charging after three days. This is really frustrating.",
            ),
            (
                "agent",
                "I'm sorry to hear that. Could you tell me the order number so I can arrange a replacement?",
            ),
            (
                "customer",
                "Order 2026111800123. I need them for a flight on Friday, I'm worried they won't arrive in time.",
            ),
            ("agent", "I've sent an express replacement today; it will arrive by Thursday."),
            ("customer", "Wow, that was fast. Thank you so much, great service!"),
        ],
    ),
    (
        {
            "channel": "chat",
            "customer_id": "uk-7730",
            "product_id": "sku-organic-coffee-1kg",
            "category": "grocery",
            "agent_id": "agent-amy",
            "metadata": {},
        },
        [
            ("customer", "The coffee beans smell stale and the bag was already open. Disgusting."),
            ("agent", "I apologise, that should never happen. I'll refund you right away."),
            (
                "customer",
                "Fine. Please send any paperwork to jane.roe@example.com, not to 12 Baker Street.",
            ),
        ],
    ),
    (
        {
            "channel": "chat",
            "customer_id": "us-8812",
            "product_id": "sku-smartwatch-2",
            "category": "electronics",
            "agent_id": "agent-sam",
            "metadata": {},
        },
        [
            ("customer", "Hi, does the smartwatch support wireless charging?"),
            ("agent", "Yes, it supports Qi wireless charging and comes with a charging pad."),
            ("customer", "Perfect, I'll order it today."),
        ],
    ),
]


def load_samples(base_url: str, api_key: str, *, timeout: float = 30.0) -> list[str]:
    """Post the sample conversations to a running service; return their ids."""
    import httpx

    ids: list[str] = []
    with httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=timeout) as http:
        for fields, turns in SAMPLE_CONVERSATIONS:
            resp = http.post("/v1/conversations", json=fields)
            resp.raise_for_status()
            cid = resp.json()["id"]
            for i, (role, text) in enumerate(turns):
                resp = http.post(
                    f"/v1/conversations/{cid}/messages",
                    json={"role": role, "text": text, "client_message_id": f"demo-{i}"},
                )
                resp.raise_for_status()
            ids.append(cid)
    return ids


def port_is_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound now (checked before any work is done)."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except OSError:
        return True  # an unknown host: let the server report it
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # as uvicorn binds: a socket in TIME_WAIT does not count as busy
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _has_samples(url: str) -> bool:
    """Whether the sample conversations are already stored in the database at ``url``."""
    from sqlalchemy import func, select

    from emotiondesk.storage import Conversation, make_engine, upgrade_database

    engine = make_engine(url)
    try:
        upgrade_database(engine)
        with engine.connect() as conn:
            n = conn.execute(
                select(func.count())
                .select_from(Conversation)
                .where(Conversation.customer_id == SAMPLE_CONVERSATIONS[0][0]["customer_id"])
            ).scalar_one()
    finally:
        engine.dispose()
    return bool(n)


def run_demo(
    *,
    port: int = 8000,
    database: str | None = None,
    fresh: bool = False,
    model: Path | None = None,
) -> None:
    """Serve on 127.0.0.1:``port`` with the samples loaded.

    The database is the one every command uses (``database``, else
    ``EMOTIONDESK_DATABASE_URL``, else the SQLite file in the user data directory),
    so ``emotiondesk import`` after ``demo`` adds to what the dashboard shows. The
    samples are loaded once; ``fresh`` deletes a SQLite database file first.
    """
    import uvicorn

    from emotiondesk.errors import ConfigError
    from emotiondesk.service.app import create_app
    from emotiondesk.service.server import configure_logging, limit_blas_threads
    from emotiondesk.storage import (
        default_sqlite_path,
        describe_database,
        resolve_url,
        sqlite_file,
    )

    if not port_is_free("127.0.0.1", port):
        raise ConfigError(
            f"port {port} on 127.0.0.1 is already in use (another emotiondesk demo or "
            "serve?): stop it, or choose another port with --port"
        )
    url = resolve_url(database)
    path = sqlite_file(url)
    if fresh:
        if path is None:
            raise ConfigError("--fresh deletes a SQLite file; it does not empty other databases")
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    seeded = _has_samples(url)
    archive_dir = path.parent if path is not None else default_sqlite_path().parent
    archive_dir.mkdir(parents=True, exist_ok=True)
    where = describe_database(url)
    sys.stderr.write(f"emotiondesk demo: database {where}\n")
    settings = get_settings().model_copy(
        update={
            "dev": True,
            "api_key": _secret(DEV_API_KEY),
            "database_url": _secret(url),
            "model_dir": model if model is not None else get_settings().model_dir,
            "host": "127.0.0.1",
            "port": port,
            "rate_limit_per_minute": 0,
        }
    )
    configure_logging("warning")
    limit_blas_threads()
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5
        )
    )
    base = f"http://127.0.0.1:{port}"

    def seed() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.should_exit:
            return
        try:
            if seeded:
                ids = _sample_ids(base, DEV_API_KEY)
            else:
                sys.stderr.write("loading the sample conversations and review archive...\n")
                ids = load_samples(base, DEV_API_KEY)
            # analytics (issue 6): an imported review archive (resumed: stored once),
            # then surge detection
            from emotiondesk.service.demo_reviews import seed_reviews

            reviews = seed_reviews(app, archive_dir / "demo-reviews.jsonl")
        except Exception as exc:  # the demo must say what went wrong, then stop
            sys.stderr.write(f"error: loading the sample conversations failed: {exc}\n")
            server.should_exit = True
            return
        sys.stderr.write(
            "\nemotiondesk demo is running (Ctrl-C to stop)\n"
            f"  dashboard     {base}/dashboard   (sign in with the dev API key below)\n"
            f"  reviews       {reviews['imported'] + reviews['already_stored']} stored, "
            f"{reviews['surges']} negative surge(s) detected\n"
            f"  API docs      {base}/docs\n"
            f"  health        {base}/readyz\n"
            f"  metrics       {base}/metrics\n"
            f"  conversations {base}/v1/conversations   ({len(ids)} samples"
            f"{' already there' if seeded else ' loaded'})\n"
            f"  database      {where}   (emotiondesk import FILE adds to it)\n"
            f"  dev API key   {DEV_API_KEY}   (dev mode only: the service refuses it otherwise)\n\n"
            f'  curl -s -H "X-API-Key: {DEV_API_KEY}" {base}/v1/conversations/{ids[0]}\n'
            f'  curl -s -H "X-API-Key: {DEV_API_KEY}" -H "content-type: application/json" '
            f'-d \'{{"texts": ["物流太慢了", "Great, thanks!"]}}\' {base}/v1/analyze\n\n'
        )
        sys.stderr.flush()

    threading.Thread(target=seed, name="emotiondesk-demo-seed", daemon=True).start()
    server.run()


def _sample_ids(base_url: str, api_key: str) -> list[str]:
    """The ids of the sample conversations stored by an earlier demo."""
    import httpx

    ids: list[str] = []
    with httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=30) as http:
        for fields, _turns in SAMPLE_CONVERSATIONS:
            resp = http.get("/v1/conversations", params={"customer_id": fields["customer_id"]})
            resp.raise_for_status()
            ids.extend(item["id"] for item in resp.json()["items"][:1])
    return ids


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)

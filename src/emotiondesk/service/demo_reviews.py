"""A synthetic review archive for ``emotiondesk demo`` (and for tests and benchmarks).

Reviews are composed from short aspect phrases written for this project (no
real customer is quoted), over the last ``days`` days with a daily cycle, in
Chinese and English, with one negative surge in the final hours (the air
fryer's delivery and quality), so the dashboard shows trends, aspects,
complaint topics and an alert.

Example:
    >>> rows = generate_reviews(n=10, seed=1)
    >>> sorted(rows[0])
    ['category', 'channel', 'customer_id', 'product_id', 'rating', 'text', 'timestamp']
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

#: (product, category, language, aspects)
PRODUCTS: list[tuple[str, str, str, tuple[str, ...]]] = [
    (
        "sku-air-fryer-5l",
        "kitchen",
        "zh",
        ("logistics", "quality", "price", "packaging", "service"),
    ),
    (
        "sku-wool-coat-m",
        "apparel",
        "zh",
        ("size_fit", "quality", "appearance", "logistics", "price"),
    ),
    ("sku-glass-set-6", "home", "zh", ("packaging", "quality", "logistics", "price")),
    (
        "sku-anc-headphones",
        "electronics",
        "en",
        ("battery", "sound", "quality", "logistics", "price"),
    ),
    ("sku-smartwatch-2", "electronics", "en", ("battery", "screen", "price", "service")),
    ("sku-organic-coffee-1kg", "grocery", "en", ("taste", "packaging", "price", "logistics")),
]

PHRASES: dict[str, dict[str, tuple[list[str], list[str]]]] = {
    "zh": {
        "logistics": (
            ["物流很快，第二天就到了", "快递送货上门，很及时", "发货速度快"],
            ["物流太慢了，等了一个星期", "快递一直不更新，催了好几次", "发货拖了五天"],
        ),
        "quality": (
            ["质量很好，做工精细", "用料扎实，很结实", "质感不错"],
            ["质量太差了，用两天就坏了", "做工粗糙，有异味", "质量一般，涂层掉了"],
        ),
        "price": (
            ["价格实惠，很划算", "性价比很高", "活动价买的，便宜"],
            ["价格有点贵", "刚买就降价了，不开心", "这个价不值"],
        ),
        "packaging": (
            ["包装很严实，没有破损", "包装精美", "包装用心，有气泡膜"],
            ["包装太简陋了", "外包装破了，杯子碎了两个", "盒子压扁了"],
        ),
        "service": (
            ["客服态度很好，耐心解答", "卖家很热情", "售后处理很及时"],
            ["客服回复太慢", "售后推来推去，态度差", "客服不理人"],
        ),
        "size_fit": (
            ["尺码标准，穿着合身", "大小正好", "版型很好"],
            ["衣服偏大，要换小一码", "尺码不准，太小了", "袖子太长了"],
        ),
        "appearance": (
            ["颜色很正，很好看", "款式新颖", "颜值很高"],
            ["颜色和图片差别很大", "款式有点土", "有划痕，不好看"],
        ),
    },
    "en": {
        "logistics": (
            ["Shipping was fast", "Arrived a day early", "Delivery was quick and on time"],
            [
                "Delivery took two weeks",
                "Shipping was slow and tracking never updated",
                "The parcel arrived late",
            ],
        ),
        "quality": (
            ["Great quality", "Very well made", "Solid build quality"],
            ["Poor quality, it broke in a week", "The material feels cheap", "Quality is terrible"],
        ),
        "price": (
            ["Great price", "Good value for money", "Affordable"],
            [
                "Too expensive for what it is",
                "Overpriced",
                "The price went up right after I ordered",
            ],
        ),
        "packaging": (
            ["Well packaged", "Nice packaging", "The box was intact"],
            ["The packaging was damaged", "The box was crushed", "The bag was already open"],
        ),
        "service": (
            [
                "Customer service was very helpful",
                "The seller replied quickly",
                "Support solved my problem",
            ],
            ["Support was rude", "The seller never replied", "Customer service was useless"],
        ),
        "battery": (
            ["Battery life is amazing", "The battery lasts all day", "It charges quickly"],
            ["The battery drains fast", "Battery died after a month", "Battery life is poor"],
        ),
        "sound": (
            ["Sound quality is excellent", "Great bass", "Clear audio"],
            ["The audio is tinny", "There is a buzzing noise", "Sound quality is bad"],
        ),
        "screen": (
            ["The screen is bright and sharp", "Gorgeous display", "The display is clear"],
            ["The screen is too dim", "The display has dead pixels", "The screen scratches easily"],
        ),
        "taste": (
            ["Tastes great", "Delicious and fresh", "Rich flavour"],
            ["The taste is bland", "It tasted stale", "Tastes bitter"],
        ),
    },
}
CHANNELS = ("app", "web", "review", "review")


def generate_reviews(
    *,
    n: int = 1500,
    days: int = 14,
    end: datetime | None = None,
    seed: int = 0,
    surge_product: str = "sku-air-fryer-5l",
    surge_hours: int = 5,
    negative_share: float = 0.2,
    surge_share: float = 0.75,
) -> list[dict[str, Any]]:
    """``n`` review rows (dicts with text, timestamp, channel, product_id, category, ...)."""
    rng = random.Random(seed)
    end = (end or datetime.now(UTC)).replace(microsecond=0)
    start = end - timedelta(days=days)
    total_hours = days * 24
    weights = [0.3 + math.sin(math.pi * ((h % 24) / 24)) ** 2 for h in range(total_hours)]
    rows = []
    for _i in range(n):
        hour = rng.choices(range(total_hours), weights=weights)[0]
        product, category, lang, aspects = rng.choice(PRODUCTS)
        if product == surge_product and rng.random() < 0.3:
            hour = rng.randrange(total_hours - surge_hours, total_hours)
        in_surge = product == surge_product and hour >= total_hours - surge_hours
        p_neg = surge_share if in_surge else negative_share
        negative = rng.random() < p_neg
        k = rng.choice((1, 2, 2))
        chosen = rng.sample([a for a in aspects if a in PHRASES[lang]], k=min(k, len(aspects)))
        if in_surge and negative:
            chosen[0] = rng.choice(("logistics", "quality"))
        parts = []
        for j, aspect in enumerate(chosen):
            pos, neg = PHRASES[lang][aspect]
            bad = negative if j == 0 else rng.random() < p_neg
            parts.append(rng.choice(neg if bad else pos))
        sep = "，" if lang == "zh" else ", "
        text = sep.join(parts) + ("。" if lang == "zh" else ".")
        when = start + timedelta(hours=hour, seconds=rng.randrange(3600))
        rows.append(
            {
                "text": text,
                "timestamp": when.isoformat(),
                "channel": rng.choice(CHANNELS),
                "product_id": product,
                "category": category,
                "customer_id": f"c-{rng.randrange(100000):05d}",
                "rating": 1 if negative else rng.choice((4, 5, 5)),
            }
        )
    rows.sort(key=lambda r: r["timestamp"])
    return rows


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def seed_reviews(app: Any, path: Path, *, n: int = 1500) -> dict[str, Any]:
    """Write a review archive to ``path``, import it into the app's database, scan for surges."""
    from emotiondesk.storage.tables import DEFAULT_WORKSPACE
    from emotiondesk.usecases.analytics import scan_surges
    from emotiondesk.usecases.import_archive import import_archive

    write_jsonl(generate_reviews(n=n), path)
    report = import_archive(
        path, analyzer=app.state.analyzer, sessions=app.state.sessions, source="demo-reviews"
    )
    with app.state.sessions() as session:
        report.surges = len(scan_surges(session, workspace=DEFAULT_WORKSPACE, by="product_id"))
    return report.to_dict()

"""Aspect-level sentiment for product reviews, in Chinese and English.

Which aspects (price, quality, logistics, service, packaging, size/fit,
battery, taste, ...) a review praises or complains about. The method is
transparent and fast, so it runs on every imported review:

1. split the review into clauses (punctuation and contrast words such as
   但是 / 不过 / but / however);
2. find aspect terms in each clause (a lexicon per aspect, per language;
   :data:`CATEGORY_ASPECTS` narrows the aspects to those that make sense for a
   product category);
3. find opinion words (a general lexicon plus aspect-specific senses: 贵 and
   "expensive" are bad for price; 快 and "fast" are good for delivery;
   "cheap" is good for price and bad for quality), flip those preceded by a
   negator within a short window (不 / 没有 / 并不 ..., not / never / n't ...),
   and give each opinion to the nearest aspect term in its clause;
4. a clause's aspect polarity is the sign of its summed opinions; a clause
   with an aspect but no opinion word is neutral, or is labelled by
   ``polarity_fn`` (e.g. the analyzer) when one is given.

The accuracy of this on a hand-labelled sample is in ``docs/BENCHMARKS.md``
(``benchmarks/aspects.py``).

Example:
    >>> [(m.aspect, m.polarity) for m in extract_aspects(["物流很快，但是包装太简陋了"])[0]]
    [('logistics', 'positive'), ('packaging', 'negative')]
    >>> [(m.aspect, m.polarity) for m in extract_aspects(["Great price but the battery is not good"])[0]]
    [('price', 'positive'), ('battery', 'negative')]
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import cast

from emotiondesk.errors import InvalidInputError
from emotiondesk.text import detect_language, to_simplified

PolarityFn = Callable[[list[str]], list[str]]

#: Aspect -> language -> terms that name it.
ASPECT_TERMS: dict[str, dict[str, tuple[str, ...]]] = {
    "price": {
        "zh": ("价格", "价钱", "价位", "性价比", "售价", "这个价", "这价", "价"),
        "en": ("price", "prices", "priced", "pricing", "value for money", "cost", "costs", "money"),
    },
    "quality": {
        "zh": ("质量", "品质", "做工", "材质", "用料", "质感", "工艺", "手感"),
        "en": (
            "quality",
            "build",
            "material",
            "materials",
            "craftsmanship",
            "construction",
            "stitching",
        ),
    },
    "logistics": {
        "zh": (
            "发货速度",
            "物流速度",
            "送货速度",
            "配送速度",
            "快递速度",
            "物流",
            "快递",
            "发货",
            "送货",
            "配送",
            "到货",
            "运输",
            "送达",
            "收到货",
            "派送",
            "快递员",
        ),
        "en": (
            "delivery",
            "shipping",
            "shipped",
            "courier",
            "dispatch",
            "dispatched",
            "parcel",
            "arrived",
            "arrival",
            "delivered",
            "shipment",
        ),
    },
    "service": {
        "zh": ("客服", "服务", "态度", "售后", "商家", "卖家", "店家", "掌柜", "前台"),
        "en": (
            "customer service",
            "service",
            "support",
            "seller",
            "staff",
            "agent",
            "agents",
            "helpdesk",
            "reception",
        ),
    },
    "packaging": {
        "zh": ("包装", "外包装", "盒子", "箱子", "纸箱", "包装盒", "封口"),
        "en": ("packaging", "packaged", "box", "wrapping", "wrapped", "packing", "package"),
    },
    "size_fit": {
        "zh": ("尺码", "尺寸", "码数", "大小", "版型", "合身", "码"),
        "en": ("size", "sizes", "sizing", "fit", "fits", "fitting"),
    },
    "battery": {
        "zh": ("充电速度", "电池", "续航", "待机", "充电", "电量", "耗电", "掉电"),
        "en": ("battery", "battery life", "charge", "charges", "charging", "charger"),
    },
    "taste": {
        "zh": ("味道", "口感", "口味", "吃起来", "喝起来", "甜度"),
        "en": ("taste", "tastes", "tasted", "flavor", "flavour", "flavors", "flavours"),
    },
    "appearance": {
        "zh": ("外观", "颜色", "款式", "样子", "颜值", "外形", "图案"),
        "en": ("look", "looks", "color", "colour", "design", "style", "appearance"),
    },
    "screen": {
        "zh": ("屏幕", "屏", "显示", "分辨率", "画面"),
        "en": ("screen", "display", "resolution"),
    },
    "performance": {
        "zh": ("运行", "系统", "反应", "性能", "速度", "散热", "信号"),
        "en": ("performance", "runs", "speed", "processor", "signal", "software"),
    },
    "sound": {
        "zh": ("音质", "声音", "音效", "噪音"),
        "en": ("sound", "audio", "noise", "volume", "bass"),
    },
    "freshness": {
        "zh": ("保质期", "生产日期", "日期"),
        "en": ("freshness", "expiry", "expiration"),
    },
    "room": {
        "zh": ("房间", "卫生", "早餐", "环境", "位置", "设施", "床"),
        "en": ("room", "rooms", "breakfast", "location", "bed", "facilities", "cleanliness"),
    },
    "content": {
        "zh": ("纸张质量", "内容", "情节", "印刷", "纸张", "翻译", "字迹"),
        "en": (
            "paper quality",
            "content",
            "story",
            "plot",
            "printing",
            "paper",
            "translation",
            "writing",
        ),
    },
}

ASPECT_NAMES: dict[str, dict[str, str]] = {
    "price": {"en": "price", "zh": "价格"},
    "quality": {"en": "quality", "zh": "质量"},
    "logistics": {"en": "logistics / delivery", "zh": "物流"},
    "service": {"en": "customer service", "zh": "客服与服务"},
    "packaging": {"en": "packaging", "zh": "包装"},
    "size_fit": {"en": "size / fit", "zh": "尺码"},
    "battery": {"en": "battery", "zh": "电池续航"},
    "taste": {"en": "taste", "zh": "口味"},
    "appearance": {"en": "appearance", "zh": "外观"},
    "screen": {"en": "screen", "zh": "屏幕"},
    "performance": {"en": "performance", "zh": "性能"},
    "sound": {"en": "sound", "zh": "音质"},
    "freshness": {"en": "freshness", "zh": "新鲜度"},
    "room": {"en": "room / facilities", "zh": "房间与设施"},
    "content": {"en": "content / print", "zh": "内容与印刷"},
}

_COMMON = ("price", "quality", "logistics", "service", "packaging")
_DEVICE = (*_COMMON, "battery", "screen", "performance", "sound", "appearance")
_FOOD = (*_COMMON, "taste", "freshness")
#: Product category -> the aspects reported for it (an unknown category gets all).
CATEGORY_ASPECTS: dict[str, tuple[str, ...]] = {
    # online_shopping_10_cats categories
    "书籍": (*_COMMON, "content"),
    "平板": _DEVICE,
    "手机": _DEVICE,
    "计算机": _DEVICE,
    "水果": _FOOD,
    "蒙牛": _FOOD,
    "洗发水": (*_COMMON, "appearance", "freshness"),
    "热水器": (*_COMMON, "performance", "appearance"),
    "衣服": (*_COMMON, "size_fit", "appearance"),
    "酒店": ("price", "service", "room"),
    # English category names
    "books": (*_COMMON, "content"),
    "electronics": _DEVICE,
    "phone": _DEVICE,
    "tablet": _DEVICE,
    "computer": _DEVICE,
    "grocery": _FOOD,
    "food": _FOOD,
    "fruit": _FOOD,
    "dairy": _FOOD,
    "beauty": (*_COMMON, "appearance"),
    "apparel": (*_COMMON, "size_fit", "appearance"),
    "clothing": (*_COMMON, "size_fit", "appearance"),
    "shoes": (*_COMMON, "size_fit", "appearance"),
    "kitchen": (*_COMMON, "performance", "appearance"),
    "home": (*_COMMON, "appearance"),
    "hotel": ("price", "service", "room"),
}

# -- opinion lexicons (weights: +1 good, -1 bad) ----------------------------------------

_ZH_POS = [
    "好",
    "很好",
    "不错",
    "满意",
    "喜欢",
    "很棒",
    "棒",
    "赞",
    "完美",
    "精致",
    "舒服",
    "舒适",
    "干净",
    "方便",
    "推荐",
    "好评",
    "超值",
    "给力",
    "及时",
    "到位",
    "漂亮",
    "好看",
    "合适",
    "合身",
    "结实",
    "耐用",
    "新鲜",
    "好吃",
    "好喝",
    "香",
    "流畅",
    "清晰",
    "热情",
    "耐心",
    "周到",
    "专业",
    "实惠",
    "划算",
    "便宜",
    "值",
    "值得",
    "优秀",
    "一流",
    "靠谱",
    "严实",
    "完好",
    "完整",
    "挺好",
    "还行",
    "可以",
    "物美价廉",
    "物超所值",
    "准时",
    "迅速",
    "神速",
    "细致",
    "友好",
    "贴心",
    "满分",
    "正品",
    "舒心",
    "惊喜",
    "好用",
    "顺滑",
    "柔软",
    "清爽",
    "快",
    "很快",
    "飞快",
    "安静",
    "大气",
    "高端",
    "清楚",
    "耐心",
    "负责",
    "爽",
    "鲜",
    "甜",
    "美味",
    "可口",
    "高清",
    "灵敏",
    "精美",
    "牢固",
    "厚实",
    "扎实",
    "省电",
    "持久",
    "整洁",
    "宽敞",
    "实在",
    "良心",
    "用心",
    "不卡",
    "强",
    "精彩",
    "新颖",
    "细腻",
    "一样",
    "齐全",
    "高效",
    "值得",
]
_ZH_NEG = [
    "差",
    "很差",
    "太差",
    "不好",
    "烂",
    "垃圾",
    "失望",
    "糟糕",
    "坑",
    "破",
    "碎",
    "坏",
    "脏",
    "难吃",
    "难喝",
    "难看",
    "不值",
    "差劲",
    "恶劣",
    "敷衍",
    "卡",
    "卡顿",
    "发热",
    "发烫",
    "掉色",
    "起球",
    "异味",
    "臭",
    "假货",
    "后悔",
    "简陋",
    "破损",
    "漏",
    "拖",
    "延迟",
    "晚",
    "磨损",
    "变质",
    "烂了",
    "不理",
    "无语",
    "慢",
    "贵",
    "偏贵",
    "太贵",
    "坑人",
    "骗",
    "粗糙",
    "劣质",
    "一般",
    "瑕疵",
    "毛病",
    "问题",
    "故障",
    "死机",
    "闪退",
    "黑屏",
    "褪色",
    "开线",
    "线头",
    "变形",
    "不合适",
    "偏大",
    "偏小",
    "太大",
    "太小",
    "刺鼻",
    "酸",
    "苦",
    "霉",
    "腐烂",
    "过期",
    "不新鲜",
    "慢吞吞",
    "拖拉",
    "漏液",
    "压扁",
    "压坏",
    "磕碰",
    "凹",
    "划痕",
    "不耐用",
    "失灵",
    "吵",
    "噪音大",
    "模糊",
    "暗",
    "冷漠",
    "傲慢",
    "推脱",
    "不负责",
    "不专业",
    "态度差",
    "爱答不理",
    "没人理",
    "慢死了",
    "差评",
    "退货",
    "坑爹",
    "忽悠",
    "缩水",
    "残次",
    "破洞",
    "发黄",
    "潮湿",
    "嘈杂",
    "陈旧",
    "老旧",
    "毛刺",
    "怪",
    "色差",
    "坏点",
    "污渍",
    "生硬",
    "错别字",
    "少",
]
_EN_POS = [
    "good",
    "great",
    "excellent",
    "perfect",
    "love",
    "loved",
    "loves",
    "amazing",
    "awesome",
    "nice",
    "fantastic",
    "wonderful",
    "happy",
    "pleased",
    "satisfied",
    "recommend",
    "recommended",
    "fast",
    "quick",
    "quickly",
    "speedy",
    "prompt",
    "helpful",
    "friendly",
    "polite",
    "patient",
    "professional",
    "responsive",
    "sturdy",
    "solid",
    "durable",
    "well-made",
    "comfortable",
    "soft",
    "beautiful",
    "pretty",
    "gorgeous",
    "lovely",
    "elegant",
    "affordable",
    "reasonable",
    "bargain",
    "fresh",
    "delicious",
    "tasty",
    "yummy",
    "crisp",
    "clear",
    "bright",
    "smooth",
    "flawless",
    "intact",
    "secure",
    "secured",
    "neat",
    "clean",
    "spacious",
    "quiet",
    "impressive",
    "superb",
    "outstanding",
    "decent",
    "fine",
    "reliable",
    "worth",
    "on-time",
    "accurate",
    "generous",
    "cute",
    "stylish",
    "premium",
    "long-lasting",
    "lasts",
    "better",
    "gripping",
    "rich",
    "sharp",
    "gorgeous",
]
_EN_NEG = [
    "bad",
    "poor",
    "terrible",
    "awful",
    "horrible",
    "disappointing",
    "disappointed",
    "disappoint",
    "worst",
    "useless",
    "rude",
    "unhelpful",
    "slow",
    "late",
    "delayed",
    "damaged",
    "broken",
    "broke",
    "crushed",
    "dented",
    "torn",
    "ripped",
    "leaked",
    "leaking",
    "flimsy",
    "cheaply",
    "overpriced",
    "expensive",
    "pricey",
    "uncomfortable",
    "tight",
    "loose",
    "itchy",
    "ugly",
    "faded",
    "stale",
    "bland",
    "rotten",
    "spoiled",
    "expired",
    "moldy",
    "mouldy",
    "sour",
    "bitter",
    "blurry",
    "dim",
    "laggy",
    "lag",
    "lags",
    "crashes",
    "crashed",
    "freezes",
    "noisy",
    "dirty",
    "smelly",
    "defective",
    "faulty",
    "fake",
    "scratched",
    "missing",
    "wrong",
    "lost",
    "ignored",
    "dies",
    "died",
    "drains",
    "junk",
    "garbage",
    "rubbish",
    "mediocre",
    "meh",
    "worse",
    "annoying",
    "unacceptable",
    "sloppy",
    "shoddy",
    "disgusting",
    "gross",
    "unresponsive",
    "refund",
    "returned",
    "problem",
    "problems",
    "issue",
    "issues",
    "overheats",
    "overheating",
    "outdated",
    "tinny",
    "weeks",
    "buzzing",
]
#: Multi-word or aspect-free phrases (matched before single words).
_ZH_PHRASES = {
    "物美价廉": 1.0,
    "物超所值": 1.0,
    "性价比高": 1.0,
    "性价比低": -1.0,
    "性价比很高": 1.0,
    "性价比超高": 1.0,
    "不值这个价": -1.0,
    "不值": -1.0,
    "没得说": 1.0,
    "没话说": 1.0,
    "没毛病": 1.0,
    "没问题": 1.0,
    "没有问题": 1.0,
    "没有异味": 1.0,
    "没有破损": 1.0,
    "无破损": 1.0,
    "无异味": 1.0,
    "完好无损": 1.0,
    "不错": 1.0,
    "不卡": 1.0,
    "不好": -1.0,
    "不行": -1.0,
    "不满意": -1.0,
    "不合适": -1.0,
    "不合身": -1.0,
    "不耐用": -1.0,
    "不新鲜": -1.0,
    "不清晰": -1.0,
    "掉电快": -1.0,
    "耗电快": -1.0,
    "充电快": 1.0,
    "充电慢": -1.0,
    "掉电慢": 1.0,
    "续航长": 1.0,
    "续航短": -1.0,
    "续航差": -1.0,
    "一分钱一分货": 0.0,
    "不怎么样": -1.0,
    "很一般": -1.0,
    "太一般": -1.0,
    "不够": -1.0,
    "有点大": -1.0,
    "有点小": -1.0,
    "有点贵": -1.0,
    "有点慢": -1.0,
    "正合适": 1.0,
    "刚刚好": 1.0,
    "刚好": 1.0,
    "不太行": -1.0,
    "不准": -1.0,
    "不一样": -1.0,
    "不舒服": -1.0,
    "好几": 0.0,
    "好多": 0.0,
    "不更新": -1.0,
    "催了": -1.0,
    "涨价": -1.0,
    "差别很大": -1.0,
    "偏大": -1.0,
    "偏小": -1.0,
    "太大": -1.0,
    "太小": -1.0,
}
_EN_PHRASES = {
    "a joke": -1.0,
    "value for money": 1.0,
    "waste of money": -1.0,
    "not worth": -1.0,
    "worth the money": 1.0,
    "worth every penny": 1.0,
    "fell apart": -1.0,
    "falls apart": -1.0,
    "on time": 1.0,
    "ahead of schedule": 1.0,
    "too small": -1.0,
    "too big": -1.0,
    "too large": -1.0,
    "too tight": -1.0,
    "too loose": -1.0,
    "too long": -1.0,
    "too short": -1.0,
    "runs small": -1.0,
    "runs large": -1.0,
    "runs big": -1.0,
    "true to size": 1.0,
    "fits perfectly": 1.0,
    "fits well": 1.0,
    "fit perfectly": 1.0,
    "fit well": 1.0,
    "all day": 1.0,
    "drains fast": -1.0,
    "drains quickly": -1.0,
    "dies quickly": -1.0,
    "charges fast": 1.0,
    "charges quickly": 1.0,
    "took forever": -1.0,
    "takes forever": -1.0,
    "never arrived": -1.0,
    "never came": -1.0,
    "no problem": 1.0,
    "no problems": 1.0,
    "no issues": 1.0,
    "no complaints": 1.0,
    "could be better": -1.0,
    "could have been better": -1.0,
    "not bad": 1.0,
    "a rip-off": -1.0,
    "rip-off": -1.0,
    "rip off": -1.0,
    "so-so": -1.0,
    "went above and beyond": 1.0,
    "above and beyond": 1.0,
    "well packed": 1.0,
    "well packaged": 1.0,
    "well made": 1.0,
    "well-made": 1.0,
    "poorly made": -1.0,
    "badly made": -1.0,
    "badly packed": -1.0,
    "poorly packed": -1.0,
    "hung up": -1.0,
    "no response": -1.0,
    "no reply": -1.0,
    "over the top": 0.0,
    "nothing special": -1.0,
    "can't complain": 1.0,
    "cannot complain": 1.0,
    "dead pixels": -1.0,
    "dead pixel": -1.0,
    "different from the": -1.0,
    "not as described": -1.0,
    "as described": 1.0,
    "hold a charge": 1.0,
    "holds a charge": 1.0,
    "solved my problem": 1.0,
    "solved the problem": 1.0,
    "fixed the problem": 1.0,
    "resolved the issue": 1.0,
    "resolved my issue": 1.0,
    "went up": -1.0,
}
#: Senses tied to one aspect term (性价比高 is good although 价格高 is bad).
_TERM_SENSES: dict[str, dict[str, float]] = {
    "性价比": {"高": 1.0, "低": -1.0, "很高": 1.0, "超高": 1.0},
    "value for money": {"great": 1.0, "good": 1.0, "poor": -1.0, "bad": -1.0},
    "充电": {"快": 1.0, "慢": -1.0},
    "charges": {"quickly": 1.0, "fast": 1.0, "slowly": -1.0},
    "charging": {"quick": 1.0, "fast": 1.0, "quickly": 1.0, "slow": -1.0},
}
#: Aspect-specific senses that override the general lexicon.
_ASPECT_SENSES: dict[str, dict[str, float]] = {
    "appearance": {"高": 1.0, "cheap": -1.0, "cheaply": -1.0},
    "content": {"nice": 1.0},
    "freshness": {"新": 1.0, "近": -1.0},
    "price": {
        "便宜": 1.0,
        "贵": -1.0,
        "高": -1.0,
        "低": 1.0,
        "实惠": 1.0,
        "合理": 1.0,
        "划算": 1.0,
        "cheap": 1.0,
        "cheaper": 1.0,
        "high": -1.0,
        "low": 1.0,
        "steep": -1.0,
        "reasonable": 1.0,
        "great": 1.0,
        "good": 1.0,
    },
    "quality": {
        "高": 1.0,
        "低": -1.0,
        "cheap": -1.0,
        "high": 1.0,
        "low": -1.0,
        "便宜": -1.0,
        "cheaply": -1.0,
    },
    "logistics": {
        "快": 1.0,
        "慢": -1.0,
        "fast": 1.0,
        "quick": 1.0,
        "slow": -1.0,
        "early": 1.0,
        "long": -1.0,
        "久": -1.0,
        "早": 1.0,
        "及时": 1.0,
        "forever": -1.0,
        "arrived": 1.0,
        "came": 1.0,
    },
    "battery": {
        "长": 1.0,
        "短": -1.0,
        "久": 1.0,
        "快": -1.0,
        "long": 1.0,
        "short": -1.0,
        "fast": -1.0,
        "quickly": -1.0,
        "耐用": 1.0,
        "lasts": 1.0,
    },
    "size_fit": {
        "大": -1.0,
        "小": -1.0,
        "标准": 1.0,
        "正": 1.0,
        "small": -1.0,
        "big": -1.0,
        "large": -1.0,
        "perfect": 1.0,
        "perfectly": 1.0,
    },
    "taste": {"甜": 1.0, "香": 1.0, "浓": 1.0, "淡": -1.0, "酸": -1.0, "sweet": 1.0, "sour": -1.0},
    "service": {
        "快": 1.0,
        "慢": -1.0,
        "fast": 1.0,
        "quick": 1.0,
        "slow": -1.0,
        "replied": 1.0,
        "responded": 1.0,
        "answered": 1.0,
        "solved": 1.0,
        "resolved": 1.0,
        "helped": 1.0,
    },
    "performance": {
        "快": 1.0,
        "慢": -1.0,
        "fast": 1.0,
        "quick": 1.0,
        "slow": -1.0,
        "热": -1.0,
        "hot": -1.0,
        "强": 1.0,
        "弱": -1.0,
    },
    "screen": {"大": 1.0, "亮": 1.0, "暗": -1.0, "bright": 1.0, "dim": -1.0, "sharp": 1.0},
    "sound": {"大": 1.0, "小": -1.0, "loud": 1.0, "quiet": -1.0, "tinny": -1.0, "clear": 1.0},
    "room": {"大": 1.0, "小": -1.0, "small": -1.0, "tiny": -1.0, "big": 1.0, "noisy": -1.0},
}

#: Opinion phrases that name their aspect themselves ("偏大" is about size, "overpriced" about price).
_IMPLICIT: dict[str, list[tuple[str, tuple[str, float]]]] = {
    "zh": sorted(
        [
            (w, ("size_fit", -1.0))
            for w in (
                "偏大",
                "偏小",
                "太大了",
                "太小了",
                "有点大",
                "有点小",
                "大了一码",
                "小了一码",
                "不合身",
            )
        ]
        + [(w, ("size_fit", 1.0)) for w in ("合身", "大小合适", "大小正好", "不大不小")]
        + [
            (w, ("price", -1.0))
            for w in ("太贵", "偏贵", "有点贵", "贵了", "不值", "不划算", "坑钱")
        ]
        + [
            (w, ("price", 1.0))
            for w in ("便宜", "实惠", "划算", "物美价廉", "物超所值", "超值", "值这个价", "价廉")
        ]
        + [(w, ("taste", 1.0)) for w in ("好吃", "好喝", "美味", "可口", "香甜")]
        + [(w, ("taste", -1.0)) for w in ("难吃", "难喝", "没味", "寡淡")]
        + [(w, ("battery", -1.0)) for w in ("掉电快", "耗电快", "不耐用电")]
        + [(w, ("freshness", -1.0)) for w in ("不新鲜", "烂了", "坏了好几个", "发霉", "过期")]
        + [(w, ("freshness", 1.0)) for w in ("新鲜",)],
        key=lambda x: -len(x[0]),
    ),
    "en": sorted(
        [
            (w, ("size_fit", -1.0))
            for w in (
                "runs small",
                "runs large",
                "runs big",
                "too small",
                "too big",
                "too large",
                "too tight",
                "too loose",
            )
        ]
        + [
            (w, ("size_fit", 1.0))
            for w in ("true to size", "fits perfectly", "fits well", "fits great")
        ]
        + [
            (w, ("price", -1.0))
            for w in (
                "overpriced",
                "expensive",
                "pricey",
                "rip-off",
                "rip off",
                "waste of money",
                "not worth the money",
            )
        ]
        + [
            (w, ("price", 1.0))
            for w in (
                "affordable",
                "bargain",
                "worth the money",
                "worth every penny",
                "inexpensive",
            )
        ]
        + [(w, ("taste", 1.0)) for w in ("delicious", "tasty", "yummy")]
        + [(w, ("taste", -1.0)) for w in ("bland", "tasteless")]
        + [(w, ("quality", 1.0)) for w in ("well made", "well-made", "well built")]
        + [
            (w, ("quality", -1.0))
            for w in ("poorly made", "badly made", "falls apart", "fell apart")
        ]
        + [(w, ("performance", -1.0)) for w in ("lags", "laggy", "freezes", "keeps crashing")]
        + [(w, ("battery", 1.0)) for w in ("hold a charge", "holds a charge", "holds its charge")]
        + [
            (w, ("logistics", -1.0))
            for w in (
                "never arrived",
                "never came",
                "never delivered",
                "not arrived",
                "not delivered",
            )
        ]
        + [(w, ("freshness", 1.0)) for w in ("fresh",)],
        key=lambda x: -len(x[0]),
    ),
}

_ZH_NEGATORS = (
    "不是很",
    "并不",
    "并没有",
    "没有",
    "不太",
    "不怎么",
    "不够",
    "毫无",
    "从不",
    "从没",
    "不",
    "没",
    "无",
    "别",
    "未",
)
_EN_NEGATORS = {
    "not",
    "no",
    "never",
    "n't",
    "hardly",
    "barely",
    "isn't",
    "wasn't",
    "aren't",
    "weren't",
    "don't",
    "didn't",
    "doesn't",
    "won't",
    "can't",
    "couldn't",
    "without",
    "nothing",
    "nor",
    "neither",
    "cannot",
}
_ZH_CONTRAST = ("但是", "可是", "不过", "然而", "只是", "就是有点", "但", "可惜", "除了")
_EN_CONTRAST = ("but", "however", "although", "though", "except", "yet", "whereas")

_CLAUSE_SPLIT = re.compile(r"[，。！？；、,.!?;:：~～\n\r…]+|\s-\s")
_EN_TOKEN = re.compile(r"[a-z]+(?:[-'][a-z]+)*|n't")
_ZH_NEG_WINDOW = 4
_EN_NEG_WINDOW = 3


@dataclass(frozen=True, slots=True)
class OpinionSpan:
    """An opinion about an aspect: its words (with the negator, if any) and offsets.

    ``polarity`` is the opinion's reading after negation (没有破损: positive);
    ``negated`` says a negator turned it (没有破损, 不贵, "not bad at all").
    ``start``/``end`` are character offsets into the text as given.
    """

    text: str
    start: int
    end: int
    polarity: str
    negated: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "polarity": self.polarity,
            "negated": self.negated,
        }


@dataclass(frozen=True, slots=True)
class AspectMention:
    """One aspect mentioned in one clause of one text.

    ``start``/``end``: the aspect term's offsets in the text (-1: not located,
    e.g. an implicit aspect); ``opinion_spans``: its opinions with offsets.
    """

    aspect: str
    polarity: str
    score: float
    term: str
    clause: str
    text_index: int
    opinions: tuple[str, ...] = ()
    start: int = -1
    end: int = -1
    opinion_spans: tuple[OpinionSpan, ...] = ()

    @property
    def negated(self) -> bool:
        """Some opinion about the aspect is negated."""
        return any(o.negated for o in self.opinion_spans)

    def to_dict(self) -> dict[str, object]:
        return {
            "aspect": self.aspect,
            "polarity": self.polarity,
            "score": self.score,
            "term": self.term,
            "clause": self.clause,
            "text_index": self.text_index,
            "opinions": list(self.opinions),
            "start": self.start,
            "end": self.end,
            "negated": self.negated,
            "opinion_spans": [o.to_dict() for o in self.opinion_spans],
        }


@dataclass(frozen=True, slots=True)
class AspectSummary:
    """Counts and examples for one aspect over many texts."""

    aspect: str
    n: int
    positive: int
    negative: int
    neutral: int
    positive_examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()

    @property
    def net(self) -> float:
        """(positive - negative) / mentions, in [-1, 1]."""
        return (self.positive - self.negative) / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "aspect": self.aspect,
            "name": ASPECT_NAMES.get(self.aspect, {"en": self.aspect, "zh": self.aspect}),
            "n": self.n,
            "positive": self.positive,
            "negative": self.negative,
            "neutral": self.neutral,
            "net": self.net,
            "positive_examples": list(self.positive_examples),
            "negative_examples": list(self.negative_examples),
        }


@dataclass
class _Lexicon:
    terms: list[tuple[str, str]]  # (term, aspect), longest first
    opinions: list[tuple[str, float]]  # longest first
    general: dict[str, float] = field(default_factory=dict)


def _build_lexicon(lang: str) -> _Lexicon:
    terms = sorted(
        ((t, a) for a, by_lang in ASPECT_TERMS.items() for t in by_lang[lang]),
        key=lambda x: -len(x[0]),
    )
    if lang == "zh":
        general = {w: 1.0 for w in _ZH_POS} | {w: -1.0 for w in _ZH_NEG} | _ZH_PHRASES
    else:
        general = {w: 1.0 for w in _EN_POS} | {w: -1.0 for w in _EN_NEG} | _EN_PHRASES
    opinions = sorted(general.items(), key=lambda x: -len(x[0]))
    return _Lexicon(terms=terms, opinions=opinions, general=general)


_LEXICONS = {lang: _build_lexicon(lang) for lang in ("zh", "en")}


def split_clauses(text: str, language: str) -> list[str]:
    """Clauses of a review: punctuation boundaries, then contrast words (但是, but, ...)."""
    parts = [p.strip() for p in _CLAUSE_SPLIT.split(text) if p and p.strip()]
    out: list[str] = []
    for part in parts:
        if language == "zh":
            pattern = "|".join(re.escape(w) for w in _ZH_CONTRAST)
            pieces = re.split(f"(?=(?:{pattern}))", part)
        else:
            pattern = "|".join(_EN_CONTRAST)
            pieces = re.split(rf"\b(?=(?:{pattern})\b)", part, flags=re.IGNORECASE)
        out.extend(p.strip() for p in pieces if p.strip())
    return out


@lru_cache(maxsize=512)
def _pattern(
    entries: tuple[tuple[str, object], ...], words: bool
) -> tuple[re.Pattern[str], dict[str, object]]:
    """One alternation of all terms, longest first (leftmost-longest matching)."""
    values: dict[str, object] = {}
    for term, value in entries:
        values.setdefault(term, value)
    alts = "|".join(re.escape(t) for t in sorted(values, key=lambda t: (-len(t), t)))
    if words:
        return re.compile(rf"(?<![a-z])(?:{alts})(?![a-z])"), values
    return re.compile(f"(?:{alts})"), values


def _find_spans(
    text: str,
    entries: Iterable[tuple[str, object]],
    *,
    words: bool,
    taken: list[bool] | None = None,
) -> list[tuple[int, int, str, object]]:
    """Non-overlapping matches (leftmost, longest), as (start, end, term, value).

    ``taken`` marks characters already matched (updated in place); they are
    masked out before matching.
    """
    entries = tuple(entries)
    if not entries or not text:
        return []
    taken = taken if taken is not None else [False] * len(text)
    pattern, values = _pattern(entries, words)
    masked = (
        "".join("\x00" if t else ch for ch, t in zip(text, taken, strict=True))
        if any(taken)
        else text
    )
    spans = []
    for m in pattern.finditer(masked):
        s, e = m.span()
        for i in range(s, e):
            taken[i] = True
        spans.append((s, e, m.group(), values[m.group()]))
    return spans


_ZH_COMPARATIVE_NEG = re.compile(
    r"(没有|没|不如|不像|并非)[^，。！？]{0,8}?(那么|那样|这么|想象中|想象的|宣传的|描述的|说的)"
)


def _negated_zh(clause: str, start: int, term: str, other: Sequence[tuple[int, int]] = ()) -> bool:
    if term.startswith(("不", "没", "无")):
        return False  # the phrase carries its own negation (不错, 没问题)
    lo = max(0, start - _ZH_NEG_WINDOW)
    # characters of other matched opinions (不大不小正合适) do not negate
    window = "".join(
        ch for i, ch in enumerate(clause[lo:start], lo) if not any(a <= i < b for a, b in other)
    )
    # "不太好" / "并不快"; but not "不但" / "不仅" / "不少"
    for w in ("不但", "不仅", "不少", "无论", "不管"):
        window = window.replace(w, "")
    if any(n in window for n in _ZH_NEGATORS):
        return True
    # "没有想象中好" / "并没有宣传的那么好"
    return bool(_ZH_COMPARATIVE_NEG.search(clause[:start]))


def _negated_en(tokens: list[tuple[int, int, str]], start: int, term: str) -> bool:
    if term.split()[0] in _EN_NEGATORS:
        return False
    before = [t for s, _e, t in tokens if s < start][-_EN_NEG_WINDOW:]
    return any(t in _EN_NEGATORS or t.endswith("n't") for t in before)


#: Opinions an aspect-less clause may pass on to the aspect of the clause before it
#: (包装很严实，没有破损: the damage is the packaging's).
_FOLLOW_ON: dict[str, set[str]] = {
    "packaging": {"破损", "压坏", "变形", "完好", "严实", "damaged", "crushed", "dented", "intact"},
    "logistics": {"破损", "压坏", "丢件", "damaged", "lost", "late", "delayed"},
}

#: (clause-local start, end, polarity label, negated) of one opinion.
_OpSpan = tuple[int, int, str, bool]


def _negator_start(low: str, tokens: list[tuple[int, int, str]], start: int, lang: str) -> int:
    """Where the negator of the opinion at ``start`` begins (``start`` if none is found)."""
    if lang == "zh":
        lo = max(0, start - _ZH_NEG_WINDOW)
        best = -1
        for n in _ZH_NEGATORS:
            k = low.rfind(n, lo, start)
            if k >= 0 and (best < 0 or k < best):
                best = k
        if best >= 0:
            return best
        m = _ZH_COMPARATIVE_NEG.search(low[:start])
        return m.start() if m else start
    before = [(s, t) for s, _e, t in tokens if s < start][-_EN_NEG_WINDOW:]
    for s, t in before:
        if t in _EN_NEGATORS or t.endswith("n't"):
            return s
    return start


def _self_negated(term: str, value: float, lang: str) -> bool:
    """A phrase that carries its own negator over an opinion word (没有破损, 不贵, "not bad")."""
    general = _LEXICONS[lang].general
    if lang == "zh":
        for n in sorted(_ZH_NEGATORS, key=len, reverse=True):
            if term.startswith(n) and len(term) > len(n):
                rest = term[len(n) :]
                base = general.get(rest)
                if base is None:
                    base = next((v.get(rest) for v in _ASPECT_SENSES.values() if rest in v), None)
                return base is not None and base * value < 0
        return False
    words = term.split()
    if len(words) > 1 and words[0] in _EN_NEGATORS:
        base = general.get(words[1])
        return base is not None and base * value < 0
    return False


def _base_word(term: str, lang: str) -> str:
    """An opinion phrase without its leading negator (没有破损 -> 破损, "not bad" -> bad)."""
    if lang == "zh":
        for n in sorted(_ZH_NEGATORS, key=len, reverse=True):
            if term.startswith(n) and len(term) > len(n):
                return term[len(n) :]
        return term
    words = term.split()
    return words[-1] if len(words) > 1 and words[0] in _EN_NEGATORS else term


def _clause_mentions(
    clause: str, language: str, allowed: set[str] | None
) -> list[tuple[str, str, float, list[str]]]:
    """(aspect, term, summed opinion, opinion words) for the aspects named in ``clause``."""
    return [m[:4] for m in _clause_mentions_located(clause, language, allowed)]  # type: ignore[misc]


def _clause_mentions_located(
    clause: str, language: str, allowed: set[str] | None
) -> list[tuple[str, str, float, list[str], tuple[int, int], list[_OpSpan]]]:
    """As :func:`_clause_mentions`, with the term's and the opinions' clause offsets."""
    lex = _LEXICONS[language]
    low = clause.lower() if language == "en" else clause
    words = language == "en"
    taken = [False] * len(low)
    implicit = [
        sp
        for sp in _find_spans(low, _IMPLICIT[language], words=words, taken=taken)
        if allowed is None or sp[3][0] in allowed  # type: ignore[index]
    ]
    aspect_spans = [
        sp
        for sp in _find_spans(low, lex.terms, words=words, taken=taken)
        if allowed is None or sp[3] in allowed
    ]
    if not aspect_spans and not implicit:
        return []
    opinion_entries = list(lex.opinions)
    # aspect-specific single words, matched too so that e.g. 高 / "cheap" are seen
    extra = {w for a in {sp[3] for sp in aspect_spans} for w in _ASPECT_SENSES.get(str(a), {})}
    extra |= {w for sp in aspect_spans for w in _TERM_SENSES.get(sp[2], {})}
    opinion_entries += sorted(
        ((w, 0.0) for w in extra if w not in lex.general), key=lambda x: -len(x[0])
    )
    opinion_spans = (
        _find_spans(low, opinion_entries, words=words, taken=taken) if aspect_spans else []
    )
    tokens = [(m.start(), m.end(), m.group()) for m in _EN_TOKEN.finditer(low)] if words else []
    result: dict[str, tuple[str, float, list[str]]] = {}
    where: dict[str, tuple[int, int]] = {}
    located: dict[str, list[_OpSpan]] = defaultdict(list)
    for _s, _e, term, aspect in aspect_spans:
        result.setdefault(str(aspect), (term, 0.0, []))
        where.setdefault(str(aspect), (_s, _e))
    for s, e, term, value in implicit:
        aspect, weight = cast(tuple[str, float], value)
        others = [(a, b) for a, b, _t, _v in implicit if (a, b) != (s, e)]
        negated = (
            _negated_zh(low, s, term, others) if language == "zh" else _negated_en(tokens, s, term)
        )
        w = -weight if negated else weight
        where.setdefault(aspect, (s, e))
        start = _negator_start(low, tokens, s, language) if negated else s
        located[aspect].append((start, e, _label(w), negated or _self_negated(term, w, language)))
        t, total, ops = result.get(aspect, (term, 0.0, []))
        result[aspect] = (
            t,
            total + w,
            [*ops, ("不" if language == "zh" else "not ") + term if negated else term],
        )
    for s, e, term, value in opinion_spans:
        # nearest aspect term; zh opinions usually follow their aspect, en ones precede or follow
        def distance(sp: tuple[int, int, str, object], s: int = s, e: int = e) -> tuple[int, int]:
            gap = s - sp[1] if sp[1] <= s else sp[0] - e
            after = 0 if sp[1] <= s else 1
            return (gap, after)

        best = min(aspect_spans, key=distance)
        aspect = str(best[3])
        weight = _TERM_SENSES.get(best[2], {}).get(
            term,
            _ASPECT_SENSES.get(aspect, {}).get(term, float(value)),  # type: ignore[arg-type]
        )
        if weight == 0.0:
            continue
        others = [(a, b) for a, b, _t, _v in [*opinion_spans, *implicit] if (a, b) != (s, e)]
        negated = (
            _negated_zh(low, s, term, others) if language == "zh" else _negated_en(tokens, s, term)
        )
        if negated:
            weight = -weight
        start = _negator_start(low, tokens, s, language) if negated else s
        located[aspect].append(
            (start, e, _label(weight), negated or _self_negated(term, weight, language))
        )
        t, total, ops = result[aspect]
        result[aspect] = (
            t,
            total + weight,
            [*ops, ("不" if language == "zh" else "not ") + term if negated else term],
        )
    return [
        (a, t, total, ops, where.get(a, (-1, -1)), located.get(a, []))
        for a, (t, total, ops) in result.items()
    ]


def _clause_polarity(clause: str, language: str) -> tuple[float, list[str]]:
    """Summed general opinion of a clause that names no aspect (for carrying over)."""
    total, ops, _spans = _clause_polarity_located(clause, language)
    return total, ops


def _clause_polarity_located(
    clause: str, language: str
) -> tuple[float, list[str], list[tuple[int, int, str, bool, str, float]]]:
    """:func:`_clause_polarity` with each opinion's (start, end, label, negated, term, value)."""
    lex = _LEXICONS[language]
    low = clause.lower() if language == "en" else clause
    spans = _find_spans(low, lex.opinions, words=language == "en")
    tokens = (
        [(m.start(), m.end(), m.group()) for m in _EN_TOKEN.finditer(low)]
        if language == "en"
        else []
    )
    total, ops = 0.0, []
    located = []
    for s, e, term, value in spans:
        others = [(a, b) for a, b, _t, _v in spans if (a, b) != (s, e)]
        neg = (
            _negated_zh(low, s, term, others) if language == "zh" else _negated_en(tokens, s, term)
        )
        v = -float(value) if neg else float(value)  # type: ignore[arg-type]
        total += v
        ops.append(("不" if language == "zh" else "not ") + term if neg else term)
        start = _negator_start(low, tokens, s, language) if neg else s
        located.append((start, e, _label(v), neg or _self_negated(term, v, language), term, v))
    return total, ops, located


def _label(total: float) -> str:
    return "positive" if total > 0 else "negative" if total < 0 else "neutral"


def extract_aspects(
    texts: Sequence[str],
    *,
    language: str = "auto",
    category: str | None = None,
    polarity_fn: PolarityFn | None = None,
) -> list[list[AspectMention]]:
    """Aspect mentions per text (one list per input, in order).

    Args:
        texts: reviews or messages.
        language: ``zh``, ``en`` or ``auto`` (detected per text).
        category: a product category; if it is in :data:`CATEGORY_ASPECTS`, only its
            aspects are reported.
        polarity_fn: labels clauses that name an aspect but hold no opinion word
            (e.g. ``lambda cl: [r.polarity for r in analyzer.analyze(cl)]``);
            without it such clauses are neutral.
    """
    if language not in ("auto", "zh", "en"):
        raise InvalidInputError(f"unknown language {language!r}; use auto, zh or en")
    allowed = set(CATEGORY_ASPECTS[category]) if category in CATEGORY_ASPECTS else None
    out: list[list[AspectMention]] = []
    undecided: list[tuple[int, int]] = []  # (text index, mention index)
    for i, raw in enumerate(texts):
        original = raw or ""
        text = to_simplified(original)
        lang = detect_language(text) if language == "auto" else language
        lang = lang if lang in ("zh", "en") else "en"
        mentions: list[AspectMention] = []
        cursor = 0
        previous: list[int] = []  # the mentions of the clause just before
        for clause in split_clauses(text, lang):
            base = text.find(clause, cursor)
            if base < 0:  # pragma: no cover - clauses are pieces of the text, in order
                base = cursor
            cursor = base + len(clause)

            def spans(
                located: Iterable[tuple[int, int, str, bool]],
                base: int = base,
                original: str = original,
            ) -> tuple[OpinionSpan, ...]:
                return tuple(
                    OpinionSpan(original[base + a : base + b], base + a, base + b, pol, neg)
                    for a, b, pol, neg in located
                )

            found = _clause_mentions_located(clause, lang, allowed)
            if not found:
                after, previous = previous, []
                # "尺寸和描述的一样，很合适": an opinion clause right after an aspect
                # clause that had none carries over to that aspect
                if mentions and mentions[-1].text_index == i and not mentions[-1].opinions:
                    total, ops, located = _clause_polarity_located(clause, lang)
                    if ops:
                        extra = spans((a, b, pol, neg) for a, b, pol, neg, _t, _v in located)
                        for k in range(len(mentions) - 1, -1, -1):
                            m = mentions[k]
                            if m.opinions or m.clause != mentions[-1].clause:
                                break
                            mentions[k] = replace(
                                m,
                                polarity=_label(total),
                                score=total,
                                clause=f"{m.clause}，{clause}"
                                if lang == "zh"
                                else f"{m.clause}, {clause}",
                                opinions=tuple(ops),
                                opinion_spans=m.opinion_spans + extra,
                            )
                    continue
                if len(after) == 1:
                    # "包装很严实，没有破损": opinions that belong to the aspect just named
                    m = mentions[after[0]]
                    follow = _FOLLOW_ON.get(m.aspect, set())
                    _total, _ops, located = _clause_polarity_located(clause, lang)
                    kept = [x for x in located if _base_word(x[4], lang) in follow]
                    if kept:
                        score = m.score + sum(x[5] for x in kept)
                        mentions[after[0]] = replace(
                            m,
                            polarity=_label(score),
                            score=score,
                            clause=f"{m.clause}，{clause}"
                            if lang == "zh"
                            else f"{m.clause}, {clause}",
                            opinions=m.opinions + tuple(x[4] for x in kept),
                            opinion_spans=m.opinion_spans
                            + spans((a, b, pol, neg) for a, b, pol, neg, _t, _v in kept),
                        )
                continue
            previous = []
            for aspect, term, total, ops, (ts, te), op_located in found:
                if not ops and polarity_fn is not None:
                    undecided.append((i, len(mentions)))
                previous.append(len(mentions))
                mentions.append(
                    AspectMention(
                        aspect=aspect,
                        polarity=_label(total),
                        score=total,
                        term=term,
                        clause=clause,
                        text_index=i,
                        opinions=tuple(ops),
                        start=base + ts if ts >= 0 else -1,
                        end=base + te if ts >= 0 else -1,
                        opinion_spans=spans(sorted(op_located)),
                    )
                )
        out.append(mentions)
    if undecided and polarity_fn is not None:
        labels = polarity_fn([out[i][j].clause for i, j in undecided])
        for (i, j), label in zip(undecided, labels, strict=True):
            m = out[i][j]
            out[i][j] = replace(m, polarity=label)
    return out


def summarize_aspects(
    mentions: Iterable[Iterable[AspectMention]], *, examples: int = 3
) -> list[AspectSummary]:
    """Per-aspect counts (positive / negative / neutral) and example clauses, most mentioned first."""
    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: {"positive": 0, "negative": 0, "neutral": 0}
    )
    ex: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"positive": [], "negative": []})
    for per_text in mentions:
        for m in per_text:
            counts[m.aspect][m.polarity] += 1
            bucket = ex[m.aspect].get(m.polarity)
            if bucket is not None and len(bucket) < examples and m.clause not in bucket:
                bucket.append(m.clause)
    out = [
        AspectSummary(
            aspect=a,
            n=sum(c.values()),
            positive=c["positive"],
            negative=c["negative"],
            neutral=c["neutral"],
            positive_examples=tuple(ex[a]["positive"]),
            negative_examples=tuple(ex[a]["negative"]),
        )
        for a, c in counts.items()
    ]
    return sorted(out, key=lambda s: (-s.n, s.aspect))

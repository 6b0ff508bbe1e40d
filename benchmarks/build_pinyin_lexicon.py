"""Build ``src/emotiondesk/text/data/pinyin.json``: toneless pinyin -> Chinese words.

Run once when the word list changes (needs ``pypinyin``, a build-time tool only;
the analyzer reads the JSON file and needs no pinyin package at run time):

    python benchmarks/build_pinyin_lexicon.py

Sources: jieba's word list with frequencies (the words most used in Chinese
text) and a short hand-written list of customer-service phrases
(``DOMAIN`` below), which win over general words with the same pinyin. For
each pinyin key the file keeps the most frequent word and its share of the
frequency mass of all words with that key (how sure the reading is).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import jieba
from pypinyin import Style, lazy_pinyin

# Customer-service words and phrases (zh), read before general words with the same pinyin.
DOMAIN = [
    "太差了",
    "太差",
    "太慢了",
    "太慢",
    "很差",
    "很慢",
    "真差",
    "差评",
    "好评",
    "中评",
    "退款",
    "退货",
    "换货",
    "投诉",
    "举报",
    "曝光",
    "客服",
    "物流",
    "快递",
    "发货",
    "质量",
    "包装",
    "垃圾",
    "骗子",
    "骗人",
    "坑人",
    "失望",
    "满意",
    "不满意",
    "喜欢",
    "不喜欢",
    "谢谢",
    "谢谢你",
    "多谢",
    "感谢",
    "很好",
    "非常好",
    "挺好",
    "不错",
    "太好了",
    "太棒了",
    "好用",
    "难用",
    "不好用",
    "坏了",
    "破了",
    "假货",
    "正品",
    "生气",
    "气死了",
    "气死我了",
    "无语",
    "郁闷",
    "难过",
    "开心",
    "高兴",
    "便宜",
    "太贵了",
    "在吗",
    "你好",
    "请问",
    "什么时候",
    "发货了吗",
    "到了吗",
    "怎么办",
    "为什么",
    "还没到",
    "还没发货",
    "没收到",
    "收到了",
    "给个说法",
    "赔偿",
    "不要了",
    "取消订单",
    "有现货吗",
    "有货吗",
    "可以退货吗",
    "可以换吗",
    "运费",
    "包邮",
    "尺码",
    "颜色",
    "推荐",
    "值得",
    "不值",
    "后悔",
    "再也不买了",
    "还会再来",
    "赶紧",
    "马上",
    "立刻",
    "处理",
    "解决",
    "一直",
    "没人",
    "回复",
    "不回复",
    "态度",
    "服务",
    "售后",
    "商家",
    "店家",
    "卖家",
    "亲",
    "好的",
    "知道了",
    "明白了",
    "真的",
    "特别",
    "非常",
    "超级",
    "一点",
    "有点",
    "什么",
    "东西",
    "这个",
    "那个",
    "怎么",
    "回事",
    "怎么回事",
    "我要",
    "我的",
    "你们",
    "他们",
    "还是",
    "已经",
    "就是",
    "很满意",
    "非常满意",
    "很喜欢",
    "很好用",
    "很失望",
    "太失望了",
    "订单",
    "我的订单",
    "到哪了",
    "到哪里了",
    "现货",
    "有现货",
    "退钱",
    "还钱",
    "不行",
    "不好",
    "不能用",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--min-freq", type=int, default=200, help="jieba frequency floor for words")
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "src/emotiondesk/text/data/pinyin.json",
    )
    args = ap.parse_args()
    dict_path = Path(jieba.__file__).parent / "dict.txt"
    freq: dict[str, int] = {}
    for line in dict_path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        word, f = parts[0], int(parts[1])
        if len(word) <= 4 and re.fullmatch(r"[\u4e00-\u9fff]+", word) and f >= args.min_freq:
            freq[word] = f
    top = max(freq.values())
    for w in DOMAIN:
        freq[w] = max(freq.get(w, 0), top // 10)  # domain phrases win over their homophones
    by_key: dict[str, dict[str, int]] = defaultdict(dict)
    for word, f in freq.items():
        syl = lazy_pinyin(word, style=Style.NORMAL, errors="ignore", v_to_u=False)
        if len(syl) != len(word) or not all(re.fullmatch(r"[a-z]+", s) for s in syl):
            continue
        by_key[" ".join(syl)][word] = f
    words: dict[str, list[object]] = {}
    for key, cands in by_key.items():
        best = max(cands, key=lambda w: cands[w])
        share = cands[best] / sum(cands.values())
        words[key] = [best, round(share, 3), round(cands[best] / top, 6)]
    syllables = sorted({s for key in words for s in key.split()})
    args.out.write_text(
        json.dumps(
            {
                "source": f"jieba dict.txt (frequency >= {args.min_freq}) + customer-service phrases; "
                "pinyin by pypinyin (benchmarks/build_pinyin_lexicon.py)",
                "syllables": syllables,
                "words": dict(sorted(words.items())),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ),
        encoding="utf-8",
    )
    print(f"{len(words)} pinyin keys, {len(syllables)} syllables -> {args.out}")


if __name__ == "__main__":
    main()

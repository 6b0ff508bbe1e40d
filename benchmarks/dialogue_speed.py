"""Per-turn processing time of the conversation engine (analysis + context + risk + policy + replies).

Plays scripted zh and en service conversations through
:class:`~emotiondesk.usecases.conversation.ConversationEngine` in-process, one turn at a
time (as the service does), with the analyzer called inside each turn, and
reports p50 / p95 / max milliseconds per customer turn. A 5,000-turn
conversation checks that work per turn stays bounded (p95 of its first and
last 1,000 customer turns). Target: p95 <= 30 ms without the LLM backend.

Needs no data set. ``--model`` picks the pack (default: the shipped one).

    python benchmarks/dialogue_speed.py [--model DIR] [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from emotiondesk.analyzer import load_analyzer
from emotiondesk.usecases.conversation import ConversationEngine

SCRIPTS = {
    "zh": [
        "请问这款手机支持无线充电吗？",
        "我的快递到哪了？单号是多少我忘了",
        "怎么还没到，都等了一个星期了",
        "你们到底怎么回事，物流太慢了，气死我了！",
        "我要退款，这已经是第三次发错货了",
        "包装破了，里面的杯子碎了一个，好失望",
        "算了，给我转人工吧",
        "好的，谢谢，耳机音质很好",
    ],
    "en": [
        "Can I change the delivery address for order 58812?",
        "Where is my package? The tracking has not moved.",
        "The parcel still hasn't arrived after two weeks. This is unacceptable!",
        "I'm worried my payment went through twice, can you check?",
        "Honestly a bit disappointed, the color looks nothing like the photos.",
        "I want a refund, let me talk to a human.",
        "Fine.",
        "Thank you so much, the headphones sound amazing!",
    ],
}
AGENT = {"zh": "好的，我帮您查一下。", "en": "Sure, let me check that for you."}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--rounds", type=int, default=30, help="conversations per language")
    ap.add_argument("--long", type=int, default=5000, help="turns of the long conversation")
    args = ap.parse_args()
    analyzer = load_analyzer(args.model)
    engine = ConversationEngine(analyzer)
    # warm-up (lazy imports, caches)
    warm = engine.new_state("warm")
    for lang in SCRIPTS:
        for text in SCRIPTS[lang]:
            engine.process(warm, text)
    print(
        f"model pack: {analyzer.version}; machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print("\n| language | customer turns | p50 ms | p95 ms | max ms | analysis-only p50 ms |")
    print("|---|---|---|---|---|---|")
    for lang, script in SCRIPTS.items():
        times: list[float] = []
        analysis_times: list[float] = []
        for r in range(args.rounds):
            state = engine.new_state(f"{lang}-{r}")
            for text in script:
                t0 = time.perf_counter()
                engine.process(state, text)
                times.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                analyzer.analyze([text])
                analysis_times.append((time.perf_counter() - t0) * 1000)
                engine.process(state, AGENT[lang], role="agent")
        print(
            f"| {lang} | {len(times)} | {pct(times, 50):.2f} | {pct(times, 95):.2f} | {max(times):.2f} | "
            f"{statistics.median(analysis_times):.2f} |"
        )
    state = engine.new_state("long")
    times = []
    for i in range(args.long):
        lang = "en" if (i // 16) % 2 else "zh"
        text = SCRIPTS[lang][i % len(SCRIPTS[lang])]
        if i % 2:
            engine.process(state, AGENT[lang], role="agent")
            continue
        t0 = time.perf_counter()
        engine.process(state, f"{text} #{i}")
        times.append((time.perf_counter() - t0) * 1000)
    k = min(1000, len(times) // 2)
    print(
        f"\nlong conversation ({args.long} turns, {len(times)} customer turns): "
        f"p95 of the first {k}: {pct(times[:k], 95):.2f} ms, of the last {k}: {pct(times[-k:], 95):.2f} ms; "
        f"stored state {len(str(state.to_dict()))} characters"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

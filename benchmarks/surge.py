"""Negative-surge detection: delay and false-alert rate on synthetic streams.

Each stream is 14 days of hourly buckets for one product category: message
volume follows a daily cycle (Poisson, 4 to 60 messages an hour), the
negative share wobbles around 15% (Beta-distributed per hour, so the data are
over-dispersed like real traffic). Half the streams get one surge starting at
a random hour of days 8 to 13 and lasting 6 hours, in which the negative share
is multiplied by ``--lift``. Reported per method:

* detection rate: surges alerted within their 6 hours;
* delay: hours from the surge's start to its alert (median, p90);
* false alerts per 1,000 hours: alerts outside any surge (on all streams).

Compared in the same run: the shipped detector (binomial, three
sensitivities; poisson) and a naive rule (share above 1.5x the trailing
7-day share with at least 5 negatives, with the same one-alert-per-episode
cool-down).

Usage:
    python benchmarks/surge.py [--streams 200] [--lift 2.5] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import deque

import numpy as np

from emotiondesk.analytics import SurgeDetector

HOURS = 14 * 24
SURGE_LEN = 6


def make_stream(rng: np.random.Generator, lift: float | None):
    hours = np.arange(HOURS)
    rate = 4 + 56 * (0.5 - 0.5 * np.cos(2 * np.pi * ((hours % 24) - 3) / 24)) ** 1.5
    n = rng.poisson(rate)
    share = rng.beta(0.15 * 300, 0.85 * 300, size=HOURS)
    start = None
    if lift is not None:
        start = int(rng.integers(7 * 24, 13 * 24))
        share[start : start + SURGE_LEN] = np.minimum(share[start : start + SURGE_LEN] * lift, 0.95)
    k = rng.binomial(n, share)
    return n, k, start


class NaiveRule:
    """Alert when the share exceeds 1.5x the trailing 7-day share (same cool-down)."""

    def __init__(
        self, factor: float = 1.5, window: int = 168, min_count: int = 5, cooldown: int = 6
    ):
        self.factor, self.min_count, self.cooldown = factor, min_count, cooldown
        self.hist: deque[tuple[int, int]] = deque(maxlen=window)
        self.episode, self.calm = False, 0

    def update(self, key, bucket, *, n, k):
        hn = sum(h[0] for h in self.hist)
        hk = sum(h[1] for h in self.hist)
        hit = (
            len(self.hist) >= 24
            and n > 0
            and hn > 0
            and k >= self.min_count
            and k / n > self.factor * hk / hn
        )
        out = [bucket] if hit and not self.episode else []
        if hit:
            self.episode, self.calm = True, 0
        else:
            if self.episode:
                self.calm += 1
                self.episode = self.calm < self.cooldown
            self.hist.append((n, k))
        return out


def run(method_factory, streams):
    detected, delays, false_alerts, hours = 0, [], 0, 0
    surges = 0
    for n, k, start in streams:
        det = method_factory()
        alerts = []
        for t in range(HOURS):
            alerts += [t for _ in det.update("cat", t, n=int(n[t]), k=int(k[t]))]
        hours += HOURS
        hits = [t for t in alerts if start is not None and start <= t < start + SURGE_LEN]
        false_alerts += len(alerts) - len(hits)
        if start is not None:
            surges += 1
            if hits:
                detected += 1
                delays.append(hits[0] - start)
    return {
        "detection_rate": detected / surges if surges else math.nan,
        "delay_median_h": float(np.median(delays)) if delays else math.nan,
        "delay_p90_h": float(np.percentile(delays, 90)) if delays else math.nan,
        "false_alerts_per_1000h": 1000 * false_alerts / hours,
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--lift", type=float, default=2.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    streams = [make_stream(rng, args.lift if i % 2 else None) for i in range(args.streams)]
    methods = {
        "binomial/low (alpha 1e-4)": lambda: SurgeDetector(sensitivity="low"),
        "binomial/medium (alpha 1e-3)": lambda: SurgeDetector(sensitivity="medium"),
        "binomial/high (alpha 1e-2)": lambda: SurgeDetector(sensitivity="high"),
        "poisson/medium": lambda: SurgeDetector(sensitivity="medium", method="poisson"),
        "naive 1.5x share (baseline)": NaiveRule,
    }
    results = {}
    for name, factory in methods.items():
        t0 = time.perf_counter()
        results[name] = run(factory, streams)
        results[name]["seconds"] = time.perf_counter() - t0
    if args.json:
        print(
            json.dumps({"streams": args.streams, "lift": args.lift, "results": results}, indent=2)
        )
    else:
        print(
            f"{args.streams} streams x {HOURS} h, half with a {SURGE_LEN} h surge (share x{args.lift})"
        )
        print(
            f"{'method':30s} {'detected':>8s} {'delay med':>9s} {'delay p90':>9s} {'false/1000h':>11s}"
        )
        for name, r in results.items():
            print(
                f"{name:30s} {r['detection_rate']:8.2f} {r['delay_median_h']:9.1f} {r['delay_p90_h']:9.1f} {r['false_alerts_per_1000h']:11.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

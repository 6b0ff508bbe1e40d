"""The micro-batcher gathers concurrent calls, keeps each caller's results apart, and drains on stop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from emotiondesk.errors import InvalidInputError, ServiceUnavailableError
from emotiondesk.service.batching import MicroBatcher


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()

    def __call__(self, texts: list[str], language: str | None = None) -> list[str]:
        with self.lock:
            self.calls.append(list(texts))
        if any(t == "bad" for t in texts):
            raise InvalidInputError("bad text")
        return [f"{language or 'auto'}:{t.upper()}" for t in texts]


def run(coro):
    return asyncio.run(coro)


def test_concurrent_calls_share_batches() -> None:
    rec = Recorder()
    sizes: list[int] = []

    async def main() -> list[list[str]]:
        b = MicroBatcher(rec, max_batch=8, max_wait=0.05, observe=lambda n, s: sizes.append(n))
        await b.start()
        out = await asyncio.gather(*(b.analyze([f"t{i}", f"u{i}"]) for i in range(10)))
        await b.stop()
        return out

    out = run(main())
    assert out == [[f"auto:T{i}", f"auto:U{i}"] for i in range(10)]
    assert len(rec.calls) < 10  # batched
    assert max(len(c) for c in rec.calls) <= 8 + 2
    assert sum(sizes) == 20


def test_languages_are_batched_apart() -> None:
    rec = Recorder()

    async def main():
        b = MicroBatcher(rec, max_wait=0.02)
        await b.start()
        out = await asyncio.gather(b.analyze(["a"], language="zh"), b.analyze(["b"], language="en"))
        await b.stop()
        return out

    assert run(main()) == [["zh:A"], ["en:B"]]


def test_one_bad_request_does_not_fail_the_others() -> None:
    rec = Recorder()

    async def main():
        b = MicroBatcher(rec, max_wait=0.02)
        await b.start()
        res = await asyncio.gather(b.analyze(["ok"]), b.analyze(["bad"]), return_exceptions=True)
        await b.stop()
        return res

    good, bad = run(main())
    assert good == ["auto:OK"]
    assert isinstance(bad, InvalidInputError)


def test_disabled_runs_each_call_alone_and_stop_refuses_new_work() -> None:
    rec = Recorder()

    async def main():
        b = MicroBatcher(rec, enabled=False)
        await b.start()
        await asyncio.gather(*(b.analyze([str(i)]) for i in range(4)))
        await b.stop()
        with pytest.raises(ServiceUnavailableError):
            await b.analyze(["late"])

    run(main())
    assert sorted(map(len, rec.calls)) == [1, 1, 1, 1]


def test_stop_drains_queued_requests() -> None:
    rec = Recorder()

    async def main():
        b = MicroBatcher(rec, max_wait=0.5, max_batch=1000)
        await b.start()
        pending = [asyncio.create_task(b.analyze([str(i)])) for i in range(5)]
        await asyncio.sleep(0)
        await b.stop()
        return await asyncio.gather(*pending)

    assert run(main()) == [[f"auto:{i}"] for i in range(5)]

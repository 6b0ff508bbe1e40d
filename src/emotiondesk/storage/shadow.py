"""Shadow-scoring counts shared by the service's workers (table ``shadow_counts``).

Each worker writes its own running totals to its own row
(:func:`save_shadow_counts`, an overwrite: no two writers touch one row) and
:func:`shadow_totals` sums the rows of a challenger/champion pair, so the
figures ``GET /v1/models`` reports are the service's, not one worker's.

Example:
    >>> save_shadow_counts(s, challenger="v2", champion="v1", worker="w1",
    ...                    compared=10, skipped=0, agree={"emotion": 8},
    ...                    pairs={"emotion": [["neutral", "anger", 2]]})   # doctest: +SKIP
    >>> shadow_totals(s, challenger="v2", champion="v1")["compared"]      # doctest: +SKIP
    10
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from emotiondesk.storage.tables import ShadowCount, utcnow


def save_shadow_counts(
    session: Session,
    *,
    challenger: str,
    champion: str,
    worker: str,
    compared: int,
    skipped: int,
    agree: Mapping[str, int],
    pairs: Mapping[str, Sequence[Sequence[Any]]],
) -> None:
    """Write one worker's running totals for a pair (insert or overwrite its row)."""
    row = session.get(ShadowCount, (challenger, champion, worker))
    if row is None:
        row = ShadowCount(challenger=challenger, champion=champion, worker=worker)
        session.add(row)
    row.compared = int(compared)
    row.skipped = int(skipped)
    row.agree = {str(k): int(v) for k, v in agree.items()}
    row.pairs = {str(t): [[str(a), str(b), int(c)] for a, b, c in p] for t, p in pairs.items()}
    row.updated_at = utcnow()


def shadow_totals(session: Session, *, challenger: str, champion: str) -> dict[str, Any]:
    """Every worker's counts for a pair, summed.

    Returns ``{"workers", "compared", "skipped", "agree": {task: n},
    "pairs": {task: Counter[(champion label, challenger label)]}}``.
    """
    rows = session.scalars(
        select(ShadowCount).where(
            ShadowCount.challenger == challenger, ShadowCount.champion == champion
        )
    ).all()
    agree: Counter[str] = Counter()
    pairs: dict[str, Counter[tuple[str, str]]] = {}
    for row in rows:
        agree.update({k: int(v) for k, v in (row.agree or {}).items()})
        for task, items in (row.pairs or {}).items():
            counter = pairs.setdefault(task, Counter())
            for a, b, c in items:
                counter[(str(a), str(b))] += int(c)
    return {
        "workers": len(rows),
        "compared": sum(r.compared for r in rows),
        "skipped": sum(r.skipped for r in rows),
        "agree": dict(agree),
        "pairs": pairs,
    }

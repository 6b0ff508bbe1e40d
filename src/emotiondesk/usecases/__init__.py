"""The journeys that join the layers; the service and the CLI call these.

- :mod:`~emotiondesk.usecases.conversation`: a conversation turn (analysis in
  context, trajectory, risk, policy, replies) as one typed :class:`TurnResult`,
  and the hook the service runs on stored conversations;
- :mod:`~emotiondesk.usecases.ingest_message`: one message in (mask, analyse,
  run the conversation, store);
- :mod:`~emotiondesk.usecases.import_archive`: an archive of conversations or
  reviews in;
- :mod:`~emotiondesk.usecases.analytics`: the analytics queries behind the API
  and the dashboard;
- :mod:`~emotiondesk.usecases.scoring`: batch scoring (``score_batch``), the one
  core of ``emotiondesk score``, the importer and the Ray engine
  (:mod:`~emotiondesk.usecases.score_files`, :mod:`~emotiondesk.usecases.distributed`).

Imports point down only: this package uses the domain packages (``dialogue``,
``policy``, ``replies``, ``analytics``, ``storage``) and is used by
``service`` and ``cli`` (``tests/unit/test_layers.py`` keeps it so).

Example:
    >>> from emotiondesk.usecases import ConversationEngine     # doctest: +SKIP
    >>> engine = ConversationEngine(load_analyzer())            # doctest: +SKIP
    >>> engine.process(engine.new_state("c-1"), "where is my parcel?").risk  # doctest: +SKIP
"""

from __future__ import annotations

from emotiondesk.usecases.conversation import (
    ConversationEngine,
    ConversationHook,
    DialogueHook,
    StoredTurnState,
    TurnResult,
)

__all__ = [
    "ConversationEngine",
    "ConversationHook",
    "DialogueHook",
    "StoredTurnState",
    "TurnResult",
]

"""The service seam: DialogueHook restores, catches up and rebuilds the stored state."""

from __future__ import annotations

import json

from emotiondesk.usecases.conversation import ConversationEngine, DialogueHook
from tests.unit.test_dialogue import result

SCRIPT = [
    ("customer", "Where is my order?", "neutral", "neutral"),
    ("agent", "Let me check.", "neutral", "neutral"),
    ("customer", "It is late and I am worried.", "fear", "negative"),
    ("customer", "This is ridiculous, still nothing!", "anger", "negative"),
    ("customer", "I want to talk to a human now", "anger", "negative"),
]


def turns():
    return [
        {
            "seq": i + 1,
            "role": role,
            "text": text,
            "analysis": result(text, emo, pol).to_dict(),
            "sent_at": None,
        }
        for i, (role, text, emo, pol) in enumerate(SCRIPT)
    ]


def run(hook, stored_after=None):
    """Feed the script; ``stored_after`` maps a turn index to the state the service 'stored' instead."""
    state: dict = {}
    outs = []
    all_turns = turns()
    for i, turn in enumerate(all_turns):
        conv = {"id": "c", "channel": "web", "metadata": {"tier": "vip"}, "state": state}
        out = hook(conversation=conv, history=all_turns[:i], turn=turn)
        outs.append(json.loads(json.dumps(out)))
        state = out if stored_after is None or i not in stored_after else stored_after[i](outs)
    return outs


def test_hook_output_shape_and_tier():
    hook = DialogueHook(ConversationEngine(None, context_params={}))
    outs = run(hook)
    last = outs[-1]
    for key in (
        "trajectory",
        "risk",
        "decisions",
        "suggestions",
        "alerts",
        "dialogue",
        "in_context",
    ):
        assert key in last
    assert last["engine"] == "dialogue" and last["customer_turns"] == 4 and last["turns"] == 5
    assert "escalate_to_senior" in [d["action"] for d in last["decisions"]]
    assert last["dialogue"]["tier"] == "vip"
    assert outs[1]["decisions"] == [] and outs[1]["suggestions"] == []


def test_stale_state_catches_up_from_history():
    hook = DialogueHook(ConversationEngine(None, context_params={}))
    reference = run(hook)
    # the service stored an older state after turn 2 (a concurrent write won)
    stale = run(hook, stored_after={2: lambda outs: outs[1]})
    assert stale[-1]["trajectory"] == reference[-1]["trajectory"]
    assert stale[-1]["dialogue"]["turn_count"] == 5


def test_missing_state_is_rebuilt_from_recent_history():
    hook = DialogueHook(ConversationEngine(None, context_params={}))
    rebuilt = run(hook, stored_after={3: lambda outs: {"engine": "basic"}})
    assert rebuilt[-1]["dialogue"]["turn_count"] == 5
    assert rebuilt[-1]["trajectory"]["current_emotion"] == "anger"
    assert "escalate_to_senior" in [d["action"] for d in rebuilt[-1]["decisions"]]

"""Use cases: the journeys that join the layers (scoring an archive, ...); service and cli call these."""

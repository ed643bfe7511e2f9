"""What any vendor an intention reaches may see of it, in its JSON form.

A feed page shows 50 intentions, and the same intentions are read again and again by the
vendors they reached (every poll of every feed). Decrypting each one and dumping it through
its schema on every read was most of a feed request's time, so a process keeps the dumped
form of each intention version it has shown. An entry is found by the intention's id, its
``updated_at`` and its sealed content: any edit re-seals the content and moves
``updated_at``, so an edited intention is never served from an older entry, and a closed,
expired or erased one is never looked up at all (the feed reads the rows first).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from vrm.intentions.schemas import PublicIntentionSchema

# Entries a process keeps (a few KiB each); the least recently shown go first.
CACHE_SIZE = 10_000

Version = tuple[uuid.UUID, datetime, str]

_dump = PublicIntentionSchema().dump


class PublicViews:
    """The dumped public view of each intention version, kept per process."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._entries: OrderedDict[Version, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def dumped(
        self,
        versions: Iterable[Version],
        load: Callable[[list[uuid.UUID]], dict[uuid.UUID, dict[str, Any]]],
    ) -> dict[uuid.UUID, dict[str, Any]]:
        """The JSON-ready public view of each version; ``load`` gives the (undumped)
        public views of the intentions not kept yet, by id."""
        found: dict[uuid.UUID, dict[str, Any]] = {}
        missing: dict[uuid.UUID, Version] = {}
        with self._lock:
            for version in versions:
                entry = self._entries.get(version)
                if entry is None:
                    missing[version[0]] = version
                else:
                    self._entries.move_to_end(version)
                    found[version[0]] = entry
        if not missing:
            return found
        fresh = {i: _dump(view) for i, view in load(list(missing)).items()}
        with self._lock:
            for intention_id, entry in fresh.items():
                self._entries[missing[intention_id]] = entry
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return found | fresh

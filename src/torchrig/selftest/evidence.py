"""``--out DIR``: every rank keeps its part of the run in a file, so a job killed midway still leaves evidence.

Rank ``R`` owns ``DIR/rank-R.json`` (schema ``torchrig.selftest.rank/1``) and nobody else writes it. It is
replaced whole (written aside, then renamed: :func:`torchrig._core.atomic.write_atomic`) when the rank joins,
when a stage starts, when the rank has measured a stage (its own figures) and when the ranks agree on a
verdict; a reader never sees half a file. What a killed job leaves says, per rank, the stage it was in
(``stage``), what it had measured and which verdicts were reached; ``done`` is true only once every stage
has a verdict. Rank 0 also writes ``DIR/report.json`` (the whole report, as ``--json`` prints it) at the end.

A file that cannot be written costs the evidence, never the run: the rank logs it once and stops writing.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from torchrig._core.atomic import write_atomic

RANK_SCHEMA = "torchrig.selftest.rank/1"
_log = logging.getLogger("torchrig.selftest")


def rank_file(out: str | Path, rank: int) -> Path:
    return Path(out) / f"rank-{rank}.json"


class RankEvidence:
    """This rank's file under ``--out``, brought up to date by the rank's events."""

    def __init__(self, out: str | Path, rank: int, world_size: int) -> None:
        self.path = rank_file(out, rank)
        self.data: dict[str, Any] = {
            "schema": RANK_SCHEMA,
            "rank": rank,
            "world_size": world_size,
            "pid": os.getpid(),
            "started": _now(),
            "updated": _now(),
            "stage": "rendezvous",
            "done": False,
            "facts": None,
            "environment": None,
            "figures": {},
            "results": [],
        }
        self.broken = False
        self._write()

    def take(self, event: dict[str, Any]) -> None:
        """Note what ``event`` says about this rank; the file is rewritten when it changed."""
        kind = event.get("type")
        if kind == "stage":
            self.data["stage"] = event["stage"]
        elif kind == "rank-facts":
            self.data["facts"] = event["facts"]
        elif kind == "figures":
            self.data["figures"][event["stage"]] = event["figures"]
        elif kind == "result":
            self.data["results"].append(event["result"])
        elif kind == "environment":
            self.data["environment"] = event["environment"]
        elif kind == "cluster":
            self.data["cluster"] = event["cluster"]
        elif kind == "rank-error":
            self.data.setdefault("errors", {})[str(event["stage"])] = event["error"]
        else:
            return
        self._write()

    def finish(self) -> None:
        self.data["done"] = True
        self.data["stage"] = None
        self._write()

    def _write(self) -> None:
        if self.broken:
            return
        self.data["updated"] = _now()
        try:
            write_atomic(self.path, (json.dumps(self.data, indent=1, default=str) + "\n").encode())
        except OSError as exc:
            self.broken = True
            _log.warning("cannot write %s (%s); this rank leaves no evidence under --out", self.path, exc)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

"""The corpus of real public reports (tests/corpus) and how a test reads a fact path of its manifest."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchrig.doctor.facts import Facts

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


@dataclass(frozen=True)
class Case:
    file: str
    source: str
    format: str
    root_cause: str
    why: str
    expect: dict[str, Any]
    also: tuple[str, ...] = ()  # findings that must come after the root cause
    check_bug: str = ""  # a defect in checks/ that keeps root_cause from coming first (see manifest)
    # collected blind (2026-12): where the cause was established, and what kind of case it is
    repo: str = ""
    date: str = ""
    cause_quote: str = ""
    control: str = ""  # root_cause "none": the kind of healthy machine (rocm, macos, windows, ...)
    proposed: str = ""
    truncated: bool = False
    batch: str = ""  # the collection a case came in ("2026-12-05"): bench/doctor_accuracy.py --batch scores one
    split: str = "dev"  # "dev" (tuned on, run by the tests) or "heldout" (bench/doctor_accuracy.py only)

    @property
    def path(self) -> Path:
        return CORPUS / self.file if self.split == "dev" else CORPUS / "heldout" / self.file

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


def cases(split: str = "dev") -> list[Case]:
    """The development split (tests/corpus/manifest.toml), or the held-out one (heldout/manifest.toml)."""
    manifest = CORPUS / "manifest.toml" if split == "dev" else CORPUS / "heldout" / "manifest.toml"
    with manifest.open("rb") as fh:
        rows = tomllib.load(fh)["case"]
    return [Case(**{"expect": {}, **row, "also": tuple(row.get("also", ())), "split": split}) for row in rows]


def fact(facts: Facts, path: str) -> Any:
    """The value at a manifest path: "torch.version", "system.env.X", "gpus", "gpus.capability", ..."""
    if path == "gpus":
        return [gpu.name for gpu in facts.gpus.devices]
    if path == "gpus.capability":
        return [gpu.compute_capability for gpu in facts.gpus.devices]
    if path == "signatures":
        return [hit.id for hit in facts.signatures]
    if path == "companions":  # the first entry per name, as Facts.companion() answers
        return {pkg.name: facts.companion(pkg.name).version for pkg in facts.companions}  # type: ignore[union-attr]
    section, _, rest = path.partition(".")
    value: Any = getattr(facts, section)
    for part in rest.split("."):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def fact_mismatch(facts: Facts, path: str, want: Any) -> str | None:
    """Why the fact at ``path`` is not the manifest's ``want`` (None where it is)."""
    got = fact(facts, path)
    if want == "None":  # TOML has no null: a field the report states to be None (a CPU build)
        section, _, name = path.partition(".")
        return None if got is None and name in getattr(facts, section).sources else f"{path}: {got!r}"
    if path == "companions":
        return None if {k: got.get(k) for k in want} == want else f"companions: {got}"
    if path.endswith(".copies") and isinstance(want, int):
        return None if len(got) == want else f"{path}: {got}"
    return None if got == want else f"{path}: {got!r} != {want!r}"

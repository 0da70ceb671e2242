"""Compute capability from a GPU's model name (``gpus.toml``), for reports that give names only.

``collect_env`` lists GPUs as ``nvidia-smi -L`` prints them; the checks need the compute capability to
compare it with a build's architectures. The table lists every NVIDIA GPU with the names NVIDIA's
pages and its driver give it; a printed name is matched to the most specific model it contains::

    >>> capability_of("NVIDIA GeForce RTX 5090 D")
    '12.0'
    >>> capability_of("Tesla V100-SXM2-32GB"), capability_of("NVIDIA H100 80GB HBM3")
    ('7.0', '9.0')
    >>> capability_of("Quadro RTX 5000"), capability_of("NVIDIA RTX 5000 Ada Generation")
    ('7.5', '8.9')
    >>> capability_of("Some Future GPU") is None
    True

How a name is matched: both the printed name and every name and alias of the table are cut into
words (letters and digits apart: "A100-SXM4" -> a 100 sxm 4), without the words that vary between
driver generations for the same board ("NVIDIA", "GeForce", "Tesla") and without memory sizes
("32GB", "80GB", "144G"). A model matches when its words appear, in order and adjacent, in the printed
name; the longest match wins ("RTX 5000 Ada" over nothing, "GeForce GTX 1060 6GB" over "GeForce GTX
1060"). Matches of the same length that disagree on the capability give no answer; so does a name
nvidia-smi cut short ("NVIDIA GeForce RTX 3050 ...") when the models it could be disagree.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from torchrig.knowledge import load

_NOISE = frozenset({"nvidia", "geforce", "tesla"})
_MEMORY = re.compile(r"\b\d+\s*g(?:b|ib)?\b", re.IGNORECASE)  # "32GB", "80 GB", "144G": the same model
_WORD = re.compile(r"[a-z]+|\d+")


@dataclass(frozen=True)
class GpuModel:
    """One row of ``gpus.toml``."""

    name: str  # as NVIDIA lists it ("NVIDIA RTX 6000 Ada"), or as the driver names it
    capability: str  # "8.9"
    arch: str  # "Ada"
    segment: str  # datacenter, workstation, geforce, geforce-laptop, jetson, titan
    aliases: tuple[str, ...]  # other spellings nvidia-smi / NVML / torch print
    ambiguous: bool = False  # the printed name is shared by boards of a different capability
    chip: str | None = None
    host: str | None = None  # the wheel platform of the only machines it comes in (Grace superchips: "linux-aarch64")


@functools.cache
def models() -> tuple[GpuModel, ...]:
    """Every row of the table, in its order."""
    return tuple(
        GpuModel(
            name=row["name"],
            capability=row["cc"],
            arch=row["arch"],
            segment=row["segment"],
            aliases=tuple(row.get("aliases", ())),
            ambiguous=bool(row.get("ambiguous", False)),
            chip=row.get("chip"),
            host=row.get("host"),
        )
        for row in load("gpus")["gpu"]
    )


def words(name: str) -> tuple[str, ...]:
    """A GPU name as the matcher sees it: "NVIDIA A100-SXM4-80GB" -> ("a", "100", "sxm", "4")."""
    text = _MEMORY.sub(" ", name.lower())
    return tuple(w for w in _WORD.findall(text) if w not in _NOISE)


def _spellings(text: str) -> list[str]:
    """A table name and, where it names two boards ("Tesla C2050/C2070"), each of them."""
    match = re.fullmatch(r"(.*?)(\w+)/(\w+)", text)
    return [text] if match is None else [match.group(1) + match.group(2), match.group(1) + match.group(3)]


@functools.cache
def _index() -> dict[tuple[str, ...], tuple[GpuModel, ...]]:
    index: dict[tuple[str, ...], list[GpuModel]] = {}
    for model in models():
        for text in (model.name, *model.aliases):
            for spelling in _spellings(text):
                key = words(spelling)
                if key and model not in index.setdefault(key, []):
                    index[key].append(model)
    return {key: tuple(rows) for key, rows in index.items()}


@functools.cache
def _exact() -> dict[str, GpuModel]:
    return {" ".join(text.lower().split()): m for m in models() for text in (m.name, *m.aliases)}


def model_of(name: str | None) -> GpuModel | None:
    """The most specific model whose name a printed GPU name contains, or None (unknown, or not decidable)."""
    if not name:
        return None
    exact = _exact().get(" ".join(name.lower().split()))
    if exact is not None:
        return exact
    query = words(name)
    index = _index()
    best: list[tuple[int, tuple[str, ...]]] = []  # (start, key) of the longest matches
    for start in range(len(query)):
        for end in range(len(query), start, -1):
            key = query[start:end]
            if key not in index:
                continue
            if not best or len(key) > len(best[0][1]):
                best = [(start, key)]
            elif len(key) == len(best[0][1]):
                best.append((start, key))
            break
    if not best:
        return None
    found = [model for _, key in best for model in index[key]]
    if len({m.capability for m in found}) > 1:
        return None
    if name.rstrip().endswith(("...", "…")):  # nvidia-smi cut the name: the models it could still be must agree
        start = best[0][0]
        seen = query[start:]
        could_be = [m for key, rows in index.items() if key[: len(seen)] == seen for m in rows]
        if len({m.capability for m in [*found, *could_be]}) > 1:
            return None
    return found[0]


def capability_of(name: str | None) -> str | None:
    """The compute capability of the GPU model called ``name``, or None for a model the table lacks."""
    model = model_of(name)
    return model.capability if model else None


# A GeForce generation as people name it: "RTX 50 series", "RTX 5000 series", "50xx series", "GTX 10-series",
# "1000 series", "GTX 900 series". The digits name the generation (the model numbers' leading digits).
_SERIES = re.compile(
    r"(?<![\w/.\\-])(?P<maker>(?:(?:nvidia|geforce)\s+)+)?(?:(?P<brand>gtx|rtx)\s*)?"
    r"(?:(?P<gen>[1-5]0|16)(?:00|xx|x0|\dx)?|(?P<nine>9)(?:00|xx|x0))\s*(?:-\s*)?series\b",
    re.IGNORECASE,
)
# a generation by its number alone ("10 series") is a GPU's only where the words say so
_GPU_AFTER = re.compile(r"\W{0,3}(?:[\w'-]+\W+){0,4}?(?:gpus?|cards?|graphics)\b", re.IGNORECASE)


def series_of(text: str) -> tuple[str, str] | None:
    """The GeForce generation ``text`` names ("RTX 50 series") and its compute capability, where every desktop
    GeForce model of it in the table has the same one: ("GeForce RTX 50 series", "12.0"); None otherwise.

    >>> series_of("not compatible with the RTX 5000 series"), series_of("10 series and older gpus")
    (('GeForce RTX 50 series', '12.0'), ('GeForce 10 series', '6.1'))
    >>> series_of("the top 10 series of the year") is None
    True
    """
    match = _SERIES.search(text)
    if match is None:
        return None
    if not (match["maker"] or match["brand"] or _GPU_AFTER.match(text, match.end())):
        return None
    gen, brand = match["gen"] or match["nine"], (match["brand"] or "").upper()
    digits = 3 if gen == "9" else 4  # GTX 950-980 Ti; every later generation has four digits
    member = re.compile(rf"GeForce (?:{brand or 'GTX|RTX|GT'}) {gen}\d{{{digits - len(gen)}}}\b")
    found = [m for m in models() if m.segment == "geforce" and member.match(m.name)]
    ccs = {m.capability for m in found}
    if len(ccs) != 1:
        return None
    names = {m.name.split()[1] for m in found}  # GTX / RTX / GT as the models say it
    label = brand or (names.pop() if len(names) == 1 else "")
    return f"GeForce {label + ' ' if label else ''}{gen}{'00' if gen == '9' else ''} series", ccs.pop()

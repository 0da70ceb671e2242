"""Someone else's evidence -> Facts: ``torchrig doctor --report FILE`` runs the checks on what this returns.

Three kinds of report, told apart by content, not by file name:

- ``torchrig doctor --json`` output (schema ``torchrig.doctor/1``): its ``facts`` member, as written;
- ``python -m torch.utils.collect_env`` output, any release since torch 1.0, whole or cut off
  (:mod:`.collect_env` knows what each field really measures), and other projects' dumps: vLLM's
  sectioned collect_env, ``transformers env``, ``accelerate env``, ``ds_report`` (:mod:`.tool_envs`);
- ``nvidia-smi`` output: its table, ``-q`` and ``-L`` (:mod:`.nvidia_smi`); ``rocminfo`` and ``rocm-smi``
  (:mod:`.rocm`);
- any log or traceback: the lines tools print verbatim (:mod:`.logs`; installers' and launchers' own,
  :mod:`.installer`, whose output alone is the format ``pip``) and the known error signatures
  (:mod:`torchrig.knowledge.signatures`), recorded in ``Facts.signatures``;
- what the reporter states in words or an issue template (:mod:`.stated`): read last, so that it never
  replaces what a program printed.

``Facts.report_format`` names the dump read, or else which tool's output the paste is (:mod:`.formats`).

A collect_env output pasted into an issue usually comes with a traceback, so all the readers run
on the same text and each records what it is sure of. Every value a program printed has the source
``report``; a value only the reporter wrote down has the source ``stated``, and statements that disagree
leave it unknown. One value is looked up rather than read: a GPU's compute capability, from its model
name (``knowledge/gpus.toml``), where the report names the GPU only. Text in which nothing is recognised
is a :class:`~torchrig._core.errors.UserError`: running the checks on empty facts would call any machine
healthy.
"""

from __future__ import annotations

import itertools
import json
import re

from torchrig._core.errors import UserError
from torchrig._core.prefilter import Haystack
from torchrig.doctor.facts import SCHEMA, Facts, SignatureHit
from torchrig.doctor.report import (
    collect_env,
    distributed,
    failures,
    formats,
    installer,
    logs,
    nvidia_smi,
    rocm,
    selftest_json,
    stated,
    tool_envs,
    tried,
)
from torchrig.knowledge import gpu_models
from torchrig.knowledge import signatures as known

__all__ = ["parse_report"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Quoting and framing that issue trackers and rich tracebacks put in front of pasted lines: at the start of
# each line, quote marks ("> ", ">> ", " > >") and one space, or one frame bar ("│ ") before text.
# Searched from the line break before a line (the regex engine jumps from one "\n" to the next; the text
# gets one in front), and a run of lines quoted once ("> ..." with no second mark) is unquoted in one step.
_LINE_PREFIX = re.compile(
    r"\n(?:(?P<quoted>> (?![ \t]*>)[^\n]*(?:\n> (?![ \t]*>)[^\n]*){0,4095})|(?:[ \t]*>)+ ?|[ \t]*[│┃|][ \t]?(?=\S))"
)
_PREFIX_MARKS = ">│┃|"
_NOT_TEXT = re.compile(r"[\ufffd\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")
_MAX_NOT_TEXT = 0.02  # share of undecodable/control characters above which the input is not text

# Signatures whose line is the error torch (or the driver) reported: recorded in the matching fact.
_TORCH_IMPORT_ERRORS = {"torch.cuda-library-not-found", "torch.nvjitlink-undefined-symbol"}
_CUDA_INIT_ERRORS = {
    "driver.found-version",
    "driver.insufficient-for-runtime",
    "driver.forward-compat-804",
    "cuda.unknown-error",
    "cuda.system-not-initialized",
    "cuda.no-gpus-available",
}
_CUDNN_VERSIONS = re.compile(
    r"compiled\s+against\s+\(?(?P<built>[\d, ]+)\)?\s+but\s+(?:linked against|found runtime version)\s+\(?(?P<loaded>[\d, ]+)\)?"
)


def parse_report(text: str) -> Facts:
    """Read a collect_env output, a log/traceback or a torchrig ``--json`` into Facts (origin "report").

    Raises :class:`UserError` for empty input, input that is not text, a broken torchrig JSON, and
    text in which nothing is recognised.
    """
    if not text.strip():
        raise UserError(
            "the report is empty; give the output of `python -m torch.utils.collect_env`, an error log "
            "or a `torchrig doctor --json` file."
        )
    if _not_text(text):
        raise UserError(
            "the report is not text (it holds binary data); give a collect_env output, a log or a --json file."
        )
    text = _normalise(text)
    if text.lstrip().startswith("{"):
        facts = _from_json(text)
        if facts is not None:
            return facts
    return _from_text(text)


def _not_text(text: str) -> bool:
    """More than :data:`_MAX_NOT_TEXT` of the characters are undecodable or control characters."""
    limit = int(_MAX_NOT_TEXT * len(text))
    return sum(1 for _ in itertools.islice(_NOT_TEXT.finditer(text), limit + 1)) > limit


_ASCII_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    if "\x1b[" in text:
        text = _ANSI.sub("", text)
    text = text.replace("\uff1a", ":")  # fullwidth colons come from CJK input methods
    # typographic quotes, which word processors, blogs and CJK input methods put where the program printed ASCII
    # ("couldn‘t communicate with the NVIDIA driver"): one character for one, so offsets stay
    text = text.translate(_ASCII_QUOTES)
    return _unquote(text)


def _unquote(text: str) -> str:
    """Remove :data:`_LINE_PREFIX` from every line; only the lines from the first mark to the last are searched."""
    first = min((i for i in (text.find(mark) for mark in _PREFIX_MARKS) if i >= 0), default=-1)
    if first < 0:
        return text
    begin = text.rfind("\n", 0, first)  # -1: the first line, which gets a "\n" in front below
    last = max(text.rfind(mark) for mark in _PREFIX_MARKS)
    end = text.find("\n", last)
    end = len(text) if end < 0 else end
    head = text[:begin] if begin >= 0 else ""
    part = text[begin:end] if begin >= 0 else "\n" + text[:end]
    return head + _LINE_PREFIX.sub(_unquoted, part)[0 if begin >= 0 else 1 :] + text[end:]


def _unquoted(match: re.Match[str]) -> str:
    quoted = match.group("quoted")
    return "\n" if quoted is None else "\n" + quoted[2:].replace("\n> ", "\n")


def _json_error(exc: json.JSONDecodeError) -> str:
    """ "Expecting value at line 3", "Unterminated string starting at line 5" (json's message may end in "at")."""
    return f"{exc.msg.removesuffix(' at')} at line {exc.lineno}"


def _from_json(text: str) -> Facts | None:
    """Facts from a torchrig ``--json`` file; None for JSON that is not ours (read as a log instead)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if SCHEMA in text:
            raise UserError(
                f"the report looks like `torchrig doctor --json` output but is not valid JSON ({_json_error(exc)}); "
                "it may be cut off, so give the whole file."
            ) from None
        return None
    if not isinstance(data, dict):
        return None
    schema = data.get("schema")
    if schema == selftest_json.SCHEMA:
        return selftest_json.facts_of(data)
    if isinstance(schema, str) and schema.startswith("torchrig.") and schema != SCHEMA:
        raise UserError(f"the report uses schema {schema}, which this torchrig cannot read (it reads {SCHEMA}).")
    if schema != SCHEMA:
        return None
    if not isinstance(data.get("facts"), dict):
        raise UserError(
            f"the report says schema {SCHEMA} but has no `facts` object; give the file `torchrig doctor --json` wrote."
        )
    try:
        facts = Facts.from_dict(data["facts"])
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise UserError(f"the `facts` in the report are malformed ({type(exc).__name__}: {exc}).") from None
    facts.origin = "report"
    facts.report_format = "torchrig-json"
    if facts.is_empty():
        raise UserError(
            "the report's `facts` are empty: nothing is known about that machine, so there is nothing to check; "
            "give the file `torchrig doctor --json` wrote there."
        )
    _add_hits(
        facts, _error_text(facts)
    )  # errors the other machine recorded may carry signatures its version did not know
    return facts


def _error_text(facts: Facts) -> str:
    torch, driver = facts.torch, facts.driver
    parts = [torch.import_error, torch.cuda_init_error, driver.nvml_error, driver.smi_error, *torch.warnings]
    for section in (facts.driver, facts.gpus, facts.torch, facts.toolkit, facts.system):
        parts.extend(section.errors)
    parts.extend(smoke.error for smoke in torch.smoke)
    return "\n".join(p for p in parts if p)


def _from_text(text: str) -> Facts:
    facts = Facts(origin="report")
    haystack = Haystack(text)  # one folded copy for every reader's case-insensitive prefilters
    is_collect_env = collect_env.parse(haystack, facts)
    dump = tool_envs.parse(text, facts)
    if not is_collect_env and collect_env.parse_conda_list(text, facts):
        dump = dump or "conda-list"
    if is_collect_env and tool_envs.vllm_sections(text, facts):
        dump = "vllm-collect-env"
    smi = nvidia_smi.scan(text, facts) or rocm.scan(text, facts)
    printed = logs.scan(haystack, facts)
    collect_env.settle_not_importable(facts)
    printed = installer.scan(haystack, facts) or printed
    printed = distributed.scan(haystack, facts) or printed
    hits = _add_hits(facts, text, haystack)
    facts.failures = failures.failures(haystack)
    facts.tried = tried.commands(haystack)
    _facts_from_hits(facts, text)
    collect_env.derive_torch_cuda(facts)
    said = stated.read(haystack, facts)  # last: what a program printed always wins over what a person wrote
    kind = dump or ("collect_env" if is_collect_env else formats.kind_of(text))
    if not (kind != "log" or smi or printed or hits or facts.failures or said):
        raise UserError(
            "nothing in the report looks like a collect_env output, a torchrig --json, a known GPU/PyTorch "
            "error or a stated PyTorch, CUDA, driver or GPU; give the full output of "
            "`python -m torch.utils.collect_env` or the whole traceback."
        )
    _capabilities_from_names(facts)
    facts.report_format = kind
    return facts


def _capabilities_from_names(facts: Facts) -> None:
    """collect_env and nvidia-smi -L name GPUs without their compute capability: look it up by model.

    A GPU that only comes with its own CPU (a Grace superchip's: GH200, GB200, DGX Spark's GB10) also says what
    the machine is, where nothing printed it: Linux on aarch64 (``knowledge/gpus.toml``, ``host``).
    """
    for gpu in facts.gpus.devices:
        if gpu.compute_capability is None and gpu.name:
            gpu.compute_capability = gpu_models.capability_of(gpu.name)
    hosts = {(model.host, gpu.source) for gpu in facts.gpus.devices if (model := gpu_models.model_of(gpu.name))}
    host, source = next(iter(hosts)) if len(hosts) == 1 else (None, None)
    system = facts.system
    if host == "linux-aarch64" and source and not system.machine and "machine" not in system.sources:
        system.machine, system.sources["machine"] = "aarch64", source
        if not system.os and "os" not in system.sources:
            system.os, system.sources["os"] = "Linux", source


def _add_hits(facts: Facts, text: str, haystack: Haystack | None = None) -> int:
    have = {hit.id for hit in facts.signatures}
    added = 0
    for match in known.find(text, haystack):
        if match.signature.id not in have:
            facts.signatures.append(SignatureHit(id=match.signature.id, excerpt=match.excerpt, line=match.line))
            added += 1
    return added


def _facts_from_hits(facts: Facts, text: str) -> None:
    """Some signatures are the error itself: record it where a probe would have (import, CUDA init)."""
    torch = facts.torch
    for hit in facts.signatures:
        if hit.id in _TORCH_IMPORT_ERRORS:
            collect_env.put(torch, "installed", True)
            collect_env.put(torch, "import_ok", False)
            collect_env.put(torch, "import_error", hit.excerpt)
            if torch.import_error == collect_env.NOT_IMPORTABLE:  # the error itself says more than collect_env's N/A
                torch.import_error = hit.excerpt
        elif hit.id in _CUDA_INIT_ERRORS:
            collect_env.put(torch, "cuda_init_error", hit.excerpt)
        elif hit.id == "torch.not-compiled-with-cuda":
            collect_env.put(torch, "cuda", None)  # definitive: only a CPU build says this
        elif hit.id == "driver.nvml-version-mismatch":
            collect_env.put(facts.driver, "nvml_error", "Driver/library version mismatch")
        elif hit.id == "libs.cudnn-version-incompatible":
            versions = _CUDNN_VERSIONS.search(" ".join(text.split()))
            if versions:
                collect_env.put(torch, "cudnn_version", _cudnn(versions.group("loaded")))
        elif hit.id == "torch.cuda-available-false" and not facts.failures:
            facts.failures.append("torch.cuda.is_available() answered False")  # the symptom the report is about
        elif hit.id == "container.docker-run-without-gpus" or (
            hit.id == "container.driver-not-detected" and "docker" in text.lower()
        ):  # a docker run's own output, or NVIDIA's banner in a report that names docker
            collect_env.put(facts.system, "container", "docker")


def _cudnn(text: str) -> str:
    """ "8, 0, 3" -> "8.0.3"; the pre-1.12 integer form "7600" -> "7.6.0"."""
    numbers = [n for n in re.split(r"[,\s]+", text.strip()) if n]
    if len(numbers) == 1 and len(numbers[0]) >= 4:
        value = int(numbers[0])
        return f"{value // 1000}.{value % 1000 // 100}.{value % 100}"
    return ".".join(numbers)

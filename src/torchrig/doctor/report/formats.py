"""Which kind of output a pasted report is, when it is no program's environment dump: ``Facts.report_format``.

The name says which tool's output the person pasted; it changes no fact and no finding, but it tells a
render (and the corpus' manifest, tests/corpus/README.md) what was read. Each line of the paste is given to
the tool that prints it in that form, verbatim:

- ``docker``: a ``docker run/exec/compose ...`` command line (with its ``\\``-continued lines) and the
  CLI's answer when the daemon refuses: ``docker: Error response from daemon: ...`` (Docker's Go client,
  client/request.go, wraps every error the daemon returns as "Error response from daemon: %s"; the CLI
  prints it after ``docker: ``), and the CLI's log lines ``ERRO[0000] ...``;
- ``pip``: what pip, uv and poetry print while resolving and installing ("Collecting", "Successfully
  installed", "Found existing installation", uv's "Resolved 23 packages", ...) and their install commands;
- ``nvidia-smi``: its banner, its table's borders and rows, ``-L`` lines, the ``topo -m`` matrix, and its
  failures ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver", "Failed to
  initialize NVML: ...");
- ``dmesg``: kernel ring-buffer lines ("[74889.644138] ...", ``journalctl -k``'s "... kernel: ...") and
  the NVIDIA module's "NVRM: " lines;
- ``dpkg``: ``dpkg -l`` package lines ("ii  nvidia-driver-535  535.183.01-0ubuntu1  amd64 ...");
- ``nvcc``: ``nvcc --version``'s lines.

Lines of prose, program logs and tracebacks belong to no tool: they are the ``log`` a report is by default.

The rule (:func:`kind_of`), in this order:

1. An installer's or docker's refusal names the format wherever it stands in the paste: that command
   never got as far as running a program, so what the report is about is that tool's output. The
   refusals are pip's "ERROR: Could not find a version that satisfies the requirement ..." / "ERROR: No
   matching distribution found for ..." (pip/_internal/resolution/resolvelib/factory.py), uv's "× No
   solution found when resolving dependencies" and "error: Distribution ... can't be installed", poetry's
   "Unable to find installation candidates for ...", and docker's "Error response from daemon". Two
   different failures (two of these, or one with a Python traceback or a raised exception's line) make the
   paste ``mixed``.
2. Otherwise the tool whose lines are at least half of the paste's lines names it (code fences, blank
   lines, headings and "[...]" marks are not counted).
3. Otherwise outputs of two or more tools, each at least a quarter of the lines, make it ``mixed``.
4. Otherwise it is a ``log``.

Only the first MiB is read (:data:`_READ_LIMIT`): which output a paste holds shows there, and a larger
report is a log.
"""

from __future__ import annotations

import collections
import re

_READ_LIMIT = 1 << 20
_QUOTE = r"^[ \t`>]*"  # inline code marks and quoting before a tool's line

# Each line goes to the first tool whose pattern it matches (the order of this dict).
_LINES: dict[str, re.Pattern[str]] = {
    "docker": re.compile(
        r"(?:^|[\s`$#>(])(?:sudo[ \t]+)?(?:docker[ \t]+(?:run|exec|pull|build|compose|container|start|create)"
        r"|docker-compose[ \t]+\w)\b|Error response from daemon|^[ \t`]*ERRO\[\d+\]|^[ \t`]*Docker version \d"
    ),
    "pip": re.compile(
        _QUOTE + r"(?:Collecting \S|Downloading \S|Requirement already satisfied|Successfully (?:un)?installed"
        r"|Installing collected packages|Looking in (?:indexes|links)|Found existing installation|Uninstalling \S"
        r"|Attempting uninstall|Building wheels? for|Using cached|ERROR: (?:Could not find a version|No matching "
        r"distribution|pip's dependency resolver|Could not install|Failed building wheel|Could not build wheels)"
        r"|Resolved \d+ packages?|Prepared \d+ packages?|Installed \d+ packages?|Audited \d+|× No solution found"
        r"|╰─▶|hint: |error: Distribution|[+-] [\w.-]+==\d"
        r"|(?:\S*[$#>] )?(?:pip3?|uv(?: pip)?|python3? -m pip|poetry|pipenv) (?:install|add|lock|sync)\b)"
    ),
    "nvidia-smi": re.compile(
        _QUOTE + r"(?:\|[ \t]*NVIDIA-SMI \d|NVIDIA-SMI \d|NVIDIA-SMI has failed|Failed to initialize NVML"
        r"|No devices were found|\|[ \t]+(?:GPU[ \t]+Name|\d+[ \t]+\S.*\||N/A[ \t]|[ \t]*\d+%?[ \t]+\d+C)"
        r"|\+-{5}|\|[=-]{5}|GPU \d+: .+\(UUID: GPU-|GPU\d+[ \t]+(?:X|NV\d+|PIX|PXB|PHB|NODE|SYS)\b"
        r"|GPU\d+(?:[ \t]+GPU\d+)+[ \t]+CPU Affinity|(?:\S*[$#>] )?(?:sudo )?nvidia-smi\b)"
    ),
    "dmesg": re.compile(_QUOTE + r"(?:\[[ \t]*\d+\.\d{3,}\][ \t]|NVRM: |\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ kernel: )"),
    "dpkg": re.compile(r"^ii[ \t]+\S+[ \t]+\S*\d"),
    "nvcc": re.compile(
        r"^[ \t]*(?:nvcc: NVIDIA \(R\) Cuda compiler driver|Cuda compilation tools, release|Built on \w{3}_"
        r"|Build cuda_)"
    ),
}
_CONTINUED = ("docker", "pip")  # commands people break over lines with a trailing "\"
# The refusals of rule 1, at the start of their line as the tool prints them (a sentence that mentions
# "No matching distribution" is not pip's output).
_REFUSALS: dict[str, re.Pattern[str]] = {
    "pip": re.compile(
        _QUOTE + r"(?:ERROR: Could not find a version that satisfies|ERROR: No matching distribution found"
        r"|(?:× )?No solution found when resolving|error: Distribution `[^`\n]+` can't be installed"
        r"|Unable to find installation candidates for|\|[ \t]+Unable to find installation candidates for"
        r"|ERROR: Cannot install .+ because these package versions have conflicting dependencies"
        r"|ERROR: ResolutionImpossible|ERROR: Package '[^'\n]+' requires a different Python"
        r"|ERROR: \S+\.whl is not a supported wheel on this platform)",
        re.MULTILINE,
    ),
    "docker": re.compile(_QUOTE + r"(?:docker: )?Error response from daemon: ", re.MULTILINE),
}
_TRACEBACK = re.compile(r"^[ \t]*Traceback \(most recent call last\)", re.MULTILINE)
# A raised Python exception's last line ("RuntimeError: Couldn't install torch."), with or without its traceback:
# a program failed, a second failure beside a refusal. pip's own "ERROR: ..." lines are no exception name.
_RAISED = re.compile(r"^[ \t]*(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception): \S", re.MULTILINE)


def kind_of(text: str) -> str:
    """ "docker", "pip", "nvidia-smi", "dmesg", "dpkg", "nvcc", "mixed" or "log" (the module's rule)."""
    text = text[:_READ_LIMIT]
    refused = [tool for tool, pattern in _REFUSALS.items() if pattern.search(text)]
    if refused:
        failures = len(refused) + (1 if _TRACEBACK.search(text) or _RAISED.search(text) else 0)
        return refused[0] if failures == 1 else "mixed"
    counts, lines = _count(text)
    if not counts:
        return "log"
    tool, most = counts.most_common(1)[0]
    if 2 * most >= lines:
        return tool
    if sum(1 for n in counts.values() if 4 * n >= lines) >= 2:
        return "mixed"
    return "log"


def _count(text: str) -> tuple[collections.Counter[str], int]:
    """Lines of each tool's output, and the paste's lines that count (not blank, fence, heading or "[...]")."""
    counts: collections.Counter[str] = collections.Counter()
    lines = 0
    continued: str | None = None
    for line in text.split("\n"):
        bare = line.strip()
        if not bare or bare.startswith(("```", "#")) or bare == "[...]":
            continued = None
            continue
        lines += 1
        tool = continued or next((name for name, pattern in _LINES.items() if pattern.search(line)), None)
        if tool is None:
            continue
        counts[tool] += 1
        continued = tool if tool in _CONTINUED and bare.endswith("\\") else None
    return counts, lines

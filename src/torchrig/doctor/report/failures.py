"""The failures a report shows, whatever they are: the lines that say a program stopped.

Not evidence for any cause. They let the doctor say that a report shows a failure no rule explains
(``doctor.unexplained``), instead of refusing the report as "nothing recognised" or calling the
machine healthy. The line recorded is the last exception of the last traceback, which is what a
program died of; without a traceback, the first line that says something crashed or was killed.
"""

from __future__ import annotations

import re

# "ValueError: ...", "torch.OutOfMemoryError: ...", "subprocess.CalledProcessError: ..." at the start of a line
_EXCEPTION = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt)(?::\s.*|\s*)$")
_CRASH = re.compile(r"Segmentation fault|core dumped|^Killed\s*$|^Aborted\b|^ERROR: .{8,}", re.IGNORECASE)
_TRACEBACK = "Traceback (most recent call last)"
_LIMIT = 300  # characters kept of a failure line


def failures(text: str) -> list[str]:
    """The failure lines of ``text``, the most telling first (at most a few)."""
    lines = [line.strip() for line in text.splitlines()]
    out: list[str] = []
    start = max((i for i, line in enumerate(lines) if line.startswith(_TRACEBACK)), default=None)
    if start is not None:
        last = [line for line in lines[start + 1 :] if _EXCEPTION.match(line)]
        if last:
            out.append(last[-1][:_LIMIT])
    for line in lines:
        if _EXCEPTION.match(line) or _CRASH.search(line):
            out.append(line[:_LIMIT])
        if len(out) >= 4:
            break
    return list(dict.fromkeys(out))

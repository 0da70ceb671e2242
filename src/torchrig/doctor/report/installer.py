"""Facts that package installers and the launchers built on them print: pip, uv, Poetry, web-UI launchers.

An install that fails is reported as the installer's output, which states facts about the machine in
its own fixed words (each pattern below names the source that prints it):

- the interpreter: pip's Requires-Python refusal ("Package 'x' requires a different Python: 3.14.0 not in
  '>=3.9,<3.14'"), and the Python check of AUTOMATIC1111's web-UI launcher ("This program is tested with
  3.10.6 Python, but you have 3.11.2");
- the platform: uv's resolver names a wheel tag of the platform it resolves for ("has no wheels with a
  matching platform tag (e.g., `macosx_13_0_x86_64`)") when it installs into an environment (``uv pip``);
  a universal lock (``uv lock``, ``uv add``, ``uv sync``) resolves for other platforms too, so there the tag
  says nothing about this machine and is not read.

Whether a paste is installer output (the report format ``pip``) is :mod:`.formats`' rule. The requirement an
installer could not satisfy is read by the checks from the error lines themselves (``knowledge/signatures.toml``).
"""

from __future__ import annotations

import re

from torchrig._core.prefilter import Haystack
from torchrig.doctor.facts import Facts
from torchrig.doctor.report.collect_env import put

# pip/_internal/resolution/legacy/resolver.py (_check_dist_requires_python) and the resolvelib resolver:
# "Package {!r} requires a different Python: {} not in {!r}", the interpreter's version in the middle.
_REQUIRES_PYTHON = re.compile(r"requires a different Python: (?P<version>3\.\d+\.\d+) not in ")
# stable-diffusion-webui modules/launch_utils.py, check_python_version().
_LAUNCHER_PYTHON = re.compile(
    r"This program is tested with 3\.\d+(?:\.\d+)? Python, but you have (?P<version>3\.\d+\.\d+)"
)
# uv's resolver (crates/uv-resolver, "has no wheels with a matching platform tag (e.g., `{tag}`)"): the most
# specific tag of the target platform.
_PLATFORM_TAG = re.compile(r"has no wheels with a matching platform tag \(e\.g\.,\s+`?(?P<tag>[\w.]+?)`?\)")
_UNIVERSAL = re.compile(r"\buv (?:lock|add|sync)\b")
# pip, where it found no torch: the indexes it searched, which it prints whenever they are other than PyPI alone
# (pip/_internal/models/search_scope.py, SearchScope.get_formatted_locations: "Looking in indexes: {urls}", "Looking
# in links: {urls}"), and that it could not read one: urllib3's retry warning ("WARNING: Retrying (Retry(total=4,
# ...)) after connection broken by 'NewConnectionError(...)'") and pip's "Could not fetch URL {url}: {reason} -
# skipping" (pip/_internal/index/collector.py). What pip could not fetch it cannot list.
_NO_TORCH = re.compile(
    r"Could not find a version that satisfies the requirement torch\b|No matching distribution found for torch\b"
)
_LOOKING_IN = re.compile(r"Looking in (?:indexes|links):[ \t]*(?P<urls>[^\n]+)")
_URL = re.compile(r"https?://[^\s,'\"]+")
_UNREACHABLE = re.compile(
    r"[^\n]*(?:Retrying \(Retry\(total=\d+|Could not fetch URL \S+:|Failed to establish a new connection|ProxyError\("
    r"|CERTIFICATE_VERIFY_FAILED|There was a problem confirming the ssl certificate)[^\n]*"
)
# Wheel platform tags (PEP 425, PEP 600, the macOS and Windows tags): OS and CPU.
_TAG_OS = (
    ("macosx_", "Darwin"),
    ("manylinux", "Linux"),
    ("musllinux", "Linux"),
    ("linux_", "Linux"),
    ("win", "Windows"),
)
_TAG_CPU = {
    "x86_64": "x86_64",
    "amd64": "AMD64",
    "arm64": "arm64",
    "aarch64": "aarch64",
    "win32": "x86",
    "i686": "i686",
}


def scan(text: str | Haystack, facts: Facts) -> bool:
    """Record the Python version and platform an installer's output states; True if it recorded either."""
    haystack = text if isinstance(text, Haystack) else Haystack(text)
    text = haystack.text
    found = False
    python = _REQUIRES_PYTHON.search(text) if "requires a different Python" in text else None
    python = python or (_LAUNCHER_PYTHON.search(text) if "Python, but you have" in text else None)
    if python:
        put(facts.system, "python_version", python.group("version"))
        found = True
    if "torch" in text and _NO_TORCH.search(text):
        _where_pip_looked(text, facts)
    tag = _PLATFORM_TAG.search(text) if "matching platform tag" in text else None
    if tag and not _UNIVERSAL.search(text):
        found = _platform(tag.group("tag"), facts) or found
    return found


def _platform(tag: str, facts: Facts) -> bool:
    """ "macosx_13_0_x86_64" -> Darwin, x86_64; "win_amd64" -> Windows, AMD64; "manylinux_2_28_aarch64" -> Linux."""
    tag = tag.lower()
    system = next((name for prefix, name in _TAG_OS if tag.startswith(prefix)), None)
    cpu = next((name for suffix, name in _TAG_CPU.items() if tag.endswith(suffix)), None)
    if system is None:
        return False
    put(facts.system, "os", system)
    if cpu is not None:
        put(facts.system, "machine", cpu)
    return True


# uv's resolver explains a failure by the versions an index has ("Because only the following versions of torch are
# available:" and one requirement per line, "torch==2.7.1+cpu"; crates/uv-resolver, the PubGrub report): those lines
# name versions to choose from, none installed.
_AVAILABLE = "are available:"
_VERSION_LINE = re.compile(r"[ \t]+[\w.-]+[ \t]*(?:[<>=!~]=|[<>])[ \t]*\S+[ \t]*\n")
_LIST_LOOK_BACK = 4096


def in_version_list(text: str, start: int) -> bool:
    """``start`` is on a line of the version list that follows uv's "... versions of X are available:"."""
    head = text.rfind(_AVAILABLE, max(0, start - _LIST_LOOK_BACK), start)
    if head < 0:
        return False
    at = text.find("\n", head) + 1
    line_start = text.rfind("\n", 0, start) + 1
    while 0 < at < line_start:
        step = _VERSION_LINE.match(text, at)
        if step is None:
            return False
        at = step.end()
    return at == line_start


def _where_pip_looked(text: str, facts: Facts) -> None:
    """The indexes pip searched for torch, and whether it said it could not reach one (not facts that recognise a
    report by themselves: recorded only next to pip's failure to find torch)."""
    if "Looking in" in text:
        urls = [url.rstrip("/") for m in _LOOKING_IN.finditer(text) for url in _URL.findall(m.group("urls"))]
        put(facts.system, "package_indexes", list(dict.fromkeys(urls)))
    unreachable = _UNREACHABLE.search(text)
    if unreachable:
        put(facts.system, "index_unreachable", unreachable.group(0).strip()[:300])

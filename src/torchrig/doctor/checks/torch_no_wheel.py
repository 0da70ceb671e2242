"""torch.no-wheel: pip found no torch wheel at all ("from versions: none"): why, for this platform.

pip lists every version whose wheels fit the interpreter and platform; an empty list means none does.
The causes, from the most specific the facts can show:

1. the Python version: no release (of the version asked for) publishes wheels for it on this platform
   (PyPI's Python ranges differ by platform: torch 2.5 has Linux x86_64 wheels for 3.13, macOS and Windows
   ones up to 3.12): that is ``torch.python-unsupported``, whose check asks
   :func:`python_rules_out_every_wheel`;
2. a 32-bit Python or CPU: PyTorch publishes 64-bit wheels only;
3. macOS on Intel: the last release with macOS x86_64 wheels was 2.2 (PyTorch's deprecation of macOS x86
   builds, pytorch/pytorch#114602; the release tables list no macOS x86_64 wheels after it);
4. a pin with a variant tag the release was never built for ("torch==2.6.0+cu121": PyTorch's index has a
   folder per variant, download.pytorch.org/whl/cu121/, and the release tables list which variants each
   release was published in, per platform);
5. otherwise the index: an --index-url that does not carry this platform's builds.
"""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import tried

CODE = "torch.no-wheel"
# The requirement the installer could not satisfy: pip's "requirement torch==2.6.0", uv's "Distribution
# `torch==2.5.1 @ registry+...`", "Because torch==2.5.1 has no wheels ...", "wheels for `torch` (v2.5.1)".
# The reporter's own words are read too where a signature recorded them: "can not install pytorch 2.4.1".
_ASKED = re.compile(
    r"requirement\s+(torch\S*)|Distribution `(torch[^`\s@]*)|Because (torch[^\s,]*) has no wheels"
    r"|wheels for `torch` \(v(\d[\w.+]*)\)|install\s+(?:py)?torch\s*(?:==|=|\s)\s*v?(\d+\.\d+(?:\.\d+)?)\b"
    r"|installation candidates for torch \((\d[\w.+]*)\)|\b(torch==\d+\.\d+\.\d+\+[\w.]+)",
    re.IGNORECASE,
)
# signatures.toml: a pin with a variant tag in a report where pip found no distribution; evidence only where
# that release was never published for that variant (:func:`never_published`)
_PIN = "pip.torch-variant-pin"
# The torch.python-unsupported signature: the report says a named torch release could not be installed.
STATED = "torch.python-unsupported"
# pip lists every version it found a file for that this interpreter and platform can install (pip's
# PackageFinder filters candidates by wheel tags before printing them): "(from versions: 2.9.0, 2.9.1)".
_FROM_VERSIONS = re.compile(r"\(from versions: (?P<versions>[^)]*)\)?")
# Python versions torch has ever published wheels for: where pip's list narrows the interpreter down.
_PYTHONS = tuple(f"3.{n}" for n in range(5, 16))
_32BIT = ("i386", "i686", "x86", "win32", "armv7l", "armv6l")
# The CPUs PyPI's torch wheels are built for (x86_64 on Linux and Windows, aarch64 on Linux, arm64 on macOS): on
# any other (ppc64le, s390x, riscv64, ...) pip finds no torch whatever the Python.
_WHEEL_CPUS = ("x86_64", "amd64", "aarch64", "arm64")


def _asked(texts: list[str]) -> Requirement | None:
    for text in texts:
        match = _ASKED.search(text)
        if match:
            spec = next(g for g in match.groups() if g)
            spec = f"torch=={spec}" if spec[0].isdigit() else spec
            try:
                return Requirement(spec.rstrip(",.;"))
            except InvalidRequirement:
                return None
    return None


def platform_of(facts: Facts) -> str | None:
    """The wheel platform pip was choosing for ("macos-arm64", "macos", "windows", ...); None where unknown."""
    return knowledge.python_platform(facts.system.os, facts.system.machine)


def _install_hits(facts: Facts) -> list[SignatureHit]:
    """The installer's errors, then the reporter's statements of a failed install, then a variant pin found
    anywhere (a freeze line, a script): the requirement the failing line names comes first."""
    hits = hits_for(facts, CODE)
    return [*(h for h in hits if h.id != _PIN), *hits_for(facts, STATED), *(h for h in hits if h.id == _PIN)]


def inferred_pythons(facts: Facts) -> list[str]:
    """The Python versions pip's "(from versions: ...)" leaves possible, when the report does not name one.

    Every listed release has a wheel for this interpreter, so its Python is one every listed release
    supports on this platform (where the platform is unknown, every platform's wheels together: a wide
    set, never a guess narrower than the truth). Empty when the list is empty ("none"), names no known release, or a
    Python is stated.
    """
    if queries.python_version(facts):
        return []
    listed: list[knowledge.TorchRelease] = []
    for hit in hits_for(facts, CODE):
        match = _FROM_VERSIONS.search(hit.excerpt)
        if match:
            for version in match.group("versions").split(","):
                rel = knowledge.release(version.strip()) if version.strip()[:1].isdigit() else None
                if rel is not None and rel not in listed:
                    listed.append(rel)
    if not listed:
        return []
    platform = platform_of(facts) or "any"  # unknown: every platform's wheels together, never narrower
    possible = [p for p in _PYTHONS if all(r.supports_python(p, platform) for r in listed)]
    asked, wanted = asked_for(facts)
    if asked is not None and len(wanted) == 1 and _index_has_it_wherever_it_has_them(asked, wanted[0], listed):
        # the index carries the asked-for build on every platform it carries the listed ones on, yet pip
        # did not list it: this interpreter is one the asked-for release has no wheel for
        possible = [p for p in possible if not wanted[0].supports_python(p, platform)]
    return possible


def _platforms(rel: knowledge.TorchRelease, variant: str, version: str | None = None) -> set[str]:
    """Where ``rel`` has wheels of ``variant`` (cu128, ...): Linux x86_64, Windows, Linux aarch64."""
    found = set()
    if rel.ships(variant, version):
        found.add("linux")
    if variant in rel.on_windows():
        found.add("windows")
    if variant in rel.aarch64:
        found.add("aarch64")
    return found


def _index_has_it_wherever_it_has_them(
    asked: Requirement, wanted: knowledge.TorchRelease, listed: list[knowledge.TorchRelease]
) -> bool:
    """Whether an index that listed ``listed`` also carries the asked-for CUDA build on each of their platforms.

    Only for a pin with a CUDA tag ("torch==2.7.0+cu128", as a PyTorch index names its files): the tag
    says which build, and the tables say on which platforms each release has it.
    """
    pins = [s.version for s in asked.specifier if s.operator == "=="]
    variant = knowledge.variant_of(pins[0]) if len(pins) == 1 else None
    if not variant or not variant.startswith("cu"):
        return False
    theirs = set().union(*(_platforms(r, variant) for r in listed))
    return bool(theirs) and theirs <= _platforms(wanted, variant, pins[0])


def listed_none(facts: Facts) -> bool:
    """pip printed an empty list of torch versions: "(from versions: none)".

    pip's resolver, on a requirement nothing satisfies, lists every version of the project it found on the indexes it
    searched whose files fit this interpreter (wheel tags and Requires-Python; PackageFinder.find_all_candidates, in
    pip/_internal/resolution/resolvelib/factory.py, _report_single_requirement_conflict): "none" means no release at
    all, of any version, has a wheel for this interpreter and platform there.
    """
    for hit in hits_for(facts, CODE):
        match = _FROM_VERSIONS.search(hit.excerpt) if hit.id != _PIN else None
        if match and match.group("versions").strip().lower() == "none":
            return True
    return False


def _indexes(facts: Facts) -> list[str]:
    """The index URLs the report shows pip searching (its "Looking in ..." line, the commands' options)."""
    urls = [*facts.system.package_indexes, *(a.index for a in tried.torch_installs(facts.tried) if a.index)]
    return [u.rstrip("/").lower() for u in urls]


def _on_index(rel: knowledge.TorchRelease, url: str, platform: str | None) -> bool | None:
    """Whether the index ``url`` carries wheels of ``rel`` (for ``platform``, where known); None: an index whose
    content the tables do not know (a mirror, a private index)."""
    if url.startswith(("https://pypi.org/simple", "https://pypi.python.org/simple")):
        return platform is None or rel.python_range(platform) is not None
    if not url.startswith("https://download.pytorch.org/whl"):
        return None
    variant = url.rsplit("/", 1)[-1]
    if variant in ("whl", "torch_stable.html", "cpu", "torch"):  # every release's folder (or its CPU builds)
        return True
    where = _platforms(rel, variant) | ({"linux"} if variant in rel.rocm else set())
    keys = {"linux-x86_64": "linux", "windows": "windows", "linux-aarch64": "aarch64"}
    return bool(where) if platform is None else keys.get(platform, "") in where


def searched_releases(facts: Facts) -> list[knowledge.TorchRelease] | None:
    """The torch releases the indexes pip searched carry for this platform, as far as the tables know them; None where
    every index the report shows is one whose content they do not know (a mirror, a private index). No index shown:
    PyPI, which pip searches by default and which carries every release (pip prints "Looking in indexes" for any
    other, pip/_internal/models/search_scope.py). pip lists the versions of all indexes together, so an index of
    unknown content next to a known one adds versions at most: an empty list still holds for the known one."""
    platform = platform_of(facts)
    urls = _indexes(facts) or ["https://pypi.org/simple"]
    known = [url for url in urls if _on_index(knowledge.releases()[0], url, None) is not None]
    if not known:
        return None
    return [rel for rel in knowledge.releases() if any(_on_index(rel, url, platform) for url in known)]


def _has_wheel(rel: knowledge.TorchRelease, python: str, platform: str | None) -> bool:
    """Whether PyPI has a wheel of ``rel`` for ``python`` on ``platform`` (unknown: on any platform)."""
    found = rel.python_range(platform or "any")
    return found is not None and python in found


def first_with_wheels(facts: Facts, python: str) -> knowledge.TorchRelease | None:
    """The oldest release pip could have found with a wheel for ``python`` here (None: none has one)."""
    platform = platform_of(facts)
    fits = [r for r in searched_releases(facts) or [] if _has_wheel(r, python, platform)]
    return fits[-1] if fits else None


def empty_list_blames_python(facts: Facts) -> bool:
    """pip found no torch version at all, and of the causes of that the report leaves only the Python version.

    An empty list means no release on the indexes searched has a wheel for this interpreter. Ruled out first, where
    the report shows them: a pin of a build never published (:func:`never_published`), an index pip could not reach,
    an index whose content is unknown (a mirror), a 32-bit Python, a CPU PyPI builds no torch for, and macOS on
    Intel (its own finding here). What is left is the interpreter's version: outside the asked-for release's Pythons
    where the report does not show the version; where it does and nothing was pinned, a Python newer than the first
    releases with wheels for it (so the report predates the first that has them). A pinned release with wheels for
    the stated Python leaves the Python out: pip would have listed that release.
    """
    if not listed_none(facts) or facts.system.index_unreachable:
        return False
    machine = (facts.system.machine or "").lower()
    if machine in _32BIT or "32 bit" in (facts.system.python_version or "").lower():
        return False
    if (machine and machine not in _WHEEL_CPUS) or platform_of(facts) == "macos-x86_64":
        return False
    if never_published(facts) is not None:
        return False
    searched = searched_releases(facts)
    asked, wanted = asked_for(facts)
    candidates = [r for r in wanted if r in (searched or [])]
    if not candidates:
        return False  # the index carries none of what was asked for: the index, not the Python
    python = queries.python_version(facts)
    if python is None:
        return True
    platform = platform_of(facts)
    if not any(_has_wheel(r, python, platform) for r in candidates):
        return True
    if asked is not None and any(s.operator in ("==", "===") for s in asked.specifier):
        return False
    first = first_with_wheels(facts, python)
    oldest = next((r for r in reversed(candidates) if r.python_range(platform or "any") is not None), None)
    return first is not None and oldest is not None and first != oldest


def _span(pythons: list[str]) -> str:
    return pythons[0] if len(pythons) == 1 else f"{pythons[0]}-{pythons[-1]}"


def asked_for(facts: Facts) -> tuple[Requirement | None, list[knowledge.TorchRelease]]:
    """The torch requirement pip could not satisfy, and the known releases it allows (all when unknown)."""
    asked = _asked([h.excerpt for h in _install_hits(facts)])
    if asked is None:
        return None, knowledge.releases()
    # "torch==2.7.0+cu128": the release is 2.7 whatever the local tag; "torch==2.5.1": any patch of 2.5
    spec = SpecifierSet(re.sub(r"\+[\w.]+", "", str(asked.specifier)))
    releases = [
        r
        for r in knowledge.releases()
        if any(spec.contains(f"{r.minor}.{patch}", prereleases=True) for patch in range(10))
    ]
    return asked, releases


def python_rules_out_every_wheel(facts: Facts) -> bool:
    """pip found no torch (or the report says a named release would not install), and no release asked for
    publishes wheels for this Python on this platform (the Python the report names, else every one pip's
    list of versions leaves possible; the platform where the report shows it, else Linux x86_64's ranges)."""
    python = queries.python_version(facts)
    pythons = [python] if python else inferred_pythons(facts)
    asked, releases = asked_for(facts)
    if not hits_for(facts, CODE) and (asked is None or not hits_for(facts, STATED) or facts.torch.version):
        return False  # a statement counts only with the release it names, and only while torch is missing
    releases = candidate_releases(facts)
    platform = platform_of(facts)
    return bool(pythons and releases and not any(r.supports_python(p, platform) for r in releases for p in pythons))


def candidate_releases(facts: Facts) -> list[knowledge.TorchRelease]:
    """The releases asked for that the indexes pip searched carry, where the report shows those indexes and the
    tables know them (PyTorch's per-variant indexes carry only the releases built for that variant: cu118 ends with
    2.7); otherwise every release asked for. Empty where the indexes shown carry none of them."""
    _, releases = asked_for(facts)
    searched = searched_releases(facts) if _indexes(facts) else None
    return releases if searched is None else [r for r in releases if r in searched]


def python_label(facts: Facts) -> str | None:
    """The Python to name in a finding: the report's, else the span pip's list leaves (None: neither)."""
    python = queries.python_version(facts)
    if python:
        return python
    pythons = inferred_pythons(facts)
    return _span(pythons) if pythons else None


def never_published(facts: Facts) -> tuple[str, str, tuple[str, ...]] | None:
    """(pin, variant, the variants that release has here) where the asked-for pin names a variant tag the
    release was never published with on this platform (every platform, where the report shows none)."""
    asked, _ = asked_for(facts)
    pins = [s.version for s in asked.specifier if s.operator == "=="] if asked is not None else []
    variant = knowledge.variant_of(pins[0]) if len(pins) == 1 else None
    if len(pins) == 1 and variant is None:
        # "pip install torch==2.10.0 --index-url https://download.pytorch.org/whl/cu131": the index names the variant
        asks = {a.variant for a in tried.torch_installs(facts.tried) if a.version == pins[0] and a.variant}
        variant = asks.pop() if len(asks) == 1 else None
        pins = [f"{pins[0]}+{variant}"] if variant else pins
    rel = knowledge.release(pins[0]) if variant else None
    if rel is None or variant is None or not variant.startswith(("cu", "rocm")):
        return None
    platform = platform_of(facts)
    if platform == "windows":
        have = tuple(v for v in rel.on_windows() if rel.ships(v, pins[0]))
    elif platform == "linux-aarch64":
        have = rel.aarch64
    elif platform is None or platform == "linux-x86_64":
        have = tuple(v for v in (*rel.variants, *rel.rocm) if rel.ships(v, pins[0]))
    else:
        return None  # macOS: no CUDA wheels at all, which the other causes say
    if platform is None:
        everywhere = _platforms(rel, variant, pins[0]) if variant.startswith("cu") else set()
        if everywhere or rel.ships(variant, pins[0]):
            return None
    elif variant in have or (rel.variants_partial and variant.startswith("cu")):
        return None
    return pins[0], variant, have


def torch_has_a_wheel_here(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """pip must find a torch wheel for this Python and platform; say which of them rules every wheel out."""
    hits = hits_for(facts, CODE)
    unpublished = never_published(facts) if hits else None
    if unpublished is None:
        hits = [hit for hit in hits if hit.id != _PIN]  # a pin of a published build explains nothing alone
    if not hits or python_rules_out_every_wheel(facts) or empty_list_blames_python(facts):
        return []  # the Python version: torch.python-unsupported says so
    asked, _ = asked_for(facts)
    python = queries.python_version(facts)
    machine = (facts.system.machine or "").lower()
    system = (facts.system.os or "").lower()
    evidence: dict[str, object] = {}
    if asked is not None:
        evidence["asked for"] = str(asked)
    if python:
        evidence["python"] = facts.system.python_version
    if machine:
        evidence["machine"] = f"{facts.system.os or ''} {facts.system.machine}".strip()
    evidence.update(evidence_of(hits))
    if unpublished is not None:
        pin, variant, have = unpublished
        platform = platform_of(facts)
        where = knowledge.platform_name(platform) if platform else None
        fix = [
            f"# torch {pin.split('+')[0]} was published for: {', '.join(have) or 'no CUDA variant'}"
            + (f" ({where})" if where else ""),
            "# pin one of those (its index: https://download.pytorch.org/whl/<variant>), or a release that has "
            f"{variant}",
        ]
        title = f"torch {pin} was never published: that release has no {variant} build" + (
            f" for {where}" if where else ""
        )
        detail = (
            "PyTorch's wheel index has one folder per build variant (download.pytorch.org/whl/cu126/, ...), and "
            f"each release is built for a few of them: no index has a {variant} build of this release, so pip "
            "cannot find it whatever the Python or the options."
        )
        return [_finding(title, evidence, fix, detail)]
    if machine in _32BIT or "32 bit" in (facts.system.python_version or "").lower():
        fix = ["# PyTorch publishes 64-bit wheels only: install a 64-bit Python (and OS), then pip install torch"]
        return [_finding("pip found no torch wheel: this Python is 32-bit", evidence, fix)]
    last, after = _last_with_macos_intel_wheels()
    last_patch = (knowledge.named_patches(last) or (f"{last.minor}.0",))[-1]
    if system == "darwin" and machine == "x86_64" and (asked is None or not asked.specifier.contains(last_patch)):
        fix = [
            f"pip install 'torch<{after.minor}'   # {last.minor} is the last release with macOS x86_64 (Intel) wheels",
            "# newer releases need an Apple-silicon Mac (arm64), or Linux",
        ]
        title = f"pip found no torch wheel: PyTorch stopped publishing macOS Intel wheels after {last.minor}"
        return [_finding(title, evidence, fix)]
    fix = [
        "python -c 'import sys, platform; print(sys.version, platform.machine())'   # Python and CPU pip is choosing for",
        "# a PyTorch --index-url carries one build (cpu, cu126, ...) per platform: check it lists this Python and platform",
        "# at https://download.pytorch.org/whl/torch/ (or your mirror's), or install without --index-url",
    ]
    return [_finding("pip found no torch wheel for this Python and platform", evidence, fix)]


def _last_with_macos_intel_wheels() -> tuple[knowledge.TorchRelease, knowledge.TorchRelease]:
    """The newest release with macOS x86_64 wheels on PyPI (2.2), and the release after it (2.3)."""
    newest_first = knowledge.releases()
    i = next(n for n, r in enumerate(newest_first) if "x86_64" in r.macos)
    return newest_first[i], newest_first[max(i - 1, 0)]


def _finding(title: str, evidence: dict[str, object], fix: list[str], detail: str | None = None) -> Finding:
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title=title,
        detail=detail
        or 'pip lists the versions whose wheels fit this interpreter and platform: "from versions: none" '
        "means not one does, so no other pip option will help until the interpreter, platform or index changes.",
        evidence=evidence,
        fix=tuple(fix),
    )


register(
    Check(
        name="torch-no-wheel",
        codes=(CODE,),
        summary='pip finds no torch wheel ("from versions: none"): Python version, 32-bit, macOS Intel, or the index',
        layer=Layer.TORCH_INSTALL,
        run=torch_has_a_wheel_here,
    )
)

"""torch.companion-mismatch: torchvision or torchaudio was not built for the installed torch (version or CUDA variant)."""

from __future__ import annotations

import re
import shlex

from packaging.requirements import InvalidRequirement, Requirement

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks import fixes
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, Package, SignatureHit
from torchrig.doctor.findings import Finding, Severity

CODE = "torch.companion-mismatch"
_PIP_REPLACED = "pip.companion-replaces-torch"  # signatures.toml
# the same swap told in the reporter's words ("installing torchaudio removed my PyTorch")
_REPLACED_SAID = "companion.install-replaced-torch-said"
# torchaudio up to 0.4 built its extension as the top-level module _torch_sox (its setup.py)
_OWN_LIBRARY = {"_torch_sox": "torchaudio"}
_PINNING = re.compile(r"\b(xformers|torchvision|torchaudio|vllm|flash[-_]attn|torchao)\b")
_COMPANIONS = ("torchvision", "torchaudio")
_STABLE_ABI = "companion.stable-abi-symbol-missing"  # signatures.toml
# The loader names the object that needs the symbol on the same line: ld.so "<object>: undefined symbol: <name>",
# dyld "dlopen(<object>, 0x0006): Symbol not found: _<name>". Other programs use torch's stable C ABI too (an
# AOTInductor model.so, torchao, kernels built on torch/csrc/stable): the symbol is the companion's only where
# the object is torchvision's or torchaudio's, or where the line names none.
_OBJECT = re.compile(r"[^\s:(]+\.(?:so|pyd|dylib)\b")
# signatures.toml: torchvision's operator missing, and a program's own frame calling it through torch.ops. The
# torchvision:: operators exist once `import torchvision` has loaded its library (torchvision/extension.py;
# pytorch/vision#1405): called that way, "No such operator torchvision::nms" comes from any pair, matched or not,
# so it shows no mismatch; only a frame inside torchvision (its own ops failing to load) or the versions do.
_OP_MISSING = "companion.torchvision-nms-missing"
_CALLED_UNIMPORTED = "companion.torchvision-op-called-unimported"


def _torch_requirement(pkg: Package) -> Requirement | None:
    for line in pkg.requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.name.lower() == "torch" and str(req.specifier) and not req.marker:
            return req
    return None


def _version_problem(pkg: Package, torch_version: str) -> str | None:
    """Why this companion's version does not pair with torch, from its Requires-Dist, else the release table."""
    public = knowledge.parse_version(torch_version)
    req = _torch_requirement(pkg)
    if req is not None and public is not None:
        if not req.specifier.contains(public.public, prereleases=True):
            return f"{pkg.name} {pkg.version} requires {req}, but torch is {torch_version}"
        return None
    rel = knowledge.release(torch_version)
    if public is None or public.is_prerelease:
        return None  # nightlies number companions on their own schedule (torch 2.5.0.dev with torchaudio 2.4.0.dev)
    expected = getattr(rel, pkg.name, None) if rel else None
    if expected and knowledge.minor_of(pkg.version or "") != expected:
        return f"torch {rel.minor} pairs with {pkg.name} {expected}, but {pkg.version} is installed"  # type: ignore[union-attr]
    return None


def _names(line: str, companion: str) -> bool:
    """The line names the companion, or a library only that companion ships."""
    return companion in line.lower() or any(lib in line for lib, owner in _OWN_LIBRARY.items() if owner == companion)


def _variant_problem(pkg: Package, torch_variant: str | None) -> str | None:
    """A companion's local tag (+cu126) must match torch's CUDA variant where both carry one."""
    mine = knowledge.variant_of(pkg.version or "")
    if mine and torch_variant and mine != torch_variant:
        return f"{pkg.name} {pkg.version} is built for {mine}, torch for {torch_variant}"
    return None


def _companion_object(excerpt: str) -> bool:
    """Whether the line's missing stable-ABI symbol was needed by torchvision or torchaudio (or by no object it names)."""
    objects = _OBJECT.findall(excerpt)
    return not objects or any(name in obj.lower() for obj in objects for name in _COMPANIONS)


def companions_match_torch(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """torchvision and torchaudio must be the releases built for this torch, for the same CUDA variant."""
    hits = [hit for hit in hits_for(facts, CODE) if hit.id != _STABLE_ABI or _companion_object(hit.excerpt)]
    if any(hit.id == _CALLED_UNIMPORTED for hit in hits):
        hits = [hit for hit in hits if hit.id not in (_CALLED_UNIMPORTED, _OP_MISSING)]
    if not facts.torch.version and not hits:
        return []
    variant = queries.torch_variant(facts)
    problems: dict[str, str] = {}
    for name in _COMPANIONS:
        pkg = facts.companion(name)
        if pkg is None or not pkg.version or not facts.torch.version:
            continue
        problem = _version_problem(pkg, facts.torch.version) or _variant_problem(pkg, variant)
        if problem:
            problems[name] = problem
    if not problems and not hits:
        return []
    replaced = [h for h in hits if h.id in (_PIP_REPLACED, _REPLACED_SAID)]
    if replaced and not problems:
        return [_replaced_by_pip(facts, replaced[0].excerpt, hits)]
    fix: list[str] = []
    build = fixes.current_build(facts)
    names = list(problems) or [n for n in _COMPANIONS if facts.companion(n)] or ["torchvision"]
    if build is not None:
        wanted = {"torchvision": build.torchvision, "torchaudio": build.torchaudio}
        specs = [f"{n}=={wanted[n]}" for n in names if wanted.get(n)]
        if (facts.torch.installer or "").lower() == "conda":
            fix.append(
                shlex.join(
                    [
                        "conda",
                        "install",
                        "-y",
                        "-c",
                        "conda-forge",
                        *[s.replace("==", "=").removesuffix(".*") for s in specs],
                    ]
                )
            )
        elif specs:
            url = knowledge.index_url(build.variant, base=ctx.index_base)
            py = queries.python_command(facts)
            # --no-deps: keep this torch; --force-reinstall: pip counts 0.28.0+cu126 as satisfying ==0.28.0.
            fix.append(
                shlex.join([py, "-m", "pip", "install", "--force-reinstall", "--no-deps", *specs, "--index-url", url])
            )
    if not fix:
        fix.append(
            "Reinstall torchvision/torchaudio together with torch from the same index, e.g. "
            "`pip install torch==X torchvision==Y --index-url https://download.pytorch.org/whl/cuXXX`"
        )
    evidence: dict[str, object] = {"torch": facts.torch.version} if facts.torch.version else {}
    evidence.update(dict(problems.items()))
    evidence.update(evidence_of(hits))
    named = [name for name in _COMPANIONS if any(_names(hit.excerpt, name) for hit in hits)]
    what = " and ".join(problems) or " and ".join(named) or "torchvision or torchaudio"
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=f"{what} {'was' if len(problems) < 2 else 'were'} not built for torch {facts.torch.version or ''}".rstrip(),
            detail="A companion built for another torch or CUDA variant fails to load its C++ operators "
            '("operator torchvision::nms does not exist", undefined symbols) or silently falls back.',
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


def _replaced_by_pip(facts: Facts, line: str, hits: list[SignatureHit]) -> Finding:
    """pip swapped torch to satisfy a package's torch pin: pin torch in the same command instead."""
    match = _PINNING.search(line)
    pkg = match.group(1) if match else "the package"
    py = queries.python_command(facts)
    mine = facts.torch.replaced  # the torch before pip swapped it (Found existing installation: torch X)
    keep = [f"torch=={mine}"] if mine else ["torch==<the torch to keep>"]
    fix = [
        shlex.join([py, "-m", "pip", "install", *keep, pkg])
        + f"   # the torch to keep, pinned: pip then picks the {pkg} release built for it (add torch's --index-url)",
        f"# or install the {pkg} release its notes name for your torch; then check: {py} -m pip check",
    ]
    if pkg in _COMPANIONS:
        # no published torchaudio/torchvision release is built for a torch built from source (a custom ROCm or
        # CUDA build): keep pip off torch and build the companion from its source against the torch installed
        fix.append(
            f"# torch built from source: build {pkg} from its source against it "
            f"({py} -m pip install --no-build-isolation --no-deps <{pkg} source checkout at the release paired with your torch>)"
        )
    evidence: dict[str, object] = {"torch before": mine} if mine else {}
    if facts.torch.version:
        evidence["torch pip put in its place"] = facts.torch.version
    evidence.update(evidence_of(hits))
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title=f"pip replaced torch to install {pkg}, which was built for another torch",
        detail=f"{pkg} pins the exact torch it was compiled against; asked for without a version, pip chose a {pkg} "
        "release for another torch and swapped torch to match, often for another CUDA variant or a CPU build.",
        evidence=evidence,
        fix=tuple(fix),
    )


register(
    Check(
        name="torch-companion-mismatch",
        codes=(CODE,),
        summary="torchvision/torchaudio not built for this torch: version pairing and CUDA variant",
        layer=Layer.BUILD,
        run=companions_match_torch,
    )
)

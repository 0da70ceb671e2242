"""driver.too-old: the driver cannot run the CUDA release torch was built with (minor-version compatibility counted)."""

from __future__ import annotations

import re

from packaging.version import Version

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks import fixes
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity

CODE = "driver.too-old"
PTX = "driver.ptx-newer-than-driver"  # the PTX JIT's refusal: about a toolkit's PTX, not torch's build
# cudaErrorInsufficientDriver (35), "CUDA driver version is insufficient for CUDA runtime version": the runtime answers
# it for a driver older than itself, and also where it finds no usable driver at all (a container started without
# GPUs, a machine whose only GPU is another vendor's); alone, it does not tell the two apart.
_INSUFFICIENT = "driver.insufficient-for-runtime"
# an NGC container's start-up check (signatures.toml): the driver its CUDA was built with, and the host's
NGC = "driver.ngc-container-needs-newer-driver"
_NGC_VERSIONS = re.compile(r"Driver Release (?P<need>\d+(?:\.\d+)+) or later, but\s*version (?P<have>\d+(?:\.\d+)+)")
_FAMILIES = ("13", "12", "11")  # CUDA majors with minor-version compatibility (CUDA Compatibility guide, CUDA 11+)
# Ollama's documented driver floors for the CUDA 12 build its releases bundle (ollama/ollama): from v0.30.0, when the
# release moved to llama-server's CUDA 12.8 build, "Nvidia GPUs with compute capability 5.0 through 6.2 require driver
# version 570 or newer" (docs/gpu.mdx, commit 9db4bdbad), their kernels being JIT-compiled from PTX; from v0.30.11,
# "driver version 550 and newer" for every GPU, since the build's compressed fatbins need it, and discovery sets older
# drivers' GPUs aside (commit f22ec2ec4, "CUDA: require driver 550 or newer for v12", discover/cuda_compat.go).
OLLAMA = "program.ollama-version"  # signatures.toml: context, no fault alone
_OLLAMA_WARNS = "driver.ollama-driver-too-old"  # Ollama's own "NVIDIA driver too old"
_OLLAMA_FLOORS = (  # (from release, below compute capability or None for all GPUs, minimum driver branch)
    (Version("0.30.0"), Version("7.0"), 570),
    (Version("0.30.11"), None, 550),
)


def _api_from_hits(excerpts: list[str]) -> str | None:
    """ "found version 11040" (torch's message: the driver's CUDA API version) -> "11.4"."""
    for text in excerpts:
        match = re.search(r"found version (\d{4,5})", text)
        if match:
            number = int(match.group(1))
            return f"{number // 1000}.{number % 1000 // 10}"
    return None


def _api_runs(api: str, cuda: str) -> bool:
    """Whether a driver whose CUDA API is ``api`` runs a ``cuda`` build: same major suffices from CUDA 11 on."""
    have, need = Version(api), Version(cuda)
    if need.major >= 11:
        return have.major >= need.major
    return have >= need


def driver_runs_torch_build(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """The driver must be at least the minimum for torch's CUDA build, counting minor-version compatibility."""
    hits = hits_for(facts, CODE)
    ollama = [hit for hit in hits if hit.id in (OLLAMA, _OLLAMA_WARNS)]
    hits = [hit for hit in hits if hit not in ollama]
    if ollama:
        program = _ollama(facts, ollama)
        if program is not None:
            return [program]
    ptx = [hit for hit in hits if hit.id == PTX]
    ngc = [hit for hit in hits if hit.id == NGC]
    hits = [hit for hit in hits if hit.id not in (PTX, NGC)]
    if ngc and not hits:
        container = _ngc_container(facts, ngc[0])
        if container is not None:
            return [container]
        hits = ngc
    found = _runs_torch_build(facts, ctx, hits)
    if ptx and found:
        found[0].evidence.update(evidence_of(ptx))
    return found or _ptx_too_new(facts, ptx)


def _ollama(facts: Facts, hits: list[SignatureHit]) -> Finding | None:
    """Ollama's release and the driver: below the floor Ollama documents for it, its GPUs run nothing (CPU)."""
    warned = [hit for hit in hits if hit.id == _OLLAMA_WARNS]
    releases = [
        Version(m.group(1))
        for hit in hits
        if hit.id == OLLAMA
        for m in re.finditer(r"(?<![\w.])v?(0\.\d{1,3}\.\d{1,3})(?![\w.]*\d)", hit.excerpt)
    ]
    release = max(releases, default=None)  # a bisection's newest release is the one that fails
    shown = queries.driver_version(facts)
    driver = knowledge.parse_version(shown)
    ccs = [Version(cc) for cc in queries.capabilities(facts)]
    floor: tuple[int, str] | None = None
    for since, below, branch in _OLLAMA_FLOORS:
        if release is None or release < since or driver is None or driver.major >= branch:
            continue
        if below is None:
            floor = max(floor or (0, ""), (branch, f"every NVIDIA GPU from Ollama {since}"))
        elif ccs and any(cc < below for cc in ccs):
            floor = max(floor or (0, ""), (branch, f"GPUs below compute capability {below} from Ollama {since}"))
    if floor is None and not warned:
        return None
    evidence: dict[str, object] = {}
    if release is not None:
        evidence["Ollama"] = str(release)
    if shown:
        evidence["driver"] = shown
    if ccs:
        evidence["compute capability"] = ", ".join(str(cc) for cc in ccs)
    if floor is not None:
        evidence["Ollama's documented minimum driver"] = f"{floor[0]} ({floor[1]})"
    evidence.update(evidence_of(warned or hits))
    need = f"{floor[0]} or newer" if floor else "the branch Ollama names (required_driver)"
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title=f"The NVIDIA driver{f' ({shown})' if shown else ''} is too old for Ollama"
        + (f" {release}" if release else ""),
        detail="Ollama bundles its own CUDA 12 build and documents the driver it needs; with an older driver its "
        "GPU discovery sets the GPUs aside (or its kernels cannot load) and every model runs on the CPU, "
        "although nvidia-smi shows the GPUs free.",
        evidence=evidence,
        fix=(
            f"Update the NVIDIA driver to {need} (on the host, for Ollama in a container), then restart Ollama",
            "# or keep this driver and stay on the last Ollama release its documentation allows",
        ),
    )


def _runs_torch_build(facts: Facts, ctx: CheckContext, hits: list[SignatureHit]) -> list[Finding]:
    if facts.torch.cuda_available and any(s.matmul_ok for s in facts.torch.smoke) and not hits:
        # torch's child ran a matmul on the GPU under this build, so the driver runs it: a data-centre GPU
        # on an older driver with the cuda-compat forward-compatibility libraries (NGC containers) does.
        return []
    if facts.system.jetson and not hits:
        # Jetson's driver ships with L4T and is numbered by it (/proc says "35.3.1"): the desktop minimums
        # do not apply, and JetPack's own torch builds match its CUDA.
        return []
    cuda = queries.torch_cuda(facts)
    driver = queries.driver_version(facts)
    windows = queries.uses_windows_driver(facts)
    api = facts.driver.cuda_driver_api or _api_from_hits([h.excerpt for h in hits])
    need = knowledge.min_driver(cuda, windows=windows) if cuda else None
    have = knowledge.parse_version(driver)
    if need is not None and have is not None:
        too_old = have < need
    elif cuda and api:
        too_old = not _api_runs(api, cuda)
    else:
        too_old = bool(hits)
    if not too_old:
        return []
    if not (driver or api or queries.has_nvidia_gpu(facts)) and hits and all(h.id == _INSUFFICIENT for h in hits):
        return [_no_driver_shown(facts, cuda, need, hits)]
    evidence: dict[str, object] = {}
    if driver:
        evidence["driver" + (" (Windows, as WSL sees it)" if windows else "")] = driver
    if api:
        evidence["newest CUDA this driver supports"] = api
    if facts.torch.version:
        evidence["torch"] = facts.torch.version
    if cuda:
        evidence["torch built with CUDA"] = cuda
    if need is not None:
        evidence["minimum driver for that build"] = f"{need} (minor-version compatibility)"
    evidence.update(evidence_of(hits))
    branch = fixes.driver_branch(cuda, windows=windows, ccs=queries.capabilities(facts)) if cuda else None
    fix: list[str] = []
    if need is not None:
        fix += fixes.driver_install(facts, need, branch)
    else:
        fix.append(
            "Update the NVIDIA driver to the newest branch for your GPU "
            f"({knowledge.newest_compat_branch()} or later runs every current PyTorch build)"
        )
    # a log may give only the CUDA version the driver supports ("found version 11040"); a release the
    # tables do not know (8.0, newer than 13.2) gives no driver to plan with
    api_driver = knowledge.min_driver(api, windows=windows, minor_compat=False) if api else None
    runnable = driver or (str(api_driver) if api_driver else None)
    if runnable:
        build = fixes.choose_build(facts, driver=runnable)
        if build is not None:
            fix.append(f"# or keep this driver and install a PyTorch build it runs (CUDA {build.cuda}):")
            fix += fixes.torch_install(facts, build, ctx)
    shown = f"{driver}" if driver else f"supporting CUDA {api}" if api else "installed"
    title = (
        f"The NVIDIA driver ({shown}) is too old for torch's CUDA {cuda} build"
        if cuda
        else "The NVIDIA driver is too old for this PyTorch build"
    )
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=title,
            detail=(
                (
                    f"A CUDA {cuda} build needs driver {need} or newer"
                    if cuda and need
                    else "Each CUDA build needs a minimum driver"
                )
                + "; with an older driver "
                'CUDA initialisation fails ("The NVIDIA driver on your system is too old") and '
                "torch.cuda.is_available() is False. Either upgrade the driver or install a build for an older CUDA."
            ),
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


def _ngc_container(facts: Facts, hit: SignatureHit) -> Finding | None:
    """An NGC container built for driver ``need`` on a host driver ``have``, forward compatibility unavailable.

    From CUDA 11 on, a driver runs every release of its own CUDA major (minor-version compatibility): a host driver
    at or above the first driver of the container's CUDA major runs it, short of PTX JIT and the newest APIs, so the
    banner is then a warning; below it, or before CUDA 11, nothing in the container's CUDA starts.
    """
    versions = _NGC_VERSIONS.search(" ".join(hit.excerpt.split()))
    if versions is None:
        return None
    need_text, have_text = versions.group("need"), versions.group("have")  # as printed: "510.85.02", not "510.85.2"
    need, have = Version(need_text), Version(have_text)
    floors = {m: knowledge.min_driver(f"{m}.0") for m in _FAMILIES}
    family = next((m for m, first in floors.items() if first is not None and first <= need), None)
    floor = floors[family] if family else None
    compatible = floor is not None and have >= floor
    install = (
        "# on the host: the container brings its own CUDA and uses the host's driver",
        *fixes.driver_install(facts, need, fixes.driver_branch(f"{family}.0" if family else None)),
    )
    evidence: dict[str, object] = {"host driver": have_text, "driver the container was built for": need_text}
    if floor is not None:
        evidence[f"first driver of CUDA {family}.x (minor-version compatibility)"] = str(floor)
    evidence.update(evidence_of([hit]))
    if compatible:
        return Finding(
            code=CODE,
            severity=Severity.WARNING,
            title=f"The NGC container was built for driver {need_text}; the host's {have_text} runs it only through CUDA "
            f"{family}'s minor-version compatibility",
            detail="The container's start-up check wants its own CUDA's driver. The host driver belongs to the same "
            "CUDA major, so CUDA programs built for it run, but PTX JIT-compiled by the newer toolkit (Triton, "
            "torch.compile, a JIT extension) and APIs newer than the driver fail.",
            evidence=evidence,
            fix=install,
        )
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title=f"The host's NVIDIA driver {have_text} is too old for this NGC container (built for driver {need_text})",
        detail="The container's CUDA needs a newer driver than the host's"
        + (f", and the host driver is below CUDA {family}'s first driver, {floor}" if floor else "")
        + ": without the forward-compatibility libraries (data-centre GPUs only) its CUDA cannot start.",
        evidence=evidence,
        fix=(
            *install,
            "# or use an older release of the container, one built for a CUDA this driver runs (NGC support matrix)",
        ),
    )


def _no_driver_shown(facts: Facts, cuda: str | None, need: Version | None, hits: list[SignatureHit]) -> Finding:
    """Error 35 alone, and the report shows neither a driver nor an NVIDIA GPU: an old driver, or none at all."""
    branch = fixes.driver_branch(cuda)
    evidence: dict[str, object] = {"torch": facts.torch.version} if facts.torch.version else {}
    if cuda:
        evidence["torch built with CUDA"] = cuda
    evidence.update(evidence_of(hits))
    fix = [
        "nvidia-smi   # is there an NVIDIA GPU and driver here? its header names the driver and the newest CUDA it runs",
        "# no NVIDIA GPU (or a container started without one): run on the CPU, or start the container with --gpus all",
        "# an NVIDIA GPU: install the driver:",
        *fixes.driver_install(facts, need or Version(str(branch)), branch),
    ]
    return Finding(
        code=CODE,
        severity=Severity.WARNING,
        title="CUDA says the driver is insufficient, and the report shows no NVIDIA driver or GPU: an old driver, "
        "or none at all",
        detail="The CUDA runtime answers error 35 for a driver older than itself and also where it finds no usable "
        "NVIDIA driver (no NVIDIA GPU, a container without GPUs). The report shows no driver version and no NVIDIA "
        "GPU, so which of the two this is stays unknown.",
        evidence=evidence,
        fix=tuple(fix),
    )


def _api_runs_ptx(api: str, toolkit: str) -> bool:
    """Whether a driver supporting CUDA ``api`` JIT-compiles PTX from ``toolkit`` (same release or older)."""
    have, made = knowledge.parse_version(api), knowledge.parse_version(toolkit)
    return have is not None and made is not None and have.release[:2] >= made.release[:2]


def _ptx_too_new(facts: Facts, hits: list[SignatureHit]) -> list[Finding]:
    """The driver's PTX JIT refused PTX from a newer toolkit (an extension's, triton's, a program's own nvcc).

    PTX gets no minor-version compatibility: the driver must be at least the one of the toolkit that wrote it
    (CUDA Compatibility guide). Where the report shows that toolkit (nvcc) and what the driver supports, the
    finding names both; the fix is a newer driver, or building with a toolkit no newer than the driver.
    """
    if not hits:
        return []
    windows = queries.uses_windows_driver(facts)
    driver = queries.driver_version(facts)
    api = facts.driver.cuda_driver_api
    toolkit = facts.toolkit.version
    evidence: dict[str, object] = {}
    if driver:
        evidence["driver"] = driver
    if api:
        evidence["newest CUDA this driver supports"] = api
    if toolkit:
        evidence["CUDA toolkit (nvcc)"] = toolkit
    evidence.update(evidence_of(hits))
    if toolkit and api and _api_runs_ptx(api, toolkit):
        # the nvcc shown is not what wrote this PTX (a wheel's prebuilt PTX, conda's nvcc, triton's ptxas)
        evidence["note"] = f"the driver runs PTX from CUDA {toolkit}: this PTX came from a newer toolkit than that nvcc"
        toolkit = None
    need = knowledge.min_driver(toolkit, windows=windows, minor_compat=False) if toolkit else None
    fix: list[str] = []
    if need is not None:
        fix.append(f"# PTX from CUDA {toolkit} needs driver {need} or newer (no minor-version compatibility for PTX)")
        branch = fixes.driver_branch(toolkit, windows=windows, ccs=queries.capabilities(facts))
        branch = need.major if branch is None or branch < need.major else branch  # the branch minimum counts
        fix += fixes.driver_install(facts, need, branch)
    else:
        fix.append(
            "Update the NVIDIA driver to the newest branch for your GPU (`nvidia-smi` shows the CUDA it supports)"
        )
    if api:
        fix.append(
            f"# or rebuild the code that ships this PTX with a CUDA toolkit no newer than {api} "
            f"(export CUDA_HOME=/usr/local/cuda-{api}), or install its build for CUDA {api}"
        )
    else:
        fix.append("# or rebuild the code that ships this PTX with a CUDA toolkit no newer than `nvidia-smi` shows")
    newer = f"CUDA {toolkit}" if toolkit else "a newer CUDA toolkit"
    shown = f" ({driver})" if driver else ""
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=f"The NVIDIA driver{shown} is older than the toolkit that compiled the PTX it was given",
            detail=f"PTX made by {newer} must be compiled by the driver's JIT, which only knows the PTX of its own "
            "CUDA release and older (cudaErrorUnsupportedPtxVersion, 222). The code that ships this PTX (a CUDA "
            "extension, a JIT-compiled kernel, a program built with nvcc) needs a newer driver or an older toolkit.",
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


register(
    Check(
        name="driver-too-old",
        codes=(CODE,),
        summary="the driver is below the minimum for torch's CUDA build (minor-version compat counted; WSL: Windows driver)",
        layer=Layer.DRIVER,
        run=driver_runs_torch_build,
        explains=("cuda.init-failed",),
    )
)

"""torch.cpu-only-build: a CPU build of torch on a machine with an NVIDIA GPU.

Which build an installer delivers depends on the platform (``TorchRelease.pypi_variant``): from PyPI, a plain
``pip install torch``, ``uv add torch`` or ``uv sync`` gets a CPU build on Windows (and on Linux aarch64 before
2.11), whatever GPU the machine has; the CUDA builds come from PyTorch's index (download.pytorch.org/whl/<variant>),
which a uv project must name in ``[tool.uv.sources]``. A Jetson runs neither: its CUDA torch is NVIDIA's wheel
for its JetPack release.
"""

from __future__ import annotations

import re

from torchrig import knowledge
from torchrig._core import prose
from torchrig.doctor import queries
from torchrig.doctor.checks import fixes
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import tried
from torchrig.knowledge import install

CODE = "torch.cpu-only-build"
# signatures.toml: torch.cuda.is_available() answered False: to the reporter, to torch.load ("Attempting to deserialize
# object on a CUDA device but torch.cuda.is_available() is False"), or to a program that says so
_ANSWERED = (
    "torch.cuda-available-false",
    "torch.load-cuda-unavailable",
    "program.no-accelerator-detected",
    "program.lightning-no-gpus",
)
# options that point pip or uv at another index than PyPI (a flag followed by its URL, or written flag=URL)
_INDEX_FLAGS = ("--index-url", "-i", "--extra-index-url", "--index", "--default-index", "-f", "--find-links")

# signatures.toml: the reporter's words that the torch installed (or the installer's choice) is a CPU build
_SAID = (
    "torch.cpu-build-said",
    "torch.cpu-build-installed-said",
    "torch.build-said-cpu",
    "torch.cpu-build-installed-said-zh",
    "torch.not-compiled-with-cuda-said",
    "torch.installed-without-gpu-said",
)
# a sentence under a condition ("the error appears if you have the CPU-only version of PyTorch") states no build; the
# condition is looked for in the sentence that names the CPU build, before it ("it defaults to the CPU version even
# when CUDA is installed" states one)
_CONDITION = re.compile(prose.CONDITION_WORDS + r"|\bwhen\b", re.IGNORECASE)


def _conditional(excerpt: str) -> bool:
    """The sentence of ``excerpt`` that names a CPU build puts it under a condition (before the word "cpu")."""
    at = excerpt.lower().find("cpu")
    if at < 0:
        return bool(_CONDITION.search(excerpt))
    return prose.governed(excerpt, at, _CONDITION, look_back=at)


def cuda_build_where_gpu(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """Where there is an NVIDIA GPU, or code asked for CUDA ("Torch not compiled with CUDA enabled"), torch is a CUDA build."""
    hits = [hit for hit in hits_for(facts, CODE) if hit.id not in _SAID or not _conditional(hit.excerpt)]
    cpu_build = (queries.torch_variant(facts) == "cpu" or _conda_selects_cpu(facts)) and not facts.torch.hip
    # "is_available() answered False" asks for CUDA, but is evidence of a CPU build only where the build is one
    hits = [hit for hit in hits if hit.id not in _ANSWERED or cpu_build]
    cpu_here = cpu_build and queries.has_nvidia_gpu(facts)
    # conda's `cpuonly` metapackage pins pytorch-mutex to its CPU variant: while it is installed, conda
    # resolves every pytorch in this environment to a CPU build (pytorch channel's install instructions)
    pinned = cpu_build and facts.companion("cpuonly") is not None
    if (facts.system.os or "").lower() == "darwin":
        return []
    if facts.system.jetson and not facts.torch.hip and (cpu_build or _build_unknown(facts)):
        every = hits_for(facts, CODE)  # is_available() False counts here too: see _on_jetson
        return _on_jetson(facts, every) if every or cpu_here else []
    from_pypi = _pypi_cpu_install(facts) if _build_unknown(facts) else None
    answered = [hit for hit in hits_for(facts, CODE) if hit.id in _ANSWERED]
    if from_pypi is not None and not hits:
        # the build is not shown, but the command that installed it took PyPI's, a CPU build on this platform
        hits = answered
    if not (cpu_here or hits or pinned):
        unshown = _build_unknown(facts) and queries.has_nvidia_gpu(facts) and not facts.torch.cuda_init_error
        return _pypi_cpu_here(facts, answered) if answered and unshown else []
    build = fixes.choose_build(facts)
    gpu_known = queries.has_nvidia_gpu(facts)
    gpus = ", ".join(g.label for g in queries.gpus(facts)) or (
        "an NVIDIA GPU on the PCI bus" if queries.nvidia_gpus_on_bus(facts) else "a GPU"
    )
    evidence: dict[str, object] = {"torch": facts.torch.version, "torch.version.cuda": facts.torch.cuda}
    if _conda_selects_cpu(facts):
        evidence["conda"] = "_pytorch_select 0.1 is installed: Anaconda's pytorch requires it for its CPU build"
    if gpu_known:
        evidence["GPUs"] = gpus
    if queries.driver_version(facts):
        evidence["driver"] = queries.driver_version(facts)
    evidence.update(evidence_of(hits))
    if build is None:
        fix: tuple[str, ...] = ("No published CUDA build fits this driver and these GPUs; see the other findings",)
    else:
        note = _pypi_note(facts, build, ctx)
        fix = note + fixes.torch_install(facts, build, ctx, as_set=bool(note))
    version = f"torch {facts.torch.version} is" if facts.torch.version else "torch is"
    if from_pypi is not None and not cpu_build:
        where = knowledge.platform_name(knowledge.python_platform(facts.system.os, facts.system.machine) or "")
        return [
            Finding(
                code=CODE,
                severity=Severity.WARNING,
                title=f"torch came from PyPI, whose torch for {where} is a CPU build, and it answered that it has no "
                "CUDA",
                detail=f"`{from_pypi.command}` names no PyTorch index, so it installed PyPI's wheel: on {where} that "
                "is a CPU build whatever the GPU. The report does not show the build itself; torch.version.cuda "
                "tells (None: a CPU build).",
                evidence={**evidence, "installed with": from_pypi.command},
                fix=fix,
            )
        ]
    if not gpu_known and pinned and not hits:
        return [
            Finding(
                code=CODE,
                severity=Severity.WARNING,
                title=f"{version} a CPU-only build, and this conda environment is pinned to CPU builds (cpuonly)",
                detail="conda's cpuonly package (often pulled in by another package's dependencies) selects the "
                "CPU variant of pytorch, so conda keeps resolving CPU builds even when a CUDA toolkit is asked for. "
                "The report does not show whether this machine has an NVIDIA GPU: with one, remove cpuonly and "
                "install a CUDA build; without one, the CPU build is what it needs.",
                evidence={**evidence, "conda": "cpuonly is installed (pytorch-mutex=*=cpu)"},
                fix=("# with an NVIDIA GPU:", "conda remove -y cpuonly", *fix),
            )
        ]
    if not gpu_known:
        # the program asked for CUDA; whether this machine has an NVIDIA GPU, the evidence does not say
        return [
            Finding(
                code=CODE,
                severity=Severity.WARNING,
                title=f"{version} a CPU-only build, and the program asked for CUDA"
                if cpu_build or not all(hit.id in _SAID for hit in hits) or not hits
                else "the report says torch is a CPU-only build, where CUDA is wanted",
                detail='A CPU build has no CUDA ("Torch not compiled with CUDA enabled"). The report does not show '
                "whether this machine has an NVIDIA GPU: with one, install a CUDA build; without one, run the "
                'program on the CPU (device="cpu").',
                evidence=evidence,
                fix=("# with an NVIDIA GPU:", *fix, "# without one: make the program use device='cpu'"),
            )
        ]
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=f"{version} a CPU-only build, but this machine has {gpus}",
            detail="A CPU build never uses the GPU: torch.cuda.is_available() is False. "
            + (f"The build for this driver and GPU is CUDA {build.cuda} ({build.variant})." if build else ""),
            evidence=evidence,
            fix=fix,
        )
    ]


def _conda_selects_cpu(facts: Facts) -> bool:
    """Anaconda's pytorch requires ``_pytorch_select`` 0.1 for its CPU build and 0.2 for its GPU one
    (AnacondaRecipes/pytorch-feedstock, recipe/meta.yaml: ``_pytorch_select ==0.1  # [pytorch_variant == "cpu"]``).
    Only where nothing else shows the build: the selector stays behind when the pytorch channel's CUDA build later
    replaces Anaconda's pytorch (``pytorch 1.12.1 py3.8_cuda11.3_cudnn8.3.2_0`` beside ``_pytorch_select 0.1 cpu_0``)."""
    selector = facts.companion("_pytorch_select")
    return selector is not None and (selector.version or "").strip() == "0.1" and _build_unknown(facts)


def _build_unknown(facts: Facts) -> bool:
    """Nothing shows which build torch is (no CUDA or HIP version, no variant tag)."""
    return queries.torch_variant(facts) is None and not facts.torch.cuda and not facts.torch.hip


def _pypi_cpu_here(facts: Facts, answered: list[SignatureHit]) -> list[Finding]:
    """torch answered that it has no CUDA beside an NVIDIA GPU, on a platform where PyPI's torch is a CPU build
    (Windows; Linux aarch64 before 2.11): a warning, since the report shows neither the build nor where it came from."""
    platform = knowledge.python_platform(facts.system.os, facts.system.machine)
    if platform not in ("windows", "linux-aarch64"):
        return []
    if any(a.variant and a.variant != "cpu" for a in tried.torch_installs(facts.tried)):
        return []  # the report installed a CUDA build from PyTorch's index: whether it landed, other checks say
    rel = knowledge.release(facts.torch.version) if facts.torch.version else None
    delivered = rel.pypi_variant(platform) if rel else "cpu"
    if delivered != "cpu":
        return []
    where = knowledge.platform_name(platform)
    when = "" if rel is not None or platform == "windows" else " before torch 2.11"
    gpus = ", ".join(g.label for g in queries.gpus(facts)) or "an NVIDIA GPU"
    evidence: dict[str, object] = {"GPUs": gpus, "platform": where}
    if facts.torch.version:
        evidence["torch"] = facts.torch.version
    if queries.driver_version(facts):
        evidence["driver"] = queries.driver_version(facts)
    evidence.update(evidence_of(answered))
    build = fixes.choose_build(facts)
    fix: tuple[str, ...] = (
        "python -c 'import torch; print(torch.__version__, torch.version.cuda)'   # None: a CPU build",
    )
    if build is not None:
        fix += _pypi_note(facts, build, CheckContext()) + fixes.torch_install(facts, build, CheckContext(), as_set=True)
    return [
        Finding(
            code=CODE,
            severity=Severity.WARNING,
            title=f"torch finds no GPU beside {gpus}; the report does not show its build, and PyPI's torch for {where} "
            f"has no CUDA{when}",
            detail=f"`pip install torch` (or uv) without PyTorch's index installs PyPI's wheel, which on {where} is a "
            f"CPU build{when} whatever the GPU, and a CPU build answers torch.cuda.is_available() False. The report "
            "shows neither the build nor where it came from; torch.version.cuda tells (None: a CPU build).",
            evidence=evidence,
            fix=fix,
        )
    ]


def _pypi_cpu_install(facts: Facts) -> tried.TorchInstall | None:
    """A command of the report that installed torch from PyPI (no index named) where PyPI's torch is a CPU build."""
    platform = knowledge.python_platform(facts.system.os, facts.system.machine)
    if platform is None or facts.system.jetson:
        return None
    for attempt in tried.torch_installs(facts.tried):
        if attempt.variant is not None or any(arg.split("=")[0] in _INDEX_FLAGS for arg in attempt.command.split()):
            continue
        rel = knowledge.release(attempt.version or facts.torch.version or "")
        delivered = rel.pypi_variant(platform) if rel else ("cpu" if platform == "windows" else None)
        if delivered == "cpu":
            return attempt
    return None


def _pypi_note(facts: Facts, build: fixes.Build, ctx: CheckContext) -> tuple[str, ...]:
    """Where PyPI's torch for this platform is a CPU build: say so, and how a uv project names the CUDA index."""
    platform = knowledge.python_platform(facts.system.os, facts.system.machine)
    rel = knowledge.release(facts.torch.version) if facts.torch.version else None
    if platform is None or (rel.pypi_variant(platform) if rel else "cpu" if platform == "windows" else None) != "cpu":
        return ()
    where = knowledge.platform_name(platform)
    note = (
        f"# PyPI's torch for {where} is a CPU build: `pip install torch`, `uv add torch` and `uv sync` without "
        "PyTorch's index install it whatever the GPU; replace torch, torchvision and torchaudio together with "
        f"their {build.variant} builds",
    )
    if (facts.torch.installer or "").lower() != "uv":
        return note
    config = install.uv_project_sources(build, platform=platform, index_base=ctx.index_base)
    return (
        *note,
        "# in a uv project, add to pyproject.toml (else the next `uv sync` or `uv run` puts PyPI's CPU build back):",
        *(f"#   {line}" for line in config),
        "# then `uv lock` and `uv sync`; or, for this venv only:",
    )


def _on_jetson(facts: Facts, hits: list[SignatureHit]) -> list[Finding]:
    """A Jetson's CUDA torch is NVIDIA's JetPack wheel; torch's own aarch64 wheels (PyPI, download.pytorch.org) are
    CPU builds or built for server Arm GPUs (NVIDIA, "Installing PyTorch for Jetson Platform"; the "PyTorch for
    Jetson" wheels are published per JetPack release)."""
    # a CPU tag, or an answer only a CPU build gives ("Torch not compiled with CUDA enabled"), settles the build
    known = queries.torch_variant(facts) == "cpu" or any(hit.id not in (*_ANSWERED, *_SAID) for hit in hits)
    evidence: dict[str, object] = {"torch": facts.torch.version, "platform": "NVIDIA Jetson (JetPack/L4T)"}
    evidence.update(evidence_of(hits))
    fix = (
        "python3 -c 'import torch; print(torch.__version__, torch.version.cuda)'   # None: a CPU build",
        "pip3 uninstall -y torch torchvision torchaudio",
        "# install the torch wheel NVIDIA publishes for this JetPack release (docs.nvidia.com/deeplearning/frameworks/"
        "install-pytorch-jetson-platform), and torchvision built against it",
    )
    version = f"torch {facts.torch.version}" if facts.torch.version else "torch"
    title = (
        f"{version} is a CPU-only build on a Jetson: CUDA needs NVIDIA's JetPack build of torch"
        if known
        else "torch.cuda.is_available() is False on a Jetson: the torch installed is probably not NVIDIA's JetPack "
        "build"
    )
    detail = (
        "On a Jetson, a CUDA-enabled torch is the wheel NVIDIA builds for each JetPack release; `pip install torch` "
        "takes a CPU-only aarch64 wheel from PyPI (CUDA reached PyPI's aarch64 wheels only in torch 2.11, built for "
        "server Arm systems, not JetPack)."
    )
    if not known:
        detail += " The report does not show which torch build answered; torch.version.cuda tells (None: a CPU build)."
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR if known else Severity.WARNING,
            title=title,
            detail=detail,
            evidence=evidence,
            fix=fix,
        )
    ]


register(
    Check(
        name="torch-cpu-only-build",
        codes=(CODE,),
        summary="torch is a CPU-only build on a machine with an NVIDIA GPU",
        layer=Layer.TORCH_INSTALL,
        run=cuda_build_where_gpu,
        explains=("cuda.init-failed",),
    )
)

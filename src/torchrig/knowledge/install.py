"""How a chosen PyTorch build is installed: the one place that writes pip, uv and conda lines for it.

A :class:`Build` is a torch version with its wheel variant and the torchvision / torchaudio that pair
with it. The doctor's fixes, ``torchrig env plan`` and ``torchrig env create`` all turn a Build into
commands here, so the three can never disagree on an index URL, a version pin or a conda spec:

    >>> build = Build("2.13.0", "cu130", torchvision="0.28.0", torchaudio="2.11.*", cuda_floor="13.0")
    >>> pip_install(build, companions=("torchvision",))
    ('python', '-m', 'pip', 'install', 'torch==2.13.0', 'torchvision==0.28.0', '--index-url',
     'https://download.pytorch.org/whl/cu130')
    >>> conda_specs(build)
    ('pytorch=2.13.0=cuda*', 'cuda-version>=13.0,<14')

pip is given the variant's index with ``--index-url`` (it replaces PyPI: the PyTorch index carries
torch's dependencies too); uv with ``--index``, which uv puts before PyPI for the packages it has;
conda gets conda-forge's ``pytorch`` forced to a CUDA (or CPU) build and a ``cuda-version`` pin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packaging.version import Version

from torchrig.knowledge import TorchRelease, index_url, parse_version, variant_cuda

COMPANIONS = ("torchvision", "torchaudio")


@dataclass(frozen=True)
class Build:
    """One PyTorch build to install: versions as pip writes them ("2.13.0", or "2.13.*")."""

    torch: str
    variant: str  # "cu130", "cpu"
    torchvision: str | None = None
    torchaudio: str | None = None
    cuda_floor: str | None = None  # the oldest CUDA of the same major that also fits (conda pins from there)

    @property
    def cuda(self) -> str | None:
        return variant_cuda(self.variant)

    def version_of(self, name: str) -> str | None:
        return {"torch": self.torch, "torchvision": self.torchvision, "torchaudio": self.torchaudio}.get(name)

    def requirements(self, companions: Sequence[str] = ()) -> tuple[str, ...]:
        """``torch==2.13.0`` and the pins of the companions asked for (those this release pairs with)."""
        names = ["torch", *(c for c in companions if self.version_of(c))]
        return tuple(f"{name}=={self.version_of(name)}" for name in names)


def paired_build(
    release: TorchRelease, variant: str, installed: str | None = None, cuda_floor: str | None = None
) -> Build:
    """``release`` as a :class:`Build`, exact where the installed torch is of that release.

    Since torch 2.1 a torchvision (and, through 2.10, torchaudio) patch release pairs with the torch
    patch release of the same number (torchvision 0.27.1 needs torch 2.12.1); before, the tables pin
    the pairs whose minor alone is ambiguous (torch 1.7.1: torchvision 0.8.2).
    """
    v = parse_version(installed) if installed else None
    same = v is not None and f"{v.major}.{v.minor}" == release.minor
    paired = Version(release.minor) >= Version("2.1")
    torch = v.base_version if same and v is not None else f"{release.minor}.*"
    patch = str(v.micro) if same and v is not None and paired else "*"
    vision_pin = dict(release.torchvision_pins).get(torch)
    audio_pin = dict(release.torchaudio_pins).get(torch)
    vision = vision_pin or (f"{release.torchvision}.{patch}" if release.torchvision else None)
    audio = audio_pin
    if audio is None and release.torchaudio:
        audio = f"{release.torchaudio}.{patch}" if release.torchaudio == release.minor else f"{release.torchaudio}.*"
    return Build(torch, variant, vision, audio, cuda_floor)


def index_args(build: Build, *, index_base: str | None, uv: bool = False, platform: str = "linux") -> tuple[str, ...]:
    """The index options for ``build``: none on macOS (PyPI's wheels are the only ones), else the variant's."""
    if platform == "darwin":
        return ()
    return ("--index" if uv else "--index-url", index_url(build.variant, base=index_base))


def pip_install(
    build: Build,
    *,
    pip: Sequence[str] = ("python", "-m", "pip"),
    companions: Sequence[str] = (),
    index_base: str | None = None,
    platform: str = "linux",
) -> tuple[str, ...]:
    """``python -m pip install torch==... [companions] --index-url <variant index>``."""
    return (
        *pip,
        "install",
        *build.requirements(companions),
        *index_args(build, index_base=index_base, platform=platform),
    )


def pip_uninstall(
    build: Build, *, pip: Sequence[str] = ("python", "-m", "pip"), companions: Sequence[str] = ()
) -> tuple[str, ...]:
    """Uninstall first where a build is replaced: pip counts 2.13.0+cu130 as satisfying ``torch==2.13.0``."""
    return (*pip, "uninstall", "-y", *(r.split("==")[0] for r in build.requirements(companions)))


def uv_install(
    build: Build,
    *,
    python: str | None = None,
    companions: Sequence[str] = (),
    index_base: str | None = None,
    platform: str = "linux",
) -> tuple[str, ...]:
    """``uv pip install [--python PY] torch==... --index <variant index>``."""
    target = ("--python", python) if python else ()
    index = index_args(build, index_base=index_base, uv=True, platform=platform)
    return ("uv", "pip", "install", *target, *build.requirements(companions), *index)


# The environment marker of each wheel platform a project's [tool.uv.sources] entry is limited to (PEP 508
# markers, as uv's PyTorch guide writes them: sys_platform == 'win32' / 'linux').
_UV_MARKERS = {
    "windows": "sys_platform == 'win32'",
    "linux-aarch64": "sys_platform == 'linux' and platform_machine == 'aarch64'",
    "linux-x86_64": "sys_platform == 'linux' and platform_machine == 'x86_64'",
}


def uv_project_sources(
    build: Build, *, platform: str, companions: Sequence[str] = COMPANIONS, index_base: str | None = None
) -> tuple[str, ...]:
    """The ``pyproject.toml`` lines that make ``uv sync`` / ``uv lock`` take ``build`` from its PyTorch index.

    uv's guide "Using uv with PyTorch": a project resolves torch from PyPI unless ``[tool.uv.sources]`` points
    it (and torchvision, torchaudio) at a ``[[tool.uv.index]]``, with ``explicit = true`` so that index serves
    only the packages named, and a marker limiting it to the platforms it has wheels for. ``uv pip install``
    into the project's venv is undone by the next ``uv sync`` (``uv run`` syncs first).
    """
    name = f"pytorch-{build.variant}"
    marker = _UV_MARKERS.get(platform)
    entry = f'[{{ index = "{name}"' + (f', marker = "{marker}"' if marker else "") + " }]"
    names = ["torch", *(c for c in companions if build.version_of(c))]
    return (
        "[[tool.uv.index]]",
        f'name = "{name}"',
        f'url = "{index_url(build.variant, base=index_base)}"',
        "explicit = true",
        "[tool.uv.sources]",
        *(f"{package} = {entry}" for package in names),
    )


def uv_uninstall(build: Build, *, python: str | None = None, companions: Sequence[str] = ()) -> tuple[str, ...]:
    target = ("--python", python) if python else ()
    return ("uv", "pip", "uninstall", *target, *(r.split("==")[0] for r in build.requirements(companions)))


def conda_specs(build: Build, companions: Sequence[str] = ()) -> tuple[str, ...]:
    """conda-forge specs: ``pytorch`` forced to a CUDA (or CPU) build, the companions, a ``cuda-version`` pin.

    conda-forge builds its own CUDA minors: the pin asks for this one (or the floor) or a newer minor of
    the same major, which the driver runs through minor-version compatibility and which keeps the
    architectures.
    """
    specs = [f"pytorch={build.torch}={'cuda*' if build.cuda else 'cpu*'}"]
    specs += [f"{name}={build.version_of(name)}" for name in companions if build.version_of(name)]
    if build.cuda:
        major = int(build.cuda.split(".")[0])
        specs.append(f"cuda-version>={build.cuda_floor or build.cuda},<{major + 1}")
    return tuple(specs)


def conda_install(build: Build, *, companions: Sequence[str] = (), prefix: str | None = None) -> tuple[str, ...]:
    """``conda install -y [-p PREFIX] -c conda-forge <specs>``: the build into an existing environment."""
    where = ("-p", prefix) if prefix else ()
    return ("conda", "install", "-y", *where, "-c", "conda-forge", *conda_specs(build, companions))


def conda_create(build: Build, *, name: str, python: str) -> tuple[str, ...]:
    """``conda create -n NAME --override-channels -c conda-forge python=X.Y <specs>``: a new environment."""
    return (
        "conda",
        "create",
        "-n",
        name,
        "--override-channels",
        "-c",
        "conda-forge",
        f"python={python}",
        *conda_specs(build),
    )

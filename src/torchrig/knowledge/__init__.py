"""Compatibility knowledge: data files next to this module, and the queries over them.

The tables are TOML files that name their sources and as-of dates; the provenance of every value,
and each disagreement between sources, is written up in ``notes/``:

- ``torch_builds.toml``: PyTorch 0.4 to 2.15, their CUDA / ROCm / aarch64 variants, compiled
  architectures, Python range per platform, companions and dates (:mod:`.torch_builds`);
- ``cuda_toolkits.toml``: what each CUDA toolkit 8.0 to 13.2 compiles for, and the rule for a build
  whose own list is unknown (:mod:`.toolkits`);
- ``drivers.toml``: the driver each CUDA release needs, and the last branch of each GPU
  architecture (:mod:`.drivers`);
- ``gpus.toml``: every NVIDIA GPU by name, with its compute capability (:mod:`.gpu_models`);
- ``extensions.toml``: the compute capabilities CUDA extensions run on (:mod:`.extensions`);
- ``signatures.toml``: known error texts (:mod:`.signatures`).

Checks and the environment planner ask questions such as "which driver does a cu126 build need?"
or "does this build carry kernels for compute capability 7.0?", never look at the files themselves.
"""

from __future__ import annotations

from torchrig.knowledge._tables import load, minor_of, parse_version
from torchrig.knowledge.archs import arch_covers, build_covers
from torchrig.knowledge.drivers import (
    Architecture,
    architecture_of,
    architectures,
    last_branch_for,
    min_driver,
    newest_compat_branch,
    oldest_last_branch,
    recommended_branch,
)
from torchrig.knowledge.toolkits import Toolkit, build_may_cover, possible_archs, toolkit, toolkits
from torchrig.knowledge.torch_builds import (
    WHEEL_PLATFORMS,
    ArchRow,
    Coverage,
    PythonRange,
    TorchRelease,
    arch_list,
    arch_row,
    coverage,
    every_variant_covers,
    index_url,
    is_nightly,
    named_patches,
    no_variant_covers,
    platform_name,
    python_platform,
    recent_builds_without,
    release,
    releases,
    releases_as_of,
    rocm_arch_list,
    variant_cuda,
    variant_of,
    wheel_platform,
)

__all__ = [
    "WHEEL_PLATFORMS",
    "ArchRow",
    "Architecture",
    "Coverage",
    "PythonRange",
    "Toolkit",
    "TorchRelease",
    "arch_covers",
    "arch_list",
    "arch_row",
    "architecture_of",
    "architectures",
    "build_covers",
    "build_may_cover",
    "coverage",
    "every_variant_covers",
    "index_url",
    "is_nightly",
    "last_branch_for",
    "load",
    "min_driver",
    "minor_of",
    "named_patches",
    "newest_compat_branch",
    "no_variant_covers",
    "oldest_last_branch",
    "parse_version",
    "platform_name",
    "possible_archs",
    "python_platform",
    "recent_builds_without",
    "recommended_branch",
    "release",
    "releases",
    "releases_as_of",
    "rocm_arch_list",
    "toolkit",
    "toolkits",
    "variant_cuda",
    "variant_of",
    "wheel_platform",
]

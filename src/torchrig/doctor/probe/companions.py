"""Packages that are built against a particular torch or CUDA: their version, place, installer, requirements.

Read from metadata only (``importlib.metadata`` through the host's root): importing flash-attn
or vllm would load CUDA and could crash, which is exactly what a broken machine does.
Besides the named projects, every ``nvidia-*`` distribution (the CUDA libraries pip wheels of torch
depend on: nvidia-cudnn-cu12, nvidia-nccl-cu12, ...) is listed, since their versions decide which
cuDNN or NCCL torch loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchrig.doctor.facts import Package
from torchrig.doctor.probe import python_env

if TYPE_CHECKING:
    from torchrig.doctor.probe import Host

# PEP 503 names. Each one either ships CUDA code compiled against one torch/CUDA, or pins torch.
COMPANIONS = (
    "torchvision",
    "torchaudio",
    "torchtext",
    "torchdata",
    "torchao",
    "torchcodec",
    "triton",
    "pytorch-triton",
    "pytorch-triton-rocm",
    "xformers",
    "flash-attn",
    "flash-attn-3",
    "flashinfer-python",
    "vllm",
    "sglang",
    "bitsandbytes",
    "deepspeed",
    "apex",
    "transformer-engine",
    "transformer-engine-torch",
    "mamba-ssm",
    "causal-conv1d",
    "torch-scatter",
    "torch-sparse",
    "torch-cluster",
    "torch-spline-conv",
    "torch-geometric",
    "pyg-lib",
    "auto-gptq",
    "autoawq",
    "onnxruntime-gpu",
    "tensorrt",
    "cupy-cuda11x",
    "cupy-cuda12x",
    "cupy-cuda13x",
    "jax",
    "jaxlib",
    "tensorflow",
    "numpy",
)


def probe(host: Host, quick: bool) -> list[Package]:
    dirs = python_env.metadata_dirs(host)
    names = [n for n in COMPANIONS if n in dirs]
    names += sorted(n for n in dirs if n.startswith("nvidia-") and n not in names)
    packages = []
    for name in names:
        found = python_env.find_distribution(host, name, dirs)
        if found is None:
            continue
        packages.append(
            Package(
                name=found.dist.metadata["Name"] or name,
                version=found.version,
                location=python_env.location(host, found, name),
                installer=python_env.installer(host, found),
                requires=list(found.dist.requires or []),
            )
        )
    return packages

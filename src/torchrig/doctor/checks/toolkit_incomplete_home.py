"""toolkit.incomplete-home: the CUDA_HOME that extensions would build with has no CUDA headers.

torch.utils.cpp_extension takes the parent of the directory holding ``nvcc`` on PATH as CUDA_HOME. When
that nvcc is a wrapper script or a symlink farm (``/usr/local/bin/nvcc`` that execs the real one),
CUDA_HOME becomes ``/usr/local``: nvcc still runs, but ``$CUDA_HOME/include/cuda_runtime.h`` and
``$CUDA_HOME/lib64`` do not exist, so the C++ half of every CUDA extension fails to compile or link.

NVIDIA's CUDA images make the same incomplete home by design: ``/usr/local/cuda`` of the ``base`` and ``runtime``
flavours holds the runtime libraries only, and nvcc with the headers come in ``devel`` (hub.docker.com/r/nvidia/cuda);
a program that compiles kernels on first use (FlashInfer, DeepSpeed ops, a cpp_extension JIT) fails there.
"""

from __future__ import annotations

import re
import shlex

from torchrig import knowledge
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity

CODE = "toolkit.incomplete-home"


def cuda_home_has_headers(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """With a CUDA build of torch, the toolkit home extensions build against must hold the CUDA headers."""
    tk = facts.toolkit
    hits = hits_for(facts, CODE)
    if hits:
        return [_runtime_image(hits)]
    if not facts.torch.cuda or not tk.cuda_home or tk.headers is not False:
        return []
    # prefer another toolkit of torch's CUDA major; any other toolkit beats none
    major = knowledge.minor_of(facts.torch.cuda or "")
    same_major = [o for o in tk.others if o.version and major and o.version.split(".")[0] == major.split(".")[0]]
    target = same_major[0] if same_major else tk.others[0] if tk.others else None
    if target is not None:
        fix: tuple[str, ...] = (f"export CUDA_HOME={shlex.quote(target.path)}",)
    else:
        fix = ("export CUDA_HOME=/path/to/the/cuda/toolkit   # the directory that holds bin/nvcc and include/",)
    return [
        Finding(
            code=CODE,
            severity=Severity.WARNING,
            title=f"CUDA_HOME for building extensions would be {tk.cuda_home}, which has no CUDA headers",
            detail=(
                f"torch.utils.cpp_extension finds the toolkit by {tk.found_by}; {tk.cuda_home}/include has no "
                "cuda_runtime.h, so building a CUDA extension (flash-attn, apex, a custom op) fails with "
                "'cuda_runtime.h: No such file or directory' or a link error. Running torch is not affected."
            ),
            evidence={"cuda_home": tk.cuda_home, "found_by": tk.found_by, "nvcc": tk.nvcc},
            fix=fix,
        )
    ]


_IMAGE = re.compile(
    r"nvidia/cuda:(?P<tag>[^\s\"'`]{0,80}?-)[*_]{0,2}(?:runtime|base)[*_]{0,2}-[*_]{0,2}(?P<os>[\w.${}-]+)"
)


def _runtime_image(hits: list[SignatureHit]) -> Finding:
    """A program compiles CUDA code at run time in an nvidia/cuda base or runtime image, which has no nvcc."""
    named = next((m for hit in hits if (m := _IMAGE.search(hit.excerpt))), None)
    devel = f"nvidia/cuda:{named['tag']}devel-{named['os']}" if named else "nvidia/cuda:<same version>-devel-<same OS>"
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title="The CUDA image is a base or runtime flavour, which has no nvcc and no CUDA headers to compile kernels with",
        detail=(
            "In NVIDIA's CUDA images only the devel flavour adds the compiler toolchain and the headers; /usr/local/cuda "
            "of base and runtime holds the runtime libraries only. A package that compiles its kernels on first use "
            "(FlashInfer's JIT, DeepSpeed ops, a torch.utils.cpp_extension load) fails there, while precompiled code runs."
        ),
        evidence=evidence_of(hits),
        fix=(
            f"FROM {devel}   # the devel flavour of the same tag has nvcc and the headers",
            "# or compile the kernels in a devel build stage and copy them into the runtime image (the package's "
            "ahead-of-time build or prebuilt kernel wheels)",
        ),
    )


register(
    Check(
        name="toolkit-incomplete-home",
        codes=(CODE,),
        summary="the CUDA_HOME extensions would build with holds the CUDA headers",
        layer=Layer.LIBRARIES,
        run=cuda_home_has_headers,
    )
)

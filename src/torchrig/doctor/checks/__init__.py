"""The doctor's checks: pure functions from Facts to Findings, run together and ordered root cause first.

Each module holds one check and registers it at its bottom (see :mod:`.registry`). :func:`run_checks`
runs them all and orders what they find:

1. errors before warnings before notes: an error is a cause the evidence establishes, a warning one it only
   suggests, so a suspicion never heads the list above an established cause (a launcher's "untested Python"
   warning before the build's "no kernel image" error would send the user the wrong way);
2. within a severity, by :class:`~.registry.Layer`, the causal chain from "the GPU is reachable" to "the
   machine around training" (a container without a GPU comes before a missing driver, a driver before CUDA
   initialisation, CUDA before the torch install, the install before its arch list and companions, those
   before the libraries it loads and before /dev/shm and peer-to-peer), then in registration order;
3. a finding whose check *explains* another code absorbs those findings: a driver/library mismatch
   makes CUDA initialisation fail, so ``cuda.init-failed`` is folded into ``driver.version-mismatch``
   (listed under its evidence as ``"consequences"``) instead of standing as a second problem.

A check that raises does not stop the others: it yields a ``doctor.check-failed`` warning.
"""

from __future__ import annotations

import importlib
from dataclasses import replace

from torchrig.doctor.checks.registry import Check, CheckContext, Layer, registered
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity
from torchrig.knowledge import signatures
from torchrig.knowledge.signatures import Signature

__all__ = ["CHECK_FAILED", "Check", "CheckContext", "Layer", "all_codes", "checks", "run_checks"]

# One module per check, in causal order: importing a module registers its check, and this order breaks
# ties between findings of the same layer and severity (a shadowed torch.py before the import error).
_MODULES = (
    "container_no_gpu",
    "gpu_hardware_fault",
    "rocm_device_access",
    "driver_missing",
    "driver_version_mismatch",
    "driver_fabric_manager",
    "driver_too_old",
    "driver_forward_compat",
    "cuda_visible_devices",
    "cuda_init_failed",
    "env_module_shadowed",
    "env_mixed_installs",
    "env_numpy_abi_mismatch",
    "torch_missing",
    "torch_python_unsupported",
    "torch_no_wheel",
    "torch_import_failed",
    "torch_cpu_only_build",
    "gpu_arch_unsupported",
    "rocm_gpu_unsupported",
    "torch_companion_mismatch",
    "gpu_arch_too_old_for_package",
    "libs_shadowed",
    "nccl_version_mismatch",
    "toolkit_mismatch",
    "toolkit_incomplete_home",
    "shm_too_small",
    "gpu_p2p_broken",
    "nccl_transport_failed",
)
for _module in _MODULES:
    importlib.import_module(f"{__name__}.{_module}")

CHECK_FAILED = "doctor.check-failed"
UNEXPLAINED = "doctor.unexplained"
_SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def checks() -> tuple[Check, ...]:
    """Every registered check, in registration order."""
    return registered()


def all_codes() -> list[str]:
    """Every code a finding may carry (the registry's codes plus doctor.check-failed)."""
    return [code for check in checks() for code in check.codes] + [UNEXPLAINED, CHECK_FAILED]


def run_checks(facts: Facts, *, index_base: str | None = None) -> list[Finding]:
    """Run every check on ``facts`` and return the findings, root cause first.

    ``index_base`` is the PyTorch wheel index root the fixes point at (a mirror's
    ``https://mirror.example/whl``); None means download.pytorch.org. The checks never look up this
    machine's mirror configuration themselves: the caller decides (the CLI hands in the configured
    mirror for a live run, and for ``--report`` only when asked).
    """
    ctx = CheckContext(index_base=index_base)
    produced: list[tuple[Check, Finding]] = []
    for check in checks():
        try:
            found = check.run(facts, ctx)
        except Exception as exc:  # a bug in one check must not hide what the others found
            found = [
                Finding(
                    code=CHECK_FAILED,
                    severity=Severity.WARNING,
                    title=f"The {check.name} check failed: {type(exc).__name__}: {exc}",
                    detail="This is a bug in torchrig; the other checks ran. Please report it with --json output.",
                    evidence={"check": check.name},
                )
            ]
        produced += [(check, finding) for finding in found]
    findings = _order(_fold(produced))
    if not any(f.severity is Severity.ERROR for f in findings):
        findings += _unexplained(facts, _quoted(findings))
    return findings


def _quoted(findings: list[Finding]) -> str:
    """The evidence the findings quote, as one text: a failure quoted there is one a finding explains (a warning
    that names it as a possible cause), so it is no unexplained failure."""
    return " ".join(" ".join(str(value).split()) for finding in findings for value in finding.evidence.values())


_UNEXPLAINED = (
    "Nothing in the report points at the driver, CUDA, the PyTorch install or the GPUs; the failure is probably in "
    "the program itself (its code, its data, or a package torchrig does not know)."
)
_NCCL_UNEXPLAINED = (
    "An NCCL collective failed or timed out. Either one rank stopped or fell behind (its own error comes first in its "
    "log), or the transport between the GPUs hangs (PCIe peer-to-peer behind ACS or an IOMMU, the network between "
    "nodes); nothing in the report says which."
)


def _readings(facts: Facts) -> list[tuple[SignatureHit, Signature]]:
    """The hits of messages consistent with several causes (signatures.toml rows of code doctor.unexplained)."""
    rows = [(hit, signatures.by_id(hit.id)) for hit in facts.signatures]
    return [(hit, row) for hit, row in rows if row is not None and row.code == UNEXPLAINED]


def _unexplained(facts: Facts, quoted: str = "") -> list[Finding]:
    """A failure the facts show that no check explains: said plainly, with what it would take to know more.

    Never an error (no rule knows it for a fault of this machine) and never an all-clear either. Where the failure
    is a message its source documents with several possible causes (CUBLAS_STATUS_NOT_INITIALIZED: most often out
    of GPU memory), the finding says what it can mean and leads with the commands that tell the causes apart.
    """
    readings = _readings(facts)
    failures = [f for f in (facts.torch.import_error, facts.torch.cuda_init_error, *facts.failures) if f]
    failures = [f for f in failures if " ".join(f.split())[:80] not in quoted]
    failures += [
        hit.excerpt for hit, _ in readings if not failures and " ".join(hit.excerpt.split())[:80] not in quoted
    ]
    if not failures:
        return []
    needs = []
    if not facts.torch.version:
        needs.append("which PyTorch runs it (`python -m torch.utils.collect_env`)")
    if not (facts.driver.userspace or facts.driver.kernel_module or facts.gpus.devices):
        needs.append("the driver and GPUs (`nvidia-smi`)")
    nccl = any("nccl" in f.lower() for f in failures)
    if nccl:
        needs.append("NCCL's own log from every rank (run with NCCL_DEBUG=INFO)")
    needs.append("the whole traceback, from its first line to its last")
    meanings = list(dict.fromkeys(row.title for _, row in readings))
    detail = (
        f"The message can mean: {'; or '.join(meanings)}. Nothing else in the report says which."
        if meanings
        else (_NCCL_UNEXPLAINED if nccl else _UNEXPLAINED)
    )
    return [
        Finding(
            code=UNEXPLAINED,
            severity=Severity.WARNING,
            title=f"The report shows a failure no torchrig rule explains: {failures[0][:160]}",
            detail=detail + f" To rule the GPU stack in or out, torchrig would need: {'; '.join(needs)}.",
            evidence={
                "failure": failures[0],
                **({"also": failures[1:3]} if failures[1:] else {}),
                **{f"report line {hit.line}": hit.excerpt for hit, _ in readings[:3]},
            },
            fix=(
                *dict.fromkeys(step for _, row in readings for step in row.diagnose),
                "python -m torch.utils.collect_env > env.txt   # then add the whole traceback to env.txt",
                "torchrig doctor --report env.txt",
                *(("torchrig selftest --gpus   # DDP over every GPU here, peer-to-peer included",) if nccl else ()),
            ),
        )
    ]


def _fold(produced: list[tuple[Check, Finding]]) -> list[tuple[Check, Finding]]:
    """Fold consequences into the root-cause finding that explains them, following chains to the top.

    A consequence is listed in its root's evidence as ``"consequences": ["cuda.init-failed: CUDA fails to
    initialise", ...]``. Only errors explain: a warning is not sure enough to hide another finding.
    """
    roots: dict[str, int] = {}  # explained code -> index of the first finding that explains it
    for i, (check, finding) in enumerate(produced):
        for code in check.explains:
            if finding.severity is Severity.ERROR:
                roots.setdefault(code, i)
    parent = {
        i: roots[finding.code]
        for i, (_, finding) in enumerate(produced)
        if finding.code in roots and produced[roots[finding.code]][1].code != finding.code
    }

    def top(i: int) -> int:
        seen = {i}
        while i in parent and parent[i] not in seen:
            i = parent[i]
            seen.add(i)
        return i

    folded: dict[int, list[str]] = {}
    for i, (_, finding) in enumerate(produced):
        if top(i) != i:
            folded.setdefault(top(i), []).append(f"{finding.code}: {finding.title}")
    out = []
    for i, (check, finding) in enumerate(produced):
        if top(i) != i:
            continue
        if i in folded:
            out.append((check, replace(finding, evidence={**finding.evidence, "consequences": folded[i]})))
        else:
            out.append((check, finding))
    return out


def _order(produced: list[tuple[Check, Finding]]) -> list[Finding]:
    position = {check.name: n for n, check in enumerate(checks())}
    ranked = sorted(
        produced,
        key=lambda pair: (_SEVERITY_RANK[pair[1].severity], pair[0].layer, position.get(pair[0].name, len(position))),
    )
    return [finding for _, finding in ranked]

"""torch.import-failed: torch is installed but importing it fails; name the library that failed and fix that."""

from __future__ import annotations

import re
import shlex

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks import fixes
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "torch.import-failed"
_CUDA_DIR = re.compile(r"cuda|cudnn|nvidia|nccl|tensorrt", re.IGNORECASE)


# nvJitLink.h names each function's symbol for the CUDA 12 release that made it (__nvJitLinkCreate_12_8): an
# undefined one means the libnvJitLink.so.12 that was loaded is older than the library calling it.
_NVJITLINK_SYMBOL = re.compile(r"undefined symbol:? __nvJitLink[A-Za-z]+_\d+_\d+")

# Windows' ERROR_COMMITMENT_LIMIT (system error code 1455, Microsoft's "System Error Codes (1300-1699)")
_PAGING_FILE = re.compile(r"WinError 1455|paging file is too small", re.IGNORECASE)


def _failing_library(text: str) -> str | None:
    """ "libcudnn.so.9: cannot open shared object file" -> "libcudnn.so.9"; "version `GLIBCXX_3.4.30'" -> "libstdc++";
    'Error loading "...\\torch\\lib\\c10.dll"' -> "c10.dll"."""
    if "GLIBCXX_" in text or "CXXABI_" in text:
        return "libstdc++"
    dll = re.search(r"[\\/]torch[\\/]lib[\\/]([^\"\\/]+\.dll)", text)
    if dll:
        return dll.group(1)
    # the DLLs only torch's Windows wheels ship, named without a path ("error loading c10.dll")
    named = re.search(
        r"\b(?:c10|c10_cuda|torch_cpu|torch_cuda|torch_python|torch_global_deps|fbgemm|asmjit)\.dll\b", text, re.I
    )
    if named:
        return named.group(0).lower()
    if "DLL load failed" in text:
        return "a DLL of torch._C"
    if _NVJITLINK_SYMBOL.search(text):
        return "libnvJitLink.so.12"  # the library that lacks the symbol, not the one that asked for it
    match = re.search(r"undefined symbol: \S+, version (lib[\w+.-]+\.so[\d.]*)", text)
    match = match or re.search(r"(lib[\w+-]+\.so(?:\.\d+)*)", text)
    return match.group(1) if match else None


def _reinstall_same(facts: Facts, ctx: CheckContext) -> tuple[str, ...]:
    """Reinstall the same torch with every dependency, which restores its own CUDA libraries."""
    build = fixes.current_build(facts)
    py = queries.python_command(facts)
    if (facts.torch.installer or "").lower() == "conda":
        return ("conda install -y --force-reinstall pytorch",)
    if build is None:
        version = knowledge.parse_version(facts.torch.version)
        if version is None:
            return ("Reinstall torch with the command you installed it with, adding --force-reinstall",)
        return (shlex.join([py, "-m", "pip", "install", "--force-reinstall", f"torch=={version.base_version}"]),)
    url = knowledge.index_url(build.variant, base=ctx.index_base)
    return (shlex.join([py, "-m", "pip", "install", "--force-reinstall", f"torch=={build.torch}", "--index-url", url]),)


def torch_imports(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """An installed torch must import; the failing library decides the fix."""
    hits = hits_for(facts, CODE)
    if facts.torch.import_ok is not False and not hits:
        return []
    text = facts.torch.import_error or " ".join(h.excerpt for h in hits)
    library = _failing_library(text)
    ld_path = queries.env(facts, "LD_LIBRARY_PATH") or ""
    cuda_dirs = [p for p in ld_path.split(":") if p and _CUDA_DIR.search(p)]
    fix: list[str] = []
    paging = False
    if cuda_dirs and library and library != "libcuda.so.1":
        # A CUDA library on LD_LIBRARY_PATH wins over the copy torch ships: the usual "undefined symbol".
        fix.append(queries.library_path_without(facts, lambda p: p in cuda_dirs) or "unset LD_LIBRARY_PATH")
        fix.append("# if it still fails, reinstall torch with its own CUDA libraries:")
    if library and library.startswith("libcuda.so"):
        if queries.nvidia_gpus_on_bus(facts):
            fix.append("Install the NVIDIA driver (it provides libcuda.so.1); see driver.missing")
        else:
            build = fixes.cpu_build(facts)
            if build:
                fix.append("# no NVIDIA driver here: install the CPU build")
                fix += fixes.torch_install(facts, build, ctx)
    elif _PAGING_FILE.search(text):
        # ERROR_COMMITMENT_LIMIT (1455): Windows ran out of commit charge while mapping torch's CUDA DLLs; every
        # process that imports torch (each DataLoader worker under spawn) maps them again
        paging = True
        fix += [
            "# Windows has too little virtual memory to load torch's CUDA DLLs once per process:",
            "# raise the page file (System > About > Advanced system settings > Performance > Advanced > Virtual "
            "memory: let Windows manage it, or set it to several times the RAM), then reboot",
            "# or start fewer processes that import torch: DataLoader(num_workers=0 or 2), fewer ranks",
        ]
    elif library and (library.endswith(".dll") or library.startswith("a DLL")):
        # PyTorch's Windows wheels need the Visual C++ runtime (torch/__init__.py says so on WinError 126)
        if library == "fbgemm.dll":
            # fbgemm.dll links libomp140.x86_64.dll (MSVC's LLVM OpenMP), which Visual Studio's MSVC build tools
            # install; torch 2.4.0's wheels needed it without shipping it (pytorch/pytorch#131662, a regression
            # fixed in 2.4.1), and ROCm's Windows wheels have needed it too (ROCm/TheRock#1167)
            fix += [
                "# fbgemm.dll also needs libomp140.x86_64.dll, which Visual Studio's MSVC build tools install;",
                "# torch 2.4.0 lacked it (fixed in 2.4.1): upgrade torch, or add the MSVC v143 build tools",
            ]
        fix += [
            "# install (or repair) the Microsoft Visual C++ Redistributable for Visual Studio 2015-2022, x64:",
            "winget install --id Microsoft.VCRedist.2015+.x64   # or https://aka.ms/vs/17/release/vc_redist.x64.exe",
            "# then open a new terminal; if it still fails, reinstall torch:",
            *_reinstall_same(facts, ctx),
            # a package imported first can load its own copy of a DLL torch's depend on; since torch 2.9 the Qt
            # bindings do (pytorch/pytorch#166628, explosion/spaCy#13894), and the fix is the import order
            '# if `python -c "import torch"` works alone, a package imported earlier (PyQt/PySide) loaded a '
            "conflicting DLL: import torch before it",
        ]
    elif library == "libstdc++":
        if facts.system.conda_prefix:
            fix.append("conda install -y -c conda-forge 'libstdcxx-ng>=13'")
        else:
            fix.append("Upgrade the system C++ runtime (libstdc++6) or use a Python from a newer distribution")
    else:
        fix += _reinstall_same(facts, ctx)
    evidence: dict[str, object] = {}
    if facts.torch.location:
        evidence["torch"] = f"{facts.torch.version or ''} at {facts.torch.location}".strip()
    if facts.torch.import_error:
        evidence["import error"] = facts.torch.import_error.strip()
    if cuda_dirs:
        evidence["LD_LIBRARY_PATH"] = ld_path
    evidence.update(evidence_of(hits))
    failing = f" ({library})" if library else ""
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=f"Importing torch fails{failing}" + (": the Windows page file is too small" if paging else ""),
            detail="torch is installed but `import torch` raises"
            + (f"; the failing library is {library}" if library else "")
            + (
                ". Windows error 1455 (ERROR_COMMITMENT_LIMIT) means the page file cannot back the memory the DLL "
                "needs: nothing is wrong with the install"
                if paging
                else ""
            )
            + ".",
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


register(
    Check(
        name="torch-import-failed",
        codes=(CODE,),
        summary="torch is installed but importing it fails; names the failing library (CUDA libs, libcuda, libstdc++)",
        layer=Layer.TORCH_INSTALL,
        run=torch_imports,
    )
)

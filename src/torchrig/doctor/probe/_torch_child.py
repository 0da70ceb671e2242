"""Run in a separate interpreter by torchrig.doctor.probe.pytorch: import torch, initialise CUDA, report as JSON.

Standalone on purpose (stdlib and torch only, no torchrig): it runs under the user's Python, and it
may crash (a segfaulting driver, a missing library) or hang (a GPU stuck after suspend). So it
reports step by step: every step prints one line ``TORCHRIG-JSON {...}`` and flushes, and the
parent merges the lines it received. A child killed halfway still leaves what it had learned, and
its last ``{"step": ...}`` says where it died.

The annotations must stay valid at run time on any Python the user has: no ``from __future__`` import
(pytorch.py prepends lines to this source, and a future import must come first), and generics quoted.
"""

import json
import re
import sys
import traceback
import warnings
from typing import Any

MARK = "TORCHRIG-JSON "
LIBS = re.compile(
    r"/(lib(?:cuda|cudart|cudnn\w*|nccl|cublas\w*|nvJitLink|nvrtc\w*|cusparse\w*|cufft\w*|curand|cusolver\w*"
    r"|cupti|nvToolsExt|nvidia-ml|amdhip64|rccl|MIOpen)\.so[.\d]*)$"
)


def emit(**values: Any) -> None:
    sys.stdout.write(MARK + json.dumps(values, default=str) + "\n")
    sys.stdout.flush()


def tail(exc: BaseException, lines: int = 6) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return "\n".join(text.splitlines()[-lines:])


def loaded_libs(maps: str = "/proc/self/maps") -> "list[dict[str, str]]":
    """The CUDA-family libraries mapped into this process: what was really loaded, from where."""
    seen: dict[str, str] = {}
    try:
        with open(maps, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split(None, 5)
                if len(parts) == 6:
                    match = LIBS.search(parts[5].strip())
                    if match and match.group(1) not in seen:
                        seen[match.group(1)] = parts[5].strip()
    except OSError:
        pass  # not Linux: no maps to read
    return [{"name": name, "path": path} for name, path in seen.items()]


def dotted_cudnn(value: int) -> str:
    # cuDNN 9 encodes 9.10.2 as 91002; cuDNN 8 and older encode 8.3.2 as 8302
    if value >= 90000:
        return f"{value // 10000}.{value % 10000 // 100}.{value % 100}"
    return f"{value // 1000}.{value % 1000 // 100}.{value % 100}"


def main() -> None:
    caught: list[str] = []
    warnings.simplefilter("always")
    original_showwarning = warnings.showwarning

    def record(
        message: "Warning | str",
        category: "type[Warning]",
        filename: str,
        lineno: int,
        file: Any = None,
        line: "str | None" = None,
    ) -> None:
        caught.append(f"{category.__name__}: {message}".strip())

    warnings.showwarning = record

    emit(step="import", python=sys.executable)
    try:
        import torch
    except BaseException as exc:  # ImportError, OSError (a missing .so), even SystemExit from a broken build
        emit(import_ok=False, import_error=tail(exc), warnings=caught, loaded_libs=loaded_libs())
        return
    version = getattr(torch, "version", None)
    emit(
        import_ok=True,
        version=getattr(torch, "__version__", None),
        cuda=getattr(version, "cuda", None),
        hip=getattr(version, "hip", None),
        location=getattr(torch, "__file__", None),
    )

    emit(step="build")
    arch_list: list[str] = []
    try:
        # the compiled list without initialising CUDA: older torch returned [] from get_arch_list()
        # whenever is_available() was False, which is exactly when the list matters
        flags = getattr(torch._C, "_cuda_getArchFlags", None)
        arch_list = (flags() or "").split() if flags else list(torch.cuda.get_arch_list())
    except Exception:  # noqa: S110 - an unknown arch list is reported as unknown, never as an error
        pass
    cudnn = None
    try:
        raw = torch.backends.cudnn.version()
        cudnn = dotted_cudnn(int(raw)) if raw else None
    except Exception:  # noqa: S110 - a torch without cuDNN: the version stays unknown
        pass
    nccl = None
    try:
        raw = torch.cuda.nccl.version()
        nccl = ".".join(str(p) for p in raw) if isinstance(raw, tuple) else str(raw)
    except Exception:  # noqa: S110 - a torch without NCCL: the version stays unknown
        pass
    emit(arch_list=arch_list, cudnn_version=cudnn, nccl_version=nccl)

    compiled = bool(getattr(version, "cuda", None) or getattr(version, "hip", None))
    if compiled:
        emit(step="cuda-init")
        available, count = False, 0
        try:
            available = bool(torch.cuda.is_available())
            count = int(torch.cuda.device_count())
            emit(cuda_available=available, device_count=count, warnings=caught)
        except Exception as exc:
            emit(cuda_available=False, cuda_init_error=tail(exc))
        if not available:
            # is_available() only warns; init() raises the driver's own words ("CUDA driver initialization
            # failed", "unknown error", "Error 804: forward compatibility was attempted on non supported HW")
            try:
                torch.cuda.init()
            except Exception as exc:
                emit(cuda_init_error=tail(exc))
        else:
            for index in range(count):
                emit(step=f"device {index}")
                emit(device=smoke(torch, index))
    else:
        emit(cuda_available=False, device_count=0)

    emit(loaded_libs=loaded_libs(), warnings=caught)
    warnings.showwarning = original_showwarning


def smoke(torch: Any, index: int) -> "dict[str, Any]":
    result: dict[str, Any] = {"device": index}
    try:
        result["name"] = torch.cuda.get_device_name(index)
        major, minor = torch.cuda.get_device_capability(index)
        result["capability"] = f"{major}.{minor}"
        result.update(run_kernels(torch, torch.device("cuda", index)))
        torch.cuda.synchronize(index)
    except Exception as exc:  # "no kernel image is available for execution on the device", ...
        result["error"] = tail(exc)
    return result


def run_kernels(torch: Any, device: Any) -> "dict[str, bool]":
    """A tiny matmul and conv on ``device``, each compared with the same computation on the CPU."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(64, 64, generator=gen)
    b = torch.randn(64, 64, generator=gen)
    got = (a.to(device) @ b.to(device)).cpu()
    matmul_ok = bool(torch.allclose(got, a @ b, rtol=1e-2, atol=1e-2))  # loose: TF32 is allowed
    x = torch.randn(1, 3, 16, 16, generator=gen)
    w = torch.randn(4, 3, 3, 3, generator=gen)
    conv = torch.nn.functional.conv2d
    got = conv(x.to(device), w.to(device)).cpu()
    conv_ok = bool(torch.allclose(got, conv(x, w), rtol=1e-2, atol=1e-2))
    return {"matmul_ok": matmul_ok, "conv_ok": conv_ok}


if __name__ == "__main__":
    main()

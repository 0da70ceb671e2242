"""Check tests: a signature table of known ids, so checks are exercised through the id -> code contract."""

from __future__ import annotations

import pytest

from torchrig.checks import signature_hits

# The ids and codes of knowledge/signatures.toml as the report parser defines them (rows id, pattern, code);
# kept here so these tests do not depend on the parser's patterns, only on the contract.
SIGNATURES = {
    "driver.found-version": "driver.too-old",
    "driver.insufficient-for-runtime": "driver.too-old",
    "gpu.no-kernel-image": "gpu.arch-unsupported",
    "gpu.capability-not-compatible": "gpu.arch-unsupported",
    "gpu.too-old-for-torch": "gpu.arch-unsupported",
    "driver.forward-compat-804": "driver.forward-compat-unsupported",
    "driver.nvml-version-mismatch": "driver.version-mismatch",
    "driver.nvrm-api-mismatch": "driver.version-mismatch",
    "cuda.unknown-error": "cuda.init-failed",
    "cuda.system-not-initialized": "cuda.init-failed",
    "libs.cudnn-version-incompatible": "libs.shadowed",
    "shm.dataloader-bus-error": "shm.too-small",
    "shm.container-default-64mb": "shm.too-small",
    "container.driver-not-detected": "container.no-gpu",
    "companion.torchvision-nms-missing": "torch.companion-mismatch",
    "torch.cuda-library-not-found": "torch.import-failed",
    "torch.nvjitlink-undefined-symbol": "torch.import-failed",
    "torch.not-compiled-with-cuda": "torch.cpu-only-build",
    "cuda.no-gpus-available": "cuda.visible-devices",
    "driver.smi-cannot-communicate": "driver.missing",
    "gpu.p2p-test-failed": "gpu.p2p-broken",
    "env.shadowed-torch": "env.module-shadowed",
}


@pytest.fixture(autouse=True)
def signature_table(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(signature_hits, "signature_codes", lambda: SIGNATURES)
    return SIGNATURES

"""knowledge.signatures.find searches each pattern only around the literals it needs, and finds what a whole-text
search finds: the first match, with its line, in a report far longer than the windows."""

from __future__ import annotations

from pathlib import Path

from torchrig._core.prefilter import Haystack
from torchrig.knowledge import signatures

_FILLER = "epoch 3 step 120 loss 0.4411 lr 1e-4 -> ok | gpu util 97%\n" * 20000  # ~1.2 MB of a training log


def test_a_message_after_a_long_log_is_found_on_its_line() -> None:
    text = _FILLER + "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    [match] = [m for m in signatures.find(text) if m.signature.id == "gpu.no-kernel-image"]
    assert match.line == 20001
    assert match.excerpt.startswith("RuntimeError: CUDA error: no kernel image")


def test_a_message_wrapped_over_lines_deep_in_a_report_still_matches() -> None:
    text = _FILLER + "RuntimeError: Found no NVIDIA driver on\nyour system. Please check\n" + _FILLER
    assert "driver.torch-found-no-driver" in {m.signature.id for m in signatures.find(text)}


def test_the_first_of_several_occurrences_is_the_one_recorded() -> None:
    line = "CUDA error: no kernel image is available for execution on the device\n"
    text = _FILLER + line + _FILLER + line
    [match] = [m for m in signatures.find(text) if m.signature.id == "gpu.no-kernel-image"]
    assert match.line == 20001


# NCCL's init lines (its wording, as in NVIDIA/nccl#1814 and nccl-tests#273): "cudaDev" puts "cuda" on every line
_NCCL = "".join(
    f"node7:{4100 + i}:{5200 + i} [{i % 8}] NCCL INFO comm 0x55{i:010x} rank {i % 8} nranks 8 cudaDev {i % 8} "
    f"nvmlDev {i % 8} busId {i % 8}9000 commId 0x5ae77eb5{i:08x} - Init COMPLETE\n"
    for i in range(12000)
)


def test_an_alternative_is_searched_around_its_own_rare_word_where_another_word_is_on_every_line() -> None:
    # torch's warning from c10/cuda/CUDAFunctions.cpp, with the CUDA runtime's text for error 802 (cudaErrorSystemNotReady)
    line = (
        "UserWarning: CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions "
        "before calling NumCudaDevices() that might have already set an error? Error 802: system not yet initialized\n"
    )
    text = _NCCL + line + _NCCL
    found = {m.signature.id: m for m in signatures.find(text)}
    assert found["cuda.system-not-initialized"].line == 12001
    assert "cuda.system-not-initialized" not in {m.signature.id for m in signatures.find(_NCCL + _NCCL)}


def _corpus() -> list[str]:
    tests = Path(__file__).resolve().parents[1]
    paths = sorted((tests / "corpus").glob("*.txt")) + sorted((tests / "fixtures" / "recorded").rglob("*.txt"))
    return [path.read_text(encoding="utf-8", errors="replace") for path in paths]


def test_every_signature_matches_where_a_whole_text_search_does_on_every_real_report() -> None:
    compared = 0
    for pasted in _corpus():
        text = pasted.replace("\r\n", "\n").replace("\r", "\n")
        flat = text.replace("\n", " ")
        haystack = Haystack(text)
        for sig in signatures.signatures():
            whole = sig.pattern.search(flat)
            if not haystack.may_match(sig.pattern, whitespace_free=True):
                assert whole is None, sig.id
                continue
            found = signatures._search(sig.pattern, flat, haystack)
            assert (found and found.span()) == (whole and whole.span()), (sig.id, text[:100])
            compared += whole is not None
    assert compared > 300

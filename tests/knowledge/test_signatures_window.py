"""knowledge.signatures.find searches each pattern only around the literals it needs, and finds what a whole-text
search finds: the first match, with its line, in a report far longer than the windows."""

from __future__ import annotations

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

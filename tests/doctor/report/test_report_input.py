"""What parse_report accepts and how it refuses: torchrig's own --json, empty or binary input,
text in which nothing is recognised, and cut-off reports."""

from __future__ import annotations

import json
import random

import pytest
from report_corpus import cases

from torchrig._core.errors import UserError
from torchrig.doctor.facts import SCHEMA, DeviceSmoke, DriverFacts, Facts, Gpu, LoadedLib, Package, TorchFacts
from torchrig.doctor.report import parse_report


def _live_facts() -> Facts:
    """Facts as a live probe of a broken box would write them (values from the corpus's real reports)."""
    facts = Facts(
        driver=DriverFacts(
            kernel_module="550.90.07",
            userspace="550.90.07",
            cuda_driver_api="12.4",
            sources={"kernel_module": "/proc", "userspace": "nvml"},
        ),
        torch=TorchFacts(
            installed=True,
            version="2.5.0.dev20240720+cu124",
            cuda="12.4",
            import_ok=False,
            import_error="ImportError: /home/dp/anaconda3/envs/ComfyUI/lib/python3.11/site-packages/torch/lib/../../"
            "nvidia/cusparse/lib/libcusparse.so.12: undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12",
            smoke=[DeviceSmoke(device=0, name="NVIDIA A40", matmul_ok=None)],
            loaded_libs=[LoadedLib(name="libnvJitLink.so.12", path="/usr/local/cuda-12.1/lib64/libnvJitLink.so.12")],
            sources={"version": "importlib"},
        ),
        companions=[Package(name="torchvision", version="0.20.0.dev20240721+cu124", installer="pip")],
        timings={"driver": 0.01},
    )
    facts.gpus.devices = [Gpu(index=0, name="NVIDIA A40", uuid="GPU-1", compute_capability="8.6", source="nvml")]
    facts.system.env = {"LD_LIBRARY_PATH": "/usr/local/cuda-12.1/lib64:"}
    return facts


def _doctor_json(facts: Facts) -> str:
    return json.dumps({"schema": SCHEMA, "facts": facts.to_dict(), "findings": []}, indent=2)


def test_torchrig_json_round_trips_its_facts() -> None:
    live = _live_facts()
    parsed = parse_report(_doctor_json(live))
    assert parsed.origin == "report" and parsed.report_format == "torchrig-json"
    parsed.origin, parsed.report_format = live.origin, live.report_format
    parsed.signatures = live.signatures
    assert parsed == live


def test_torchrig_json_gains_the_signatures_its_errors_carry() -> None:
    parsed = parse_report(_doctor_json(_live_facts()))
    assert [hit.id for hit in parsed.signatures] == ["torch.nvjitlink-undefined-symbol"]


def test_the_json_the_real_cli_writes_is_read_back(tmp_path, monkeypatch) -> None:
    pytest.importorskip("torchrig.doctor.render", reason="render lives on main")
    from torchrig.doctor.render import render

    facts = parse_report(next(c for c in cases() if c.file.startswith("pytorch-150733")).text)
    render(facts, [], fmt="json")  # warm up any lazy imports before capturing
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        render(facts, [], fmt="json")
    again = parse_report(out.getvalue())
    assert again.torch == facts.torch and again.gpus == facts.gpus and again.driver == facts.driver


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("  \n\t\n", "empty"),
        # cut inside a string: json says "Unterminated string starting at", which must not become "at at"
        (
            '{"schema": "torchrig.doctor/1", "facts": {"driver": {"userspace": "550.',
            "not valid JSON (Unterminated string starting at line 1); it may be cut off",
        ),
        ('{"schema": "torchrig.doctor/1",\n "facts": {"driver": ', "not valid JSON (Expecting value at line 2)"),
        ('{"schema": "torchrig.doctor/9", "facts": {}}', "torchrig.doctor/9"),
        ('{"schema": "torchrig.doctor/1", "findings": []}', "no `facts`"),
        ('{"schema": "torchrig.doctor/1", "facts": {"gpus": {"devices": [{"name": "A40"}]}}}', "malformed"),
        ('{"name": "my-app", "version": "1.0.0"}', "nothing in the report"),
    ],
)
def test_bad_input_is_one_sentence(text: str, words: str) -> None:
    with pytest.raises(UserError) as err:
        parse_report(text)
    message = str(err.value)
    assert words in message and " at at " not in message
    assert message.endswith(".") and "\n" not in message
    assert err.value.exit_code == 2


def test_binary_garbage_is_refused_as_not_text() -> None:
    noise = random.Random(7).randbytes(4096).decode("utf-8", errors="replace")
    with pytest.raises(UserError, match="not text"):
        parse_report(noise)


def test_a_failure_no_rule_explains_is_said_plainly_and_is_not_an_all_clear() -> None:
    from torchrig.doctor.checks import run_checks
    from torchrig.doctor.render.summary import verdict

    unrelated = (
        "Traceback (most recent call last):\n"
        '  File "app.py", line 3, in <module>\n'
        "    config = json.load(open('settings.json'))\n"
        "FileNotFoundError: [Errno 2] No such file or directory: 'settings.json'\n"
        "OS: Ubuntu 22.04\nCPU: AMD Ryzen 9 7950X\n"
    )
    facts = parse_report(unrelated)
    assert facts.failures == ["FileNotFoundError: [Errno 2] No such file or directory: 'settings.json'"]
    [finding] = run_checks(facts)
    assert finding.code == "doctor.unexplained" and finding.severity.value == "warning"
    assert "settings.json" in finding.title and "collect_env" in finding.detail and "nvidia-smi" in finding.detail
    assert "No problems found" not in verdict(facts, [finding])


def test_an_ipython_traceback_is_a_failure_even_when_the_paste_ends_before_its_message() -> None:
    # IPython's header (ultratb): the class name, then "Traceback (most recent call last)" right-aligned
    header = "ZeroDivisionError" + "Traceback (most recent call last)".rjust(75 - len("ZeroDivisionError"))
    cell = f"{'-' * 75}\n{header}\nCell In[4], line 2\n      1 scale = 0\n----> 2 ratio = 1 / scale\n"
    facts = parse_report(cell)
    assert facts.failures == ["ZeroDivisionError (IPython's traceback; the paste ends before its message)"]
    # with its message, the message is what the program died of
    facts = parse_report(cell + "\nZeroDivisionError: division by zero\n")
    assert facts.failures == ["ZeroDivisionError: division by zero"]


def test_text_with_no_evidence_at_all_is_refused() -> None:
    with pytest.raises(UserError, match="nothing in the report"):
        parse_report("We bought a new workstation last week.\nOS: Ubuntu 22.04\nCPU: AMD Ryzen 9 7950X\n")


COLLECT_ENV = [c for c in cases() if c.format == "collect_env"]
# Known defects (strict: a fix must delete the line): a value cut mid-word is read as a value.
CUT_MISSES: dict[str, str] = {}


@pytest.mark.parametrize("case", COLLECT_ENV, ids=[c.file.removesuffix(".txt") for c in COLLECT_ENV])
def test_a_report_cut_anywhere_yields_a_subset_of_the_whole(case, request: pytest.FixtureRequest) -> None:
    """Every prefix parses (or is refused in one sentence), and never contradicts the full report's printed facts.

    (The installer is left out: collect_env prints pip's lines before conda's, so a report cut between
    them cannot show that conda owns the torch pip lists.)"""
    reason = CUT_MISSES.get(case.file)
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    whole = parse_report(case.text)
    text = case.text
    for cut in range(1, len(text), max(1, len(text) // 40)):
        try:
            part = parse_report(text[:cut])
        except UserError:
            continue
        for name in ("version", "cuda", "cuda_available"):
            if part.torch.sources.get(name) == "stated":
                continue  # what the reporter states yields to what a program printed further down
            if name in part.torch.sources and not (
                name == "version"
                and part.torch.version != whole.torch.version
                and whole.torch.version.startswith(part.torch.version)
            ):
                assert getattr(part.torch, name) == getattr(whole.torch, name), (cut, name)
        if part.driver.userspace:
            assert whole.driver.userspace.startswith(part.driver.userspace), cut
        whole_names = [g.name for g in whole.gpus.devices]
        assert all(any(w.startswith(g.name or "") for w in whole_names) for g in part.gpus.devices), cut


@pytest.mark.parametrize(
    "text",
    [
        '{"schema":"torchrig.doctor/1","facts":{}}',
        '{"schema":"torchrig.doctor/1","facts":{"torch":null,"driver":null}}',
    ],
)
def test_a_torchrig_json_with_nothing_in_it_is_refused_in_one_sentence_not_called_healthy(text: str) -> None:
    with pytest.raises(UserError, match="facts` are empty"):
        parse_report(text)


def test_a_section_written_as_null_is_unknown_not_an_internal_error() -> None:
    from torchrig.doctor.checks import run_checks

    facts = parse_report('{"schema":"torchrig.doctor/1","facts":{"torch":null,"driver":{"userspace":"535.54.03"}}}')
    assert facts.torch.version is None and facts.driver.userspace == "535.54.03"
    assert all(f.code != "doctor.check-failed" for f in run_checks(facts))


def test_blank_and_whitespace_lines_do_not_join_lines_or_hide_facts() -> None:
    # The patterns once ran `^\s*` across line ends: 40,000 blank lines took 30 s, and a quote or table
    # bar before a blank line could swallow the line end. The facts between the filler must still be read.
    from torchrig.doctor.report import failures, parse_report

    filler = "\n" * 80_000 + "   \t\n" * 1000 + ">\n" * 1000
    text = (
        "PyTorch version: 2.1.0+cu121\nCUDA used to build PyTorch: 12.1\n"
        + filler
        + "GPU models and configuration: GPU 0: NVIDIA GeForce RTX 4090\nNvidia driver version: 535.104.05\n"
        + filler
        + "torchvision 0.16.0\n"
        + filler
        + 'Traceback (most recent call last):\n  File "x.py", line 1\n'
        + filler
        + "RuntimeError: CUDA error: no kernel image is available\n"
    )
    facts = parse_report(text)
    assert facts.torch.version == "2.1.0+cu121" and facts.driver.userspace == "535.104.05"
    assert [g.name for g in facts.gpus.devices] == ["NVIDIA GeForce RTX 4090"]
    assert facts.companion("torchvision") is not None and facts.companion("torchvision").version == "0.16.0"
    assert failures.failures(text)[0] == "RuntimeError: CUDA error: no kernel image is available"


def test_a_flood_of_gpu_lines_is_read_up_to_a_machines_worth_and_says_so() -> None:
    from torchrig.doctor.report.collect_env import MAX_GPUS

    head = "PyTorch version: 2.4.0+cu121\nCUDA used to build PyTorch: 12.1\nGPU models and configuration:\n"
    gpus = "".join(f"GPU {i}: NVIDIA A100-SXM4-80GB\n" for i in range(MAX_GPUS * 40))
    facts = parse_report(head + gpus + "Nvidia driver version: 535.104.05\n")
    assert len(facts.gpus.devices) == MAX_GPUS
    assert [g.index for g in facts.gpus.devices[:3]] == [0, 1, 2]
    assert any(f"more than {MAX_GPUS} GPUs" in e for e in facts.gpus.errors)
    assert facts.driver.userspace == "535.104.05"  # the field after the flood is still read
    few = parse_report(head + "GPU 0: NVIDIA A100-SXM4-80GB\nGPU 1: NVIDIA A100-SXM4-80GB\n")
    assert len(few.gpus.devices) == 2 and not few.gpus.errors


def test_thousands_of_distinct_gpus_in_warnings_stop_at_a_machines_worth() -> None:
    from torchrig.doctor.report.collect_env import MAX_GPUS

    text = "".join(
        f"UserWarning: Found GPU{i} Tesla K{i}0 which is of cuda capability 3.{i % 10}.\n" for i in range(5000)
    )
    facts = parse_report(text)
    assert len(facts.gpus.devices) == MAX_GPUS


def test_typographic_quotes_read_as_the_ascii_the_program_printed() -> None:
    # a paste through a word processor or a CJK input method: "couldn‘t" for nvidia-smi's "couldn't"
    text = "NVIDIA-SMI has failed because it couldn‘t communicate with the NVIDIA driver.\n"
    assert [hit.id for hit in parse_report(text).signatures] == ["driver.smi-cannot-communicate"]

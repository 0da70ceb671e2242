"""torch.companion-mismatch: torchvision and torchaudio must be built for this torch and its CUDA variant."""

from __future__ import annotations

from check_facts import PY, RTX4090, codes_of, findings_of, linux_gpu_box, pkg, report

from torchrig.doctor.checks import CheckContext, run_checks, torch_companion_mismatch
from torchrig.doctor.findings import Finding
from torchrig.doctor.report import parse_report

CTX = CheckContext()


def _first(text: str) -> Finding:
    findings = findings_of(text)
    assert findings, "no findings"
    return findings[0]


def test_torchvision_built_for_torch_2_12_is_reinstalled_for_2_13_without_touching_torch() -> None:
    facts = linux_gpu_box(RTX4090, companions=[pkg("torchvision", "0.27.0+cu130", "torch==2.12.0", "numpy")])
    [finding] = torch_companion_mismatch.companions_match_torch(facts, CTX)
    assert finding.title == "torchvision was not built for torch 2.13.0+cu130"
    assert (
        finding.evidence["torchvision"] == "torchvision 0.27.0+cu130 requires torch==2.12.0, but torch is 2.13.0+cu130"
    )
    assert finding.fix == (
        f"{PY} -m pip install --force-reinstall --no-deps torchvision==0.28.0"
        " --index-url https://download.pytorch.org/whl/cu130",
    )


def test_torchvision_for_cuda_12_6_next_to_torch_for_13_0_is_a_variant_mismatch() -> None:
    facts = linux_gpu_box(RTX4090, companions=[pkg("torchvision", "0.28.0+cu126", "torch==2.13.0")])
    [finding] = torch_companion_mismatch.companions_match_torch(facts, CTX)
    assert finding.evidence["torchvision"] == "torchvision 0.28.0+cu126 is built for cu126, torch for cu130"


def test_without_requires_dist_the_release_table_pairs_them() -> None:
    facts = linux_gpu_box(
        RTX4090, torch="2.5.1+cu124", cuda="12.4", companions=[pkg("torchvision", "0.19.1"), pkg("torchaudio", "2.5.1")]
    )
    [finding] = torch_companion_mismatch.companions_match_torch(facts, CTX)
    assert finding.fix[0].endswith("torchvision==0.20.1 --index-url https://download.pytorch.org/whl/cu124")


def test_torchaudio_2_11_serves_every_later_torch() -> None:
    facts = linux_gpu_box(
        RTX4090, companions=[pkg("torchaudio", "2.11.0+cu130"), pkg("torchvision", "0.28.0+cu130", "torch==2.13.0")]
    )
    assert torch_companion_mismatch.companions_match_torch(facts, CTX) == []


def test_a_conda_install_is_fixed_with_conda() -> None:
    facts = linux_gpu_box(RTX4090, installer="conda", companions=[pkg("torchvision", "0.26.0")])
    [finding] = torch_companion_mismatch.companions_match_torch(facts, CTX)
    assert finding.fix == ("conda install -y -c conda-forge torchvision=0.28.0",)


def test_operator_torchvision_nms_does_not_exist_in_a_log_yields_the_finding() -> None:
    facts = report(("companion.torchvision-nms-missing", "RuntimeError: operator torchvision::nms does not exist"))
    [finding] = torch_companion_mismatch.companions_match_torch(facts, CTX)
    assert "torchvision::nms" in finding.evidence["report line 3"]
    assert finding.fix


def test_a_matching_pair_is_fine() -> None:
    facts = linux_gpu_box(RTX4090, companions=[pkg("torchvision", "0.28.0+cu130", "torch==2.13.0")])
    assert torch_companion_mismatch.companions_match_torch(facts, CTX) == []


def test_nightly_companions_are_not_held_to_the_release_pairing() -> None:
    # pytorch #131312: torch 2.5.0.dev20240720 with torchaudio 2.4.0.dev20240721 from the same nightly index.
    facts = linux_gpu_box(
        RTX4090, torch="2.5.0.dev20240720+cu124", cuda="12.4", companions=[pkg("torchaudio", "2.4.0.dev20240721+cu124")]
    )
    assert torch_companion_mismatch.companions_match_torch(facts, CTX) == []


def test_torchvision_s_own_cuda_check_is_a_variant_mismatch() -> None:
    text = (
        "RuntimeError: Detected that PyTorch and torchvision were compiled with different CUDA major versions. "
        "PyTorch has CUDA Version=12.4 and torchvision has CUDA Version=11.8. "
        "Please reinstall the torchvision that matches your PyTorch install.\n"
    )
    first = run_checks(parse_report(text))[0]
    assert first.code == "torch.companion-mismatch" and first.title.startswith("torchvision was not built")


def test_a_missing_stable_abi_symbol_in_torchaudio_is_a_companion_newer_than_torch() -> None:
    text = (
        '  File "/srv/venv/lib/python3.11/site-packages/torchaudio/_extension/utils.py", line 60, in _load_lib\n'
        "OSError: /srv/venv/lib/python3.11/site-packages/torchaudio/lib/libtorchaudio.so: undefined symbol: "
        "aoti_torch_get_device_index\n"
    )
    first = run_checks(parse_report(text))[0]
    assert first.code == "torch.companion-mismatch" and first.title.startswith("torchaudio was not built")


def test_a_missing_stable_abi_symbol_elsewhere_is_not_a_companion() -> None:
    text = "ImportError: /opt/ext/my_op.so: undefined symbol: aoti_torch_get_device_index\n"
    assert "companion.stable-abi-symbol-missing" not in {h.id for h in parse_report(text).signatures}


def test_pip_s_conflict_over_a_companion_pinning_another_torch_is_a_pair_never_built_together() -> None:
    text = (
        "ERROR: Cannot install torch==2.3.1 and torchvision==0.19.0 because these package versions have "
        "conflicting dependencies.\n\nThe conflict is caused by:\n    The user requested torch==2.3.1\n"
        "    torchvision 0.19.0 depends on torch==2.4.0\n\nERROR: ResolutionImpossible: for help visit "
        "https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts\n"
    )
    facts = parse_report(text)
    assert facts.report_format == "pip"
    first = run_checks(facts)[0]
    assert first.code == "torch.companion-mismatch" and first.title.startswith("torchvision was not built")


# The torchvision:: operators are registered by `import torchvision` (torchvision/extension.py loads its _C library);
# torchvision's maintainer in pytorch/vision#1405: "For `torch.ops.torchvision` to be available, we first need to
# `import torchvision`". A program's own frame calling torch.ops.torchvision.nms gets "No such operator" whether
# or not the pair matches; a frame inside torchvision/ops/boxes.py (ultralytics/yolov3#914) is torchvision's own
# operators failing to load.
_OWN_CALL = """Traceback (most recent call last):
  File "detect.py", line 40, in <module>
    keep = postprocess(pred)
  File "/home/dev/detector/utils/boxes.py", line 326, in postprocess
    i = torch.ops.torchvision.nms(boxes, scores, iou_thres)
  File "/home/dev/miniconda3/envs/det/lib/python3.8/site-packages/torch/_ops.py", line 61, in __getattr__
    op = torch._C._jit_get_operation(qualified_op_name)
RuntimeError: No such operator torchvision::nms
"""

_INSIDE_TORCHVISION = """Traceback (most recent call last):
  File "/home/dev/yolo/utils/utils.py", line 571, in non_max_suppression
    i = torchvision.ops.boxes.batched_nms(boxes, scores, c, iou_thres)
  File "/home/dev/.conda/envs/y/lib/python3.7/site-packages/torchvision/ops/boxes.py", line 76, in batched_nms
    keep = nms(boxes_for_nms, scores, iou_threshold)
  File "/home/dev/.conda/envs/y/lib/python3.7/site-packages/torchvision/ops/boxes.py", line 36, in nms
    return torch.ops.torchvision.nms(boxes, scores, iou_threshold)
  File "/home/dev/.local/lib/python3.7/site-packages/torch/_ops.py", line 61, in __getattr__
    op = torch._C._jit_get_operation(qualified_op_name)
RuntimeError: No such operator torchvision::nms
"""


# PyTorch's dispatcher naming the backend torchvision's operator has no kernel for: a CPU-only torchvision beside a
# CUDA torch. Wording of other reports of the class: pytorch/vision#3058 (torch 1.7, the short backend list) and
# hustvl/YOLOP#217 (inside torchvision's own nms), ultralytics#7713 (NotImplementedError, the long list).
def test_torchvision_without_a_cuda_kernel_for_its_operator_is_a_companion_mismatch() -> None:
    for text in (
        "RuntimeError: Could not run 'torchvision::nms' with arguments from the 'CUDA' backend. 'torchvision::nms' "
        "is only available for these backends: [CPU, BackendSelect, Named, AutogradOther, AutogradCPU, AutogradCUDA].",
        '  File "/root/miniconda3/lib/python3.8/site-packages/torchvision/ops/boxes.py", line 42, in nms\n'
        "    return torch.ops.torchvision.nms(boxes, scores, iou_threshold)\n"
        "RuntimeError: Could not run 'torchvision::nms' with arguments from the 'CUDA' backend.",
        "NotImplementedError: Could not run 'torchvision::roi_align' with arguments from the 'CUDA' backend. This "
        "could be because the operator doesn't exist for this backend.",
    ):
        assert codes_of(text)[:1] == ["torch.companion-mismatch"], text


def test_an_aten_operator_without_a_cuda_kernel_is_not_a_companion_mismatch() -> None:
    text = "NotImplementedError: Could not run 'aten::empty_strided' with arguments from the 'CUDA' backend."
    assert "torch.companion-mismatch" not in codes_of(text)


def test_a_program_calling_torch_ops_torchvision_itself_shows_no_mismatch() -> None:
    facts = parse_report(_OWN_CALL)
    assert "companion.torchvision-op-called-unimported" in {h.id for h in facts.signatures}
    assert torch_companion_mismatch.companions_match_torch(facts, CTX) == []


def test_torchvision_own_nms_failing_to_find_its_operator_is_a_mismatch() -> None:
    facts = parse_report(_INSIDE_TORCHVISION)
    assert "companion.torchvision-op-called-unimported" not in {h.id for h in facts.signatures}
    [finding] = torch_companion_mismatch.companions_match_torch(facts, CTX)
    assert finding.code == "torch.companion-mismatch"


def test_a_direct_call_does_not_hide_versions_that_do_not_pair() -> None:
    facts = parse_report(_OWN_CALL)
    facts.torch.version = "1.7.0"
    facts.companions = [pkg("torchvision", "0.7.0")]
    [finding] = torch_companion_mismatch.companions_match_torch(facts, CTX)
    assert "torchvision" in finding.evidence


# --- torch's stable C ABI (torch/csrc/stable) is used by more than torchvision and torchaudio


def test_an_aotinductor_model_missing_a_stable_abi_symbol_is_not_a_companion_mismatch() -> None:
    # pytorch#146203: "undefined symbol: aoti_torch_device_type_cpu" from an AOTInductor-compiled model.so; the
    # report lists torchvision among its packages, as collect_env does
    text = (
        "Versions of relevant libraries:\n[pip3] torch==2.6.0\n[pip3] torchvision==0.21.0\n\n"
        "RuntimeError: Error in dlopen: /tmp/torchinductor_ada/cwxyz/model.so: undefined symbol: "
        "aoti_torch_device_type_cpu\n"
    )
    assert "torch.companion-mismatch" not in codes_of(text)


def test_torchaudio_missing_a_stable_abi_symbol_is_a_companion_mismatch() -> None:
    text = (
        "OSError: /venv/lib/python3.12/site-packages/torchaudio/lib/_torchaudio.so: undefined symbol: "
        "torch_library_impl\n"
    )
    assert codes_of(text)[0] == "torch.companion-mismatch"


# --- pip's summary line names the companions installed with torch


def test_an_unpinned_companion_pip_installed_with_torch_is_a_companion_mismatch() -> None:
    text = "Successfully installed torch-2.5.1+cu124 torchaudio-2.9.0+cu124 torchvision-0.20.1+cu124\n"
    first = _first(text)
    assert first.code == "torch.companion-mismatch" and "torchaudio" in first.title


def test_matching_companions_on_pips_line_are_no_finding() -> None:
    text = "Successfully installed torch-2.5.1+cu124 torchaudio-2.5.1+cu124 torchvision-0.20.1+cu124\n"
    assert "torch.companion-mismatch" not in [f.code for f in findings_of(text)]


# --- each text in its program's own wording (NCCL, Fabric Manager, cuda-python, torchaudio, the dynamic
# loader) or a reporter's, written from the source, not copied from a corpus report


def test_torchaudios_old_top_level_extension_missing_a_torch_symbol_is_a_companion_mismatch() -> None:
    # torchaudio <= 0.4: CppExtension('_torch_sox', ...), imported by torchaudio/__init__.py
    text = (
        "    import _torch_sox\n"
        "ImportError: /home/u/.local/lib/python3.6/site-packages/_torch_sox.cpython-36m-x86_64-linux-gnu.so: "
        "undefined symbol: _ZN3c1010TensorImpl7stridesEv\n"
    )
    [finding] = run_checks(parse_report(text))
    assert finding.code == "torch.companion-mismatch"
    assert finding.title.startswith("torchaudio was not built")


def test_a_torch_library_missing_while_torchvision_loads_its_ops_is_a_companion_mismatch() -> None:
    # torch.ops.load_library -> ctypes.CDLL: the loader names the dependency it could not find
    text = (
        'File "/usr/lib/python3.8/ctypes/__init__.py", line 373, in __init__\n'
        "    self._handle = _dlopen(self._name, mode)\n"
        "OSError: libtorch_cuda_cu.so: cannot open shared object file: No such file or directory\n"
        "(raised by import torchvision)\n"
    )
    assert codes_of(text)[0] == "torch.companion-mismatch"


def test_a_torch_library_missing_without_a_companion_in_the_report_is_not_read_as_one() -> None:
    text = "OSError: libtorch_cuda_cu.so: cannot open shared object file: No such file or directory\n"
    assert "torch.companion-mismatch" not in codes_of(text)


def test_a_reporter_saying_installing_torchvision_removed_their_torch() -> None:
    text = (
        "I built PyTorch from source for my GPU. When I pip install torchvision it uninstalls my torch and "
        "installs a different one from PyPI.\n"
    )
    [finding] = run_checks(parse_report(text))
    assert finding.code == "torch.companion-mismatch"
    assert "torchvision" in finding.title
    assert any("from its source" in step for step in finding.fix)

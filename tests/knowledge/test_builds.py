"""The planner picks the build the published tables say fits: driver x compute capabilities x Python x torch.

Expected variants are read off the tables by hand (compat.md: CUDA variants per release, SASS per
variant, driver per CUDA with minor-version compatibility); the sweep at the end checks the rule
itself against the knowledge queries for every release and a spread of GPUs and drivers.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from packaging.version import Version

from torchrig import knowledge as k
from torchrig._core.errors import UserError
from torchrig.knowledge.builds import Target, plan, show_driver

# Real driver versions as nvidia-smi prints them (release notes, recorded outputs in public issues).
R580 = "580.95.05"
R575 = "575.57.08"
R570 = "570.124.06"
R560 = "560.35.05"
R535 = "535.104.05"
R525 = "525.60.13"
R470 = "470.82.01"

V100, A100, GTX1080, RTX3090, RTX4090, H100, RTX5090, B200, K80, T4 = (
    "7.0",
    "8.0",
    "6.1",
    "8.6",
    "8.9",
    "9.0",
    "12.0",
    "10.0",
    "3.7",
    "7.5",
)


@pytest.mark.parametrize(
    ("torch", "driver", "ccs", "python", "expected"),
    [
        # mixed GPUs in one box: the build must carry kernels for every one of them
        ("2.13", R580, (V100, A100), "3.12", "cu126"),  # CUDA 13 dropped Volta; 2.13's cu129 starts at sm_75
        ("2.13", R580, (RTX5090, RTX3090), "3.12", "cu130"),
        ("2.13", R580, (A100, H100, B200), "3.13", "cu130"),
        ("2.13", R580, (T4, RTX4090), "3.10", "cu130"),
        ("2.13", R580, (GTX1080, RTX5090), "3.12", None),  # no single build has sm_60 and sm_120
        # one GPU
        ("2.13", R580, (GTX1080,), "3.12", "cu126"),  # Pascal: only cu126 still carries sm_60
        ("2.13", R580, (RTX5090,), "3.12", "cu130"),  # the default build; cu132 only on request
        ("2.13", R575, (RTX5090,), "3.12", "cu129"),  # below 580 no CUDA 13 build runs
        ("2.13", R570, (RTX5090,), "3.12", "cu129"),
        ("2.13", R560, (RTX5090,), "3.12", "cu129"),  # minor-version compatibility carries 12.9 on 560
        ("2.13", R535, (RTX3090,), "3.12", "cu129"),
        ("2.13", R525, (A100,), "3.12", "cu129"),  # 525.60.13 is the floor of CUDA 12 compatibility
        ("2.13", R525, (RTX5090,), "3.12", "cu129"),
        ("2.13", R470, (A100,), "3.12", None),  # 470 runs CUDA 11 only, and 2.13 has no CUDA 11 build
        ("2.13", R580, (B200,), "3.14", "cu130"),
        ("2.13", R580, ("10.3",), "3.12", "cu130"),  # B300 runs sm_100 code
        ("2.13", R580, ("12.1",), "3.12", "cu130"),  # DGX Spark runs sm_120 code
        ("2.13", R580, (K80,), "3.12", None),
        # older releases
        ("2.12", R580, (RTX4090,), "3.12", "cu130"),
        ("2.11", R580, (V100,), "3.12", "cu126"),  # 2.11's cu128 and cu129 start at sm_75
        # default cu130 needs 580; cu129's 2.11 list has no source (notes/torch_builds.md), so the newest older
        # build whose list is known: cu128 (12.8.1: 7.5..12.0, pytorch#172352)
        ("2.11", R570, (RTX5090,), "3.12", "cu128"),
        ("2.10", R580, (V100,), "3.12", "cu128"),  # 2.8-2.10 put sm_70 back into cu128
        ("2.9", R535, (H100,), "3.12", "cu128"),
        ("2.8", R580, (RTX3090,), "3.9", "cu128"),
        ("2.8", R580, (GTX1080,), "3.12", "cu126"),
        ("2.7", R470, (A100,), "3.12", "cu118"),  # 470 runs cu118 through CUDA 11 compatibility
        ("2.7", R470, (V100,), "3.9", "cu118"),
        ("2.7", R580, (RTX5090,), "3.12", "cu128"),  # the default cu126 has no sm_120: the newer cu128 does
        ("2.7", R580, (RTX3090,), "3.12", "cu126"),
        ("2.6", R535, (A100,), "3.12", "cu124"),
        ("2.6", R470, (A100,), "3.12", "cu118"),
        ("2.5", R535, (RTX3090,), "3.12", "cu124"),  # PyPI's 2.5 wheels are cu124 (nvidia-cuda-runtime-cu12==12.4.127)
        ("2.0", R470, (K80,), "3.10", "cu117"),  # the last builds with Kepler
        ("2.1", R470, (A100,), "3.10", "cu118"),  # the default cu121 needs CUDA 12, so the driver decides
        ("2.1", R470, (K80,), "3.10", "cu118"),  # builder release/2.1..2.5 kept 3.7 in the cu118 wheels
        # no GPU: the cpu build, whatever the driver
        ("2.13", None, (), "3.12", "cpu"),
        ("2.13", R580, (), "3.12", "cpu"),
        ("2.7", None, (), "3.9", "cpu"),
        # Python outside the release's range: nothing fits
        ("2.13", R580, (RTX3090,), "3.9", None),
        ("2.7", R580, (RTX3090,), "3.14", None),
        ("2.13", None, (), "3.15", None),
    ],
)
def test_the_matrix(torch: str, driver: str | None, ccs: tuple[str, ...], python: str, expected: str | None) -> None:
    result = plan(Target(driver=driver, capabilities=ccs), torch=torch, python=python)
    assert result.variant == expected, result.reason


def test_v100_and_a100_on_2_13_say_why_cu130_and_cu129_are_out() -> None:
    result = plan(
        Target(driver=R580, capabilities=(V100, A100), gpu_names=("Tesla V100-SXM2-32GB", "A100-SXM4-40GB")),
        torch="2.13",
        python="3.12",
    )
    why = {r.variant: r.why for r in result.rejected}
    assert "7.0 (Tesla V100-SXM2-32GB)" in why["cu130"] and "sm 75, 80, 86, 90, 100, 120" in why["cu130"]
    assert "7.0" in why["cu129"]
    assert "leaves the GPUs unused" in why["cpu"]
    assert "7.0, 8.0" in result.reason


def test_rtx5090_on_driver_570_rejects_cu130_for_the_driver_and_cu126_for_sm120() -> None:
    result = plan(Target(driver=R570, capabilities=(RTX5090,)), torch="2.13", python="3.12")
    why = {r.variant: r.why for r in result.rejected}
    assert why["cu130"] == "needs driver >= 580 for CUDA 13.0, and this driver is 570.124.06"
    assert why["cu126"].startswith("has no kernels for compute capability 12.0")
    assert any("minor-version compatibility" in n and "575.51.03" in n for n in result.notes)


def test_driver_470_on_new_torch_names_the_newest_torch_that_fits_and_the_driver_to_install() -> None:
    result = plan(Target(driver=R470, capabilities=(A100,)), torch="2.13", python="3.12")
    assert result.variant is None
    assert result.commands() is None
    older = next(s for s in result.suggestions if s.torch and s.driver is None)
    assert (older.torch, older.variant) == ("2.7", "cu118")
    driver = next(s for s in result.suggestions if s.driver)
    assert driver.driver == "580" and driver.variant == "cu130"
    assert "525.60.13 is enough for cu129" in driver.text


def test_gpus_from_two_generations_that_no_build_serves_get_one_environment_per_group() -> None:
    result = plan(Target(driver=R580, capabilities=(GTX1080, RTX5090)), torch="2.13", python="3.12")
    assert result.variant is None
    text = " ".join(s.text for s in result.suggestions)
    assert "6.1 needs cu126" in text and "12.0 needs cu130" in text and "CUDA_VISIBLE_DEVICES" in text


def test_a_newer_build_than_the_default_is_offered_not_chosen() -> None:
    result = plan(Target(driver=R580, capabilities=(RTX4090,)), torch="2.13", python="3.12")
    assert result.variant == "cu130"
    assert any(r.variant == "cu132" and "--backend cu132" in r.why for r in result.rejected)
    forced = plan(Target(driver=R580, capabilities=(RTX4090,)), torch="2.13", python="3.12", backend="cu132")
    assert forced.variant == "cu132"


def test_python_out_of_range_suggests_a_torch_that_supports_it() -> None:
    result = plan(Target(driver=R580, capabilities=(RTX3090,)), torch="2.13", python="3.9")
    assert "no wheels for Python 3.9" in result.reason
    assert (result.suggestions[0].torch, result.suggestions[0].variant) == ("2.8", "cu128")
    assert result.suggestions[-1].python == "3.14"


def test_gpus_without_a_driver_need_the_driver_first() -> None:
    result = plan(Target(capabilities=(RTX5090,)), torch="2.13", python="3.12")
    assert result.variant is None
    assert "no NVIDIA driver is loaded" in result.reason
    assert result.suggestions[0].driver == "580"
    pci_only = plan(Target(unidentified_gpus=2), torch="2.13", python="3.12")
    assert pci_only.variant is None and "2 NVIDIA GPUs found" in pci_only.reason


def test_gpus_of_unknown_capability_are_planned_by_the_driver_and_say_so() -> None:
    result = plan(Target(driver=R570, unidentified_gpus=1), torch="2.13", python="3.12")
    assert result.variant == "cu129"
    assert any("--cc" in n for n in result.notes)


def test_under_wsl_the_windows_driver_column_counts() -> None:
    # WSL's nvidia-smi shows the Windows driver, e.g. 551.86 (CUDA 12.4 era): >= 528.33, so CUDA 12 builds run
    assert (
        plan(Target(driver="551.86", capabilities=(RTX3090,), wsl=True), torch="2.13", python="3.12").variant == "cu129"
    )
    # 527.41 is CUDA 12.0's Windows GA driver but below the Windows minor-compat floor 528.33
    assert plan(Target(driver="527.41", capabilities=(RTX3090,), wsl=True), torch="2.13", python="3.12").variant is None
    assert plan(Target(driver="527.41", capabilities=(RTX3090,)), torch="2.13", python="3.12").variant == "cu129"


def test_an_exact_patch_release_without_a_build_is_not_offered_it() -> None:
    # 2.12.0 shipped without cu129; the series (torch==2.12.*) and 2.12.1 have it
    machine = Target(driver=R570, capabilities=(RTX5090,))
    assert plan(machine, torch="2.12", python="3.12").variant == "cu129"
    assert plan(machine, torch="2.12.1", python="3.12").variant == "cu129"
    exact = plan(machine, torch="2.12.0", python="3.12")
    assert exact.variant is None
    assert any(
        r.variant == "cu129" and r.why == "torch 2.12.0 has no cu129 build (it came with 2.12.1)"
        for r in exact.rejected
    )
    assert (exact.suggestions[0].torch, exact.suggestions[0].variant) == ("2.12.1", "cu129")


def test_native_windows_skips_linux_only_builds() -> None:
    machine = Target(driver="576.02", capabilities=(RTX5090,), platform="windows")
    result = plan(machine, torch="2.13", python="3.12")
    assert result.variant is None  # cu129 is Linux-only, cu130 needs 580, cu126 lacks sm_120
    assert any(r.variant == "cu129" and "no Windows wheels" in r.why for r in result.rejected)


def test_macos_gets_the_cpu_build() -> None:
    assert plan(Target(platform="darwin"), torch="2.13", python="3.12").variant == "cpu"


def test_an_explicit_backend_is_checked_against_the_release_and_the_machine() -> None:
    gone = plan(Target(driver=R580, capabilities=(A100,)), torch="2.13", python="3.12", backend="cu118")
    assert gone.variant is None and "torch 2.13 has no cu118 build" in gone.reason and "2.7" in gone.reason
    too_new = plan(Target(driver=R570, capabilities=(A100,)), torch="2.13", python="3.12", backend="cu130")
    assert too_new.variant is None and too_new.reason.startswith("cu130 cannot run here: it needs driver >= 580")
    no_gpu = plan(Target(), torch="2.13", python="3.12", backend="cu126")
    assert no_gpu.variant is None and "no NVIDIA GPU" in no_gpu.reason
    cpu = plan(Target(driver=R580, capabilities=(A100,)), torch="2.13", python="3.12", backend="cpu")
    assert cpu.variant == "cpu" and any("unused" in n for n in cpu.notes)


def test_commands_use_the_plans_index_and_a_mirror_when_one_is_configured() -> None:
    result = plan(
        Target(driver=R580, capabilities=(A100,)),
        torch="2.13.0",
        python="3.12",
        index_base="https://mirrors.nju.edu.cn/pytorch/whl/",
    )
    commands = result.commands()
    assert commands is not None
    assert commands.pip == (
        "pip",
        "install",
        "torch==2.13.0",
        "--index-url",
        "https://mirrors.nju.edu.cn/pytorch/whl/cu130",
    )
    assert commands.uv[-2:] == ("--index", "https://mirrors.nju.edu.cn/pytorch/whl/cu130")
    assert "pytorch=2.13.0=cuda*" in commands.conda and "cuda-version>=13.0,<14" in commands.conda
    assert "--override-channels" in commands.conda and "python=3.12" in commands.conda
    cpu = plan(Target(), python="3.12")
    assert cpu.commands() is not None and cpu.commands().to_dict()["pip"].endswith(
        "--index-url https://download.pytorch.org/whl/cpu"
    )
    assert cpu.conda_specs == (f"pytorch={cpu.torch}.*=cpu*",)


def test_the_default_torch_is_the_newest_release_known_in_full() -> None:
    assert k.releases()[0].minor == "2.15" and k.releases()[0].variants_partial
    assert plan(Target(), python="3.12").torch == "2.14"
    # 2.15 is planned for when asked: its sourced build (PyPI's cu132) fits a 580 driver, but without a
    # sourced arch list no GPU can be shown to have kernels in it, and whether it has cu130 is not known
    asked = plan(Target(driver=R580, capabilities=(A100,)), torch="2.15", python="3.12")
    assert asked.variant is None and "may lack kernels" in asked.rejected[0].why
    forced = plan(Target(driver=R580, capabilities=(A100,)), torch="2.15", python="3.12", backend="cu130")
    assert forced.variant is None and "whether it has cu130 is not known" in forced.reason
    assert "has no cu130" not in forced.reason


def test_the_plan_is_pure_and_frozen() -> None:
    machine = Target(driver=R580, capabilities=(V100, A100))
    first, second = plan(machine, python="3.12"), plan(machine, python="3.12")
    assert first == second
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.variant = "cu130"  # type: ignore[misc]


def test_json_has_variant_reason_rejected_and_commands() -> None:
    data = plan(Target(driver=R580, capabilities=(V100,)), torch="2.13", python="3.12").to_dict()
    assert data["variant"] == "cu126"
    assert data["reason"]
    assert {"variant": "cu130", "why": data["rejected"][0]["why"]} in data["rejected"]
    assert set(data["commands"]) == {"pip", "uv", "conda"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"torch": "2.99"}, "not in torchrig's tables"),
        ({"torch": "latest"}, "is not a torch version"),
        ({"torch": "2.13.0+cu130"}, "without a build tag"),
        ({"python": "three"}, "is not a Python version"),
        ({"backend": "cuda"}, "is not a backend"),
    ],
)
def test_bad_inputs_are_one_sentence(kwargs: dict[str, str], message: str) -> None:
    args = {"python": "3.12", **kwargs}
    with pytest.raises(UserError, match=message):
        plan(Target(), **args)


def test_bad_machine_descriptions_are_one_sentence() -> None:
    with pytest.raises(UserError, match="not a compute capability"):
        Target(capabilities=("ampere",))
    with pytest.raises(UserError, match="not a driver version"):
        Target(driver="new")


DRIVERS = [R470, R525, R570, R580]  # one per driver floor: CUDA 11 compat, 12 compat, 12.8/12.9 era, 13 compat
CAPS = ["3.7", "6.1", "7.0", "7.5", "8.0", "8.6", "9.0", "10.0", "12.0"]  # Kepler to Blackwell


def test_sweep_the_chosen_build_fits_and_nothing_preferred_was_passed_over() -> None:
    """For every release x driver x (one or two GPUs): the rule, stated once more with the knowledge queries."""
    checked = 0
    for rel in k.releases():
        python = rel.python_max
        cuda = {v: Version(k.variant_cuda(v) or "0") for v in rel.variants}
        need = {v: k.min_driver(k.variant_cuda(v) or "") for v in rel.variants}
        # runs on it: SASS of its major, or PTX from a CUDA release that knows the GPU (old PTX from a toolkit that
        # predates it leaves the bundled cuDNN/cuBLAS without kernels: k.coverage calls that a doubt)
        covers = {(v, c): k.coverage(rel.minor, v, c).covered is True for v in rel.variants for c in CAPS}
        default_cuda = cuda[rel.default] if rel.default else max(cuda.values())
        for driver, ccs in itertools.product(DRIVERS, [*((c,) for c in CAPS), *itertools.combinations(CAPS, 2)]):
            result = plan(Target(driver=driver, capabilities=ccs), torch=rel.minor, python=python)
            have = Version(driver)
            fitting = [v for v in rel.variants if have >= need[v] and all(covers[v, c] for c in ccs)]
            if not fitting:
                assert result.variant is None, (rel.minor, driver, ccs)
                continue
            assert result.variant in fitting, (rel.minor, driver, ccs)
            not_newer = [v for v in fitting if cuda[v] <= default_cuda]
            best = max(not_newer, key=cuda.get) if not_newer else min(fitting, key=cuda.get)
            assert result.variant == best, (rel.minor, driver, ccs, result.variant, best)
            checked += 1
    assert checked > 500


def test_show_driver_writes_versions_as_nvidia_does() -> None:
    assert show_driver(Version("575.51.03")) == "575.51.03"
    assert show_driver(Version("580")) == "580"
    assert show_driver(Version("450.80.02")) == "450.80.02"


def test_a_patch_release_pypi_had_is_planned_and_one_it_did_not_is_refused() -> None:
    machine = Target(driver="580.95.05", capabilities=("8.0",))
    assert plan(machine, torch="2.12.1", python="3.12").torch == "2.12.1"
    assert plan(machine, torch="2.5.1", python="3.12").torch == "2.5.1"
    # torch==2.13.99 would fail only when it is installed
    with pytest.raises(UserError, match=r"knows no torch 2\.13\.99: PyPI had 2\.13\.0 of torch 2\.13 as of"):
        plan(machine, torch="2.13.99", python="3.12")
    # before 1.13 the table has no list of patch releases: unknown is not "does not exist"
    assert k.named_patches(k.release("1.8")) is None
    assert plan(Target(driver="470.82.01", capabilities=("8.0",)), torch="1.8.2", python="3.8").torch == "1.8.2"


def test_every_release_since_1_13_lists_its_patches_starting_with_the_dot_zero() -> None:
    for release in k.releases():
        if Version(release.minor) >= Version("1.13"):
            patches = k.named_patches(release)
            assert patches and patches[0] == f"{release.minor}.0", release.minor


def test_the_python_a_release_has_wheels_for_is_read_for_the_targets_platform() -> None:
    mac = Target(platform="darwin", cpu_arch="arm64")
    refused = plan(mac, torch="2.5", python="3.13")
    assert refused.variant is None
    assert refused.reason == "torch 2.5 has no macOS arm64 wheels for Python 3.13 (it has them for 3.9 to 3.12)."
    assert refused.suggestions[-1].python == "3.12"
    assert plan(Target(), torch="2.5", python="3.13").variant == "cpu"  # Linux x86_64: cp313 wheels exist
    assert plan(Target(platform="windows"), torch="2.5", python="3.13").variant is None
    assert plan(Target(platform="darwin", cpu_arch=""), torch="2.6", python="3.13").variant == "cpu"

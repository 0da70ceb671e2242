"""GPU model name -> compute capability: every name and alias of the table resolves to its own row's
capability, and the names real reports print resolve to NVIDIA's published one."""

from __future__ import annotations

import pytest

from torchrig.knowledge import gpu_models
from torchrig.knowledge.gpu_models import capability_of

ROWS = gpu_models.models()


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.capability}:{r.name}" for r in ROWS])
def test_every_name_and_alias_resolves_to_its_own_capability(row: gpu_models.GpuModel) -> None:
    for name in (row.name, *row.aliases):
        assert capability_of(name) == row.capability, name
        assert capability_of(name.upper()) == row.capability, name  # case does not matter


def test_no_two_models_of_different_capability_read_the_same() -> None:
    seen: dict[tuple[str, ...], str] = {}
    for row in ROWS:
        for name in (row.name, *row.aliases):
            key = gpu_models.words(name)
            assert seen.setdefault(key, row.capability) == row.capability, name


# Names as they appear in tests/corpus/*.txt (development split) and tests/fixtures/recorded: collect_env's
# "GPU models and configuration", nvidia-smi -L / tables / --query-gpu, and torch's capability warnings.
REAL_NAMES = [
    ("GeForce GTX 1070", "6.1"),
    ("GeForce GTX 660 Ti", "3.0"),
    ("GeForce RTX 2080 Ti", "7.5"),
    ("GeForce GTX 680", "3.0"),
    ("NVIDIA A100-SXM4-80GB", "8.0"),
    ("NVIDIA A100-SXM4-40GB", "8.0"),
    ("A100-SXM4-40GB", "8.0"),  # the R450/R460 spelling, without "NVIDIA"
    ("NVIDIA A10G", "8.6"),  # not the A100 nor the A10's ...G
    ("NVIDIA A40", "8.6"),
    ("NVIDIA GeForce GTX 1050 Ti", "6.1"),
    ("NVIDIA GeForce GTX 1060 6GB", "6.1"),
    ("NVIDIA GeForce GTX 1080 Ti", "6.1"),
    ("NVIDIA GeForce GTX 680", "3.0"),
    ("NVIDIA GeForce RTX 2080 Ti", "7.5"),
    ("NVIDIA GeForce RTX 3060 Laptop GPU", "8.6"),
    ("NVIDIA GeForce RTX 4080 Laptop GPU", "8.9"),
    ("NVIDIA GeForce RTX 4070 ...", "8.9"),  # nvidia-smi's table cuts long names; every 4070 is Ada
    ("NVIDIA GeForce RTX 5060 Ti", "12.0"),
    ("NVIDIA GeForce RTX 5080", "12.0"),
    ("NVIDIA GeForce RTX 5090", "12.0"),
    ("- `NVIDIA GeForce RTX 5090", "12.0"),  # as a Markdown list in a pasted report
    ("NVIDIA GeForce RTX 5090 D", "12.0"),
    ("NVIDIA H100 PCIe", "9.0"),
    ("NVIDIA RTX 5880 Ada Generation", "8.9"),
    ("NVIDIA TITAN V", "7.0"),
    ("TITAN Xp", "6.1"),
    ("Tesla P100-PCIE-16GB", "6.0"),
    ("Tesla T4", "7.5"),
    ("Tesla V100-PCIE-16GB", "7.0"),
]


@pytest.mark.parametrize(("name", "cc"), REAL_NAMES)
def test_names_from_real_reports(name: str, cc: str) -> None:
    assert capability_of(name) == cc


@pytest.mark.parametrize(
    ("name", "cc"),
    [
        # one model number, three generations: the words around it decide
        ("Quadro RTX 5000", "7.5"),
        ("NVIDIA Quadro RTX 5000", "7.5"),
        ("NVIDIA RTX 5000 Ada Generation", "8.9"),
        ("RTX 5000 Ada", "8.9"),
        ("NVIDIA RTX PRO 5000 Blackwell", "12.0"),
        ("NVIDIA RTX PRO 5000 72GB Blackwell", "12.0"),
        # memory sizes, form factors and packaging do not break a match
        ("Tesla V100-SXM2-32GB", "7.0"),
        ("Tesla V100S-PCIE-32GB", "7.0"),
        ("NVIDIA A100 80GB PCIe", "8.0"),
        ("NVIDIA H100 80GB HBM3", "9.0"),
        ("NVIDIA GH200 480GB", "9.0"),
        ("NVIDIA B300 SXM6 AC", "10.3"),
        ("Tesla M40 24GB", "5.2"),
        ("NVIDIA GeForce RTX 3060 12GB", "8.6"),
        # Jetson and others that print short names
        ("Orin (nvgpu)", "8.7"),
        ("Orin", "8.7"),
        ("NVIDIA Thor", "11.0"),
        ("NVIDIA Tegra X1", "5.3"),
        ("Xavier", "7.2"),
        ("NVIDIA GB10", "12.1"),
        # the two TITAN X, and laptop parts whose name misleads
        ("NVIDIA GeForce GTX TITAN X", "5.2"),
        ("NVIDIA TITAN X (Pascal)", "6.1"),
        ("NVIDIA GeForce RTX 3050 A Laptop GPU", "8.9"),
        ("NVIDIA GeForce RTX 3050 Laptop GPU", "8.6"),
        ("NVIDIA GeForce RTX 2050", "8.6"),
        ("GeForce GTX 960M", "5.0"),
        ("GeForce GTX 960", "5.2"),
        # a vGPU profile is its board
        ("GRID T4-2Q", "7.5"),
        ("NVIDIA A100-4C", "8.0"),
        # torch's own warning text around the name
        ("GeForce RTX 3090 with CUDA capability sm_86", "8.6"),
        ("Tesla C2070", "2.0"),
    ],
)
def test_the_most_specific_model_wins(name: str, cc: str) -> None:
    assert capability_of(name) == cc


@pytest.mark.parametrize(
    "name",
    [
        None,
        "",
        "AMD Instinct MI250X/MI250",
        "GeForce 210",  # Tesla architecture (1.x): not in the table, no torch ever ran on it
        "Some Future GPU",
        "NVIDIA RTX 4000",  # Quadro RTX 4000 (7.5) or RTX 4000 Ada (8.9): the name alone cannot say
        "NVIDIA GeForce RTX 3050 ...",  # cut short: an RTX 3050 (8.6) or an RTX 3050 A Laptop GPU (8.9)
        "NVIDIA GeForce GT 640",  # GDDR3 (Fermi, 2.1) or GDDR5 (Kepler, 3.5)
    ],
)
def test_an_unknown_or_undecidable_name_has_no_capability(name: str | None) -> None:
    assert capability_of(name) is None


def test_a_name_shared_by_boards_of_two_generations_is_marked() -> None:
    model = gpu_models.model_of("NVIDIA GeForce GT 730")
    assert model is not None and model.ambiguous and model.capability == "3.5"  # NVIDIA's value
    exact = gpu_models.model_of("NVIDIA GeForce GTX 1060 6GB")
    assert exact is not None and exact.name == "GeForce GTX 1060 6GB" and not exact.ambiguous


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("not compatible with the RTX 5000 series", ("GeForce RTX 50 series", "12.0")),
        ("RTX50XX series", ("GeForce RTX 50 series", "12.0")),
        ("GTX 10-series cards", ("GeForce GTX 10 series", "6.1")),
        ("the 1000-series cards are legacy", ("GeForce 10 series", "6.1")),
        ("10 series and older gpus", ("GeForce 10 series", "6.1")),
        ("RTX 30 series", ("GeForce RTX 30 series", "8.6")),
        ("GTX 900 series", ("GeForce GTX 900 series", "5.2")),
    ],
)
def test_a_geforce_generation_has_the_capability_its_desktop_models_share(text: str, want: tuple[str, str]) -> None:
    assert gpu_models.series_of(text) == want


@pytest.mark.parametrize(
    "text",
    [
        "1x00 series GPUs",
        "python 3.10 series",
        "the A100 series",
        "torch 2 series",
        "the top 10 series of 2024",
        "9 series",
    ],
)
def test_what_names_no_single_generation_gives_none(text: str) -> None:
    # "1x00" spans the GTX 10 (6.1) and GTX 16 (7.5) generations
    assert gpu_models.series_of(text) is None

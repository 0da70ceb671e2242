"""The recorded NVML answers say what their recorded nvidia-smi outputs say (no value made up on the way)."""

from __future__ import annotations

import json
import re

import pytest
from probe_fakes import RECORDED

NVML_FIXTURES = sorted((RECORDED / "nvml").glob("*.json"))


def test_every_recorded_file_is_listed_with_its_source_in_the_readme() -> None:
    readme = (RECORDED / "README.md").read_text()
    for path in RECORDED.rglob("*"):
        if path.is_file() and path.name != "README.md":
            assert f"`{path.name}`" in readme, path.name


@pytest.mark.parametrize("path", NVML_FIXTURES, ids=lambda p: p.name)
def test_nvml_fixture_values_appear_in_the_output_it_was_read_from(path) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(path.read_text())
    source = data["_source"]
    assert source.startswith(
        ("https://github.com/", "recorded on the torchrig development machine", "recorded on the torchrig GPU machine")
    )
    match = re.search(r"\.\./(nvidia-smi/[\w.-]+|gpu-h200/nvidia-smi\.txt)", source)
    if match is None:
        return  # no nvidia-smi output of its own (P2P matrix, MIG table, init error): the URL is the record
    named = RECORDED / match.group(1)
    sibling = named.with_name(named.stem + "-q.txt")  # nvidia-smi -q of the same machine, where recorded
    text = named.read_text() + (sibling.read_text() if sibling.exists() else "")
    if match.group(1).startswith("nvidia-smi/topo-p2p"):
        assert data["p2p"] == _p2p_matrix(text)
        return
    if data.get("driver_version"):
        assert data["driver_version"] in text
    for device in data.get("devices", []):
        for key in ("name", "uuid", "pci_bus_id"):
            if device.get(key):
                assert device[key] in text, (key, device[key])
        if device.get("memory_total_bytes"):
            assert f"{device['memory_total_bytes'] >> 20}MiB" in text
    if data.get("cuda_driver_version"):
        major, minor = divmod(data["cuda_driver_version"], 1000)
        assert re.search(rf"CUDA Version\s*:?\s*{major}\.{minor // 10}\b", text)


# the legend of `nvidia-smi topo -p2p`, in the words of torchrig._core.seams.nvml.P2P_STATUS
_LEGEND = {
    "OK": "ok",
    "CNS": "chipset-not-supported",
    "GNS": "not-supported",
    "TNS": "topology-not-supported",
    "NS": "not-supported",
    "DR": "disabled-by-regkey",
    "U": "unknown",
}


def _p2p_matrix(text: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        cells = line.split()
        if cells and re.fullmatch(r"GPU\d+", cells[0]):
            a = int(cells[0][3:])
            for b, cell in enumerate(cells[1:]):
                if b > a and cell in _LEGEND:
                    pairs[f"{a},{b}"] = _LEGEND[cell]
    return pairs

"""The Facts model round-trips through JSON and refuses a saved report whose values have the wrong types."""

from __future__ import annotations

import json

import pytest

from torchrig.doctor.facts import Facts, Gpu, GpuFacts, TorchFacts


def test_facts_round_trip_through_json() -> None:
    facts = Facts(
        gpus=GpuFacts(devices=[Gpu(index=0, name="NVIDIA H100 80GB HBM3", compute_capability="9.0")]),
        torch=TorchFacts(version="2.13.0+cu130", arch_list=["sm_90"]),
        timings={"torch": 2},
    )
    again = Facts.from_dict(json.loads(json.dumps(facts.to_dict())))
    assert again == Facts.from_dict(facts.to_dict())
    assert again.gpus.devices[0].compute_capability == "9.0" and again.timings == {"torch": 2.0}


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"torch": {"copies": "abc"}}, "TorchFacts.copies: expected a list"),  # a string is not a list of copies
        ({"torch": {"version": 5}}, "TorchFacts.version: expected str"),
        ({"torch": {"cuda_available": "yes"}}, "TorchFacts.cuda_available: expected bool"),
        ({"gpus": {"devices": [{"index": True}]}}, "Gpu.index: expected int"),
        ({"system": []}, "SystemFacts must be an object"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_with_its_place(data: dict, where: str) -> None:
    with pytest.raises(TypeError, match=where):
        Facts.from_dict(data)

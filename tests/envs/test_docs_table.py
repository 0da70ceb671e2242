"""docs/env.md writes the decision table out for users; it must say what the tables and the planner say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from torchrig import knowledge as k
from torchrig.knowledge.builds import Target, plan, show_driver

DOC = Path(__file__).resolve().parents[2] / "docs" / "env.md"


def rows(header: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    block = text[text.index(header) :]
    lines = block.splitlines()[2:]
    out = []
    for line in lines:
        if not line.startswith("|"):
            break
        out.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return out


def test_every_row_of_the_build_table_matches_the_knowledge_tables() -> None:
    table = rows("| torch | build | driver ≥ (Linux)")
    assert len(table) > 20
    seen: dict[str, list[str]] = {}
    for torch, build, linux, windows, caps in table:
        variant = build.split()[0]
        rel = k.release(torch)
        assert rel is not None and variant in rel.variants, (torch, variant)
        assert ("(default)" in build) == (variant == rel.default), (torch, build)
        assert ("(Linux only)" in build) == (variant in rel.linux_only), (torch, build)
        cuda = k.variant_cuda(variant) or ""
        assert linux == show_driver(k.min_driver(cuda)), (torch, variant)
        assert windows == show_driver(k.min_driver(cuda, windows=True)), (torch, variant)
        archs = k.arch_list(torch, variant)
        sm = [a.removeprefix("sm_") for a in archs or [] if a.startswith("sm_")]
        assert caps == (", ".join(f"{s[:-1]}.{s[-1]}" for s in sm) if archs is not None else "not known"), (
            torch,
            variant,
        )
        seen.setdefault(torch, []).append(variant)
    for torch, variants in seen.items():  # every build of each listed release, in the planner's order
        assert sorted(variants) == sorted(k.release(torch).variants), torch  # type: ignore[union-attr]


@pytest.mark.parametrize(("column", "driver"), [(2, "580.95.05"), (3, "550.54.14"), (4, "470.82.01")])
def test_the_common_gpus_table_is_what_the_planner_says(column: int, driver: str) -> None:
    for row in rows("| GPU | compute capability |"):
        expected = row[column] if len(row) > column and row[column] else row[2]
        caps = re.findall(r"\d+\.\d", row[1])
        mixed = "+" in row[1]
        groups = [tuple(caps)] if mixed else [(cc,) for cc in caps]
        for ccs in groups:
            result = plan(Target(driver=driver, capabilities=ccs), torch="2.14", python="3.12")
            if expected.startswith("none"):
                assert result.variant is None, (row, driver)
                match = re.search(r"torch (\d+\.\d+) (cu\d+)", expected)
                older = [s for s in result.suggestions if s.torch and s.variant and not s.driver]
                if match:
                    assert (older[0].torch, older[0].variant) == match.groups(), (row, driver)
                elif not mixed:
                    assert not older, (row, driver)
            else:
                assert result.variant == expected, (row, driver, result.reason)

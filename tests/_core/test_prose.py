"""prose.governed: a condition before a statement, in its sentence or line, takes it out of fact."""

from __future__ import annotations

import re

import pytest

from torchrig._core import prose

CALL = "torch.cuda.is_available() is False"


@pytest.mark.parametrize(
    ("text", "governed"),
    [
        (f"On the login node {CALL}.", False),
        (f"If {CALL}, reinstall the CUDA build.", True),
        (f"Check whether {CALL} on each node.", True),
        (f"如果 {CALL}，请重新安装。", True),
        # "when" tells what happened: not a condition
        (f"When I start the notebook, {CALL}.", False),
        # a condition in the sentence before does not reach this one
        (f"If it fails, ask. On my laptop {CALL}.", False),
        (f"Ask if it fails!\n\nOn my laptop {CALL}.", False),
    ],
)
def test_a_condition_governs_only_its_own_sentence(text: str, governed: bool) -> None:
    assert prose.governed(text, text.index("torch.cuda")) is governed


def test_look_back_and_line_bound_the_search() -> None:
    far = "if " + "x" * 100 + " " + CALL
    assert not prose.governed(far, far.index("torch.cuda"))  # 80 characters back by default
    assert prose.governed(far, far.index("torch.cuda"), look_back=200)
    two_lines = f"if the build is wrong\n{CALL}"
    assert prose.governed(two_lines, two_lines.index("torch.cuda"))  # no sentence end between them
    assert not prose.governed(two_lines, two_lines.index("torch.cuda"), line=True)


def test_a_reader_passes_its_own_words() -> None:
    wish = re.compile(prose.CONDITION_WORDS + r"|\bshould\b", re.IGNORECASE)
    text = f"It should say True, but {CALL}"
    assert prose.governed(text, text.index("torch.cuda"), wish)
    assert not prose.governed(text, text.index("torch.cuda"))

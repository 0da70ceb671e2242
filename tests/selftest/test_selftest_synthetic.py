"""The self-test's training data: cached whole even where the work directory's filesystem is small."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from torchrig.data import directories
from torchrig.selftest.synthetic import SyntheticImages, make_train_loader


def test_a_small_temporary_filesystem_still_caches_every_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """100 MiB free is below the 256 MiB a default cache budget leaves free; the self-test's few MB name
    their own budget, so the run neither fails nor trains without its cache."""
    monkeypatch.setattr(directories, "free_bytes", lambda _where: 100 << 20)
    loader, cached = make_train_loader(SyntheticImages(64), batch_size=8, workers=0, cache_dir=str(tmp_path / "c"))
    try:
        assert sum(len(labels) for _, labels in loader) == 64
        s = cached.stats()
        assert s["fits"] == 64 and s["items"] == 64 and s["mode"] == "direct"
    finally:
        cached.close()

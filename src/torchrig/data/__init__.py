"""The torchrig data runtime: one shared cache of decoded samples for every worker and rank on a node.

    from torchrig.data import CachedDataset, ImageFolder, make_loader

    base = ImageFolder("data/train", size=256)            # deterministic: decode + resize
    train = CachedDataset(base, transform=random_crop)    # cached once per node; transform every time
    loader = make_loader(train, batch_size=64)            # sound DataLoader defaults, DDP-aware
    train.stats()                                         # hits, misses, items, bytes, capacity, ...

These need PyTorch; importing one of them without it raises :class:`torchrig.TorchMissingError`.
The cache files themselves (:mod:`.store` with :mod:`.directories`, :mod:`.cachefile`,
:mod:`.lifetime` and :mod:`.inspection`) need only numpy, so ``torchrig cache`` works without torch.

May import: :mod:`torchrig._core` only: training code imports this, and it must not drag the doctor,
the mirrors or the tables along.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrig.data.cached import CachedDataset
    from torchrig.data.images import ImageFolder
    from torchrig.data.loader import make_loader

__all__ = ["CachedDataset", "ImageFolder", "make_loader"]

_WHERE = {
    "CachedDataset": "torchrig.data.cached",
    "ImageFolder": "torchrig.data.images",
    "make_loader": "torchrig.data.loader",
}


def __getattr__(name: str) -> Any:
    # Lazy, so that `torchrig cache` can import the cache modules where torch is missing.
    if name in _WHERE:
        from importlib import import_module

        from torchrig._core.errors import require_torch

        require_torch("torchrig.data")
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'torchrig.data' has no attribute {name!r}")

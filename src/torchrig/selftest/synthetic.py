"""A synthetic image dataset the self-test trains on, and the loader that reads it through ``torchrig.data``.

Item ``i`` is a deterministic ``(uint8 3x32x32 tensor, label)``: class ``i % 10`` has its own colour and
stripe direction, plus noise, so a small CNN learns it in a few dozen steps (the loss must fall) while
every image is different. Generating an item is the deterministic stage that ``CachedDataset`` caches;
the random flip and the float conversion run after the cache, on every access, as in real training.
"""

from __future__ import annotations

from typing import Any

from torchrig.selftest.model import CLASSES, IMAGE_SIZE

_VERSION = 1  # bump when the images change, so no run reads another version's cached items
_PALETTE = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (128, 128, 0),
    (0, 0, 128),
)


class SyntheticImages:
    """Map-style dataset of ``length`` images; the same ``seed`` gives the same images in every process."""

    def __init__(self, length: int, seed: int = 0) -> None:
        self.length = length
        self.seed = seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[Any, int]:
        import numpy as np
        import torch

        if not 0 <= index < self.length:
            raise IndexError(index)
        label = index % CLASSES
        rng = np.random.default_rng((self.seed, index))
        colour = np.array(_PALETTE[label], dtype=np.float32).reshape(3, 1, 1)
        axis = np.arange(IMAGE_SIZE, dtype=np.float32)
        stripes = np.sin(axis * (0.4 + 0.15 * label))
        pattern = stripes.reshape(1, -1, 1) if label % 2 else stripes.reshape(1, 1, -1)
        image = colour * (0.6 + 0.25 * pattern) + rng.normal(0.0, 25.0, (3, IMAGE_SIZE, IMAGE_SIZE))
        return torch.from_numpy(np.clip(image, 0, 255).astype(np.uint8)), label

    def fingerprint(self) -> str:
        """What ``CachedDataset`` names the cache by: the generator's version, the length and the seed."""
        return f"torchrig-synthetic-images/{_VERSION}/{self.length}/{self.seed}"

    def __repr__(self) -> str:
        return f"SyntheticImages(length={self.length}, seed={self.seed})"


def augment(image: Any) -> Any:
    """The random stage, after the cache: a horizontal flip half the time, then floats around 0.

    ``CachedDataset`` applies a transform to the input of an ``(input, target)`` item."""
    import torch

    if torch.rand(()) < 0.5:
        image = image.flip(-1)
    return image.float().div_(127.5).sub_(1.0)


def make_train_loader(
    dataset: SyntheticImages, *, batch_size: int, workers: int, cache_dir: str | None
) -> tuple[Any, Any]:
    """The loader over the shared cache of ``dataset``, and the ``CachedDataset`` (for its ``stats()``).

    ``cache_dir`` None puts the cache where training scripts get it (``/dev/shm``, shared by the ranks of
    a node); torchrig's launcher passes its work directory instead, so a killed run leaves nothing behind.
    Workers re-apply :func:`torchrig.log.setup` when they are spawned rather than forked.
    """
    from torchrig import log
    from torchrig.data import CachedDataset, make_loader

    # A few MB, named outright: the default budget leaves 256 MiB of the filesystem free, and a small
    # $TMPDIR (where the launcher puts it) must not fail the run for want of room it does not need.
    # An upper bound per item (pixels, label, alignment); the cache takes no more than the items need.
    budget = len(dataset) * (3 * IMAGE_SIZE * IMAGE_SIZE + 128)
    cached = CachedDataset(
        dataset, transform=augment, name="torchrig-selftest", directory=cache_dir, capacity_bytes=budget
    )
    loader = make_loader(
        cached,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        persistent_workers=False,
        worker_init_fn=log.init_worker,
    )
    return loader, cached

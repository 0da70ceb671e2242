"""The self-test's model: a small CNN for 3x32x32 images, 10 classes, about 6k parameters.

No BatchNorm, on purpose: DDP would broadcast its buffers at every forward, which hides a drifting
replica and puts a collective inside the forward pass that the straggler figure needs to be free of.
"""

from __future__ import annotations

from typing import Any

CLASSES = 10
IMAGE_SIZE = 32


def tiny_cnn(seed: int = 0) -> Any:
    """A fresh model whose initial weights depend only on ``seed``."""
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(32, CLASSES),
        )

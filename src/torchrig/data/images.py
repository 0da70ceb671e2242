"""``ImageFolder``: a directory of class folders of images, decoded with Pillow (no torchvision).

Items are ``(uint8 tensor of shape 3 x size x size, class index)``: decode, convert to RGB, scale the
shorter side to ``size`` and take the centre square. That is the deterministic stage worth caching;
random crops and flips belong in ``CachedDataset(transform=...)``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from torchrig._core.errors import UserError, require_torch

require_torch("torchrig.data")

import torch  # noqa: E402

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
_DECODE_VERSION = 1  # bump when the decode/resize below changes: it is part of the cache fingerprint


class ImageFolder:
    """``root/<class>/<image>`` files as ``(uint8 CxHxW tensor, int label)`` items.

    Classes are the sorted sub-directory names; images are the files with an image suffix, sorted.
    ``size`` makes every item ``3 x size x size`` (the fast fixed-size cache path); ``size=None``
    keeps each image's own size. A file Pillow cannot decode raises :class:`~torchrig._core.errors.UserError`
    naming its path.
    """

    def __init__(self, root: str | os.PathLike[str], *, size: int | None = 256) -> None:
        self.root = Path(root)
        if size is not None and size <= 0:
            raise UserError(f"ImageFolder size must be a positive number of pixels, not {size}.")
        self.size = size
        if not self.root.is_dir():
            raise UserError(f"the image folder {self.root} does not exist or is not a directory.")
        self.classes = sorted(e.name for e in os.scandir(self.root) if e.is_dir() and not e.name.startswith("."))
        self.samples: list[tuple[str, int]] = []
        for label, cls in enumerate(self.classes):
            for dirpath, dirnames, filenames in os.walk(self.root / cls, followlinks=True):
                dirnames.sort()
                for f in sorted(filenames):
                    if f.lower().endswith(IMAGE_SUFFIXES) and not f.startswith("."):
                        self.samples.append((os.path.join(dirpath, f), label))
        if not self.samples:
            raise UserError(
                f"the image folder {self.root} has no images in class sub-directories "
                f"(expected {self.root}/<class>/<image>.jpg)."
            )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        return _decode(path, self.size), label

    def fingerprint(self) -> str:
        """Identity for the cache name: decode settings, and every file's path, size and mtime."""
        h = hashlib.sha256(f"imagefolder/{_DECODE_VERSION}/{self.size}\0".encode())
        for path, label in self.samples:
            try:
                st = os.stat(path)
                h.update(f"{os.path.relpath(path, self.root)}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            except OSError:
                h.update(f"{path}\0missing\n".encode())
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"ImageFolder({str(self.root)!r}, size={self.size}, {len(self.classes)} classes, {len(self)} images)"


def _decode(path: str, size: int | None) -> torch.Tensor:
    from PIL import Image

    try:
        with Image.open(path) as opened:
            if size is not None and opened.format == "JPEG":
                opened.draft("RGB", (size, size))  # let libjpeg scale down by 1/2..1/8 when the image is large
            img = opened.convert("RGB")
            if size is not None:
                img = _resize_center(img, size)
            arr = np.asarray(img)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UserError(f"cannot decode the image {path}: {exc}") from None
    # HWC -> CHW, contiguous: the layout models (and the cache's batch reads) want.
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def _resize_center(img: Any, size: int) -> Any:
    from PIL import Image

    w, h = img.size
    if (w, h) == (size, size):
        return img
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))

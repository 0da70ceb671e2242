"""Sizes as people read them: ``size_text(204 * 1024)`` is "204.0 KiB"."""

from __future__ import annotations


def size_text(n: float, *, byte_word: str = "B") -> str:
    """``n`` bytes in the largest binary unit below it, up to GiB ("512 B", "1.5 MiB", "3.0 GiB")."""
    for unit in (byte_word, "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == byte_word else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"

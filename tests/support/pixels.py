"""What a screenshot shows: the contrast between a region's background and its text, read from
the pixels (forced dark modes repaint a page without changing its computed styles)."""

from __future__ import annotations

import io
from collections import Counter

from PIL import Image

Box = tuple[float, float, float, float]  # left, top, width, height in CSS pixels


def luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _colours(png: bytes, box: Box) -> Counter[tuple[int, int, int]]:
    left, top, width, height = box
    with Image.open(io.BytesIO(png)) as image:
        region = image.convert("RGB").crop(
            (round(left), round(top), round(left + width), round(top + height))
        )
        raw = region.tobytes()
    colours = Counter(zip(raw[0::3], raw[1::3], raw[2::3], strict=True))
    assert colours, f"empty box {box}"
    return colours


def background(png: bytes, box: Box) -> tuple[int, int, int]:
    """The commonest colour in `box`."""
    return _colours(png, box).most_common(1)[0][0]


def text_contrast(png: bytes, box: Box) -> float:
    """The contrast of the text drawn in `box`: its commonest colour is the background, the text
    is the colour furthest from it that covers at least 1% of the box (the cores of glyphs,
    not the anti-aliased edges)."""
    colours = _colours(png, box)
    total = sum(colours.values())
    behind = colours.most_common(1)[0][0]
    inked = [colour for colour, count in colours.items() if count >= total / 100]
    return max(ratio(behind, colour) for colour in inked)

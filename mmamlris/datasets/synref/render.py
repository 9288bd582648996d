# Copyright (c) mmamlris contributors. All rights reserved.
"""SynRef pixels: a textured background, then the shapes, antialiased."""
import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .scene import COLOURS, _Object

_SUPERSAMPLE = 2          # shapes are drawn at 2x and box-filtered down (antialiasing)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A float32 ``[H, W, 3]`` background: gradient + stripes + blotches + noise."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    c0 = rng.uniform(70, 190) + rng.uniform(-25, 25, 3)
    c1 = c0 + rng.uniform(-50, 50, 3)
    a = rng.uniform(0, 2 * np.pi)
    t = xx * math.cos(a) + yy * math.sin(a)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    img = c0.astype(np.float32) + (c1 - c0).astype(np.float32) * t[..., None]
    b = rng.uniform(0, np.pi)
    period = rng.uniform(5, 24)
    stripes = np.sin(2 * np.pi / period * (xx * math.cos(b) + yy * math.sin(b)) +
                     rng.uniform(0, 2 * np.pi))
    img += (rng.uniform(2, 10) * stripes)[..., None]
    grid = rng.normal(0, rng.uniform(4, 12), (height // 16 + 2, width // 16 + 2, 3))
    for c in range(3):
        blot = Image.fromarray(grid[..., c].astype(np.float32))
        img[..., c] += np.asarray(blot.resize((width, height), Image.Resampling.BILINEAR))
    img += rng.normal(0, rng.uniform(2, 8), img.shape).astype(np.float32)
    return img


def _render(rng: np.random.Generator, width: int, height: int, objects: Sequence[_Object],
            order: Sequence[int]) -> Image.Image:
    """Draw the objects in ``order`` (antialiased) onto a fresh background."""
    bg = _background(rng, width, height)
    layer = Image.new('RGBA', (width * _SUPERSAMPLE, height * _SUPERSAMPLE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for i in order:
        obj = objects[i]
        rgb = np.clip(np.array(COLOURS[obj.colour]) + rng.integers(-18, 19, 3), 0, 255)
        pts = [(float(x), float(y)) for x, y in obj.polygon * _SUPERSAMPLE]
        draw.polygon(pts, fill=tuple(int(v) for v in rgb) + (255, ))
    layer = np.asarray(layer.resize((width, height), Image.Resampling.BOX), dtype=np.float32)
    alpha = layer[..., 3:] / 255.0
    img = bg * (1 - alpha) + layer[..., :3] * alpha
    img += rng.normal(0, 2.5, img.shape).astype(np.float32)
    return Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8))

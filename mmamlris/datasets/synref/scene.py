# Copyright (c) mmamlris contributors. All rights reserved.
"""SynRef scenes: which shapes an image holds and where (no pixels, no words).

Every object is a shape (circle, square, triangle, star, diamond) of a colour and a size
(small/large, radii about 1:1.8), placed so that bounding circles overlap by at most 10 % of
the sum of their radii; most objects share the shape or the colour of another one (the
distractors that make the words matter).
"""
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

SHAPES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'star', 'diamond')
COLOURS: Dict[str, Tuple[int, int, int]] = {
    'red': (214, 39, 40),
    'green': (44, 160, 44),
    'blue': (31, 88, 214),
    'yellow': (240, 210, 30),
    'purple': (140, 60, 180),
    'orange': (250, 130, 20),
}
SIZES: Tuple[str, ...] = ('small', 'large')

_CIRCLE_VERTICES = 40
# Radius ranges as fractions of the shorter image side.
_RADIUS = {'small': (0.10, 0.12), 'large': (0.18, 0.22)}
_OVERLAP = 0.9            # centres at least 0.9 * (R1 + R2) apart (bounding circles)
_PLACE_TRIES = 80


@dataclass
class _Object:
    """One drawn shape; ``polygon`` is ``[K, 2]`` (x, y) in pixels."""

    shape: str
    colour: str
    size: str
    polygon: np.ndarray
    radius: float          # radius of the bounding circle around ``centre``
    centre: Tuple[float, float]

    @property
    def bbox(self) -> Tuple[float, float, float, float]:
        x0, y0 = self.polygon.min(axis=0)
        x1, y1 = self.polygon.max(axis=0)
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)

    @property
    def position(self) -> Tuple[float, float]:
        """Centre of the bounding box: the position spatial words refer to."""
        x, y, w, h = self.bbox
        return x + w / 2, y + h / 2

    @property
    def area(self) -> float:
        x, y = self.polygon[:, 0], self.polygon[:, 1]
        return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def _shape_polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Vertices ``[K, 2]`` of ``shape`` of nominal radius ``r`` centred at ``(cx, cy)``."""
    if shape == 'circle':
        t = np.linspace(0, 2 * np.pi, _CIRCLE_VERTICES, endpoint=False)
        pts = np.stack([np.cos(t), np.sin(t)], axis=1) * r
    elif shape == 'square':
        h = 0.85 * r
        pts = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
    elif shape == 'diamond':
        pts = np.array([[0, -1.1 * r], [0.75 * r, 0], [0, 1.1 * r], [-0.75 * r, 0]])
    elif shape == 'triangle':
        t = -np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        pts = np.stack([np.cos(t), np.sin(t)], axis=1) * 1.15 * r
        pts[:, 1] += 0.2 * r      # centre the bounding box vertically
    elif shape == 'star':
        t = -np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, 1.15 * r, 0.5 * r)
        pts = np.stack([np.cos(t), np.sin(t)], axis=1) * radii[:, None]
    else:
        raise ValueError(f'Unknown shape {shape!r}; expected one of {SHAPES}.')
    c, s = math.cos(angle), math.sin(angle)
    pts = pts @ np.array([[c, s], [-s, c]])
    return pts + np.array([cx, cy])


def _sample_attributes(rng: np.random.Generator, n: int) -> List[Tuple[str, str, str]]:
    """``n`` (shape, colour, size) triples, most sharing the shape or colour of another."""
    triples: List[Tuple[str, str, str]] = []
    for k in range(n):
        size = SIZES[rng.integers(len(SIZES))]
        shape = SHAPES[rng.integers(len(SHAPES))]
        colour = list(COLOURS)[rng.integers(len(COLOURS))]
        if k > 0:
            ref_shape, ref_colour, _ = triples[rng.integers(len(triples))]
            u = rng.random()
            if u < 0.4:     # same shape, other colour
                shape = ref_shape
                colour = _other(rng, list(COLOURS), ref_colour)
            elif u < 0.8:   # same colour, other shape
                colour = ref_colour
                shape = _other(rng, list(SHAPES), ref_shape)
            elif u < 0.9:   # same shape and colour: size or position must tell them apart
                shape, colour = ref_shape, ref_colour
        triples.append((shape, colour, size))
    return triples


def _other(rng: np.random.Generator, values: Sequence[str], avoid: str) -> str:
    choices = [v for v in values if v != avoid]
    return choices[rng.integers(len(choices))]


def _place_objects(rng: np.random.Generator, width: int, height: int,
                   triples: Sequence[Tuple[str, str, str]],
                   gap: float = _OVERLAP) -> List[_Object]:
    """Place the shapes inside the image, at random positions, their centres at least
    ``gap * (R1 + R2)`` apart (bounding circles).

    A large shape that finds no room is made small; a shape that still finds none is dropped.
    """
    side = min(width, height)
    objects: List[_Object] = []
    for shape, colour, size in triples:
        for size_now in ((size, 'small') if size != 'small' else (size, )):
            obj = _try_place(rng, width, height, side, objects, shape, colour, size_now,
                             gap)
            if obj is not None:
                objects.append(obj)
                break
    return objects


def _try_place(rng: np.random.Generator, width: int, height: int, side: int,
               objects: Sequence[_Object], shape: str, colour: str,
               size: str, gap: float = _OVERLAP) -> Optional[_Object]:
    """A shape placed where it overlaps no other too much, or None after many tries."""
    lo, hi = _RADIUS[size]
    r = rng.uniform(lo, hi) * side
    angle = rng.uniform(-0.2, 0.2)
    unit = _shape_polygon(shape, 0.0, 0.0, r, angle)
    radius = float(np.hypot(unit[:, 0], unit[:, 1]).max())
    for _ in range(_PLACE_TRIES):
        cx = rng.uniform(radius + 1, width - radius - 1)
        cy = rng.uniform(radius + 1, height - radius - 1)
        if all(math.hypot(cx - o.centre[0], cy - o.centre[1]) >= gap *
               (radius + o.radius) for o in objects):
            # Rounded as stored, so that drawing, bbox and area all use the stored polygon.
            polygon = np.round(unit + np.array([cx, cy]), 2)
            return _Object(shape, colour, size, polygon, radius, (cx, cy))
    return None


def _image_size(rng: np.random.Generator, img_size: int, jitter: float) -> Tuple[int, int]:
    w, h = (int(round(img_size * rng.uniform(1 - jitter, 1 + jitter))) for _ in range(2))
    return max(w, 32), max(h, 32)

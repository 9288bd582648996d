# Copyright (c) mmamlris contributors. All rights reserved.
"""SynRef, a synthetic referring segmentation dataset in the RefCOCO (REFER) layout.

:func:`generate_synref` writes it; the command line is
``tools/dataset_converters/synref.py``::

    python tools/dataset_converters/synref.py --out data/synref --num-images 2000 \\
        --img-size 160 --seed 0 [--stats]

Layout (exactly that of RefCOCO, see ``docs/en/datasets.md``)::

    OUT/images/synref_000001.jpg ...
    OUT/instances.json   COCO: images {id, file_name, height, width}, annotations {id, image_id,
                         category_id, segmentation (polygons), area, bbox, iscrowd=0,
                         attributes={shape, colour, size}}, categories {id, name, supercategory}
    OUT/refs(unc).p      pickled list (protocol 2, like RefCOCO's Python 2 pickles) of refs
                         {ref_id, ann_id, image_id, split, category_id, file_name,
                          sentences=[{sent_id, sent, raw, tokens}], sent_ids}

Splits: 70 / 10 / 10 / 10 % of the **images** go to train / val / testA / testB, and all refs of
an image share its split, as in RefCOCO's unc split (here testA and testB are drawn alike).

Scenes. Every image (each side drawn in ``[1 - j, 1 + j] * img_size``, ``j = aspect_jitter``)
holds 3-6 objects: 5 shapes (circle, square, triangle, star, diamond), 6 colours, 2 sizes
(small/large, radii about 1:1.8), on a background made of a colour gradient, faint stripes,
blotches and pixel noise, all drawn anew per image. Objects are sampled so that most of them
share the shape or the colour of another one (the distractors that make the words matter).

Expressions. 1-3 objects per image are referred to. Each ref names its object uniquely with:

* attributes: the shortest unique combination of shape / colour / size ("the red circle",
  "the small star", "the blue one"), or
* a spatial superlative over the objects that share the named attributes ("the leftmost
  triangle", "the red square at the top"), or a relation to a uniquely named landmark ("the
  green star right of the blue square", "the circle next to the yellow diamond"), used when
  attributes alone are ambiguous and, sometimes, as a paraphrase. Spatial words need a margin
  (8 % of the shorter image side) between the target and the other candidates; positions are the
  centres of the objects' bounding boxes.

Each ref has 1-3 paraphrases (other templates, synonyms such as ball/disk, box/block, big/large,
or another valid description). ``raw`` is the sentence as written (sometimes capitalised, with
a full stop), ``sent`` its lower-case form without punctuation, ``tokens`` the words of ``sent``.

Occlusion. Objects may overlap slightly (bounding circles may overlap by 10 % of the sum of
their radii). The referred objects of an image do not overlap each other and are drawn
**last**, so each ground-truth polygon (the object's full outline; circles as 40-gons) is
exactly its visible region; only non-referred objects can be partly hidden.

Determinism. The output depends only on the arguments: every image has its own generator
``numpy.random.default_rng([seed, image_index])`` (so an image does not depend on the others
or on timing), the split permutation comes from ``default_rng(seed)``, JPEGs are written with
fixed settings and the JSON / pickle files with fixed key order and protocol.

:func:`generate_synref` returns the statistics (:func:`format_stats` prints them).
"""
import copy
import glob
import json
import math
import os
import os.path as osp
import pickle
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

SPLITS: Tuple[Tuple[str, float], ...] = (('train', 0.7), ('val', 0.1), ('testA', 0.1),
                                         ('testB', 0.1))
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

# Words of each attribute value (the first is the canonical one).
SHAPE_WORDS: Dict[str, Tuple[str, ...]] = {
    'circle': ('circle', 'ball', 'disk'),
    'square': ('square', 'box', 'block'),
    'triangle': ('triangle', ),
    'star': ('star', ),
    'diamond': ('diamond', 'rhombus'),
}
COLOUR_WORDS: Dict[str, Tuple[str, ...]] = {
    'red': ('red', ),
    'green': ('green', ),
    'blue': ('blue', ),
    'yellow': ('yellow', ),
    'purple': ('purple', 'violet'),
    'orange': ('orange', ),
}
SIZE_WORDS: Dict[str, Tuple[str, ...]] = {
    'small': ('small', 'little', 'tiny'),
    'large': ('large', 'big'),
}
# Nouns standing in for the shape when the description does not name it.
_ANY_SHAPE = ('one', 'shape', 'object', 'thing')

PICKLE_PROTOCOL = 2
JPEG_QUALITY = 90
_SUPERSAMPLE = 2          # shapes are drawn at 2x and box-filtered down (antialiasing)
_CIRCLE_VERTICES = 40
# Radius ranges as fractions of the shorter image side.
_RADIUS = {'small': (0.10, 0.12), 'large': (0.18, 0.22)}
_OVERLAP = 0.9            # centres at least 0.9 * (R1 + R2) apart (bounding circles)
_MARGIN = 0.08            # spatial margin, fraction of the shorter image side
_PLACE_TRIES = 80

# Attribute combinations, shortest (and most natural) first.
_ATTR_SETS: Tuple[Tuple[str, ...], ...] = (
    ('shape', ), ('colour', ), ('colour', 'shape'), ('size', 'shape'), ('size', 'colour'),
    ('size', 'colour', 'shape'))
_DIRECTIONS = ('left', 'right', 'top', 'bottom')
_RELATIONS = ('left', 'right', 'above', 'below', 'near')

_SUPERLATIVE_TEMPLATES = {
    'left': ('the leftmost {np}', 'the {np} on the left', 'the {np} furthest to the left',
             'leftmost {np}', '{np} on the far left'),
    'right': ('the rightmost {np}', 'the {np} on the right', 'the {np} furthest to the right',
              'rightmost {np}', '{np} on the far right'),
    'top': ('the topmost {np}', 'the {np} at the top', 'the highest {np}', 'top {np}'),
    'bottom': ('the bottom {np}', 'the {np} at the bottom', 'the lowest {np}',
               'bottom {np}'),
}
# Only with exactly two candidates.
_PAIR_TEMPLATES = {
    'left': ('the left {np}', ), 'right': ('the right {np}', ),
    'top': ('the upper {np}', ), 'bottom': ('the lower {np}', ),
}
_RELATION_TEMPLATES = {
    'left': ('the {np} left of the {lm}', 'the {np} to the left of the {lm}',
             '{np} left of {lm}'),
    'right': ('the {np} right of the {lm}', 'the {np} to the right of the {lm}',
              '{np} right of {lm}'),
    'above': ('the {np} above the {lm}', '{np} above {lm}', 'the {np} over the {lm}'),
    'below': ('the {np} below the {lm}', 'the {np} under the {lm}', '{np} beneath the {lm}'),
    'near': ('the {np} next to the {lm}', 'the {np} near the {lm}',
             'the {np} closest to the {lm}'),
}


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


@dataclass
class _Form:
    """A referring form: head attributes, plus an optional spatial part.

    ``kind`` is ``'attr'``, ``'superlative'`` (``direction`` in :data:`_DIRECTIONS`) or
    ``'relation'`` (``direction`` in :data:`_RELATIONS`, ``landmark`` an object index named by
    ``landmark_attrs``). ``n_candidates`` is how many objects the head attributes match.
    """

    kind: str
    attrs: Tuple[str, ...]
    direction: Optional[str] = None
    landmark: Optional[int] = None
    landmark_attrs: Tuple[str, ...] = ()
    n_candidates: int = 1


# --------------------------------------------------------------------------------------------
# Geometry and scenes


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
                   triples: Sequence[Tuple[str, str, str]]) -> List[_Object]:
    """Place the shapes inside the image, at random positions.

    A large shape that finds no room is made small; a shape that still finds none is dropped.
    """
    side = min(width, height)
    objects: List[_Object] = []
    for shape, colour, size in triples:
        for size_now in ((size, 'small') if size != 'small' else (size, )):
            obj = _try_place(rng, width, height, side, objects, shape, colour, size_now)
            if obj is not None:
                objects.append(obj)
                break
    return objects


def _try_place(rng: np.random.Generator, width: int, height: int, side: int,
               objects: Sequence[_Object], shape: str, colour: str,
               size: str) -> Optional[_Object]:
    """A shape placed where it overlaps no other too much, or None after many tries."""
    lo, hi = _RADIUS[size]
    r = rng.uniform(lo, hi) * side
    angle = rng.uniform(-0.2, 0.2)
    unit = _shape_polygon(shape, 0.0, 0.0, r, angle)
    radius = float(np.hypot(unit[:, 0], unit[:, 1]).max())
    for _ in range(_PLACE_TRIES):
        cx = rng.uniform(radius + 1, width - radius - 1)
        cy = rng.uniform(radius + 1, height - radius - 1)
        if all(math.hypot(cx - o.centre[0], cy - o.centre[1]) >= _OVERLAP *
               (radius + o.radius) for o in objects):
            # Rounded as stored, so that drawing, bbox and area all use the stored polygon.
            polygon = np.round(unit + np.array([cx, cy]), 2)
            return _Object(shape, colour, size, polygon, radius, (cx, cy))
    return None


# --------------------------------------------------------------------------------------------
# Referring expressions


def _group(objects: Sequence[_Object], target: int, attrs: Sequence[str]) -> List[int]:
    """Indices of the objects that share the target's values of ``attrs``."""
    t = objects[target]
    return [i for i, o in enumerate(objects)
            if all(getattr(o, a) == getattr(t, a) for a in attrs)]


def _superlatives(objects: Sequence[_Object], target: int, group: Sequence[int],
                  margin: float) -> List[str]:
    """Directions in which ``target`` is the extreme of ``group`` by at least ``margin``."""
    found = []
    for direction in _DIRECTIONS:
        axis = 0 if direction in ('left', 'right') else 1
        sign = 1 if direction in ('left', 'top') else -1
        t = sign * objects[target].position[axis]
        others = [sign * objects[i].position[axis] for i in group if i != target]
        if t + margin <= min(others):
            found.append(direction)
    return found


def _relation_holds(objects: Sequence[_Object], target: int, group: Sequence[int],
                    landmark: int, relation: str, margin: float) -> bool:
    """Whether ``relation(target, landmark)`` holds and fails for every other candidate."""
    lx, ly = objects[landmark].position
    others = [i for i in group if i not in (target, landmark)]
    if relation == 'near':
        dist = [math.hypot(objects[i].position[0] - lx, objects[i].position[1] - ly)
                for i in [target] + others]
        return all(1.5 * dist[0] + margin <= d for d in dist[1:])
    axis = 0 if relation in ('left', 'right') else 1
    sign = 1 if relation in ('left', 'above') else -1   # 'left of' / 'above': smaller x / y
    ref = sign * (lx if axis == 0 else ly)

    def offset(i: int) -> float:
        return sign * objects[i].position[axis] - ref

    return offset(target) <= -margin and all(offset(i) >= margin for i in others)


def _unique_attrs(objects: Sequence[_Object], index: int) -> List[Tuple[str, ...]]:
    """Attribute sets naming ``objects[index]`` uniquely, shortest first."""
    return [a for a in _ATTR_SETS if len(_group(objects, index, a)) == 1]


def _landmark_attrs(objects: Sequence[_Object], index: int) -> Optional[Tuple[str, ...]]:
    """The shortest unique attribute set of a landmark, preferring ones that name its shape."""
    unique = _unique_attrs(objects, index)
    with_shape = [a for a in unique if 'shape' in a]
    return (with_shape or unique or [None])[0]


def _referring_forms(objects: Sequence[_Object], target: int,
                     margin: float) -> Tuple[List[_Form], List[_Form]]:
    """All valid forms for ``target``: (attribute forms, spatial forms)."""
    attr_forms = [_Form('attr', a) for a in _unique_attrs(objects, target)]
    spatial: List[_Form] = []
    seen_groups = set()
    for attrs in _ATTR_SETS:
        group = _group(objects, target, attrs)
        if len(group) < 2 or tuple(group) in seen_groups:
            continue
        seen_groups.add(tuple(group))
        for direction in _superlatives(objects, target, group, margin):
            spatial.append(_Form('superlative', attrs, direction, n_candidates=len(group)))
        for landmark in range(len(objects)):
            if landmark in group:
                continue
            lm_attrs = _landmark_attrs(objects, landmark)
            if lm_attrs is None:
                continue
            for relation in _RELATIONS:
                if _relation_holds(objects, target, group, landmark, relation, margin):
                    spatial.append(
                        _Form('relation', attrs, relation, landmark, lm_attrs, len(group)))
    return attr_forms, spatial


def _noun_phrase(rng: np.random.Generator, obj: _Object, attrs: Sequence[str]) -> str:
    words = []
    if 'size' in attrs:
        words.append(_pick(rng, SIZE_WORDS[obj.size]))
    if 'colour' in attrs:
        words.append(_pick(rng, COLOUR_WORDS[obj.colour]))
    words.append(_pick(rng, SHAPE_WORDS[obj.shape]) if 'shape' in attrs else
                 _pick(rng, _ANY_SHAPE))
    return ' '.join(words)


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[rng.integers(len(options))]


def _realise(rng: np.random.Generator, objects: Sequence[_Object], target: int,
             form: _Form) -> str:
    """One sentence (as written) for ``form``."""
    obj = objects[target]
    if form.kind == 'attr':
        if 'colour' in form.attrs and 'shape' in form.attrs and rng.random() < 0.3:
            rest = [a for a in form.attrs if a != 'colour']
            clause = _pick(rng, ('that is', 'which is'))
            return (f'the {_noun_phrase(rng, obj, rest)} {clause} '
                    f'{_pick(rng, COLOUR_WORDS[obj.colour])}')
        np_ = _noun_phrase(rng, obj, form.attrs)
        return np_ if rng.random() < 0.25 else f'the {np_}'
    np_ = _noun_phrase(rng, obj, form.attrs)
    if form.kind == 'superlative':
        templates = _SUPERLATIVE_TEMPLATES[form.direction]
        if form.n_candidates == 2:
            templates = templates + _PAIR_TEMPLATES[form.direction]
        return _pick(rng, templates).format(np=np_)
    lm = _noun_phrase(rng, objects[form.landmark], form.landmark_attrs)
    return _pick(rng, _RELATION_TEMPLATES[form.direction]).format(np=np_, lm=lm)


def _as_written(rng: np.random.Generator, text: str) -> str:
    """Vary capitalisation and punctuation the way typed expressions do."""
    if rng.random() < 0.35:
        text = text[0].upper() + text[1:]
    if rng.random() < 0.2:
        text += '.'
    return text


def clean_sentence(raw: str) -> str:
    """RefCOCO's ``sent``: lower case, punctuation removed, single spaces."""
    return ' '.join(re.sub(r'[^a-z0-9 ]', ' ', raw.lower()).split())


def _expressions(rng: np.random.Generator, objects: Sequence[_Object], target: int,
                 margin: float) -> Optional[Tuple[List[str], bool]]:
    """1-3 distinct raw sentences for ``target`` and whether one is spatial; None if the
    target cannot be named uniquely."""
    attr_forms, spatial = _referring_forms(objects, target, margin)
    if not attr_forms and not spatial:
        return None
    if attr_forms and (not spatial or rng.random() >= 0.2):
        primary = attr_forms[0]
    else:
        shortest = min(len(f.attrs) for f in spatial)
        short = [f for f in spatial if len(f.attrs) == shortest]
        primary = short[rng.integers(len(short))]
    forms = [primary]
    n_sent = 1 + int(rng.choice(3, p=(0.3, 0.4, 0.3)))
    pool = attr_forms + spatial
    sentences: List[str] = []
    for _ in range(6 * n_sent):
        if len(sentences) == n_sent:
            break
        form = forms[0] if not sentences or rng.random() < 0.4 else \
            pool[rng.integers(len(pool))]
        raw = _as_written(rng, _realise(rng, objects, target, form))
        if clean_sentence(raw) not in {clean_sentence(s) for s in sentences}:
            sentences.append(raw)
            forms.append(form)
    spatial_used = any(f.kind != 'attr' for f in forms)
    return sentences, spatial_used


# --------------------------------------------------------------------------------------------
# Rendering


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


# --------------------------------------------------------------------------------------------
# Dataset


def _split_of_images(num_images: int, seed: int) -> List[str]:
    """The split of every image: a seeded permutation cut at the :data:`SPLITS` ratios (each
    split gets at least one image when there are enough)."""
    counts = [num_images * int(round(ratio * 100)) // 100 for _, ratio in SPLITS]
    counts[0] += num_images - sum(counts)
    if num_images >= len(SPLITS):
        for k in range(1, len(SPLITS)):
            if counts[k] == 0:
                counts[k] = 1
                counts[0] -= 1
    names = [name for (name, _), n in zip(SPLITS, counts) for _ in range(n)]
    order = np.random.default_rng(seed).permutation(num_images)
    splits = [''] * num_images
    for pos, image_index in enumerate(order):
        splits[image_index] = names[pos]
    return splits


def _image_size(rng: np.random.Generator, img_size: int, jitter: float) -> Tuple[int, int]:
    w, h = (int(round(img_size * rng.uniform(1 - jitter, 1 + jitter))) for _ in range(2))
    return max(w, 32), max(h, 32)


def _make_scene(rng: np.random.Generator, width: int,
                height: int) -> Tuple[List[_Object], List[Tuple[int, List[str], bool]]]:
    """Objects, the indices of the referred ones and their sentences."""
    margin = _MARGIN * min(width, height)
    n_objects = int(rng.integers(3, 7))
    n_refs = int(rng.integers(1, 4))
    refs: List[Tuple[int, List[str], bool]] = []
    while not refs:   # redraw the rare scenes where no object can be named uniquely
        objects: List[_Object] = []
        while len(objects) < 3:   # at least 3 objects (a crowded draw is redrawn)
            objects = _place_objects(rng, width, height, _sample_attributes(rng, n_objects))
        refs = _choose_refs(rng, objects, n_refs, margin)
    return objects, refs


def _choose_refs(rng: np.random.Generator, objects: Sequence[_Object], n_refs: int,
                 margin: float) -> List[Tuple[int, List[str], bool]]:
    """Up to ``n_refs`` non-overlapping objects that can be named, with their sentences."""
    refs: List[Tuple[int, List[str], bool]] = []
    for i in rng.permutation(len(objects)):
        if len(refs) == n_refs:
            break
        i = int(i)
        # Referred objects are drawn last, so they must not overlap each other.
        if any(math.hypot(objects[i].centre[0] - objects[j].centre[0],
                          objects[i].centre[1] - objects[j].centre[1]) <
               objects[i].radius + objects[j].radius for j, _, _ in refs):
            continue
        expr = _expressions(rng, objects, i, margin)
        if expr is not None:
            refs.append((i, expr[0], expr[1]))
    return refs


def generate_synref(out_dir: str,
                    num_images: int = 2000,
                    img_size: int = 160,
                    seed: int = 0,
                    aspect_jitter: float = 0.25,
                    overwrite: bool = False,
                    progress: bool = False,
                    gres: bool = False,
                    no_target_ratio: float = 0.2) -> dict:
    """Write SynRef to ``out_dir`` (see the module docstring) and return its statistics.

    Args:
        out_dir (str): Output directory; ``images/``, ``instances.json`` and ``refs(unc).p``
            are written in it.
        num_images (int): Number of images. Defaults to 2000.
        img_size (int): Nominal image side S. Defaults to 160.
        seed (int): Random seed; the same arguments give byte-identical files. Defaults to 0.
        aspect_jitter (float): Each image side is drawn in ``[(1 - j) S, (1 + j) S]``; 0 gives
            S x S images. Defaults to 0.25.
        overwrite (bool): Replace a dataset already in ``out_dir``. Defaults to False.
        progress (bool): Show a tqdm progress bar. Defaults to False.
        gres (bool): Also write ``grefs(unc).json`` (gRefCOCO layout): every ref of
            ``refs(unc).p`` as a single-target expression, plus multi-target and no-target
            expressions (:func:`~mmamlris.datasets.synref.gres.gres_expressions`). The REFER
            files are the same with and without it. Defaults to False.
        no_target_ratio (float): With ``gres``, the probability that an image gets a
            no-target expression. Defaults to 0.2.

    Returns:
        dict: Statistics (see :func:`format_stats`).

    Raises:
        ValueError: On invalid arguments.
        FileExistsError: If ``out_dir`` already holds a dataset and ``overwrite`` is False.
    """
    if num_images < 1:
        raise ValueError(f'num_images must be at least 1, got {num_images}.')
    if img_size < 32:
        raise ValueError(f'img_size must be at least 32 pixels, got {img_size}.')
    if not 0 <= aspect_jitter < 1:
        raise ValueError(f'aspect_jitter must be in [0, 1), got {aspect_jitter}.')
    if not 0 <= no_target_ratio <= 1:
        raise ValueError(f'no_target_ratio must be in [0, 1], got {no_target_ratio}.')
    ann_path = osp.join(out_dir, 'instances.json')
    refs_path = osp.join(out_dir, 'refs(unc).p')
    img_dir = osp.join(out_dir, 'images')
    if osp.exists(ann_path) or osp.exists(refs_path):
        if not overwrite:
            raise FileExistsError(f'{out_dir} already holds a dataset (instances.json or '
                                  'refs(unc).p); pass overwrite=True (--overwrite) to replace '
                                  'it, or choose another directory.')
        for path in glob.glob(osp.join(img_dir, 'synref_*.jpg')):
            os.remove(path)
    os.makedirs(img_dir, exist_ok=True)

    splits = _split_of_images(num_images, seed)
    categories = [dict(id=k + 1, name=name, supercategory='shape')
                  for k, name in enumerate(SHAPES)]
    cat_id = {c['name']: c['id'] for c in categories}
    images, annotations, refs, grefs = [], [], [], []
    stats = _StatsCounter()
    indices = range(num_images)
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc='SynRef', unit='img')
    for index in indices:
        rng = np.random.default_rng([seed, index])
        width, height = _image_size(rng, img_size, aspect_jitter)
        objects, scene_refs = _make_scene(rng, width, height)
        referred = [i for i, _, _ in scene_refs]
        order = [i for i in range(len(objects)) if i not in referred] + referred
        image = _render(rng, width, height, objects, order)
        image_id = index + 1
        file_name = f'synref_{image_id:06d}.jpg'
        image.save(osp.join(img_dir, file_name), quality=JPEG_QUALITY, subsampling=0,
                   optimize=False)
        images.append(dict(id=image_id, file_name=file_name, height=height, width=width))

        ann_ids = []
        for obj in objects:
            ann_id = len(annotations) + 1
            ann_ids.append(ann_id)
            annotations.append(
                dict(
                    id=ann_id,
                    image_id=image_id,
                    category_id=cat_id[obj.shape],
                    segmentation=[[round(float(v), 2) for v in obj.polygon.reshape(-1)]],
                    area=round(obj.area, 2),
                    bbox=[round(v, 2) for v in obj.bbox],
                    iscrowd=0,
                    attributes=dict(shape=obj.shape, colour=obj.colour, size=obj.size)))
        for i, raw_sentences, spatial in scene_refs:
            sentences = []
            for raw in raw_sentences:
                sent = clean_sentence(raw)
                sentences.append(
                    dict(sent_id=stats.num_sentences, sent=sent, raw=raw,
                         tokens=sent.split()))
                stats.num_sentences += 1
            refs.append(
                dict(
                    ref_id=len(refs),
                    ann_id=ann_ids[i],
                    image_id=image_id,
                    split=splits[index],
                    category_id=cat_id[objects[i].shape],
                    file_name=f'synref_{image_id:06d}_{ann_ids[i]}.jpg',
                    sentences=sentences,
                    sent_ids=[s['sent_id'] for s in sentences]))
            stats.add_ref(refs[-1], objects, i, width * height, spatial)
        stats.add_image(splits[index], len(objects))
        if gres:
            grefs += _gres_refs(np.random.default_rng([seed, index, 1]), objects, ann_ids,
                                refs[len(refs) - len(scene_refs):], image_id, splits[index],
                                cat_id, no_target_ratio, start=len(grefs))

    with open(ann_path, 'w', encoding='utf-8') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    with open(refs_path, 'wb') as f:
        pickle.dump(refs, f, protocol=PICKLE_PROTOCOL)
    summary = stats.summary()
    if gres:
        with open(osp.join(out_dir, 'grefs(unc).json'), 'w', encoding='utf-8') as f:
            json.dump(grefs, f)
        summary['gres'] = dict(
            expressions=len(grefs),
            multi_target=sum(len(r['ann_id']) > 1 for r in grefs),
            no_target=sum(r['no_target'] for r in grefs))
    return summary


def _gres_refs(rng: np.random.Generator, objects: Sequence[_Object], ann_ids: List[int],
               single: List[dict], image_id: int, split: str, cat_id: Dict[str, int],
               no_target_ratio: float, start: int) -> List[dict]:
    """The gRefCOCO entries of one image: its refs, then its multi- / no-target ones."""
    from .gres import gres_expressions
    out = [dict(copy.deepcopy(ref), ann_id=[ref['ann_id']], no_target=False)
           for ref in single]
    for members, raw_sentences, rule in gres_expressions(rng, objects, COLOURS, SHAPES,
                                                         no_target_ratio):
        sentences = [dict(sent=clean_sentence(raw), raw=raw,
                          tokens=clean_sentence(raw).split()) for raw in raw_sentences]
        out.append(dict(
            ann_id=[ann_ids[i] for i in members] or [-1], image_id=image_id, split=split,
            category_id=cat_id[objects[members[0]].shape] if members else None,
            no_target=not members, rule=rule, sentences=sentences))
    for offset, ref in enumerate(out):  # ids of their own, in file order
        ref['ref_id'] = start + offset
        for k, sent in enumerate(ref['sentences']):
            sent['sent_id'] = (start + offset) * 10 + k
        ref['sent_ids'] = [s['sent_id'] for s in ref['sentences']]
    return out


class _StatsCounter:
    """Accumulates the dataset statistics."""

    def __init__(self) -> None:
        self.num_sentences = 0
        self.per_split = {name: dict(images=0, refs=0, sentences=0) for name, _ in SPLITS}
        self.objects = 0
        self.images = 0
        self.area_fraction = 0.0
        self.spatial_refs = 0
        self.same_shape = 0
        self.same_colour = 0
        self.vocab = set()
        self.sent_len = 0

    def add_image(self, split: str, n_objects: int) -> None:
        self.per_split[split]['images'] += 1
        self.images += 1
        self.objects += n_objects

    def add_ref(self, ref: dict, objects: Sequence[_Object], target: int, image_area: int,
                spatial: bool) -> None:
        part = self.per_split[ref['split']]
        part['refs'] += 1
        part['sentences'] += len(ref['sentences'])
        t = objects[target]
        self.area_fraction += t.area / image_area
        self.spatial_refs += int(spatial)
        others = [o for k, o in enumerate(objects) if k != target]
        self.same_shape += int(any(o.shape == t.shape for o in others))
        self.same_colour += int(any(o.colour == t.colour for o in others))
        for s in ref['sentences']:
            self.vocab.update(s['tokens'])
            self.sent_len += len(s['tokens'])

    def summary(self) -> dict:
        refs = sum(p['refs'] for p in self.per_split.values())
        return dict(
            splits=self.per_split,
            images=self.images,
            refs=refs,
            sentences=self.num_sentences,
            objects_per_image=self.objects / max(self.images, 1),
            mean_target_area_fraction=self.area_fraction / max(refs, 1),
            vocabulary_size=len(self.vocab),
            mean_sentence_length=self.sent_len / max(self.num_sentences, 1),
            relational_ref_fraction=self.spatial_refs / max(refs, 1),
            same_shape_distractor_fraction=self.same_shape / max(refs, 1),
            same_colour_distractor_fraction=self.same_colour / max(refs, 1))


def format_stats(stats: dict) -> str:
    """The statistics returned by :func:`generate_synref` as a small text table."""
    lines = [f'{"split":<8}{"images":>8}{"refs":>8}{"sentences":>11}']
    for name, part in stats['splits'].items():
        lines.append(f'{name:<8}{part["images"]:>8}{part["refs"]:>8}{part["sentences"]:>11}')
    lines.append(f'{"total":<8}{stats["images"]:>8}{stats["refs"]:>8}{stats["sentences"]:>11}')
    lines += [
        f'objects per image (mean):             {stats["objects_per_image"]:.2f}',
        f'target area / image area (mean):      {stats["mean_target_area_fraction"]:.3f}',
        f'vocabulary size:                      {stats["vocabulary_size"]}',
        f'sentence length (mean, words):        {stats["mean_sentence_length"]:.2f}',
        f'refs with a spatial/relational phrase: {stats["relational_ref_fraction"]:.3f}',
        f'targets with a same-shape distractor: {stats["same_shape_distractor_fraction"]:.3f}',
        f'targets with a same-colour distractor: {stats["same_colour_distractor_fraction"]:.3f}',
    ]
    return '\n'.join(lines)

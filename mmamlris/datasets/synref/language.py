# Copyright (c) mmamlris contributors. All rights reserved.
"""SynRef expressions: how an object of a scene is named uniquely, and in how many ways.

Attributes (the shortest unique combination of shape / colour / size), a spatial superlative
over the objects that share the named attributes, or a relation to a uniquely named landmark;
spatial words need a margin (8 % of the shorter image side) between the target and the other
candidates. Each ref gets 1-3 paraphrases; ``raw`` is the sentence as written, ``sent`` its
:func:`clean_sentence` form.
"""
import math
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .scene import _Object

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
_MARGIN = 0.08            # spatial margin, fraction of the shorter image side

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


# The words that only the spatial templates use, by kind (relations first: "furthest to the
# left" is a superlative, "to the left of" a relation).
_RELATION_WORDS = re.compile(
    r'\b(left of|right of|above|over the|below|under|beneath|next to|near|closest to)\b')
_SUPERLATIVE_WORDS = re.compile(
    r'\b(leftmost|rightmost|topmost|left|right|top|bottom|highest|lowest|upper|lower)\b')


def expression_form(sentence: str) -> Tuple[str, Tuple[str, ...]]:
    """How a SynRef expression names its object: the kind of form and the attributes it
    names of the referent (not of a landmark), read back from the words of the templates.

    Args:
        sentence (str): A SynRef sentence, raw or cleaned (``sent``).

    Returns:
        tuple: ``(kind, attrs)``, ``kind`` one of ``'attr'``, ``'superlative'``,
        ``'relation'``; ``attrs`` a sub-tuple of ``('size', 'colour', 'shape')`` (empty for
        "the leftmost one").
    """
    text = clean_sentence(sentence)
    relation = _RELATION_WORDS.search(text)
    if relation:
        kind, text = 'relation', text[:relation.start()]  # the landmark comes after
    else:
        kind = 'superlative' if _SUPERLATIVE_WORDS.search(text) else 'attr'
    words = set(text.split())
    named = tuple(attr for attr, vocab in (('size', SIZE_WORDS), ('colour', COLOUR_WORDS),
                                           ('shape', SHAPE_WORDS))
                  if words & {w for synonyms in vocab.values() for w in synonyms})
    return kind, named


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

# Copyright (c) mmamlris contributors. All rights reserved.
"""SynRef-GRES: expressions that name several objects, or none (gRefCOCO's two new cases).

Per image, on a random stream of its own (the REFER files stay byte-identical):

* **several targets**: when two or more objects share a colour, a shape or a size, one
  expression names all of them ("all the red shapes", "the two circles", "both large ones");
* **no target**: with probability ``no_target_ratio``, an expression names a colour + shape
  combination that no object of the image has ("the green star").

Each expression comes with its ``rule`` (the attributes it names), so that the referred set is
checkable: exactly the objects whose attributes match the rule (none for no target).
"""
import copy
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .language import clean_sentence
from .scene import COLOURS, SHAPES, _Object

__all__ = ['gres_expressions', 'gres_refs']

_COUNT_WORDS = {2: 'two', 3: 'three', 4: 'four', 5: 'five', 6: 'six'}
_PLURAL = {'circle': 'circles', 'square': 'squares', 'triangle': 'triangles', 'star': 'stars',
           'diamond': 'diamonds'}


def _matching(objects: Sequence, rule: Dict[str, str]) -> List[int]:
    return [i for i, o in enumerate(objects) if all(getattr(o, k) == v for k, v in rule.items())]


def _group_sentences(rng: np.random.Generator, rule: Dict[str, str], count: int) -> List[str]:
    """1-2 paraphrases naming every object that matches ``rule``."""
    (key, value), = rule.items()
    number = _COUNT_WORDS[count]
    if key == 'shape':
        noun = _PLURAL[value]
        options = [f'all the {noun}', f'the {number} {noun}', f'every {value}']
        if count == 2:
            options.append(f'both {noun}')
    else:
        options = [f'all the {value} shapes', f'the {number} {value} ones',
                   f'every {value} object']
        if count == 2:
            options.append(f'both {value} shapes')
    picked = rng.choice(len(options), size=int(rng.integers(1, 3)), replace=False)
    return [options[int(i)] for i in picked]


def gres_expressions(rng: np.random.Generator, objects: Sequence, colours: Sequence[str],
                     shapes: Sequence[str], no_target_ratio: float
                     ) -> List[Tuple[List[int], List[str], Dict[str, str]]]:
    """The multi-target and no-target expressions of one scene.

    Args:
        rng (np.random.Generator): The image's GRES stream.
        objects (Sequence): The scene's objects (``shape``, ``colour``, ``size``).
        colours, shapes (Sequence[str]): All colour and shape names.
        no_target_ratio (float): Probability of a no-target expression for this image.

    Returns:
        list[tuple[list[int], list[str], dict]]: ``(object indices, raw sentences, rule)``;
        the indices are empty for the no-target expression.
    """
    out: List[Tuple[List[int], List[str], Dict[str, str]]] = []
    groups = []
    for key in ('colour', 'shape', 'size'):
        for value in sorted({getattr(o, key) for o in objects}):
            members = _matching(objects, {key: value})
            if len(members) >= 2:
                groups.append(({key: value}, members))
    if groups:
        rule, members = groups[int(rng.integers(len(groups)))]
        out.append((members, _group_sentences(rng, rule, len(members)), rule))
    if rng.random() < no_target_ratio:
        absent = [(c, s) for c in colours for s in shapes
                  if not _matching(objects, dict(colour=c, shape=s))]
        colour, shape = absent[int(rng.integers(len(absent)))]
        options = [f'the {colour} {shape}', f'a {colour} {shape}', f'the {shape} that is {colour}']
        out.append(([], [options[int(rng.integers(len(options)))]],
                    dict(colour=colour, shape=shape)))
    return out


def gres_refs(rng: np.random.Generator, objects: Sequence[_Object], ann_ids: List[int],
              single: List[dict], image_id: int, split: str, cat_id: Dict[str, int],
              no_target_ratio: float, start: int) -> List[dict]:
    """The gRefCOCO entries of one image: its refs, then its multi- / no-target ones."""
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

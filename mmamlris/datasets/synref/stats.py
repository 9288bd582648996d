# Copyright (c) mmamlris contributors. All rights reserved.
"""Statistics of a generated SynRef (what ``--stats`` prints)."""
from typing import Sequence

from .scene import _Object


class _StatsCounter:
    """Accumulates the dataset statistics."""

    def __init__(self, split_names: Sequence[str]) -> None:
        self.num_sentences = 0
        self.per_split = {name: dict(images=0, refs=0, sentences=0) for name in split_names}
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

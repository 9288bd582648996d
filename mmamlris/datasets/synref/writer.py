# Copyright (c) mmamlris contributors. All rights reserved.
"""Writing SynRef to disk in the REFER layout, with fixed settings (byte-identical output)."""
import json
import os.path as osp
import pickle
from typing import List

from PIL import Image

PICKLE_PROTOCOL = 2   # like RefCOCO's Python 2 pickles
JPEG_QUALITY = 90


def write_jpeg(image: Image.Image, path: str) -> None:
    """Save ``image`` as a JPEG with fixed settings."""
    image.save(path, quality=JPEG_QUALITY, subsampling=0, optimize=False)


def write_annotations(out_dir: str, images: List[dict], annotations: List[dict],
                      categories: List[dict], refs: List[dict]) -> None:
    """``instances.json`` (COCO) and ``refs(unc).p`` (pickled refs) in ``out_dir``."""
    with open(osp.join(out_dir, 'instances.json'), 'w', encoding='utf-8') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    with open(osp.join(out_dir, 'refs(unc).p'), 'wb') as f:
        pickle.dump(refs, f, protocol=PICKLE_PROTOCOL)


def write_grefs(out_dir: str, grefs: List[dict]) -> None:
    """``grefs(unc).json`` (gRefCOCO layout) in ``out_dir``."""
    with open(osp.join(out_dir, 'grefs(unc).json'), 'w', encoding='utf-8') as f:
        json.dump(grefs, f)

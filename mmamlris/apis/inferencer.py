# Copyright (c) mmamlris contributors. All rights reserved.
"""Referring segmentation of images with a trained model, outside the runner."""
import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from torch import nn

from mmamlris.utils import check_checkpoint_file, find_dataset_cfg, load_config

__all__ = ['RISInferencer']

ImageType = Union[str, np.ndarray]
# Transforms of the test pipeline that need annotations, which inference has not.
_ANNOTATION_LOADERS = ('LoadReferringMask', 'LoadAnnotations')
_IMAGE_LOADERS = ('LoadRISImageFromFile', 'LoadImageFromFile')
_ARRAY_LOADER = 'LoadImageFromNDArray'  # mmseg's: takes results['img']


def _type_name(transform: dict) -> str:
    """``'mmseg.Resize'`` / ``Resize`` / a class -> ``'Resize'``."""
    kind = transform.get('type', '')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', str(kind))
    return name.rsplit('.', 1)[-1]


def _dataset_pipeline(cfg: Config) -> List[dict]:
    """The pipeline of the config's test (or val) dataset, through dataset wrappers."""
    for key in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(key)
        if loader and loader.get('dataset'):
            dataset = find_dataset_cfg(loader['dataset'], 'pipeline')
            break
    else:
        raise ValueError('RISInferencer: the config has no test_dataloader.dataset (nor '
                         'val_dataloader.dataset) to take the test pipeline from.')
    if dataset is None:
        raise ValueError('RISInferencer: the test dataset config has no `pipeline`.')
    return [dict(t) for t in copy.deepcopy(dataset['pipeline'])]


@torch.no_grad()
def _softmax_object(seg_logits: torch.Tensor) -> torch.Tensor:
    """``seg_logits`` of mmseg's post-processing ``[C, H, W]`` -> object probability."""
    if seg_logits.shape[0] > 1:
        return seg_logits.float().softmax(dim=0)[1]
    return seg_logits[0].float()  # mmseg already applied the sigmoid (one channel)


class RISInferencer:
    """Segment the object an expression refers to, with a config and a checkpoint.

    The test pipeline of the config (``test_dataloader.dataset.pipeline``, through
    ``ConcatDataset``-like wrappers) is reused without its annotation loader
    (``LoadReferringMask``); array inputs load through ``LoadImageFromNDArray`` instead of
    ``LoadImageFromFile``. Masks come back at the size of the given image.

    Examples:
        >>> from mmamlris.apis import RISInferencer
        >>> inferencer = RISInferencer(
        ...     'configs/amlris/amlris_lite_minilm_synref-160x160.py', 'iter_1500.pth')
        >>> out = inferencer('data/synref/images/synref_000001.jpg', 'the red circle')
        >>> out['mask'].shape  # (H, W) bool
        >>> outs = inferencer(['a.jpg', 'b.jpg'], ['the dog', 'the left man'],
        ...                   return_probs=True, batch_size=2)

    Args:
        model (str | Config): A config file path or a loaded :class:`Config`.
        checkpoint (str, optional): Checkpoint to load (``state_dict`` + ``meta``); without
            it the model keeps its initial weights (only useful for tests).
        device (str | torch.device, optional): ``'cuda'`` when CUDA is available, else
            ``'cpu'``, unless given.
    """

    def __init__(self,
                 model: Union[str, Config],
                 checkpoint: Optional[str] = None,
                 device: Optional[Union[str, torch.device]] = None) -> None:
        import mmamlris  # noqa: F401  (registers every component)
        self.cfg = self._load_config(model)
        init_default_scope(self.cfg.get('default_scope', 'mmseg'))
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.device = torch.device(device)
        self.model = self._build_model(checkpoint)
        pipeline = [t for t in _dataset_pipeline(self.cfg)
                    if _type_name(t) not in _ANNOTATION_LOADERS]
        if not pipeline or _type_name(pipeline[0]) not in _IMAGE_LOADERS:
            raise ValueError('RISInferencer: the test pipeline must start with one of '
                             f'{_IMAGE_LOADERS}, got {[_type_name(t) for t in pipeline]}.')
        array_pipeline = copy.deepcopy(pipeline)
        array_pipeline[0]['type'] = _ARRAY_LOADER
        self.file_pipeline = Compose(pipeline)
        self.array_pipeline = Compose(array_pipeline)

    @staticmethod
    def _load_config(model: Union[str, Config]) -> Config:
        if isinstance(model, str):
            return load_config(model)
        if isinstance(model, Config):
            return copy.deepcopy(model)
        raise TypeError('RISInferencer: model must be a config path or an mmengine Config, '
                        f'got {type(model).__name__}.')

    def _build_model(self, checkpoint: Optional[str]) -> nn.Module:
        from mmamlris.registry import MODELS
        model_cfg = self.cfg.get('model')
        if not isinstance(model_cfg, (dict, ConfigDict)):
            raise ValueError('RISInferencer: the config has no `model` dict.')
        model = MODELS.build(copy.deepcopy(model_cfg))
        if checkpoint is not None:
            check_checkpoint_file(checkpoint)
            ckpt = load_checkpoint(model, checkpoint, map_location='cpu')
            meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
            if 'dataset_meta' in meta:
                model.dataset_meta = meta['dataset_meta']
        model.cfg = self.cfg
        return model.to(self.device).eval()

    # ------------------------------------------------------------------ inference
    def __call__(self,
                 img: Union[ImageType, Sequence[ImageType]],
                 text: Union[str, Sequence[str]],
                 return_probs: bool = False,
                 batch_size: int = 1,
                 channel_order: str = 'bgr') -> Union[Dict[str, np.ndarray],
                                                      List[Dict[str, np.ndarray]]]:
        """Segment what each expression refers to.

        Args:
            img (str | np.ndarray | list): An image file path, or an ``[H, W, 3]`` uint8 array
                in ``channel_order`` (BGR by default, as ``cv2.imread``/``mmcv.imread`` give;
                ``[H, W]`` grayscale and ``[H, W, 4]`` with alpha are accepted), or a list of
                them. One image with a list of expressions is used for every expression.
            text (str | list[str]): The expression, or one per image.
            return_probs (bool): Also return the object probability map. Defaults to False.
            batch_size (int): Pairs per forward pass. Defaults to 1.
            channel_order (str): ``'bgr'`` or ``'rgb'``, the channel order of array images.

        Returns:
            dict | list[dict]: For one pair a dict ``{'mask': bool [H, W]}`` (plus
            ``'probs'``: float32 ``[H, W]`` in ``[0, 1]`` when ``return_probs``), at the
            image's size; a list of such dicts when ``text`` is a list.
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'RISInferencer: batch_size must be a positive int, got '
                             f'{batch_size!r}.')
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"RISInferencer: channel_order must be 'bgr' or 'rgb', got "
                             f'{channel_order!r}.')
        single = isinstance(text, str)
        imgs, texts = self._pairs(img, text)
        results = []
        for start in range(0, len(texts), batch_size):
            items = [self._prepare(i, t, channel_order) for i, t in
                     zip(imgs[start:start + batch_size], texts[start:start + batch_size])]
            results.extend(self._forward(items, return_probs))
        return results[0] if single else results

    @staticmethod
    def _pairs(img, text) -> tuple:
        """Check the inputs and return equally long lists of images and expressions."""
        texts = [text] if isinstance(text, str) else list(text) if isinstance(
            text, (list, tuple)) else None
        if texts is None:
            raise TypeError('RISInferencer: text must be a str or a list of str, got '
                            f'{type(text).__name__}.')
        for index, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise ValueError(f'RISInferencer: expression {index} is empty or not a '
                                 f'string: {t!r}.')
        imgs = list(img) if isinstance(img, (list, tuple)) else [img] * len(texts)
        if len(imgs) != len(texts):
            raise ValueError(f'RISInferencer: got {len(imgs)} images but {len(texts)} '
                             'expressions; give one expression per image (or one image).')
        if not texts:
            raise ValueError('RISInferencer: no expression given.')
        return imgs, texts

    def _prepare(self, img: ImageType, text: str, channel_order: str) -> dict:
        """Run the test pipeline on one (image, expression) pair."""
        if isinstance(img, str):
            if not osp.isfile(img):
                raise FileNotFoundError(f'RISInferencer: image file {img!r} does not exist.')
            return self.file_pipeline(dict(img_path=img, text=text))
        if not isinstance(img, np.ndarray):
            raise TypeError('RISInferencer: an image must be a file path or a numpy array, '
                            f'got {type(img).__name__}.')
        array = img
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4) or array.dtype != np.uint8:
            raise ValueError('RISInferencer: an array image must be uint8 [H, W, 3] (or '
                             f'[H, W] / [H, W, 4]), got dtype {img.dtype} and shape '
                             f'{img.shape}.')
        array = array[..., :3]
        if channel_order == 'rgb':
            array = array[..., ::-1]
        # The config's pipelines expect BGR images, as LoadImageFromFile loads them.
        return self.array_pipeline(dict(img=np.ascontiguousarray(array), text=text))

    @torch.no_grad()
    def _forward(self, items: List[dict], return_probs: bool) -> List[Dict[str, np.ndarray]]:
        """Predict a batch; images of different network sizes run in separate groups."""
        groups: Dict[tuple, List[int]] = {}
        for index, item in enumerate(items):
            groups.setdefault(tuple(item['inputs'].shape), []).append(index)
        outputs: List[Optional[dict]] = [None] * len(items)
        for indices in groups.values():
            batch = pseudo_collate([items[i] for i in indices])
            for index, sample in zip(indices, self.model.test_step(batch)):
                result = dict(mask=sample.pred_sem_seg.data[0].cpu().numpy() == 1)
                if return_probs:
                    probs = _softmax_object(sample.seg_logits.data)
                    result['probs'] = probs.cpu().numpy().astype(np.float32)
                outputs[index] = result
        return outputs

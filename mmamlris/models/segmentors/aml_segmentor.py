# Copyright (c) mmamlris contributors. All rights reserved.
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig, OptSampleList,
                         SampleList, add_prefix)
from torch import Tensor

from mmamlris.registry import MODELS
from ..aml import AMLOutput
from ..data_preprocessor import stack_text_inputs
from ..utils import BackboneEarlyExit, logits_to_mask, unletterbox

TextInputs = Tuple[Tensor, Tensor]  # ([B, L] token ids, [B, L] attention mask)
TextFeatures = Tuple[Tensor, Tensor]  # ([B, N, C_t] token features, [B, N] bool mask)

_STAGE2_TEXT = ('masked', 'clean')


class Stage1(NamedTuple):
    """What AML's stage 1 gives the masking: the clean batch as the model sees it.

    Attributes:
        feats (list[Tensor | None]): The visual feature levels (``None`` at the levels an early
            exit skipped).
        text (tuple[Tensor, Tensor]): Token features ``[B, N, C_t]`` and mask ``[B, N]``. They
            carry gradient only when the text does not depend on the image (a decode head
            without visual prompts): stage 2 then reuses them instead of encoding the text
            again (see :meth:`AMLSegmentor._stage2_forward_train`).
        seg_logits (Tensor | None): The decode head's logits without gradient, for a scorer
            that ``needs_seg_logits``.
    """
    feats: List[Optional[Tensor]]
    text: TextFeatures
    seg_logits: Optional[Tensor]


@MODELS.register_module()
class AMLSegmentor(BaseSegmentor):
    """Referring segmentor trained with Alignment-aware Masked Learning (AML).

    An ``EncoderDecoder``-style segmentor with a text path: a visual ``backbone`` (any mmseg
    backbone, or an early-fusion one that reads the text: :class:`BaseTextFusedBackbone`,
    ``takes_text = True``), an optional ``neck``, a ``text_encoder`` and a RIS ``decode_head``
    (:class:`BaseRISDecodeHead`). ``aml`` (an :class:`AlignmentAwareMasking` config) turns on
    the two-stage AML training step; ``aml=None`` is exactly the plain baseline model, and
    inference never masks, so ``predict()`` gives identical outputs with AML on or off.

    1. ``loss`` runs both AML stages inside one call, because mmengine's DDP wrapper calls
    ``data_preprocessor`` and ``forward(mode='loss')`` itself and would bypass a
    ``train_step`` override. The tokens are stacked once per call:

    .. code:: text

     loss(): [aml is None] _encode() -> _decode_head_forward_train()
             [aml]  _stage1_forward()            (or _stage1_forward_train(), with its loss)
                    -> _mask() = aml(inputs, stage1.feats, *stage1.text, samples, seg_logits)
                    -> _stage2_forward_train(masked images)
                       [aml.mask_target='loss': clean images, GT of the masked blocks ignored]
     _stage1_forward(): no grad: backbone up to _stage1_levels() only (BackboneEarlyExit;
                        img downscaled by stage1_scale) -> decode_head.text_prompts()
                        -> text_encoder() [-> decode_head(), for a scorer needs_seg_logits]
     _stage1_forward_train(): _encode() -> _decode_head_forward_train()  (the released recipe)
     _stage2_forward_train(): [stage2_text='clean'] encode_text(extract_feat(clean))
                              -> extract_feat(masked) -> encode_text() (unless reused)
                              -> _decode_head_forward_train()
     _encode(): extract_feat() -> encode_text() = decode_head.text_prompts() -> text_encoder()
                [backbone.takes_text: text_encoder() -> extract_feat(img, text), early fusion]

    :meth:`mask_batch` (stage 1 and the masking of a preprocessed batch) is the public entry
    point of the tools that look at or time the masking (``browse_aml_masks.py``,
    ``benchmark_aml.py``). When the decode head adds no visual prompts to the text, the text
    features do not depend on the image: stage 1 encodes the text once, with gradient, and
    stage 2 reuses it, so AML costs one extra visual-encoder forward without gradient. Stage 1
    runs in the model's current mode: a BatchNorm backbone in training mode updates its
    running statistics on the clean images too (as the released code's first pass does).

    Stage 1 computes only the feature levels it uses (:meth:`_stage1_levels`: the scorer's
    ``feat_indices``, the levels of the decode head's text prompts): the backbone stops after
    the last of them (:class:`BackboneEarlyExit`, verified once against the full pass, any
    backbone with a stage container; others run in full). A neck, a scorer that needs the
    decoder or ``stage1_loss_weight > 0`` need every level. The scorer declares the level it
    scores and its width (``model.aml.scorer.in_index`` / ``vis_channels``), as a decode head
    declares ``in_index`` / ``in_channels``; the segmentor reads nothing else of it.

    2. ``predict`` gives ``pred_sem_seg`` at the original image size (mmseg convention) and
    ``pred_sem_seg_resized`` at the network input size (the CARIS/LAVT evaluation protocol); a
    letterboxed sample (``LetterBox``, DETRIS) is warped back with its ``letterbox_inverse``
    instead and has no resized prediction:

    .. code:: text

     predict(): encode_decode() -> postprocess_result()
     encode_decode(): _encode() -> decode_head.predict()
     postprocess_result(): _postprocess_resized()       (padding cropped, resized: mmseg's)
                           _postprocess_letterboxed()   (unletterbox(), thresholded there)

    3. ``_forward`` (``mode='tensor'``) returns the decode head's raw logits.

    Args:
        backbone (ConfigType): Visual encoder config; must return a tuple of feature maps.
        text_encoder (ConfigType): Text encoder config (e.g. ``HFTextEncoder``).
        decode_head (ConfigType): RIS decoder config (a :class:`BaseRISDecodeHead`).
        neck (ConfigType, optional): Neck applied to the backbone outputs.
        aml (ConfigType, optional): ``AlignmentAwareMasking`` config; ``None`` disables AML.
        stage1_loss_weight (float): Weight of the segmentation loss on the unmasked stage-1
            forward. 0 (the paper) runs stage 1 without gradient and without the decoder;
            the released code uses 0.5 (and 0.5 on stage 2), about doubling the step's cost.
            Stage 1 then runs at full scale and computes every level.
        stage1_scale (float): Input scale of stage 1 (e.g. 0.5 runs the alignment pass at half
            resolution). Defaults to 1.0.
        stage1_early_exit (bool): Stop the backbone in stage 1 after the last level it
            uses (see above). Defaults to True; False computes every level.
        stage1_text_prompts (bool): Whether stage 1 encodes the text with the decode head's
            visual prompts (CARIS's conditional prompts), as stage 2 does. Defaults to True.
            False gives the scorer the expression encoded without them, so stage 1 needs
            no level the prompts read (CARIS: the coarsest), and the backbone can stop below
            it.
        stage2_loss_weight (float): Weight of the stage-2 (masked) loss. Defaults to 1.0.
        stage2_text (str): Where the stage-2 text features come from: ``'masked'`` (default:
            the masked pass, or stage 1 when they do not depend on the image) or ``'clean'``
            (the released code: one more visual-encoder pass on the clean images feeds the
            text path, so the text never sees the mask; three backbone passes per step).
        train_cfg (ConfigType, optional): Passed to the decode head's ``loss``.
        test_cfg (ConfigType, optional): Passed to the decode head's ``predict``.
        data_preprocessor (ConfigType, optional): Usually a ``RISDataPreProcessor``.
        init_cfg (ConfigType, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 text_encoder: ConfigType,
                 decode_head: ConfigType,
                 neck: OptConfigType = None,
                 aml: OptConfigType = None,
                 stage1_loss_weight: float = 0.0,
                 stage1_scale: float = 1.0,
                 stage1_early_exit: bool = True,
                 stage1_text_prompts: bool = True,
                 stage2_loss_weight: float = 1.0,
                 stage2_text: str = 'masked',
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        self.text_encoder = MODELS.build(text_encoder)
        self._init_decode_head(decode_head)
        self._init_text_fusion()
        self._init_aml(aml, stage1_loss_weight, stage1_scale,
                       stage2_loss_weight, stage2_text)
        self._init_stage1_backbone(stage1_early_exit, stage1_text_prompts)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg if test_cfg is not None else dict()

    def _init_decode_head(self, decode_head: ConfigType) -> None:
        """Initialize ``decode_head``."""
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels

    def _init_text_fusion(self) -> None:
        """Read whether the backbone takes the text (early fusion; see
        :class:`BaseTextFusedBackbone`), and refuse what cannot go with it."""
        self.backbone_takes_text = bool(getattr(self.backbone, 'takes_text', False))
        if self.backbone_takes_text and self.decode_head.text_prompt_levels():
            raise ValueError(
                f'AMLSegmentor: {type(self.backbone).__name__} reads the text features, so '
                f'they must be encoded before the image; {type(self.decode_head).__name__} '
                f'prompts the text with visual features (text_prompt_levels), which would '
                f'need the image first. Turn its prompts off (e.g. num_text_prompts=0).')

    def _init_aml(self, aml: OptConfigType, stage1_loss_weight: float,
                  stage1_scale: float, stage2_loss_weight: float, stage2_text: str) -> None:
        """Initialize the alignment-aware masking module and its training options."""
        if stage1_loss_weight < 0 or stage2_loss_weight < 0:
            raise ValueError('stage1_loss_weight and stage2_loss_weight must be >= 0, got '
                             f'{stage1_loss_weight} and {stage2_loss_weight}.')
        if not 0 < stage1_scale <= 1:
            raise ValueError(f'stage1_scale must be in (0, 1], got {stage1_scale}.')
        if stage1_loss_weight > 0 and stage1_scale != 1:
            raise ValueError(f'stage1_scale={stage1_scale} needs stage1_loss_weight=0: a stage 1 '
                             f'with its own loss runs the whole model at full scale.')
        if stage2_text not in _STAGE2_TEXT:
            raise ValueError(f'stage2_text must be one of {list(_STAGE2_TEXT)}, got '
                             f'{stage2_text!r}.')
        self.aml = MODELS.build(aml) if aml is not None else None
        self.stage1_loss_weight = float(stage1_loss_weight)
        self.stage1_scale = float(stage1_scale)
        self.stage2_loss_weight = float(stage2_loss_weight)
        self.stage2_text = stage2_text

    def _init_stage1_backbone(self, early_exit: bool, text_prompts: bool) -> None:
        """Initialize the early-exit runner of the backbone for stage 1 (AML only)."""
        self.stage1_early_exit = bool(early_exit)
        self.stage1_text_prompts = bool(text_prompts)
        # A plain attribute, not a submodule: it holds a reference to ``self.backbone``.
        self._stage1_backbone = BackboneEarlyExit(self.backbone) \
            if self.with_aml and self.stage1_early_exit and not self.backbone_takes_text \
            else None

    @property
    def with_aml(self) -> bool:
        """bool: Whether the model trains with alignment-aware masking."""
        return self.aml is not None

    # ------------------------------------------------------------------ encoders
    def extract_feat(self, inputs: Tensor,
                     text: Optional[TextFeatures] = None) -> List[Tensor]:
        """Extract visual features (backbone, then the optional neck).

        Args:
            inputs (Tensor): Images ``[B, 3, H, W]``.
            text (tuple[Tensor, Tensor], optional): Token features ``[B, N, C_t]`` and mask
                ``[B, N]``, which a backbone that ``takes_text`` (early fusion) reads.

        Returns:
            list[Tensor]: Feature maps ``[B, C_i, H_i, W_i]``.
        """
        if self.backbone_takes_text:
            if text is None:
                raise ValueError(f'AMLSegmentor.extract_feat: {type(self.backbone).__name__} '
                                 f'takes the text features; pass them.')
            x = self.backbone(inputs, *text)
        else:
            x = self.backbone(inputs)
        if self.with_neck:
            x = self.neck(x)
        return list(x)

    def encode_text(self, feats: Sequence[Tensor], input_ids: Tensor,
                    attention_mask: Tensor) -> TextFeatures:
        """Encode the expressions, with the decode head's visual prompts if it has any.

        Returns:
            tuple[Tensor, Tensor]: Token features ``[B, N, C_t]`` and mask ``[B, N]`` (bool).
        """
        prompts = self.decode_head.text_prompts(feats)
        return self.text_encoder(input_ids, attention_mask, prompts)

    def _encode(self, inputs: Tensor,
                text_inputs: TextInputs) -> Tuple[List[Tensor], TextFeatures]:
        """Visual features and text features of one batch (the text first when the backbone
        reads it)."""
        if self.backbone_takes_text:
            text = self.text_encoder(*text_inputs, None)
            return self.extract_feat(inputs, text), text
        feats = self.extract_feat(inputs)
        return feats, self.encode_text(feats, *text_inputs)

    # ------------------------------------------------------------------ training
    def _decode_head_forward_train(self, feats: List[Tensor], text: TextFeatures,
                                   data_samples: SampleList) -> Dict[str, Tensor]:
        """Run the decode head's loss; keys prefixed with ``decode.``."""
        losses = self.decode_head.loss(feats, *text, data_samples, self.train_cfg)
        return add_prefix(losses, 'decode')

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """Compute the losses of one batch, with both AML stages when AML is on.

        Args:
            inputs (Tensor): Normalised, padded images ``[B, 3, H, W]``.
            data_samples (list[SegDataSample]): With ``gt_sem_seg`` and the token fields.

        Returns:
            dict[str, Tensor]: ``decode.loss_*`` (stage 2), ``stage1.loss_*`` when
            ``stage1_loss_weight > 0``, ``aml.loss_*`` of a trainable scorer, and ``aml_*``
            statistics (logged, not optimised).
        """
        text_inputs = stack_text_inputs(data_samples)
        if not self.with_aml:
            feats, text = self._encode(inputs, text_inputs)
            return self._decode_head_forward_train(feats, text, data_samples)

        losses: Dict[str, Tensor] = dict()
        if self.stage1_loss_weight > 0:
            stage1, stage1_losses = self._stage1_forward_train(inputs, text_inputs,
                                                               data_samples)
            losses.update(stage1_losses)
        else:
            stage1 = self._stage1_forward(inputs, text_inputs)
        masked = self._mask(inputs, stage1, data_samples)
        losses.update(masked.stats)
        losses.update(add_prefix(masked.losses, 'aml'))
        losses.update(self._stage2_forward_train(
            inputs, masked.masked_inputs, stage1, text_inputs,
            self._stage2_samples(data_samples, masked.block_mask)))
        return losses

    def _stage2_samples(self, data_samples: SampleList, block_mask: Tensor) -> SampleList:
        """The samples stage 2 is supervised with: ``data_samples`` themselves, or, with
        ``aml.mask_target='loss'``, copies whose GT ignores the masked blocks' pixels."""
        if self.aml.mask_target != 'loss':
            return data_samples
        ignore_index = self.decode_head.ignore_index
        out = []
        for sample, mask in zip(data_samples, block_mask):
            gt = sample.gt_sem_seg.data
            if tuple(gt.shape[-2:]) != tuple(mask.shape[-2:]):
                raise ValueError(f"AMLSegmentor (mask_target='loss'): the GT is "
                                 f'{tuple(gt.shape[-2:])} but the block mask '
                                 f'{tuple(mask.shape[-2:])}; the data preprocessor must pad '
                                 'the GT with the images.')
            copy = sample.clone()  # shallow: gt_sem_seg is replaced, not changed
            copy.gt_sem_seg = sample.gt_sem_seg.clone()
            copy.gt_sem_seg.data = gt.masked_fill(mask.to(gt.device), ignore_index)
            out.append(copy)
        return out

    def mask_batch(self, inputs: Tensor, data_samples: SampleList,
                   text_inputs: Optional[TextInputs] = None) -> AMLOutput:
        """Stage 1 and the alignment-aware masking of a preprocessed batch.

        The entry point of the tools that look at or time the masking
        (``browse_aml_masks.py``, ``benchmark_aml.py``); it runs the no-gradient stage 1
        (:meth:`_stage1_forward`). Call it under ``torch.no_grad()`` when only the masks are
        wanted.

        Args:
            inputs (Tensor): Normalised, padded images ``[B, 3, H, W]``.
            data_samples (list[SegDataSample]): With the token fields (and the GT, for
                scorers that read it).
            text_inputs (tuple[Tensor, Tensor], optional): ``(input_ids, attention_mask)``
                ``[B, L]`` when the caller already stacked them.

        Returns:
            AMLOutput: The masked images, masks, score map, statistics and scorer losses.
        """
        if not self.with_aml:
            raise RuntimeError('AMLSegmentor.mask_batch needs model.aml; this model trains '
                               'without alignment-aware masking.')
        if text_inputs is None:
            text_inputs = stack_text_inputs(data_samples)
        return self._mask(inputs, self._stage1_forward(inputs, text_inputs), data_samples)

    def _mask(self, inputs: Tensor, stage1: Stage1, data_samples: SampleList) -> AMLOutput:
        """The alignment-aware masking of ``inputs`` from the stage-1 features."""
        for sample in data_samples:  # the unpadded sizes (host metadata, no sync)
            self.aml.check_image_size(*sample.img_shape[:2])
        return self.aml(inputs, stage1.feats, *stage1.text, data_samples,
                        seg_logits=stage1.seg_logits)

    def _stage1_forward(self, inputs: Tensor, text_inputs: TextInputs) -> Stage1:
        """Stage 1, the alignment pass on the unmasked images, without gradient.

        It runs under ``torch.no_grad()``, not ``torch.inference_mode()``: inference mode
        measured no faster (lite SynRef config on the CPU, within noise), and a tensor that a
        module computes in stage 1 and keeps for later (a cache) would be an inference tensor,
        which stage 2 cannot save for its backward pass. Text that does not depend on the
        image is encoded once here, with gradient, for stage 2 to reuse.
        """
        input_ids, attention_mask = text_inputs
        x = inputs
        if self.stage1_scale != 1.0:
            x = F.interpolate(x, scale_factor=self.stage1_scale, mode='bilinear',
                              align_corners=False)
            self._check_stage1_patches(tuple(x.shape[-2:]))
        if self.backbone_takes_text:  # early fusion: the text first, once, for both stages
            text = self.text_encoder(input_ids, attention_mask, None)
            with torch.no_grad():
                feats = self.extract_feat(x, (text[0].detach(), text[1]))
            torch.clear_autocast_cache()  # see below
            return Stage1(feats, text, self._stage1_seg_logits(feats, text))
        with torch.no_grad():
            levels = self._stage1_levels()
            feats = self.extract_feat(x) if levels is None \
                else self._stage1_backbone(x, levels)
            prompts = self.decode_head.text_prompts(feats) if self.stage1_text_prompts \
                else None
            text = None
            if prompts is not None:
                text = self.text_encoder(input_ids, attention_mask, prompts)
            elif not self._text_is_image_independent:
                # the head prompts its text in stage 2: stage 1's plain text is its own pass
                text = self.text_encoder(input_ids, attention_mask, None)
        # Under AMP, the half-precision copies of the weights that autocast made and cached in
        # this no-grad pass have no gradient history. PyTorch releases without pytorch#165068
        # (e.g. 2.1, the newest one mmcv 2.1 has wheels for) hand them to stage 2, which then
        # back-propagates to none of those weights (pytorch#112583). Drop them: stage 2 casts
        # the weights afresh.
        torch.clear_autocast_cache()
        if text is None:  # image-independent: encoded once, with gradient, for both stages
            text = self.text_encoder(input_ids, attention_mask, None)
        return Stage1(feats, text, self._stage1_seg_logits(feats, text))

    def _check_stage1_patches(self, size: Tuple[int, int]) -> None:
        """Refuse a stage-1 size that a patch-based backbone (``patch_size``, e.g. a ViT's
        14) would cut: the backbone would drop the last partial patch and the score map
        would no longer cover the image."""
        patch = getattr(self.backbone, 'patch_size', None)
        if patch is not None and (size[0] % patch or size[1] % patch):
            raise ValueError(
                f'AMLSegmentor: stage1_scale={self.stage1_scale} gives stage-1 images of '
                f'{size[0]}x{size[1]}, not multiples of the backbone\'s {patch}-pixel patches; '
                f'choose a stage1_scale that keeps them whole (e.g. 0.5 or 0.75 at 448).')

    def _stage1_forward_train(self, inputs: Tensor, text_inputs: TextInputs,
                              data_samples: SampleList
                              ) -> Tuple[Stage1, Dict[str, Tensor]]:
        """Stage 1 of the released recipe: a full forward with gradient and its own loss.

        Returns:
            tuple: The stage-1 features (detached) and the ``stage1.*`` loss terms, weighted
            by ``stage1_loss_weight``.
        """
        feats, text = self._encode(inputs, text_inputs)
        losses = self._decode_head_forward_train(feats, text, data_samples)
        losses = add_prefix(self._weighted(losses, self.stage1_loss_weight), 'stage1')
        feats = [f.detach() for f in feats]
        text = (text[0].detach(), text[1])
        return Stage1(feats, text, self._stage1_seg_logits(feats, text)), losses

    def _stage1_seg_logits(self, feats: List[Tensor], text: TextFeatures) -> Optional[Tensor]:
        """The decode head's stage-1 logits without gradient, for a scorer that asks."""
        if not self.aml.needs_seg_logits:  # e.g. DecoderScorer: the decoder's own view
            return None
        with torch.no_grad():
            return self.decode_head(feats, text[0].detach(), text[1])

    def _stage2_forward_train(self, inputs: Tensor, masked_inputs: Tensor, stage1: Stage1,
                              text_inputs: TextInputs,
                              data_samples: SampleList) -> Dict[str, Tensor]:
        """Stage 2: the model's loss on the masked images, weighted by ``stage2_loss_weight``.

        The text features come from the masked pass, from stage 1 when they do not depend on
        the image (computed there once, with gradient), or, with ``stage2_text='clean'`` (the
        released code), from one more visual-encoder pass on the clean images.
        """
        text = stage1.text if self._reuses_stage1_text else None
        if self.backbone_takes_text:  # the text does not depend on the image: no clean pass
            if text is None:
                text = self.text_encoder(*text_inputs, None)
            feats = self.extract_feat(masked_inputs, text)
        else:
            if self.stage2_text == 'clean':
                text = self.encode_text(self.extract_feat(inputs), *text_inputs)
            feats = self.extract_feat(masked_inputs)
            if text is None:
                text = self.encode_text(feats, *text_inputs)
        losses = self._decode_head_forward_train(feats, text, data_samples)
        return self._weighted(losses, self.stage2_loss_weight)

    @property
    def _text_is_image_independent(self) -> bool:
        """Whether the text features ignore the image (no visual prompts in the head)."""
        return not self.decode_head.text_prompt_levels()

    @property
    def _reuses_stage1_text(self) -> bool:
        """Whether stage 1 encoded the text, with gradient, for stage 2 (see above)."""
        return self.stage1_loss_weight == 0 and self._text_is_image_independent

    def _stage1_levels(self) -> Optional[List[int]]:
        """The feature levels the no-grad stage 1 uses, or None for all of them."""
        if self._stage1_backbone is None or self.with_neck or self.aml.needs_seg_logits:
            return None  # (early-fusion backbones have no early-exit runner)
        levels = list(self.aml.scorer.feat_indices)
        if self.stage1_text_prompts:
            levels.extend(self.decode_head.text_prompt_levels())
        return levels

    @staticmethod
    def _weighted(losses: Dict[str, Tensor], weight: float) -> Dict[str, Tensor]:
        """Scale the optimised terms (keys containing ``loss``) of a loss dict."""
        if weight == 1.0:
            return losses
        return {k: v * weight if 'loss' in k else v for k, v in losses.items()}

    # ------------------------------------------------------------------ inference
    def encode_decode(self, inputs: Tensor, batch_data_samples: SampleList) -> Tensor:
        """Encode images and expressions and decode logits at the network input size.

        Returns:
            Tensor: Logits ``[B, out_channels, H, W]``.
        """
        feats, text = self._encode(inputs, stack_text_inputs(batch_data_samples))
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        return self.decode_head.predict(feats, *text, batch_img_metas, self.test_cfg)

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Predict the referred masks; AML never runs here.

        Args:
            inputs (Tensor): Normalised images ``[B, 3, H, W]``.
            data_samples (list[SegDataSample]): With the token fields and metainfo
                (``ori_shape``, ``img_shape``, ``padding_size``).

        Returns:
            list[SegDataSample]: With ``seg_logits`` and ``pred_sem_seg`` at ``ori_shape``
            and ``pred_sem_seg_resized`` at ``img_shape``.
        """
        if data_samples is None:
            raise ValueError('AMLSegmentor.predict needs data_samples carrying the tokenised '
                             'expression (text_token_ids, text_attention_mask).')
        seg_logits = self.encode_decode(inputs, data_samples)
        return self.postprocess_result(seg_logits, data_samples)

    def postprocess_result(self, seg_logits: Tensor,
                           data_samples: OptSampleList = None) -> SampleList:
        """mmseg's post-processing, plus the prediction at the network input size; a
        letterboxed sample (``LetterBox``) is mapped back with its ``letterbox_inverse``."""
        if data_samples is None:
            return super().postprocess_result(seg_logits, data_samples)
        boxed = ['letterbox_inverse' in s.metainfo for s in data_samples]
        plain = [i for i, b in enumerate(boxed) if not b]
        if plain:
            self._postprocess_resized(seg_logits[plain], [data_samples[i] for i in plain])
        for i in (i for i, b in enumerate(boxed) if b):
            self._postprocess_letterboxed(seg_logits[i], data_samples[i])
        return data_samples

    def _postprocess_resized(self, seg_logits: Tensor, data_samples: SampleList) -> None:
        """mmseg's post-processing (padding cropped, resized to ``ori_shape``), and
        ``pred_sem_seg_resized`` at ``img_shape``."""
        resized = []
        _, _, height, width = seg_logits.shape
        for i, sample in enumerate(data_samples):
            left, right, top, bottom = sample.metainfo.get('padding_size', [0] * 4)
            logits = seg_logits[i, :, top:height - bottom, left:width - right]
            resized.append(logits_to_mask(logits, self.decode_head.threshold))
        data_samples = super().postprocess_result(seg_logits, data_samples)
        for sample, mask in zip(data_samples, resized):
            sample.set_data(dict(pred_sem_seg_resized=PixelData(data=mask)))

    def _postprocess_letterboxed(self, seg_logits: Tensor, sample) -> None:
        """DETRIS's evaluation of a letterboxed sample: the probabilities (one channel) or
        logits are warped back onto the original image (:func:`unletterbox`) and thresholded
        there. No ``pred_sem_seg_resized``: the canvas is not a resized image."""
        inverse, ori_shape = sample.metainfo['letterbox_inverse'], sample.ori_shape[:2]
        if seg_logits.shape[0] == 1:
            probs = unletterbox(seg_logits.float().sigmoid(), inverse, ori_shape)
            pred = (probs > self.decode_head.threshold).to(seg_logits.dtype)
            logits = torch.logit(probs.clamp(1e-6, 1 - 1e-6)).to(seg_logits.dtype)
        else:
            logits = unletterbox(seg_logits, inverse, ori_shape)
            pred = logits_to_mask(logits)
        sample.set_data(dict(seg_logits=PixelData(data=logits),
                             pred_sem_seg=PixelData(data=pred)))

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """Raw decode head logits ``[B, out_channels, h, w]`` (``mode='tensor'``)."""
        if data_samples is None:
            raise ValueError('AMLSegmentor needs data_samples carrying the tokenised '
                             'expression (text_token_ids, text_attention_mask).')
        feats, text = self._encode(inputs, stack_text_inputs(data_samples))
        return self.decode_head.forward(feats, *text)

    def aug_test(self, inputs, batch_img_metas, rescale=True):
        """Test-time augmentation is not offered: flips would contradict 'left'/'right'."""
        raise NotImplementedError('AMLSegmentor has no test-time augmentation: a flipped '
                                  'image no longer matches words like "left" or "right".')

# AMLRIS: DETRIS (DINOv2-B/14 + CLIP ViT-B/16 text) trained with Alignment-aware Masked
# Learning on RefCOCO+, with the paper's
# settings (docs/en/aml.md, docs/en/detris.md#aml-on-a-vit): PatchMax alignment on the final
# normed DINOv2 map (768 channels, 14-pixel cells) against CLIP's 512-d words, then AFM with
# tau 0.4, rho 0.25 and the paper's 32x32 blocks (block_size=28 hides whole 2x2 patches:
# --cfg-options model.aml.filter.block_size=28). Letterbox padding is never a candidate.
# Everything else is the DETRIS baseline config this file inherits.
_base_ = ['../detris/detris_dinov2-b_clip-b_2xb16-65e_refcoco+-448x448.py']
model = dict(
    aml=dict(
        type='AlignmentAwareMasking',
        scorer=dict(type='PatchMaxScorer', in_index=-1, vis_channels=768, text_channels=512),
        filter=dict(type='AlignmentAwareFilter', tau=0.4, rho=0.25, block_size=32)))

# AML on the light SynRef model: the CPU quick start (README). Identical to
# configs/lite/lite_minilm_synref-160x160.py except for `aml`. The SynRef images are 160x160
# and the stride-32 map is 5x5, so AML masks 32x32 blocks of a 5x5 grid.
_base_ = ['../lite/lite_minilm_synref-160x160.py']
model = dict(
    aml=dict(
        type='AlignmentAwareMasking',
        # the stride-32 level of the half-width ResNet-18 (256) and MiniLM-L6 (384)
        scorer=dict(type='PatchMaxScorer', vis_channels=256, text_channels=384),
        filter=dict(type='AlignmentAwareFilter', tau=0.4, rho=0.25, block_size=32)))
# Draw what AML masks every 250 iterations into the work dir (vis_data/).
custom_hooks = [dict(type='AMLVisualizationHook', interval=250, num_samples=4)]

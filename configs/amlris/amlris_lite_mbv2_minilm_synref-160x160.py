# AML (paper defaults) on the light SynRef model with the ImageNet-pretrained MobileNetV2:
# identical to configs/lite/lite_mbv2_minilm_synref-160x160.py except for `aml`.
_base_ = ['../lite/lite_mbv2_minilm_synref-160x160.py']
model = dict(
    aml=dict(
        type='AlignmentAwareMasking',
        scorer=dict(
            type='PatchMaxScorer',
            vis_channels=320,  # stride-32 level of MobileNetV2 (layer 7)
            text_channels=384),  # MiniLM-L6
        filter=dict(type='AlignmentAwareFilter', tau=0.4, rho=0.25, block_size=32)))
custom_hooks = [dict(type='AMLVisualizationHook', interval=250, num_samples=4)]

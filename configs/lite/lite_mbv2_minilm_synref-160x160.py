# The light baseline on SynRef with an ImageNet-pretrained MobileNetV2 (CPU): the same schedule
# as lite_minilm_synref-160x160.py; AML off. The same model with AML:
# configs/amlris/amlris_lite_mbv2_minilm_synref-160x160.py.
_base_ = [
    '../_base_/models/lite_mbv2_minilm.py', '../_base_/datasets/synref.py',
    '../_base_/schedules/schedule_cpu_1500it.py', '../_base_/default_runtime.py'
]

# The light early-fusion baseline on SynRef (CPU): MobileNetV2 with LAVT's fusion after its
# stages, MiniLM-L6 and LAVT's decoder (configs/_base_/models/lavt-lite_mbv2_minilm.py), the
# schedule of lite_mbv2_minilm_synref-160x160.py; AML off. The same model with AML:
# configs/amlris/amlris_lavt-lite_mbv2_minilm_synref-160x160.py.
_base_ = [
    '../_base_/models/lavt-lite_mbv2_minilm.py', '../_base_/datasets/synref.py',
    '../_base_/schedules/schedule_cpu_1500it.py', '../_base_/default_runtime.py'
]

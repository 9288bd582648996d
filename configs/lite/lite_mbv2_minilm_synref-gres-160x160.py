# The light baseline on SynRef-GRES (gRefCOCO layout: several targets or none per expression)
# with the pretrained MobileNetV2 (CPU). The model of lite_mbv2_minilm_synref-160x160.py plus
# the no-target head; GRESMetric; the best checkpoint by cIoU. Data:
#   python tools/dataset_converters/synref.py --out data/synref --num-images 2000 \
#       --img-size 160 --seed 0 --gres
_base_ = [
    '../_base_/models/lite_mbv2_minilm.py', '../_base_/datasets/synref_gres.py',
    '../_base_/schedules/schedule_cpu_1500it.py', '../_base_/default_runtime.py'
]
model = dict(decode_head=dict(no_target_head=dict(hidden_channels=128)))
default_hooks = dict(checkpoint=dict(save_best='cIoU'))

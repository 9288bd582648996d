# The light ReLA baseline on SynRef-GRES (CPU): configs/_base_/models/rela-lite_mbv2_minilm.py
# with the schedule of the other SynRef models; GRESMetric, best checkpoint by cIoU; AML off.
# The same model with AML: configs/amlris/amlris_rela-lite_mbv2_minilm_synref-gres-160x160.py.
# Data:
#   python tools/dataset_converters/synref.py --out data/synref --num-images 2000 \
#       --img-size 160 --seed 0 --gres
_base_ = [
    '../_base_/models/rela-lite_mbv2_minilm.py', '../_base_/datasets/synref_gres.py',
    '../_base_/schedules/schedule_cpu_1500it.py', '../_base_/default_runtime.py'
]
default_hooks = dict(checkpoint=dict(save_best='cIoU'))

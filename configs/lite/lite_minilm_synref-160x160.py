# The light baseline on SynRef, on the CPU: the same model and schedule as
# configs/amlris/amlris_lite_minilm_synref-160x160.py with AML off, so the two compare directly.
_base_ = [
    '../_base_/models/lite_r18-half_minilm.py', '../_base_/datasets/synref.py',
    '../_base_/schedules/schedule_cpu_1500it.py', '../_base_/default_runtime.py'
]

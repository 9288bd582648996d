# A toy DETRIS on SynRef (CPU): the DETRIS architecture (configs/_base_/models/
# detris_dinov2-b_clip-b.py) with tiny towers -- a 4-block, 48-wide DINOv2 with registers and
# aligners in blocks 1 and 3, a 2-layer, 64-wide CLIP text tower with adapters in layer 1 --
# randomly initialised and trainable (freeze=False: nothing pretrained to keep), the SynRef
# images letterboxed to 112x112 (8x8 patches of 14 px). It exists so that the whole DETRIS
# path (letterbox, CLIP tokens, soft GT, inverse warp at test time, AML on 14-px cells) runs
# end to end on a CPU; it makes no accuracy claim (random towers, no pretraining).
# The same model with AML: configs/amlris/amlris_detris-toy_synref-112x112.py.
_base_ = [
    '../_base_/models/detris_dinov2-b_clip-b.py', '../_base_/datasets/synref.py',
    '../_base_/schedules/schedule_cpu_1500it.py', '../_base_/default_runtime.py'
]
data_preprocessor = dict(size=(112, 112))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        dinov2=dict(hidden_size=48, num_hidden_layers=4, num_attention_heads=2,
                    image_size=112),
        adapter_layers=(1, 3),
        adapter_channels=16,
        text_channels=64,
        out_layers=(1, 2),
        freeze=False),
    text_encoder=dict(
        clip=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=2, projection_dim=64),
        adapter_layers=(1, ),
        adapter_channels=16,
        freeze=False),
    decode_head=dict(
        in_channels=[48, 48, 48],
        channels=64,
        text_channels=64,
        sentence_channels=64,
        num_heads=2,
        num_layers=1,
        ffn_channels=128))
train_pipeline = [
    dict(type='LoadRISImageFromFile'),
    dict(type='LoadReferringMask'),
    dict(type='LetterBox', size=112),
    dict(type='SampleExpression'),
    dict(type='TokenizeCLIPExpression', max_tokens=17),
    dict(type='PackRISInputs'),
]
test_pipeline = [
    dict(type='LoadRISImageFromFile'),
    dict(type='LetterBox', size=112),
    dict(type='LoadReferringMask'),
    dict(type='SampleExpression'),
    dict(type='TokenizeCLIPExpression', max_tokens=17),
    dict(type='PackRISInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type='RefCOCODataset',
            data_root='data/synref',
            ann_file='instances.json',
            split_file='refs(unc).p',
            data_prefix=dict(img_path='images/'),
            split=split,
            test_mode=True,
            pipeline=test_pipeline) for split in ('val', 'testA', 'testB')
    ]))
val_evaluator = dict(type='RISMetric', eval_resolution='original')
test_evaluator = val_evaluator

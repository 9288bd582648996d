# Copyright (c) mmamlris contributors. All rights reserved.
import json
import os.path as osp

import pytest
import torch

from mmamlris.models.text_encoders import HFTextEncoder
from mmamlris.registry import MODELS
from mmamlris.testing import make_tiny_bert_dir, tiny_bert_config
from mmamlris.utils import resolve_model_dir


@pytest.fixture(scope='module')
def tiny_dir(tmp_path_factory):
    return make_tiny_bert_dir(str(tmp_path_factory.mktemp('tiny_bert')))


@pytest.fixture(scope='module')
def tiny_encoder():
    torch.manual_seed(0)
    return HFTextEncoder(pretrained=None, config=tiny_bert_config()).eval()


def _ids(rows, length):
    """Right-pad lists of ids with 0 to ``length``; return ids and a 0/1 mask."""
    ids = torch.zeros(len(rows), length, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
    return ids, mask


def test_minilm_pretrained_matches_plain_hugging_face():
    from transformers import AutoModel, AutoTokenizer
    model_dir = resolve_model_dir('all-MiniLM-L6-v2')
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    batch = tokenizer(['the small red circle', 'a blue square left of the green one'],
                      padding='longest', return_tensors='pt')
    encoder = HFTextEncoder().eval()  # default: the packaged MiniLM
    assert encoder.out_channels == 384
    assert getattr(encoder.model, 'pooler', None) is None

    with torch.no_grad():
        feats, mask = encoder(batch['input_ids'], batch['attention_mask'])
        reference_model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
        reference = reference_model(input_ids=batch['input_ids'],
                                    attention_mask=batch['attention_mask'])
    length = batch['input_ids'].shape[1]
    assert feats.shape == (2, length, 384)
    assert mask.dtype == torch.bool
    assert torch.equal(mask, batch['attention_mask'].bool())
    assert not mask[0].all() and mask[1].all()  # the first sentence is padded
    torch.testing.assert_close(feats, reference.last_hidden_state, rtol=1e-4, atol=1e-4)

    # init_weights() (called by the runner) must keep the pretrained weights.
    before = encoder.model.embeddings.word_embeddings.weight.clone()
    encoder.init_weights()
    assert torch.equal(before, encoder.model.embeddings.word_embeddings.weight)
    assert torch.equal(before, reference_model.embeddings.word_embeddings.weight)


def test_tiny_dir_loads_with_the_minilm_vocabulary(tiny_dir):
    from transformers import AutoTokenizer
    encoder = HFTextEncoder(pretrained=tiny_dir)
    assert encoder.out_channels == 32
    assert getattr(encoder.model, 'pooler', None) is None
    text = 'the large yellow triangle below the circle'
    tiny_ids = AutoTokenizer.from_pretrained(tiny_dir, local_files_only=True)(text).input_ids
    minilm = AutoTokenizer.from_pretrained(resolve_model_dir('all-MiniLM-L6-v2'),
                                           local_files_only=True)
    assert tiny_ids == minilm(text).input_ids
    assert tiny_ids[0] == 101 and tiny_ids[-1] == 102  # [CLS] ... [SEP] of bert-base-uncased


def test_config_random_init_builds_offline_from_the_registry(tiny_dir):
    encoder = MODELS.build(dict(type='HFTextEncoder', pretrained=None, config=tiny_bert_config(
        hidden=16, layers=1)))
    assert isinstance(encoder, HFTextEncoder)
    assert encoder.out_channels == 16
    assert encoder.model.config.num_hidden_layers == 1
    # A config directory works too (the weights in it are not loaded).
    from_dir = HFTextEncoder(pretrained=None, config=tiny_dir)
    assert from_dir.out_channels == 32


def test_every_parameter_gets_a_gradient():
    encoder = HFTextEncoder(pretrained=None, config=tiny_bert_config())
    ids, mask = _ids([[101, 1996, 2417, 102], [101, 2417, 102]], 5)
    feats, _ = encoder(ids, mask)
    feats.square().sum().backward()
    missing = [n for n, p in encoder.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing


def test_padding_does_not_change_real_tokens(tiny_encoder):
    real = [101, 1996, 2235, 2417, 4418, 102]
    short_ids, short_mask = _ids([real], len(real))
    long_ids, long_mask = _ids([real], len(real) + 4)
    long_ids[0, len(real):] = torch.tensor([2307, 999, 5, 77])  # garbage under mask 0
    with torch.no_grad():
        short, _ = tiny_encoder(short_ids, short_mask)
        padded, padded_mask = tiny_encoder(long_ids, long_mask.bool())
    assert padded.shape == (1, len(real) + 4, 32)
    assert padded_mask[0].tolist() == [True] * len(real) + [False] * 4
    torch.testing.assert_close(padded[:, :len(real)], short, rtol=1e-5, atol=1e-5)


def test_extra_tokens_are_inserted_after_the_embedding_layer(tiny_encoder):
    # Appending the embedding-layer outputs of "c d" to "[CLS] a b [SEP]" must give the same
    # features for the first four tokens as encoding "[CLS] a b [SEP] c d" as one sequence.
    full = torch.tensor([[101, 1037, 1038, 102, 1039, 1040]])
    with torch.no_grad():
        embedded = tiny_encoder.model.embeddings(input_ids=full)
        expected, _ = tiny_encoder(full, torch.ones_like(full))
        got, mask = tiny_encoder(full[:, :4], torch.ones(1, 4, dtype=torch.long),
                                 extra_tokens=embedded[:, 4:])
    assert got.shape == (1, 4, 32) and mask.shape == (1, 4)
    torch.testing.assert_close(got, expected[:, :4], rtol=1e-5, atol=1e-5)


def test_extra_tokens_change_outputs_and_receive_gradients(tiny_encoder):
    ids, mask = _ids([[101, 1996, 2417, 102], [101, 2417, 102]], 6)
    with torch.no_grad():
        plain, _ = tiny_encoder(ids, mask)
    prompts = torch.randn(2, 3, 32, requires_grad=True)
    prompted, prompted_mask = tiny_encoder(ids, mask, extra_tokens=prompts)
    assert prompted.shape == plain.shape == (2, 6, 32)
    assert torch.equal(prompted_mask, mask.bool())
    assert not torch.allclose(prompted[mask.bool()], plain[mask.bool()], atol=1e-3)
    prompted[mask.bool()].sum().backward()
    assert prompts.grad is not None and prompts.grad.abs().sum() > 0
    # The hook is removed after the call: a plain call gives the plain result again.
    with torch.no_grad():
        again, _ = tiny_encoder(ids, mask)
    torch.testing.assert_close(again, plain)


def test_freeze_keeps_eval_mode_and_still_passes_gradients_to_prompts():
    encoder = HFTextEncoder(pretrained=None, config=tiny_bert_config(), freeze=True)
    encoder.train()
    assert encoder.training and not encoder.model.training
    assert not any(p.requires_grad for p in encoder.parameters())
    ids, mask = _ids([[101, 1996, 2417, 102]], 4)
    first, _ = encoder(ids, mask)
    second, _ = encoder(ids, mask)
    assert torch.equal(first, second)  # no dropout: the model stayed in eval mode
    assert not first.requires_grad
    prompts = torch.randn(1, 2, 32, requires_grad=True)
    feats, _ = encoder(ids, mask, extra_tokens=prompts)
    feats.sum().backward()
    assert prompts.grad is not None and prompts.grad.abs().sum() > 0
    assert all(p.grad is None for p in encoder.parameters())


def test_attn_implementation_is_passed_through(tiny_encoder):
    encoder = HFTextEncoder(pretrained=None, config=tiny_bert_config(),
                            attn_implementation='eager').eval()
    assert encoder.model.config._attn_implementation == 'eager'
    encoder.load_state_dict(tiny_encoder.state_dict())
    ids, mask = _ids([[101, 1996, 2417, 102], [101, 2417, 102]], 4)
    with torch.no_grad():
        torch.testing.assert_close(encoder(ids, mask)[0], tiny_encoder(ids, mask)[0],
                                   rtol=1e-4, atol=1e-4)


def test_bad_directories_raise_clear_errors(tmp_path, tiny_dir):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        HFTextEncoder(pretrained=str(tmp_path / 'missing'))
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='no config.json') as info:
        HFTextEncoder(pretrained=str(empty))
    assert str(empty) in str(info.value)
    no_weights = tmp_path / 'no_weights'
    no_weights.mkdir()
    with open(osp.join(tiny_dir, 'config.json')) as f:
        (no_weights / 'config.json').write_text(json.dumps(json.load(f)))
    with pytest.raises(FileNotFoundError, match='no weights') as info:
        HFTextEncoder(pretrained=str(no_weights))
    assert str(no_weights) in str(info.value)


def test_bad_arguments_raise_clear_errors(tiny_encoder):
    with pytest.raises(ValueError, match='exactly one'):
        HFTextEncoder(config=tiny_bert_config())  # pretrained keeps its default
    with pytest.raises(ValueError, match='exactly one'):
        HFTextEncoder(pretrained=None)
    with pytest.raises(ValueError, match='model_type'):
        HFTextEncoder(pretrained=None, config=dict(hidden_size=32))
    ids, mask = _ids([[101, 102]], 2)
    with pytest.raises(ValueError, match='attention_mask'):
        tiny_encoder(ids, mask[:, None, :])  # 3-D masks are not supported
    with pytest.raises(ValueError, match='extra_tokens'):
        tiny_encoder(ids, mask, extra_tokens=torch.zeros(1, 2, 31))


def test_extra_tokens_need_an_embedding_module():
    encoder = HFTextEncoder(pretrained=None, config=tiny_bert_config())
    encoder.model.embeddings = None
    ids, mask = _ids([[101, 102]], 2)
    with pytest.raises(ValueError, match='no `embeddings` module'):
        encoder(ids, mask, extra_tokens=torch.zeros(1, 1, 32))

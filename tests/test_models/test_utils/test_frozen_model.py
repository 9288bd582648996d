# Copyright (c) mmamlris contributors. All rights reserved.
"""FrozenModelMixin: a frozen wrapped model gets no gradients and never leaves eval mode."""
import pytest
from torch import nn

from mmamlris.models.utils import FrozenModelMixin


class Wrapper(FrozenModelMixin, nn.Module):

    def __init__(self, freeze: bool):
        super().__init__()
        self.model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        self.adapter = nn.BatchNorm1d(2)
        self._init_freeze(freeze)


@pytest.mark.parametrize('freeze', [True, False])
def test_frozen_model_stays_in_eval_and_the_rest_follows_train(freeze):
    module = Wrapper(freeze)
    assert module.model.training is not freeze  # frozen: eval from the start
    assert module.train() is module
    assert module.training and module.adapter.training
    assert all(m.training is not freeze for m in module.model.modules())
    assert all(p.requires_grad is not freeze for p in module.model.parameters())
    assert all(p.requires_grad for p in module.adapter.parameters())
    module.eval()
    assert not any(m.training for m in module.modules())

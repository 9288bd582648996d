# Copyright (c) mmamlris contributors. All rights reserved.
"""The shared rename primitive and the one conversion record of every converter."""
from mmamlris.converters import (CARISConversion, Conversion, DETRISConversion,
                                 LAVTConversion, ReLAConversion, first_rename)

RULES = (
    (r'^a\.(\d+)\.b\.', r'x.\1.y.'),
    (r'^a\.', 'z.'),  # would match too: only the first rule that matches is applied
)


def test_first_rule_that_matches_wins_and_applies_once():
    assert first_rename('a.3.b.b.weight', RULES) == 'x.3.y.b.weight'
    assert first_rename('a.c.a.bias', RULES) == 'z.c.a.bias'  # once, at the start only


def test_no_matching_rule_gives_none():
    assert first_rename('q.a.1.b.weight', RULES) is None  # patterns anchor at the start
    assert first_rename('a.1.b.', ()) is None


def test_every_converter_returns_the_same_record():
    assert CARISConversion is LAVTConversion is ReLAConversion is DETRISConversion is Conversion
    record = Conversion({}, [('k', 'why')], {'depth': 2})
    assert record.dropped == [('k', 'why')] and record.config == {'depth': 2}

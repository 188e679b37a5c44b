"""drumtx.synth.config.config_from_mapping: the recipe blocks' settings dataclasses read from a
config mapping (data.synth.variety, .production, .accompaniment), one line naming the bad key."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from drumtx.synth import accompaniment as acc
from drumtx.synth import effects
from drumtx.synth import production as prod
from drumtx.synth.config import config_from_mapping


@pytest.mark.parametrize("cfg", [None, {}, OmegaConf.create({})])
def test_an_empty_block_is_the_defaults(cfg):
    assert prod.ProductionConfig.from_config(cfg) == prod.ProductionConfig()
    assert acc.AccompanimentConfig.from_config(cfg) == acc.AccompanimentConfig()
    assert effects.VarietyConfig.from_config(cfg) == effects.VarietyConfig()


def test_values_from_a_dict_or_an_omegaconf_node_are_kept():
    block = {"room_prob": 0.25, "ratio": [2.0, 4.0], "codecs": ["ogg"]}
    for cfg in (block, OmegaConf.create(block)):
        out = prod.ProductionConfig.from_config(cfg)
        assert (out.room_prob, list(out.ratio), list(out.codecs)) == (0.25, [2.0, 4.0], ["ogg"])


def test_a_single_name_where_names_are_expected_is_a_one_item_list():
    out = prod.ProductionConfig.from_config({"cymbal_ring_pieces": "ride", "codecs": "mp3"})
    assert (out.cymbal_ring_pieces, out.codecs) == (["ride"], ["mp3"])


@pytest.mark.parametrize(
    ("cls", "cfg", "error", "says"),
    [
        (prod.ProductionConfig, {"room_probb": 0.5}, prod.ProductionError,
         "data.synth.production: unknown keys ['room_probb'] (did you mean 'room_prob'?)"),
        (prod.ProductionConfig, {"zzz": 0.5}, prod.ProductionError,
         "data.synth.production: unknown keys ['zzz']; known: ['attack_ms', "),
        (prod.ProductionConfig, {"cymbal_ring_pieces": []}, prod.ProductionError,
         "data.synth.production.cymbal_ring_pieces must be some of ['hihat_open', 'ride', 'crash'], got [] "
         "(no ringing: cymbal_ring_prob=0)"),
        (prod.ProductionConfig, {"room_prob": 1.5}, prod.ProductionError,
         "data.synth.production.room_prob must be in [0, 1], got 1.5"),
        (prod.ProductionConfig, {"ratio": [8.0, 2.0]}, prod.ProductionError,
         "data.synth.production.ratio must be [low, high], got [8.0, 2.0]"),
        (prod.ProductionConfig, {"rt60_s": [0.5]}, prod.ProductionError,
         "data.synth.production.rt60_s must be [low, high], got [0.5]"),
        (prod.ProductionConfig, {"rt60_s": 0.5}, prod.ProductionError,
         "data.synth.production.rt60_s must be [low, high], got 0.5"),
        (acc.AccompanimentConfig, {"x": 1}, acc.AccompanimentError, "data.synth.accompaniment: unknown keys ['x']"),
        (acc.AccompanimentConfig, {"prob": -0.1}, acc.AccompanimentError,
         "data.synth.accompaniment.prob must be in [0, 1], got -0.1"),
        (acc.AccompanimentConfig, {"lead_prob": 2}, acc.AccompanimentError,
         "data.synth.accompaniment.lead_prob must be in [0, 1], got 2"),
        (acc.AccompanimentConfig, {"drum_to_music_db": [9.0, -9.0]}, acc.AccompanimentError,
         "data.synth.accompaniment.drum_to_music_db must be [low, high], got [9.0, -9.0]"),
        (acc.AccompanimentConfig, {"chord_parts": [2, 4]}, acc.AccompanimentError,
         "data.synth.accompaniment.chord_parts must be [min, max] within 1..3, got [2, 4]"),
        (effects.VarietyConfig, {"wet": 1}, ValueError, "data.synth.variety: unknown keys ['wet']"),
        (effects.VarietyConfig, {"reverb_prob": 1.1}, ValueError,
         "data.synth.variety.reverb_prob must be in [0, 1], got 1.1"),
    ],
)
def test_a_bad_key_or_value_is_one_line_naming_it(cls, cfg, error, says):
    with pytest.raises(error) as info:
        cls.from_config(cfg)
    assert type(info.value) is error
    assert str(info.value).startswith(says) and "\n" not in str(info.value)


def test_only_the_named_ranges_are_checked():
    """A [low, high] field not named in ``ranges`` is taken as it is (the variety block's ranges
    never were checked: its recipes render as before)."""
    out = config_from_mapping(effects.VarietyConfig, {"wet_db": [-8.0, -22.0]}, "data.synth.variety")
    assert out.wet_db == [-8.0, -22.0]
    with pytest.raises(KeyError, match=r"data.synth.variety.wet_db must be \[low, high\]"):
        config_from_mapping(effects.VarietyConfig, {"wet_db": [-8.0, -22.0]}, "data.synth.variety", KeyError,
                            ranges=("wet_db",))

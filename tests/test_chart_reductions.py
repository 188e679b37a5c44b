"""Hard, Medium and Easy reduced from Expert (drumtx.chart_reductions), by the C3 drum review's rules."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from drumtx.chart import RESOLUTION, ChartStats, chart_midi, check_difficulties
from drumtx.chart_reductions import DIFFICULTIES, Reduction, metric_strength, reduce_gems, reductions
from drumtx.midi_out import TempoMap
from drumtx.targets import Onset

LANE = "KRYBG"  # kick, red, yellow, blue, green: a difficulty's kick note + 0..4
S16 = RESOLUTION // 4


def _levels(midi: mido.MidiFile) -> dict[str, dict[int, str]]:
    """difficulty -> tick -> its gems' lanes (a ghost's in lower case), and "toms" -> tick -> marked lanes."""
    drums = next(t for t in midi.tracks if t.name == "PART DRUMS")
    out: dict[str, dict[int, str]] = {name: {} for name in (*DIFFICULTIES, "toms")}
    tick = 0
    for m in drums:
        tick += m.time
        if m.type != "note_on" or m.velocity == 0:
            continue
        if m.note in (110, 111, 112):
            out["toms"][tick] = out["toms"].get(tick, "") + "YBG"[m.note - 110]
            continue
        name, low = next((n, lo) for n, lo in DIFFICULTIES.items() if lo <= m.note <= lo + 4)
        lane = LANE[m.note - low]
        out[name][tick] = "".join(sorted(out[name].get(tick, "") + (lane.lower() if m.velocity == 1 else lane)))
    return out


def _rock_beat(bars: int = 4) -> list[Onset]:
    """120 bpm: 16th-note hi-hats, kicks on 1 and 3 with a 16th double after 3, snares on 2 and 4,
    a ghost snare on the last 16th of beat 2."""
    beat, onsets = 0.5, []
    for b in range(bars * 4):
        t0 = b * beat
        onsets += [Onset(t0 + k * beat / 4, "hihat_closed", 80) for k in range(4)]
        if b % 4 in (0, 2):
            onsets.append(Onset(t0, "kick", 90))
        if b % 4 == 2:
            onsets.append(Onset(t0 + beat / 4, "kick", 88))
        if b % 4 in (1, 3):
            onsets.append(Onset(t0, "snare_head", 95))
        if b % 4 == 1:
            onsets.append(Onset(t0 + 3 * beat / 4, "snare_head", 15))
    return onsets


def test_a_rock_beat_reduces_as_a_charter_would():
    stats = ChartStats()
    levels = _levels(chart_midi(_rock_beat(), TempoMap.constant(120.0, RESOLUTION), 9.0, "x", stats))
    bar = {name: " ".join(f"{t // S16}:{g}" for t, g in sorted(ticks.items()) if t < 4 * RESOLUTION)
           for name, ticks in levels.items() if name != "toms"}
    assert bar["expert"] == "0:KY 1:Y 2:Y 3:Y 4:RY 5:Y 6:Y 7:Yr 8:KY 9:KY 10:Y 11:Y 12:RY 13:Y 14:Y 15:Y"
    # Hard: the ghost snare and the 16th-note kick double leave, the 16th hi-hats become 8ths
    assert bar["hard"] == "0:KY 2:Y 4:RY 6:Y 8:KY 10:Y 12:RY 14:Y"
    # Medium: one hand's 8ths, kick and snare on them, never three limbs
    assert bar["medium"] == "0:KY 2:Y 4:RY 6:Y 8:KY 10:Y 12:RY 14:Y"
    # Easy: beats only, one limb at a time: kick, snare, kick, snare
    assert bar["easy"] == "0:K 4:R 8:K 12:R"
    assert stats.difficulties == {"expert": sum(stats.gems.values()), "hard": 4 * 12, "medium": 4 * 12, "easy": 4 * 4}
    assert stats.summary().endswith("; Hard 48, Medium 48, Easy 16")


def _random_gems(rng: np.random.Generator, n: int) -> tuple[list[Onset], TempoMap]:
    classes = ["kick", "snare_head", "hihat_closed", "hihat_open", "ride", "crash", "tom_high", "tom_mid", "tom_floor"]
    steps = rng.choice([S16, RESOLUTION // 3, RESOLUTION // 8], size=n)  # 16ths, 8th triplets, 32nds
    ticks = np.cumsum(steps)
    tempo = TempoMap.constant(float(rng.uniform(70, 200)), RESOLUTION)
    times = tempo.ticks_to_seconds(ticks)
    onsets = []
    for t in times:
        for c in rng.choice(classes, size=int(rng.integers(1, 4)), replace=False):
            onsets.append(Onset(float(t), str(c), int(rng.integers(5, 128))))
    return onsets, tempo


@pytest.mark.parametrize("seed", range(6))
def test_every_difficulty_keeps_its_rules_and_nests(seed):
    onsets, tempo = _random_gems(np.random.default_rng(seed), 300)
    duration = onsets[-1].time + 1.0
    levels = _levels(chart_midi(onsets, tempo, duration, "x"))
    for upper, lower in (("expert", "hard"), ("hard", "medium"), ("medium", "easy")):
        for t, g in levels[lower].items():  # a subset: gems leave, never move or change lane
            assert set(g) <= set(levels[upper][t]), (lower, t)
    for name in ("hard", "medium", "easy"):
        assert all("r" not in g for g in levels[name].values())  # no ghost snares
        kicks = sorted(t for t, g in levels[name].items() if "K" in g.upper())
        assert np.all(np.diff(kicks) >= RESOLUTION // 3), name  # no 16th-note kick doubles
    medium, easy = levels["medium"], levels["easy"]
    assert all(len(g) <= 2 for g in medium.values())  # never three limbs
    swung = 2 * RESOLUTION // 3  # the swung 8th counts as an 8th
    assert all(t % (RESOLUTION // 2) == 0 or t % RESOLUTION == swung for t, g in medium.items() if "K" in g.upper() or "R" in g)
    hand_ticks = sorted(t for t, g in medium.items() if g.upper().replace("K", ""))
    assert np.all(np.diff(hand_ticks) >= RESOLUTION // 3)  # rolls for one hand: 8ths, swung 8ths
    assert all(len(g) == 1 and t % RESOLUTION == 0 for t, g in easy.items())  # one limb, on the beat
    assert len(levels["expert"]) >= len(levels["hard"]) >= len(medium) >= len(easy) > 0


def test_a_fill_loses_its_kicks_below_expert_and_toms_stay_toms():
    beat = 0.5
    groove = [Onset(0.0, "crash", 100), Onset(0.0, "kick", 100), Onset(beat, "snare_head", 100)]
    fill = [Onset(2 * beat + k * beat / 4, c, 100) for k, c in enumerate(["tom_high", "tom_high", "tom_mid", "tom_floor"])]
    fill += [Onset(2 * beat, "kick", 100), Onset(2 * beat + beat / 2, "kick", 100)]
    levels = _levels(chart_midi(groove + fill, TempoMap.constant(120.0, RESOLUTION), 3.0, "x"))
    fill_ticks = range(2 * RESOLUTION, 3 * RESOLUTION)
    assert sum("K" in g for t, g in levels["expert"].items() if t in fill_ticks) == 2
    for name in ("hard", "medium", "easy"):
        assert not any("K" in g for t, g in levels[name].items() if t in fill_ticks), name
        # every yellow/blue/green gem in the fill is under its tom marker, as on Expert
        for t, g in levels[name].items():
            if t in fill_ticks:
                assert set(g) - {"R"} <= set(levels["toms"].get(t, "")), (name, t)
    assert levels["easy"][0] == "G"  # one limb: the crash over the kick


def test_metric_strength_orders_the_bar():
    ticks = [0, RESOLUTION, RESOLUTION // 2, S16, RESOLUTION // 3, 4 * RESOLUTION]
    bars = [True, False, False, False, True]
    assert metric_strength(ticks, RESOLUTION, bars).tolist() == [5, 4, 3, 2, 1, 5]


def test_reduce_gems_of_nothing_and_the_rules_as_configured():
    rules = reductions()
    assert set(rules) == {"hard", "medium", "easy"}
    assert rules["easy"].limbs == 1 and rules["medium"].limbs == 2 and rules["hard"].limbs == 3
    assert reduce_gems([], [], [], [], [], rules["hard"], RESOLUTION, []).tolist() == []


@pytest.mark.parametrize(("change", "says"), [
    ({"limbz": 2}, "unknown limbz; missing limbs"),
    ({"limbs": 4}, "out of range: limbs"),
    ({"grid": 7}, "out of range: grid"),
    ({"kick_gap": -1}, "out of range: kick_gap"),
    ({"lane_gap": "wide"}, "gaps are beats"),
])
def test_a_bad_reduction_setting_is_one_line_naming_it(change, says):
    settings = {"grid": 0, "kick_snare_grid": 0, "on_keeping": False, "ghosts": False, "fill_kicks": False,
                "limbs": 3, "kick_gap": 0.5, "kick_gap_s": 0.1, "lane_gap": 0.25, "lane_gap_s": 0.1,
                "keeping_gap": 0.5, "keeping_gap_s": 0.0, "hands_gap": 0.0, "hands_gap_s": 0.0,
                "crash_space": 0.0, "double_crash_space": 0.5}
    settings.update(change)
    if "limbz" in change:
        del settings["limbs"]
    with pytest.raises(ValueError, match=f"chart_reductions.hard: .*{says}"):
        Reduction.from_settings("hard", settings)


def test_only_the_difficulties_asked_for_are_written():
    stats = ChartStats()
    levels = _levels(chart_midi(_rock_beat(1), TempoMap.constant(120.0, RESOLUTION), 3.0, "x", stats,
                                difficulties=("expert", "easy")))
    assert levels["expert"] and levels["easy"] and not levels["hard"] and not levels["medium"]
    assert stats.difficulties == {"expert": sum(stats.gems.values()), "easy": 4}
    with pytest.raises(ValueError, match="some of expert, hard, medium, easy, not 'extreme'"):
        check_difficulties(["expert", "extreme"])
    with pytest.raises(ValueError, match="no chart difficulty given; name one or more of expert, hard, medium, easy"):
        check_difficulties([])


def test_without_expert_the_line_and_the_tier_are_of_what_is_written(tmp_path):
    """A charter's try (2026-12-08): ``--chart-difficulties easy`` printed Expert's gem count as
    the chart's and rated song.ini's diff_drums by Expert's density."""
    from drumtx.chart import difficulty_tier, write_chart

    onsets = _rock_beat(8)
    stats = write_chart(tmp_path / "c", onsets, TempoMap.constant(120.0, RESOLUTION), 17.0, "x", difficulties=("easy",))
    expert, easy = sum(stats.gems.values()), stats.difficulties["easy"]
    assert stats.written() == easy == 8 * 4 and expert > 3 * easy
    assert stats.summary() == f"{expert} gems on Expert, not written (8 ghost); Easy {easy}"  # Expert's ghosts
    ini = (tmp_path / "c" / "song.ini").read_text(encoding="utf-8")
    assert f"diff_drums = {difficulty_tier(easy, 17.0)}" in ini and difficulty_tier(easy, 17.0) < difficulty_tier(expert, 17.0)
    both = write_chart(tmp_path / "d", onsets, TempoMap.constant(120.0, RESOLUTION), 17.0, "x")
    assert both.written() == expert and not both.summary().startswith(f"{expert} gems on")
    # Expert's ghosts are not in an Easy-only chart, so neither is the dynamics switch (a re-check)
    texts = {m.text for m in mido.MidiFile(tmp_path / "c" / "notes.mid").tracks[1] if m.type == "text"}
    assert "[ENABLE_CHART_DYNAMICS]" not in texts
    texts = {m.text for m in mido.MidiFile(tmp_path / "d" / "notes.mid").tracks[1] if m.type == "text"}
    assert "[ENABLE_CHART_DYNAMICS]" in texts


SYMBOLS = {"K": "kick", "S": "snare_head", "H": "hihat_closed", "R": "ride", "C": "crash",
           "1": "tom_high", "2": "tom_mid", "3": "tom_floor"}


def _pattern(rows: dict[str, str], bpm: float = 120.0, steps: int = 4, bars: int = 2) -> dict[str, dict[int, str]]:
    """A drum part written one character a step (``x`` a hit, ``g`` a soft one at velocity 25,
    ``.`` none; ``|`` ignored), repeated ``bars`` times from tick 0, charted; returns
    :func:`_levels`."""
    beat, onsets, n = 60.0 / bpm, [], 0
    for sym, row in rows.items():
        row = row.replace("|", "")
        n = len(row)
        for b in range(bars):
            for i, c in enumerate(row):
                if c != ".":
                    onsets.append(Onset((b * n + i) * beat / steps, SYMBOLS[sym], 25 if c == "g" else 100))
    return _levels(chart_midi(onsets, TempoMap.constant(bpm, RESOLUTION), bars * n / steps * beat + 2, "x"))


def _lane(level: dict[int, str], lane: str) -> list[int]:
    return sorted(t for t, g in level.items() if lane in g.upper())


# A charter's try of the first rules (2026-12-07), each fault a test:

def test_a_ridden_crash_keeps_the_snares_and_its_pulse_on_medium():
    """Crashes ridden in 8ths wiped out Medium: each crash, gone already, still cleared the beat
    after it (31 of 32 crashes and every snare lost)."""
    lv = _pattern({"C": "x.x.x.x.x.x.x.x.", "S": "....x.......x...", "K": "x.......x.x....."})
    assert len(_lane(lv["medium"], "R")) == 4  # every snare
    assert len(_lane(lv["medium"], "G")) >= 14  # the 8th-note crash line, but the beat after the section crash
    assert _lane(lv["medium"], "K") == _lane(lv["expert"], "K")  # kicks on the line's 8ths stay


def test_a_floor_tom_groove_is_no_fill_but_a_short_tom_fill_is():
    """Any beat of toms and no cymbal was a fill, so a floor-tom groove lost every kick below Expert."""
    groove = _pattern({"3": "x.x.x.x.x.x.x.x.", "S": "....x.......x...", "K": "x.....x.x......."})
    for level in ("hard", "medium"):
        assert _lane(groove[level], "K") == _lane(groove["expert"], "K"), level
    # hats, then a fill from the "and" of 4 with a kick under it, into a crash and kick
    fill = _pattern({"H": "x.x.x.x.x.x.x...|........", "2": "..............xx|........",
                     "C": "................|x.......", "K": "x.......x.....x.|x......."}, bars=1)
    fill_kick = 14 * S16
    assert fill_kick in _lane(fill["expert"], "K")
    assert fill_kick not in _lane(fill["hard"], "K") and 16 * S16 in _lane(fill["hard"], "K")


def test_hard_never_asks_for_three_hands_or_a_32nd_fill_across_the_lanes():
    lv = _pattern({"K": "x...", "S": "x...", "H": "x...", "C": "x..."}, steps=4, bars=4)
    assert all(len(g.replace("K", "")) <= 2 for g in lv["hard"].values())
    roll = _pattern({"S": "x.x.x.x.", "1": ".x.x.x.x"}, steps=8, bars=2)  # 32nds, alternating lanes
    assert len(roll["expert"]) == 16
    assert np.all(np.diff(sorted(roll["hard"])) >= S16)  # 16ths at most


def test_easy_keeps_a_hand_on_two_and_four():
    """The kick won over the hi-hat on every beat: four on the floor with hats on the beat was kick-only."""
    lv = _pattern({"K": "xxxx", "H": "xxxx"}, bpm=124, steps=1)
    assert [lv["easy"][b * RESOLUTION] for b in range(4)] == ["K", "Y", "K", "Y"]


def test_soft_offbeat_hats_stay_below_expert_where_ghost_snares_go():
    lv = _pattern({"H": "xgxgxgxg", "S": "..x..g.x", "K": "x...x..."}, steps=2)
    assert len(_lane(lv["hard"], "Y")) == 16  # every hat, soft or not
    assert len(_lane(lv["hard"], "R")) == 4  # the ghost snares gone


def test_a_section_crash_wins_over_the_snare():
    lv = _pattern({"C": "x...............", "S": "x...x.......x...", "K": "x.......x.......", "H": "..x.x.x.x.x.x.x."})
    assert lv["easy"][0] == "G" and "G" in lv["medium"][0]


def test_medium_keeps_a_shuffle_swung_and_no_kick_between_the_ride_notes():
    shuffle = _pattern({"H": "x.xx.xx.xx.x", "S": "...x.....x..", "K": "x.....x....."}, bpm=100, steps=3)
    assert len(_lane(shuffle["medium"], "Y")) == len(_lane(shuffle["expert"], "Y"))  # swung 8ths stay
    # and at 112 and 150 bpm, where the short third of the swing (0.179 / 0.133 s) is under the
    # 0.18 s of one hand's 8ths (a charter's try, 2026-12-08: quarter notes), up to ~165 bpm like 8ths
    for bpm in (112, 150):
        shuffle = _pattern({"H": "x.xx.xx.xx.x", "S": "...x.....x..", "K": "x.....x....."}, bpm=bpm, steps=3)
        assert len(_lane(shuffle["medium"], "Y")) == len(_lane(shuffle["expert"], "Y")), bpm
    fast = _pattern({"H": "x.xx.xx.xx.x", "S": "...x.....x..", "K": "x.....x....."}, bpm=200, steps=3)
    assert len(_lane(fast["medium"], "Y")) < len(_lane(fast["expert"], "Y"))  # 0.15 s 8ths: thinned
    ride = _pattern({"R": "x.x.x.x.", "K": ".x.x...x", "S": "..x...x."}, bpm=100, steps=2)
    # every kick fell between the ride's quarter notes, but the last, with no ride after it
    assert _lane(ride["medium"], "K") == [7 * RESOLUTION + RESOLUTION // 2]
    assert len(_lane(ride["medium"], "R")) == 4  # the snares with the ride stay


# A second charter's re-check (2026-12-07), each fault a test:

def test_disco_with_hats_only_on_the_ands_keeps_its_kicks_and_snares():
    """Kicks and snares on the beat were taken as "between" off-beat hats: Medium kept the hats
    alone and Easy was empty."""
    lv = _pattern({"H": "..x...x...x...x.", "K": "x...x...x...x...", "S": "....x.......x..."})
    assert _lane(lv["medium"], "K") == _lane(lv["expert"], "K")
    assert _lane(lv["medium"], "R") == _lane(lv["expert"], "R")
    assert [lv["easy"][b * RESOLUTION] for b in range(4)] == ["K", "R", "K", "R"]


def test_a_fill_survives_medium_where_the_time_keeping_line_stops():
    """Snares and kicks within a beat of the last hat or of the landing crash were dropped, so a
    16th snare fill into a crash vanished from Medium."""
    lv = _pattern({"H": "x.x.x.x.x.x.....|................", "S": "....x.......xxxx|................",
                   "C": "................|x...............", "K": "x.......x.......|x..............."},
                  bpm=130, bars=1)
    assert [t for t in _lane(lv["medium"], "R") if t >= 3 * RESOLUTION] == [3 * RESOLUTION, 3 * RESOLUTION + 240]


def test_a_one_bar_triplet_fill_loses_its_kicks_and_a_tom_groove_keeps_time_on_easy():
    fill = _pattern({"H": "x.xx.xx.xx.x|............|............", "S": "............|x..x..x..x..|............",
                     "3": "............|.x..x..x..x.|............", "K": "x.....x.....|..x..x..x..x|x...........",
                     "C": "............|............|x..........."}, bpm=100, steps=3, bars=1)
    assert [t for t in _lane(fill["expert"], "K") if 4 * RESOLUTION <= t < 8 * RESOLUTION]
    for level in ("hard", "medium", "easy"):
        assert not [t for t in _lane(fill[level], "K") if 4 * RESOLUTION <= t < 8 * RESOLUTION], level
    tribal = _pattern({"3": "x...x...x...x...", "2": "..x...x...x...x.", "K": "x...x...x...x..."}, bars=4)
    easy = [tribal["easy"][b * RESOLUTION] for b in range(4, 8)]
    assert easy == ["K", "G", "K", "G"]  # the kick on 1 and 3, the groove's floor tom on 2 and 4


def test_hard_leaves_room_before_a_double_crash():
    lv = _pattern({"H": "x.x.x.x.x.x.....|................", "S": "....x.......xxxx|................",
                   "C": "................|x...............", "R": "................|x...............",
                   "K": "x.......x.......|x..............."}, bpm=130, bars=1)
    crash = 4 * RESOLUTION
    assert crash - S16 in _lane(lv["expert"], "R")
    assert not [t for t, g in lv["hard"].items() if crash - RESOLUTION // 2 < t < crash and g.upper() != "K"]


def test_the_summary_counts_bars_a_difficulty_leaves_empty_where_expert_plays():
    """Four bars of the rock beat, then a bar of ghost snares alone: every difficulty below Expert
    drops the ghosts, so that bar is empty there, and the command's line says so (a bar empty on
    Easy is what a charter reviews first)."""
    beat = 0.5
    ghosts = [Onset(16 * beat + k * beat / 2, "snare_head", 12) for k in range(8)]
    stats = ChartStats()
    chart_midi(_rock_beat() + ghosts, TempoMap.constant(120.0, RESOLUTION), 12.0, "x", stats)
    assert stats.bars == 5
    assert stats.empty_bars == {"hard": [5], "medium": [5], "easy": [5]}  # bars numbered from 1
    assert stats.summary().endswith("; Hard 48 (1 of 5 bars empty: 5), Medium 48 (1 of 5 bars empty: 5), "
                                    "Easy 16 (1 of 5 bars empty: 5)")
    many = ChartStats(gems={"kick": 1}, difficulties={"expert": 1, "easy": 0}, empty_bars={"easy": list(range(1, 9))},
                      bars=8)
    assert many.summary() == "1 gems; Easy 0 (8 of 8 bars empty: 1, 2, 3, 4, 5, …)"
    stats = ChartStats()
    chart_midi(_rock_beat(), TempoMap.constant(120.0, RESOLUTION), 9.0, "x", stats)
    assert stats.bars == 4 and not any(stats.empty_bars.values())

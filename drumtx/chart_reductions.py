"""Chart difficulties below Expert: Hard, Medium and Easy reduced from the Expert gems by rule.

A chart with Expert alone shuts out most players; charters reduce Expert by hand. drumtx
reduces it by what a Rock Band Network / C3 drum review checks (the C3 "Drum Review Process"
checklist, docs.c3universe.com/rbndocs): Hard scaled back from Expert, with no kicks in fills;
Medium with no kicks or snares between the time-keeping notes, never three limbs at once,
rolls playable with one hand and space after crashes; Easy with no gem paired with a kick and
two limbs at most. The amounts (grids, gaps in beats) are settings in
``conf/outputs/default.yaml`` (``chart_reductions``), documented there.

Every difficulty is a subset of the one above it: gems only ever leave, never move, so the
same ticks keep the same lanes and tom or cymbal kinds, and one set of tom markers serves all
four. Where a rule must choose, gems stay by where they fall in the bar (a bar's downbeat, a
beat, an 8th, a 16th) and by their part (:data:`HAND_PRIORITY`).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from drumtx.output_settings import output_settings

#: The difficulties a chart can hold, hardest first, and the ``PART DRUMS`` note of each one's
#: kick lane (red, yellow, blue and green follow it): Expert 96, Hard 84, Medium 72, Easy 60.
DIFFICULTIES: dict[str, int] = {"expert": 96, "hard": 84, "medium": 72, "easy": 60}

#: Which hand part stays where a rule keeps fewer, first first: the backbeat's snare, the crash
#: that marks a section, a fill's toms, then the time-keeping hi-hat or ride (the part the
#: others imply). Where one limb is all a tick may have, the kick gives way to the first three.
HAND_PRIORITY = ("red", "crash", "tom", "keeping")

_GAPS = ("kick_gap", "lane_gap", "hands_gap", "crash_space")


@dataclass(frozen=True)
class Reduction:
    """One difficulty's rules (``chart_reductions.<difficulty>`` in ``conf/outputs/default.yaml``).

    Args:
        grid: steps per beat every gem must sit on (1: beats only); 0: any tick.
        kick_snare_grid: steps per beat the kick and snare must sit on ("no kicks or snares
            between the time-keeping notes"); 0: any tick.
        ghosts: keep ghost notes (chart velocity 1).
        fill_kicks: keep the kicks of a fill beat (a beat with toms and no cymbal).
        limbs: most limbs at one tick (3: kick and both hands; 2: never three limbs at once;
            1: no gem paired with a kick, one hand at a time).
        kick_gap: beats between two kicks at least.
        lane_gap: beats between two gems of one hand lane at least.
        hands_gap: beats between two ticks with hand gems at least ("rolls playable with one hand").
        crash_space: beats after a crash with no other hand gem ("space to reset").
    """

    grid: int
    kick_snare_grid: int
    ghosts: bool
    fill_kicks: bool
    limbs: int
    kick_gap: float
    lane_gap: float
    hands_gap: float
    crash_space: float

    @classmethod
    def from_settings(cls, name: str, settings: Mapping, resolution: int = 480) -> Reduction:
        """The rules of one difficulty's settings.

        Raises:
            ValueError: a key missing or unknown, or a value out of range, in one line naming it.
        """
        known = {f.name for f in fields(cls)}
        unknown, missing = sorted(set(settings) - known), sorted(known - set(settings))
        if unknown or missing:
            said = [f"unknown {', '.join(unknown)}"] * bool(unknown) + [f"missing {', '.join(missing)}"] * bool(missing)
            raise ValueError(f"chart_reductions.{name}: {'; '.join(said)}")
        try:
            r = cls(grid=int(settings["grid"]), kick_snare_grid=int(settings["kick_snare_grid"]),
                    ghosts=bool(settings["ghosts"]), fill_kicks=bool(settings["fill_kicks"]),
                    limbs=int(settings["limbs"]), **{k: float(settings[k]) for k in _GAPS})
        except (TypeError, ValueError):
            raise ValueError(f"chart_reductions.{name}: grids and limbs are whole numbers, gaps are beats") from None
        bad = [k for k in ("grid", "kick_snare_grid") if getattr(r, k) < 0 or (getattr(r, k) and resolution % getattr(r, k))]
        bad += [k for k in _GAPS if getattr(r, k) < 0]
        bad += ["limbs"] * (r.limbs not in (1, 2, 3))
        if bad:
            raise ValueError(f"chart_reductions.{name}: out of range: {', '.join(bad)} (a grid is 0 or divides "
                             f"{resolution}, a gap is 0 beats or more, limbs is 1, 2 or 3)")
        return r


def reductions() -> dict[str, Reduction]:
    """Hard, Medium and Easy's rules, from ``conf/outputs/default.yaml``."""
    table = output_settings()["chart_reductions"]
    return {name: Reduction.from_settings(name, table[name]) for name in ("hard", "medium", "easy")}


def gem_part(lane: str, tom: bool) -> str:
    """``kick``, ``red``, ``tom``, ``crash`` (a green cymbal) or ``keeping`` (a yellow or blue cymbal)."""
    if lane in ("kick", "red"):
        return lane
    if tom:
        return "tom"
    return "crash" if lane == "green" else "keeping"


def metric_strength(ticks: Sequence[int] | np.ndarray, resolution: int, bar_starts: Sequence[bool]) -> np.ndarray:
    """Where each tick falls in the bar, strongest highest: 5 a bar's downbeat, 4 a beat, 3 an
    8th, 2 a 16th, 1 anything else (triplets, 32nds).

    Args:
        ticks: (n,) absolute ticks.
        resolution: ticks per beat.
        bar_starts: per beat from tick 0, whether a bar starts there
            (:meth:`drumtx.tempo.TempoMap.bar_starts`); beats past its end are plain beats.

    Returns:
        (n,) int64.
    """
    ticks = np.asarray(ticks, dtype=np.int64)
    out = np.ones(ticks.shape, dtype=np.int64)
    out[ticks % (resolution // 4) == 0] = 2
    out[ticks % (resolution // 2) == 0] = 3
    out[ticks % resolution == 0] = 4
    downbeats = np.flatnonzero(np.asarray(bar_starts, dtype=bool)) * resolution
    out[np.isin(ticks, downbeats)] = 5
    return out


def reduce_gems(
    ticks: Sequence[int],
    lanes: Sequence[str],
    toms: Sequence[bool],
    velocities: Sequence[int],
    rule: Reduction,
    resolution: int,
    bar_starts: Sequence[bool],
    ghost_velocity: int = 1,
) -> np.ndarray:
    """Which gems a difficulty keeps of the difficulty above it, by ``rule``.

    In order: ghost notes, gems off the difficulty's grids and kicks in fills leave; then each
    tick keeps at most ``rule.limbs`` limbs (hands by :data:`HAND_PRIORITY`); then gems closer
    than a gap to one kept of their kind leave, the strongest in the bar kept first; then hand
    gems in the space after a crash leave.

    Args:
        ticks, lanes, toms, velocities: (n,) each: the gems' ticks, lanes (``kick``, ``red``,
            ``yellow``, ``blue``, ``green``), tom (True) or cymbal, and chart velocities.
        rule: the difficulty's rules.
        resolution: ticks per beat.
        bar_starts: per beat, whether a bar starts there.
        ghost_velocity: the chart velocity of a ghost note.

    Returns:
        (n,) bool, True where the gem stays.
    """
    ticks = np.asarray(ticks, dtype=np.int64)
    keep = np.ones(ticks.size, dtype=bool)
    if ticks.size == 0:
        return keep
    parts = np.array([gem_part(lane, bool(tom)) for lane, tom in zip(lanes, toms, strict=True)])
    lanes_a = np.asarray(lanes)
    is_kick = parts == "kick"
    rank = np.array([HAND_PRIORITY.index(p) if p != "kick" else len(HAND_PRIORITY) for p in parts])

    if not rule.ghosts:
        keep &= np.asarray(velocities) != ghost_velocity
    if rule.grid:
        keep &= ticks % (resolution // rule.grid) == 0
    if rule.kick_snare_grid:
        keep &= ~((is_kick | (parts == "red")) & (ticks % (resolution // rule.kick_snare_grid) != 0))
    if not rule.fill_kicks:
        beat = ticks // resolution
        fill_beats = np.setdiff1d(beat[parts == "tom"], beat[(parts == "keeping") | (parts == "crash")])
        keep &= ~(is_kick & np.isin(beat, fill_beats))

    if rule.limbs < 3:
        at_tick: dict[int, list[int]] = {}
        for i in np.flatnonzero(keep):
            at_tick.setdefault(int(ticks[i]), []).append(int(i))
        for at in at_tick.values():
            hands = sorted((i for i in at if not is_kick[i]), key=lambda i: rank[i])
            kicks = [i for i in at if is_kick[i]]
            if rule.limbs == 2:  # the kick and one hand, or both hands
                stay = hands[:1] + kicks if kicks else hands[:2]
            else:  # one limb: a snare, crash or tom over the kick, the kick over a time-keeping cymbal
                stay = hands[:1]
                if kicks and (not stay or parts[stay[0]] == "keeping"):
                    stay = kicks
            keep[[i for i in at if i not in stay]] = False

    order = np.lexsort((ticks, rank, -metric_strength(ticks, resolution, bar_starts)))

    def thin(members: np.ndarray, gap_beats: float) -> None:
        """Of ``members``, each stays unless a tick already kept is closer than the gap (a gem at
        a kept tick stays: hands playing together are no gap)."""
        gap = gap_beats * resolution
        if gap <= 0:
            return
        taken: list[int] = []  # the distinct ticks kept, sorted
        for i in order:
            if not (members[i] and keep[i]):
                continue
            t = int(ticks[i])
            k = bisect.bisect_left(taken, t)
            if k < len(taken) and taken[k] == t:
                continue
            if (k and t - taken[k - 1] < gap) or (k < len(taken) and taken[k] - t < gap):
                keep[i] = False
            else:
                taken.insert(k, t)

    thin(is_kick, rule.kick_gap)
    for lane in ("red", "yellow", "blue", "green"):
        thin(~is_kick & (lanes_a == lane), rule.lane_gap)
    thin(~is_kick, rule.hands_gap)
    if rule.crash_space > 0:
        for c in np.flatnonzero(keep & (parts == "crash")):
            keep[keep & ~is_kick & (ticks > ticks[c]) & (ticks < ticks[c] + rule.crash_space * resolution)] = False
    return keep

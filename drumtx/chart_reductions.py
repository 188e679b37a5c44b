"""Chart difficulties below Expert: Hard, Medium and Easy reduced from the Expert gems by rule.

A chart with Expert alone shuts out most players; charters reduce Expert by hand. drumtx
reduces it by what a Rock Band Network / C3 drum review checks (the C3 "Drum Review Process"
checklist, docs.c3universe.com/rbndocs): Hard scaled back from Expert, with no kicks in fills;
Medium with no kicks or snares between the time-keeping notes, never three limbs at once,
rolls playable with one hand and space after crashes; Easy with no gem paired with a kick and
two limbs at most. The amounts (grids, gaps in beats and seconds) are settings in
``conf/outputs/default.yaml`` (``chart_reductions``), documented there. Two charters' tries
(2026-12-07) shaped the rules; each of their findings is a test in
``tests/test_chart_reductions.py``.

Every difficulty is a subset of the one above it: gems only ever leave, never move, so the
same ticks keep the same lanes and tom or cymbal kinds, and one set of tom markers serves all
four. Each gem's part is read once from Expert (:func:`gem_parts`); where a rule must choose,
gems stay by part (:data:`HAND_PRIORITY`), then by where they fall in the bar (a bar's
downbeat, a beat, an 8th, a 16th: :func:`metric_strength`).
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

#: Which hand part stays where a rule keeps fewer, first first: a crash that marks a section
#: (no crash in the beat before it), the backbeat's snare, a fill's toms, then the time-keeping
#: line: hi-hat, ride, a crash ridden like them (a crash with another in the beat before it) or
#: a tom groove's toms. Where one limb is all a tick may have, the kick gives way to the first
#: three, and to the time-keeping line on a bar's 2nd and 4th beats.
HAND_PRIORITY = ("crash", "red", "tom", "keeping")

_GAPS = ("kick_gap", "kick_gap_s", "lane_gap", "lane_gap_s", "keeping_gap", "keeping_gap_s", "hands_gap", "hands_gap_s",
         "crash_space", "double_crash_space")
_FLAGS = ("ghosts", "fill_kicks", "on_keeping")


@dataclass(frozen=True)
class Reduction:
    """One difficulty's rules (``chart_reductions.<difficulty>`` in ``conf/outputs/default.yaml``).

    Args:
        grid: steps per beat every gem must sit on (1: beats only); 0: any tick.
        kick_snare_grid: steps per beat the kick and snare must sit on; 0: any tick. A grid of 2
            (8ths) takes the swung 8th (the last 8th-note triplet) as an 8th.
        on_keeping: a kick or snare off the beat leaves when it falls between two notes of the
            time-keeping line (or a section crash) at most a beat apart ("no kicks or snares
            between time-keeping notes"; on the beat, or where the line stops, as in a fill, it
            stays).
        ghosts: keep ghost notes (chart velocity 1) of the snare and toms (soft hi-hats and rides
            are the time-keeping line's texture and always stay).
        fill_kicks: keep the kicks of a fill (:func:`gem_parts`).
        limbs: most limbs at one tick (3: kick and both hands; 2: never three limbs at once;
            1: no gem paired with a kick). Hands are never more than two.
        kick_gap, kick_gap_s: beats and seconds between two kicks at least (both hold).
        lane_gap, lane_gap_s: beats and seconds between two gems of one hand lane at least.
        keeping_gap, keeping_gap_s: beats and seconds between two notes of the time-keeping
            line at least (Hard: 16th-note hi-hats become 8ths at ordinary tempos).
        hands_gap, hands_gap_s: beats and seconds between two ticks with hand gems at least
            ("rolls playable with one hand").
        crash_space: beats after a section crash with no other hand gem ("space to reset").
        double_crash_space: beats before two cymbals struck together with no other hand gem
            ("enough space before double crash hits").
    """

    grid: int
    kick_snare_grid: int
    on_keeping: bool
    ghosts: bool
    fill_kicks: bool
    limbs: int
    kick_gap: float
    kick_gap_s: float
    lane_gap: float
    lane_gap_s: float
    keeping_gap: float
    keeping_gap_s: float
    hands_gap: float
    hands_gap_s: float
    crash_space: float
    double_crash_space: float

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
                    limbs=int(settings["limbs"]), **{k: bool(settings[k]) for k in _FLAGS},
                    **{k: float(settings[k]) for k in _GAPS})
        except (TypeError, ValueError):
            raise ValueError(f"chart_reductions.{name}: grids and limbs are whole numbers, gaps are beats "
                             "or seconds") from None
        bad = [k for k in ("grid", "kick_snare_grid") if getattr(r, k) < 0 or (getattr(r, k) and resolution % getattr(r, k))]
        bad += [k for k in _GAPS if getattr(r, k) < 0]
        bad += ["limbs"] * (r.limbs not in (1, 2, 3))
        if bad:
            raise ValueError(f"chart_reductions.{name}: out of range: {', '.join(bad)} (a grid is 0 or divides "
                             f"{resolution}, a gap is 0 or more, limbs is 1, 2 or 3)")
        return r


def reductions() -> dict[str, Reduction]:
    """Hard, Medium and Easy's rules, from ``conf/outputs/default.yaml``."""
    table = output_settings()["chart_reductions"]
    return {name: Reduction.from_settings(name, table[name]) for name in ("hard", "medium", "easy")}


def fill_beats() -> float:
    """The longest fill (beats), ``chart_reductions.fill_beats``: toms for longer with no cymbal
    are a tom groove (:func:`gem_parts`)."""
    return float(output_settings()["chart_reductions"]["fill_beats"])


def gem_parts(ticks: Sequence[int] | np.ndarray, lanes: Sequence[str], toms: Sequence[bool], resolution: int,
              longest_fill: float) -> np.ndarray:
    """Each gem's part in the music, read from the Expert chart (whatever a difficulty keeps):

    - ``kick``, or ``fill_kick``: a kick in a fill, from the fill's first tom (after the last
      cymbal) up to the next cymbal, a stretch at most ``longest_fill`` beats long;
    - ``red``; ``tom``: a fill's tom;
    - ``crash``: a green cymbal with no other crash in the beat before it (a section's crash);
    - ``keeping``: the time-keeping line: hi-hat, ride, a crash ridden (another in the beat
      before it); ``groove``: a tom groove's toms (toms for longer than a fill with no cymbal),
      which keep the time as that line does.

    Args:
        ticks, lanes, toms: (n,) each: the Expert gems' ticks, lanes and tom (True) or cymbal.
        resolution: ticks per beat.
        longest_fill: beats.

    Returns:
        (n,) object array of part names.
    """
    ticks = np.asarray(ticks, dtype=np.int64)
    parts = np.array(["kick" if lane == "kick" else "red" if lane == "red" else "tom" if tom else
                      "crash" if lane == "green" else "keeping" for lane, tom in zip(lanes, toms, strict=True)],
                     dtype=object)
    crash = np.flatnonzero(parts == "crash")
    crash_ticks = np.unique(ticks[crash])
    k = np.searchsorted(crash_ticks, ticks[crash])  # the crash tick before each: crash_ticks[k - 1]
    ridden = (k > 0) & (ticks[crash] - crash_ticks[np.maximum(k - 1, 0)] <= resolution)
    parts[crash[ridden]] = "keeping"
    cymbals = np.unique(ticks[(parts == "keeping") | (parts == "crash")])
    tom_ticks = np.unique(ticks[parts == "tom"])
    stretch = np.searchsorted(cymbals, tom_ticks, side="right")  # toms after the same cymbal share one
    for s in np.unique(stretch):
        first, last = tom_ticks[stretch == s].min(), tom_ticks[stretch == s].max()
        end = cymbals[s] if s < cymbals.size else last + resolution
        within = (ticks >= first) & (ticks < end)
        if end - first <= longest_fill * resolution:
            parts[within & (parts == "kick")] = "fill_kick"
        else:
            parts[within & (parts == "tom")] = "groove"
    return parts


def metric_strength(ticks: Sequence[int] | np.ndarray, resolution: int, bar_starts: Sequence[bool]) -> np.ndarray:
    """Where each tick falls in the bar, strongest highest: 5 a bar's downbeat, 4 a beat, 3 an
    8th (the swung 8th, 2/3 of a beat, too), 2 a 16th, 1 anything else (triplets, 32nds).

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
    out[_on_grid(ticks, 2, resolution)] = 3
    out[ticks % resolution == 0] = 4
    downbeats = np.flatnonzero(np.asarray(bar_starts, dtype=bool)) * resolution
    out[np.isin(ticks, downbeats)] = 5
    return out


def _on_grid(ticks: np.ndarray, steps: int, resolution: int) -> np.ndarray:
    """Whether each tick is on a grid of ``steps`` per beat (8ths: the swung 8th too)."""
    on = ticks % (resolution // steps) == 0
    if steps == 2 and resolution % 3 == 0:
        on |= ticks % resolution == 2 * resolution // 3
    return on


def _swing_stretch(a: int, b: int, resolution: int) -> float:
    """How much longer a gap between ticks ``a`` and ``b`` counts against a gap in seconds: 1.5
    from a swung 8th (2/3 of a beat) to the next beat, the short third of a swing pair, which
    the hand plays as the 8th it stands for; else 1. (A charter's try, 2026-12-08: a 112 bpm
    shuffle's swung hats, 0.179 s apart there, fell under Medium's 0.18 s and became quarters.)"""
    lo, hi = min(a, b), max(a, b)
    swung = resolution % 3 == 0 and hi - lo == resolution // 3 and hi % resolution == 0
    return 1.5 if swung else 1.0


def _beat_in_bar(ticks: np.ndarray, resolution: int, bar_starts: Sequence[bool]) -> np.ndarray:
    """Each tick's beat counted from its bar's downbeat (0 the downbeat; bars from tick 0 where
    ``bar_starts`` has none before it)."""
    beat = ticks // resolution
    starts = np.flatnonzero(np.asarray(bar_starts, dtype=bool))
    if starts.size == 0:
        return beat % 4
    k = np.searchsorted(starts, beat, side="right") - 1
    last = np.where(k >= 0, starts[np.clip(k, 0, None)], 0)
    return beat - last


def _between_line(ticks: np.ndarray, line: np.ndarray, resolution: int) -> np.ndarray:
    """Whether each tick falls between two notes of the time-keeping line (``line``: sorted
    ticks) at most a beat apart: inside the running line, not where it stops (a fill, a break)."""
    if line.size == 0:
        return np.zeros(ticks.size, dtype=bool)
    k = np.searchsorted(line, ticks, side="right")  # line[k - 1] <= tick < line[k]
    prev = line[np.clip(k - 1, 0, line.size - 1)]
    nxt = line[np.clip(k, 0, line.size - 1)]
    return (k > 0) & (k < line.size) & (prev < ticks) & (nxt - prev <= resolution)


def reduce_gems(
    ticks: Sequence[int],
    lanes: Sequence[str],
    parts: Sequence[str],
    velocities: Sequence[int],
    seconds: Sequence[float],
    rule: Reduction,
    resolution: int,
    bar_starts: Sequence[bool],
    ghost_velocity: int = 1,
) -> np.ndarray:
    """Which gems a difficulty keeps of the difficulty above it, by ``rule``.

    In order: ghost notes, gems off the difficulty's grids, kicks and snares away from the
    time-keeping line and kicks in fills leave; then each tick keeps at most ``rule.limbs``
    limbs (hands by :data:`HAND_PRIORITY`); then gems closer than a gap (in beats or seconds)
    to one kept of their kind leave, kept first by :data:`HAND_PRIORITY` (a snare over the
    hi-hat beside it), then by their strength in the bar; then hand gems in the space after a
    section crash, and before two cymbals struck together, leave.

    Args:
        ticks, lanes, parts, velocities, seconds: (n,) each: the gems' ticks, lanes (``kick``,
            ``red``, ``yellow``, ``blue``, ``green``), parts (:func:`gem_parts`, of the Expert
            chart: a crash's role is the music's, whatever a difficulty keeps), chart velocities
            and times (s, for the gaps in seconds).
        rule: the difficulty's rules.
        resolution: ticks per beat.
        bar_starts: per beat, whether a bar starts there.
        ghost_velocity: the chart velocity of a ghost note.

    Returns:
        (n,) bool, True where the gem stays.
    """
    ticks = np.asarray(ticks, dtype=np.int64)
    seconds = np.asarray(seconds, dtype=np.float64)
    keep = np.ones(ticks.size, dtype=bool)
    if ticks.size == 0:
        return keep
    parts = np.asarray(parts, dtype=object)
    lanes_a = np.asarray(lanes)
    is_kick = (parts == "kick") | (parts == "fill_kick")
    kick_snare = is_kick | (parts == "red")
    line_part = (parts == "keeping") | (parts == "groove")  # what keeps the time
    rank = np.array([len(HAND_PRIORITY) if k else HAND_PRIORITY.index("keeping" if p == "groove" else p)
                     for p, k in zip(parts, is_kick, strict=True)])
    strength = metric_strength(ticks, resolution, bar_starts)

    if not rule.ghosts:
        keep &= ~(((parts == "red") | (parts == "tom")) & (np.asarray(velocities) == ghost_velocity))
    if rule.grid:
        keep &= _on_grid(ticks, rule.grid, resolution)
    if rule.kick_snare_grid:
        keep &= ~(kick_snare & ~_on_grid(ticks, rule.kick_snare_grid, resolution))
    if rule.on_keeping:
        line = np.unique(ticks[keep & (line_part | (parts == "crash"))])
        keep &= ~(kick_snare & (strength < 4) & _between_line(ticks, line, resolution))
    if not rule.fill_kicks:
        keep &= parts != "fill_kick"

    position = _beat_in_bar(ticks, resolution, bar_starts)
    at_tick: dict[int, list[int]] = {}
    for i in np.flatnonzero(keep):
        at_tick.setdefault(int(ticks[i]), []).append(int(i))
    for at in at_tick.values():
        hands = sorted((i for i in at if not is_kick[i]), key=lambda i: rank[i])
        kicks = [i for i in at if is_kick[i]]
        if rule.limbs == 3:  # the kick and both hands
            stay = hands[:2] + kicks
        elif rule.limbs == 2:  # the kick and one hand, or both hands
            stay = hands[:1] + kicks if kicks else hands[:2]
        else:  # one limb: the kick over the time-keeping line (a tom groove's too) on a bar's 1st and 3rd beats
            stay = hands[:1]
            if kicks and (not stay or (line_part[stay[0]] and position[stay[0]] % 2 == 0)):
                stay = kicks
        keep[[i for i in at if i not in stay]] = False

    order = np.lexsort((ticks, -strength, rank))

    def thin(members: np.ndarray, gap_beats: float, gap_s: float) -> None:
        """Of ``members``, each stays unless a tick already kept is closer than the gap in
        beats or in seconds (a gem at a kept tick stays: hands playing together are no gap)."""
        gap = gap_beats * resolution
        if gap <= 0 and gap_s <= 0:
            return
        taken: list[int] = []  # the distinct ticks kept, sorted
        when: dict[int, float] = {}
        for i in order:
            if not (members[i] and keep[i]):
                continue
            t = int(ticks[i])
            k = bisect.bisect_left(taken, t)
            if k < len(taken) and taken[k] == t:
                continue
            near = [taken[j] for j in (k - 1, k) if 0 <= j < len(taken)]
            if any(abs(u - t) < gap or abs(when[u] - seconds[i]) * _swing_stretch(u, t, resolution) < gap_s
                   for u in near):
                keep[i] = False
            else:
                taken.insert(k, t)
                when[t] = float(seconds[i])

    thin(is_kick, rule.kick_gap, rule.kick_gap_s)
    thin(line_part, rule.keeping_gap, rule.keeping_gap_s)
    for lane in ("red", "yellow", "blue", "green"):
        thin(~is_kick & (lanes_a == lane), rule.lane_gap, rule.lane_gap_s)
    thin(~is_kick, rule.hands_gap, rule.hands_gap_s)
    if rule.crash_space > 0:
        for c in np.flatnonzero(parts == "crash"):
            if keep[c]:  # (a crash already gone clears nothing)
                keep[keep & ~is_kick & (ticks > ticks[c]) & (ticks < ticks[c] + rule.crash_space * resolution)] = False
    if rule.double_crash_space > 0:
        hit, count = np.unique(ticks[keep & ((parts == "keeping") | (parts == "crash"))], return_counts=True)
        for t in hit[count >= 2]:
            keep[keep & ~is_kick & (ticks < t) & (ticks > t - rule.double_crash_space * resolution)] = False
    return keep

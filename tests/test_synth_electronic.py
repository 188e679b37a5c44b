"""Electronic kits synthesised from a seed (drumtx.synth.electronic, conf/kits/electronic.yaml):
written once where the kit table says, played by the sample player like any SFZ kit, labels on
their attacks, pieces where a drum machine has them, the open hi-hat choked."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from drumtx.synth import electronic
from drumtx.synth.check import Agreement, onset_agreement, reference_grooves
from drumtx.synth.kits import KitError, describe_kit, generate_missing, load_kits, select_kits
from drumtx.synth.render import KitRenderer, Note


@pytest.fixture
def kits(tmp_path, monkeypatch):
    monkeypatch.setenv("DRUMTX_GENERATED_KITS_DIR", str(tmp_path / "kits"))
    return load_kits()


def test_a_kit_is_written_on_first_use_once_and_again_when_stale(kits, tmp_path, monkeypatch):
    kit = kits["gen_e01"]
    assert kit.kind == "electronic" and kit.generator_seed == 1 and not kit.available
    chosen, missing = select_kits(kits, ["gen_e01"], "train_kits")
    assert [k.name for k in chosen] == ["gen_e01"] and not missing
    folder = tmp_path / "kits" / "gen_e01"
    meta = json.loads((folder / "kit.json").read_text())
    assert meta["version"] == electronic.VERSION and meta["params"]["seed"] == 1
    wavs = sorted((folder / "samples").glob("*.wav"))
    assert len(wavs) == len(electronic.SOUNDS) * len(electronic.LAYERS) * electronic.ALTERNATES
    assert electronic.ensure_kit(folder / "kit.sfz", 1) is False  # current: left alone
    monkeypatch.setattr(electronic, "VERSION", electronic.VERSION + 1)
    assert "installed (stale: written again on first use)" in describe_kit(kit).splitlines()[0]
    assert electronic.ensure_kit(folder / "kit.sfz", 1) is True  # a new generator rewrites it
    assert [p.name for p in folder.parent.glob(".gen_e01*")] == [".gen_e01.lock"]  # no temporary or old folder
    # the fingerprint (and so a recipe's) follows the generator
    assert kit.fingerprint()["generator"] == {"seed": 1, "version": electronic.VERSION}
    assert kit.fingerprint()["soundfont"] == "synthesised"  # the same kit wherever it was written


def test_writers_racing_for_one_kit_all_get_it(tmp_path, monkeypatch):
    """Render workers may ask for the same kit at once: one writes it, the others wait and find it."""
    from concurrent.futures import ThreadPoolExecutor

    calls = []
    real = electronic.write_kit

    def counted(folder, seed):
        calls.append(seed)
        return real(folder, seed)

    monkeypatch.setattr(electronic, "write_kit", counted)
    monkeypatch.setattr(electronic, "_sound", lambda p, name, v, alt: np.zeros(480, np.float32))  # fast
    sfz = tmp_path / "gen" / "kit.sfz"
    with ThreadPoolExecutor(4) as pool:
        written = list(pool.map(lambda _: electronic.ensure_kit(sfz, 7), range(4)))
    assert sum(written) == 1 and calls == [7] and electronic.is_current(sfz.parent, 7)
    with pytest.raises(electronic.ElectronicKitError, match="seed must be 0 or more"):
        electronic.write_kit(tmp_path / "neg", -1)


def test_the_same_seed_gives_the_same_sounds_another_seed_others():
    a, b = electronic.KitParams.draw(3), electronic.KitParams.draw(3)
    assert a == b and electronic.KitParams.draw(4) != a
    for name in ("kick", "snare", "hihat_open", "ride_bell"):
        x = electronic._sound(a, name, 100, 0)
        assert np.array_equal(x, electronic._sound(b, name, 100, 0))
        assert not np.array_equal(x, electronic._sound(a, name, 100, 1))  # the round-robin alternate differs
        assert x.dtype == np.float32 and np.isfinite(x).all() and 0.5 < np.abs(x).max() <= 0.9 + 1e-6


def _centroid(y: np.ndarray, sr: int) -> float:
    power = np.abs(np.fft.rfft(y)) ** 2
    return float((power * np.fft.rfftfreq(y.size, 1 / sr)).sum() / power.sum())


def test_labels_land_on_attacks_and_pieces_sit_where_drum_machines_have_them(kits):
    kit = select_kits(kits, ["gen_e02"], "train_kits")[0][0]
    renderer = KitRenderer()
    report = Agreement(kit.name)
    for groove in reference_grooves(seed=3, seconds=6)[:2]:
        report.update(onset_agreement(renderer, kit, groove.notes))
    assert report.notes > 60 and report.recall == 1.0, report.summary()
    assert abs(np.median(report.errors)) < 0.004, report.summary()
    sr = renderer.sample_rate
    centroid = {key: _centroid(renderer.render(kit, [Note(0.1, 0.2, key, 100)], duration=1.0), sr)
                for key in (36, 43, 45, 48, 38, 42)}
    assert centroid[36] < centroid[43] < centroid[45] < centroid[48] < centroid[38] < centroid[42], centroid
    assert centroid[36] < 150 and centroid[42] > 5000, centroid
    for seed in range(200):  # no kit's floor tom is its kick
        p = electronic.KitParams.draw(seed)
        assert p.tom_floor_hz >= p.kick_end_hz * 2 ** (electronic.KICK_TOM_GAP_ST / 12) - 1e-9


def test_a_closed_hihat_chokes_the_open_one(kits):
    kit = select_kits(kits, ["gen_e03"], "train_kits")[0][0]
    renderer = KitRenderer()
    sr = renderer.sample_rate
    ring = renderer.render(kit, [Note(0.1, 0.2, 46, 110)], duration=1.5)
    choked = renderer.render(kit, [Note(0.1, 0.2, 46, 110), Note(0.2, 0.3, 42, 1)], duration=1.5)
    tail = slice(int(0.45 * sr), int(1.0 * sr))  # after the closed hat's own short decay
    assert np.sqrt(np.mean(choked[tail] ** 2)) < 0.1 * np.sqrt(np.mean(ring[tail] ** 2)) + 1e-6


def test_a_bad_seed_or_an_unwritable_folder_is_one_line(tmp_path, monkeypatch, caplog):
    table = tmp_path / "tables"
    table.mkdir()
    from drumtx.synth.kits import KITS_DIR

    (table / "maps.yaml").write_text((KITS_DIR / "maps.yaml").read_text())
    text = (KITS_DIR / "electronic.yaml").read_text()
    (table / "electronic.yaml").write_text(text.replace("generator_seed: 1}", "generator_seed: one}"))
    with pytest.raises(KitError, match=r"electronic.yaml: kit gen_e01: generator_seed must be an integer"):
        load_kits(table)
    (table / "electronic.yaml").write_text(text.replace("generator_seed: 1}", "generator_seed: -1}"))
    with pytest.raises(KitError, match=r"generator_seed must be an integer >= 0"):
        load_kits(table)
    monkeypatch.setenv("DRUMTX_GENERATED_KITS_DIR", "")
    with pytest.raises(KitError, match="not an absolute path .*DRUMTX_GENERATED_KITS_DIR set to an empty string"):
        generate_missing(load_kits()["gen_e01"])
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("DRUMTX_GENERATED_KITS_DIR", str(tmp_path / "afile"))  # a file: no folder under it
    kits = load_kits()
    with pytest.raises(KitError, match="kit gen_e01: .*cannot write the kit"):
        generate_missing(kits["gen_e01"])
    with caplog.at_level(logging.WARNING):
        chosen, missing = select_kits(kits, ["gen_e01"], "train_kits")
    assert missing == ["gen_e01"] and "cannot write the kit" in caplog.text

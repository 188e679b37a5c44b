"""Two-column text annotations and label maps (external evaluation sets)."""

from __future__ import annotations

import pytest

from drumtx.evaluation.annotations import (
    LABEL_MAP_DIR,
    AnnotationCounts,
    AnnotationError,
    LabelMap,
    read_text_annotations,
    shared_scheme,
)
from drumtx.vocab import Vocabulary

VOCAB = Vocabulary()


def write(tmp_path, text: str, name: str = "a.txt"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_reader_handles_separators_comments_and_unknown_labels(tmp_path):
    p = write(tmp_path, "time label\n# a comment\n\n2.5\tSD\n0.50 KD 0.9\n1.0,hh\n1.5;CB\n3.0 KD\n")
    counts = AnnotationCounts()
    onsets = read_text_annotations(p, LabelMap.load("idmt_smt_drums"), counts)
    assert [(o.time, o.fine_class) for o in onsets] == [(0.5, "kick"), (1.0, "hihat"), (2.5, "snare"), (3.0, "kick")]
    assert counts.kept == {"kick": 2, "hihat": 1, "snare": 1}
    assert counts.unknown == {"CB": 1}  # not in the map: counted, left out, not an error


def test_numeric_labels_and_ignored_labels(tmp_path):
    onsets = read_text_annotations(write(tmp_path, "0.1 0\n0.2 1\n0.3 2\n"), LabelMap.load("kd_sd_hh_numeric"))
    assert [o.fine_class for o in onsets] == ["kick", "snare", "hihat"]
    counts = AnnotationCounts()
    mdb = read_text_annotations(write(tmp_path, "0.1 PHH\n0.2 CHH\n0.3 phh\n", "m.txt"), LabelMap.load("mdb_drums"), counts)
    assert [o.fine_class for o in mdb] == ["hihat_closed"]
    assert counts.ignored == {"PHH": 1} and counts.unknown == {"phh": 1}  # mdb_drums is case sensitive


def test_patterns_catch_numbered_labels(tmp_path):
    lm = LabelMap.load("enst_drums")
    onsets = read_text_annotations(write(tmp_path, "0.1 rc3\n0.2 CR2\n0.3 lmt\n0.4 cb\n0.5 chh\n"), lm)
    assert [o.fine_class for o in onsets] == ["ride", "crash", "tom", "hihat_closed"]


@pytest.mark.parametrize(
    "text, reason",
    [("0.1 KD\nabc SD\n", ":2: onset time 'abc' is not a number"),
     ("0.1\n", ":1: expected 'onset_seconds label'"),
     ("-0.5 KD\n", ":1: onset time '-0.5' must be finite"),
     ("nan KD\n", "must be finite"),
     ("time label\nonset SD\n", ":2: onset time 'onset' is not a number")],
)
def test_bad_lines_name_the_file_and_line(tmp_path, text, reason):
    p = write(tmp_path, text)
    with pytest.raises(AnnotationError) as err:
        read_text_annotations(p, LabelMap.load("idmt_smt_drums"))
    assert str(p) in str(err.value) and reason in str(err.value) and "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(AnnotationError, match="unreadable annotation file"):
        read_text_annotations(tmp_path / "none.txt", LabelMap.load("idmt_smt_drums"))


def test_empty_file_has_no_onsets(tmp_path):
    assert read_text_annotations(write(tmp_path, ""), LabelMap.load("idmt_smt_drums")) == []


@pytest.mark.parametrize("name", sorted(p.stem for p in LABEL_MAP_DIR.glob("*.yaml")))
def test_every_shipped_label_map_loads(name):
    lm = LabelMap.load(name)
    scheme = shared_scheme(lm, VOCAB, lm.level)
    assert scheme.classes
    for target in lm.targets():
        assert lm.fines_of(target, VOCAB), f"{name}: {target} stands for nothing"


def test_label_map_from_a_path_and_bad_maps(tmp_path):
    good = write(tmp_path, "labels: {B: kick, S: snare_head}\nlevel: fine\n", "mine.yaml")
    lm = LabelMap.load(good)
    assert lm.name == "mine" and lm.resolve("b") == "kick"
    with pytest.raises(AnnotationError, match="unknown targets"):
        LabelMap.load(write(tmp_path, "labels: {B: bongo}\n", "bad.yaml"))
    with pytest.raises(AnnotationError, match="needs a 'labels' mapping"):
        LabelMap.load(write(tmp_path, "name: x\n", "empty.yaml"))
    with pytest.raises(AnnotationError, match="known maps"):
        LabelMap.load("no_such_map")


def test_shared_classes_and_what_is_left_out():
    idmt = shared_scheme(LabelMap.load("idmt_smt_drums"), VOCAB)
    assert list(idmt.classes) == ["kick", "snare", "hihat"]
    assert set(idmt.left_out) == {"tom", "ride", "crash"}
    assert idmt.key("snare_rim") == "snare" and idmt.key("crash") is None
    mdb = shared_scheme(LabelMap.load("mdb_drums_class"), VOCAB)
    assert mdb.classes["cymbal"] == ("ride", "ride_bell", "crash") and "ride" not in mdb.classes
    assert mdb.key("cymbal") == "cymbal" and mdb.key("ride_bell") == "cymbal"
    fine = shared_scheme(LabelMap.load("drumtx_fine"), VOCAB, "fine")
    assert list(fine.classes) == VOCAB.fine_classes and not fine.left_out
    with pytest.raises(AnnotationError, match="fine level needs fine-class targets"):
        shared_scheme(LabelMap.load("idmt_smt_drums"), VOCAB, "fine")

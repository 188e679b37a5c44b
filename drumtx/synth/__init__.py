"""Synthetic E-GMD: drum MIDI rendered through many sound-font kits, like E-GMD's 43 TD-17 kits.

Why: E-GMD (444 h) is a large download; with this package a new user trains on data made
on their own machine from nothing but the Debian sound fonts (and, if present, the Groove
MIDI Dataset).

``python -m drumtx.synth data=<recipe>`` (:mod:`drumtx.synth.__main__`) reads the recipe in
``data.synth`` (``conf/data/synth_default.yaml``, ``conf/data/synth_gmd.yaml``), plans
performances x kits (:mod:`~drumtx.synth.dataset`), renders them in parallel processes
with FluidSynth (:mod:`~drumtx.synth.render`), adds per-track variety
(:mod:`~drumtx.synth.effects`) and writes an E-GMD folder: ``e-gmd-v1.0.0.csv`` with E-GMD's
columns, 24 kHz mono 16-bit WAV/FLAC, and the MIDI actually rendered, in Roland TD-17
notes, so ``data.format=egmd`` with ``note_map=roland_td17`` reads it back exactly.

Sources (:mod:`~drumtx.synth.sources`): the built-in groove generator
(:mod:`~drumtx.synth.generator`), the GMD folder (its splits kept) and any MIDI folder.

Kits are data in ``conf/kits/`` (:mod:`~drumtx.synth.kits`): per sound font, which preset
and channel play each kit and how each Roland note maps onto its keys; measured sample
latencies in ``conf/kits/latency.yaml`` (``python -m drumtx.synth.kits --measure-latency``).

Unseen kits: ``data.synth.test_kits`` play only test performances. Their csv rows have
``split`` = ``test`` and ``kit_name`` = ``unseen:<kit>`` (:func:`~drumtx.synth.kits.is_unseen_kit`),
so the test split measures unseen performances on seen kits and on unseen kits at once,
and an evaluation can report the two apart by that prefix (``Track.meta["kit_name"]``).
``data.synth.heldout_kits`` are training kits kept for validation: only validation
performances play them (``split`` = ``validation``, ``kit_name`` = ``unseen:<kit>``), so
thresholds and checkpoints can be chosen on kits the model never heard.

``python -m drumtx.synth.bench data=<recipe>`` (:mod:`~drumtx.synth.bench`) measures render
speed and dataset size; :mod:`~drumtx.synth.check` holds the label/audio agreement check.
"""

"""Evaluation: model-free scoring (:mod:`.scores`), external annotations (:mod:`.annotations`),
model inference over whole tracks (:mod:`.inference`), reports (:mod:`.report`, :mod:`.plots`)
and the two-model comparison (:mod:`.compare`). The CLI is :mod:`drumtx.evaluate`."""

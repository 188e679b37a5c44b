"""Evaluation: model-free scoring (class schemes and onset matching in :mod:`.matching`, the
scores in :mod:`.scores`), external annotations (:mod:`.annotations`), model inference over whole
tracks (:mod:`.inference`), reports (:mod:`.report`, :mod:`.plots`) and the two-model comparison
(:mod:`.compare`). The CLI is :mod:`drumtx.evaluate`."""

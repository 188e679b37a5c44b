"""Hydra Sweeper backed by the current Optuna, for ``python -m drumtx.train -m hparams_search=...``.

Why this exists instead of the official ``hydra-optuna-sweeper``: that plugin pins
``optuna<3`` (it uses distribution classes removed since), and with the SQLAlchemy 2 that
current Optuna needs, its database storage fails (``AssertionError`` in
``get_current_version`` with sqlite). This plugin keeps the official config schema (sampler,
direction, storage, study_name, n_trials, n_jobs, max_failure_rate, params,
custom_search_space, search_space) so configs carry over, and adds what drumtx sweeps need:
resumable, shareable studies whose ``n_trials`` counts the whole study, failed trials recorded
and skipped, and heartbeats so a killed worker's trial does not stay "running".

It lives physically under ``drumtx/plugins/`` and is installed as ``hydra_plugins.drumtx_optuna_sweeper``
(see ``[tool.setuptools]`` in pyproject.toml) because Hydra only accepts sweeper classes from
the ``hydra_plugins`` namespace package.
"""

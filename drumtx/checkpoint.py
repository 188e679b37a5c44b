"""Model files that carry everything transcription needs, and nothing that runs code.

Two formats load through :func:`load_transcriber`:

* a *bundle*: ``<name>.safetensors`` (weights) + ``<name>.json`` (meta: resolved config,
  vocabulary, feature parameters, thresholds, drumtx version), written by :func:`save_bundle`;
* a Lightning ``.ckpt`` from ``drumtx.train``; its hyper-parameters are plain containers,
  so it loads with ``torch.load(weights_only=True)``, which refuses pickles that would
  import or call anything.

Either may have a ``<stem>.thresholds.json`` beside it (written by threshold tuning); it
overrides the thresholds stored in the meta.
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from drumtx.atomic import atomic_output, write_json

FORMAT = "drumtx"
#: The model shipped in the package: what transcribe/evaluate use without a checkpoint, and
#: what ``drumtx.train init_weights=default`` fine-tunes.
PACKAGED_MODEL = Path(__file__).resolve().parent / "assets" / "default_model.safetensors"


def sha256_prefix(path: str | Path, n: int = 12) -> str:
    """The first ``n`` hex digits of the file's SHA-256: which weights exactly (a run's log names
    its teacher this way, as a ``default`` teacher is whatever model is packaged when the run
    starts or resumes; transcribe's JSON names the model that wrote it)."""
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:n]


def model_path(spec: object) -> Path:
    """The file a model option names: ``default`` is :data:`PACKAGED_MODEL` (``init_weights``,
    evaluate's ``ckpt`` and ``compare_ckpt``), anything else that path as given."""
    return PACKAGED_MODEL if str(spec) == "default" else Path(str(spec))


def default_hint(spec: object) -> str:
    """`` (did you mean default, the packaged model?)`` for a missing model path that is a typo of
    ``default`` (``defualt``, ``Default``); "" otherwise."""
    import difflib

    text = str(spec)
    return " (did you mean default, the packaged model?)" if "/" not in text and difflib.get_close_matches(
        text.lower(), ["default"], n=1, cutoff=0.7) else ""


class CheckpointError(ValueError):
    """A file that is not a loadable drumtx model; the message names the file and the reason."""


def _atomic_write_bytes(path: Path, write) -> None:
    with atomic_output(path, suffix=".tmp") as tmp:
        write(str(tmp))


def to_plain(obj):
    """Plain dicts/lists/scalars/tensors only (what ``torch.load(weights_only=True)`` accepts);
    OmegaConf containers are resolved, anything else becomes its string."""
    if isinstance(obj, (DictConfig, ListConfig)):
        return OmegaConf.to_container(obj, resolve=True, throw_on_missing=False)
    if isinstance(obj, Mapping):
        return {str(k) if not isinstance(k, (int, float, bool)) else k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool, torch.Tensor)):
        return obj
    return str(obj)


def plain_config(cfg) -> dict:
    """A resolved config as plain dicts/lists (what checkpoints may hold), without Hydra's own
    ``hydra`` node (present when a test composes with ``return_hydra_config=True``)."""
    if isinstance(cfg, DictConfig) and "hydra" in cfg:
        cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    return to_plain(cfg)


def build_meta(cfg, thresholds: Mapping | None = None) -> dict:
    """Everything besides the weights that transcription needs, as plain JSON-able data.

    ``velocity_output`` says whether the model has a velocity head (``branches.velocity``);
    when it has none, transcription measures velocity from the audio (:mod:`drumtx.dynamics`).
    """
    from drumtx import __version__
    from drumtx.decode import DEFAULT_THRESHOLDS
    from drumtx.vocab import Vocabulary

    cfg = plain_config(cfg)
    hihat_pedal = bool(cfg.get("data", {}).get("targets", {}).get("hihat_pedal", False))
    vocab = Vocabulary(hihat_pedal=hihat_pedal)
    features = dict(cfg.get("features", {}))
    fps = float(features["sample_rate"]) / float(features["hop_length"]) if features else None
    configured = (cfg.get("evaluation") or {}).get("thresholds") or {}
    th = {inst: dict(DEFAULT_THRESHOLDS[inst]) for inst in vocab.instruments}
    for inst, s in {**configured, **(thresholds or {})}.items():
        th.setdefault(inst, {}).update({k: float(v) for k, v in dict(s).items()})
    return {
        "format": FORMAT,
        "drumtx_version": __version__,
        "config": cfg,
        "vocab": {
            "hihat_pedal": hihat_pedal,
            "instruments": {k: list(v) for k, v in vocab.instruments.items()},
            "fine_classes": vocab.fine_classes,
        },
        "features": features,
        "fps": fps,
        "thresholds": th,
        "velocity_output": bool((cfg.get("branches") or {}).get("velocity", False)),
    }


def thresholds_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}.thresholds.json")


def save_bundle(path: str | Path, model: torch.nn.Module, meta: Mapping) -> tuple[Path, Path]:
    """Write ``path`` (.safetensors weights) and ``path.with_suffix('.json')`` (meta), atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: a bundle's weights file must end in .safetensors")
    meta = dict(meta)
    meta.setdefault("format", FORMAT)
    # safetensors refuses shared or non-contiguous storage: give every tensor its own copy.
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    _atomic_write_bytes(path, lambda tmp: save_file(state, tmp, metadata={"format": FORMAT}))
    sidecar = path.with_suffix(".json")
    write_json(sidecar, meta)
    return path, sidecar


def _check_meta(meta, path: Path) -> dict:
    if not isinstance(meta, Mapping) or meta.get("format") != FORMAT or "config" not in meta:
        raise CheckpointError(f"{path}: not a drumtx checkpoint (no drumtx meta)")
    return dict(meta)


def _read_bundle(path: Path, device) -> tuple[dict, dict]:
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        raise CheckpointError(f"{path}: its meta file {sidecar.name} is missing")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        state = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable safetensors file ({exc})") from None
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a drumtx checkpoint (safetensors header has no drumtx format)")
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{sidecar}: unreadable meta ({exc})") from None
    return state, _check_meta(meta, sidecar)


def read_lightning(path: Path, device) -> tuple[dict, dict]:
    """``(model state without the "model." prefix, drumtx meta)`` of a drumtx Lightning ``.ckpt``,
    loaded with ``weights_only=True`` (never a pickle's code).

    Raises:
        CheckpointError: one line naming the file: unreadable, empty or truncated, not a torch
            checkpoint, refused by the weights-only unpickler, or not a drumtx checkpoint.
    """
    import zipfile

    try:
        with open(path, "rb") as f:
            magic = f.read(2)
    except OSError as exc:
        raise CheckpointError(f"{path}: unreadable ({exc.strerror or exc})") from None
    # torch.save writes a zip archive (a pickle, b"\x80", before torch 1.6); anything else (a text
    # file, audio given as --ckpt) otherwise fails inside the unpickler as "KeyError: 101".
    if not magic:
        raise CheckpointError(f"{path}: an empty file, not a model checkpoint")
    if magic == b"PK" and not zipfile.is_zipfile(path):  # torch.save's zip, its directory (at the end) missing
        raise CheckpointError(f"{path}: truncated or damaged (an incomplete zip archive); an interrupted copy?")
    if not (zipfile.is_zipfile(path) or magic[:1] == b"\x80"):
        raise CheckpointError(
            f"{path}: not a model checkpoint (expected a drumtx .safetensors bundle or a Lightning .ckpt)"
        )
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message is a paragraph; the useful part names what the unpickler refused.
        msg = str(exc)
        refused = re.search(r"GLOBAL ([\w.]+)", msg)
        if refused:
            raise CheckpointError(
                f"{path}: refused, loading it would import and run code ({refused.group(1)}); "
                "drumtx checkpoints hold only tensors and plain data"
            ) from None
        skip = ("Weights only load failed", "Please file an issue", "Check the documentation")
        lines = [ln.strip() for ln in msg.splitlines() if ln.strip() and not ln.strip().startswith(skip)]
        detail = lines[0] if lines else type(exc).__name__
        raise CheckpointError(f"{path}: not a loadable torch checkpoint ({detail})") from None
    except Exception as exc:  # noqa: BLE001 - garbage bytes make torch's unpickler raise anything (IndexError, KeyError…)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: not a loadable torch checkpoint ({type(exc).__name__}: {first})"
        ) from None
    if not isinstance(ckpt, Mapping) or "state_dict" not in ckpt:
        raise CheckpointError(f"{path}: not a drumtx checkpoint (no state_dict)")
    hp = ckpt.get("hyper_parameters") or {}
    meta = _check_meta(hp.get("meta") if isinstance(hp, Mapping) else None, path)
    prefix = "model."
    state = {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    return state, meta


def load_transcriber(path: str | Path, device: str | torch.device = "cpu"):
    """``(DrumTranscriber in eval mode, meta)`` from a bundle or a drumtx Lightning .ckpt.

    The model runs its conv blocks' ReLU and frequency max-pool in the cheaper, bit-identical
    order (:func:`drumtx.inference.for_inference`). The weights must fit the stored config
    exactly (strict loading). A model saved before the
    velocity head existed has no ``branches.velocity`` in its config, is built without the head
    and loads as it is; ``meta['velocity_output']`` is set from the built model either way.

    Raises :class:`CheckpointError` (one line naming the file) for anything else.
    """
    from drumtx.models.transcriber import build_transcriber

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file{default_hint(path)}")
    if path.suffix == ".safetensors":
        state, meta = _read_bundle(path, device)
    else:
        state, meta = read_lightning(path, device)
    try:
        model = build_transcriber(meta["config"])
        model.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: weights do not fit the stored config ({first})") from None
    meta["velocity_output"] = model.has_velocity
    side = thresholds_path(path)
    if side.is_file():
        try:
            tuned = json.loads(side.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{side}: unreadable thresholds ({exc})") from None
        tuned = tuned.get("thresholds", tuned)
        for inst, s in tuned.items():
            meta["thresholds"].setdefault(inst, {}).update(s)
    from drumtx.inference import for_inference

    return for_inference(model).to(device).eval(), meta

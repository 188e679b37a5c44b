#!/usr/bin/env bash
# On the borrowed GPU machine, from the repository root, after pack.sh here and with .whl and
# .devdata carried: installs the wheels into /tmp/site, unpacks the kits to ~/.hydrogen/data/drumkits
# and GMD beside the checkout (../shared/data, where data=synth_songs looks), records the machine,
# checks every import the run needs (one line and exit 3 if one is missing, before any work), then
# runs experiments/scripts/gpu_design_encoder.sh with RESULTS_DIR=$1: render, prepare and the two
# trainings there (the test-only kits' samples are too large to carry); tuning and scoring here.
set -euo pipefail
RESULTS=${1:?results folder}
mkdir -p "$RESULTS"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD/.devdata/site PYTHONUNBUFFERED=1
{ date -u; nvidia-smi; lscpu | grep -E "Model name|^CPU\(s\)"; free -g | head -2
  python3 -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__, torch.cuda.get_device_name(0))"; } > "$RESULTS/machine.txt" 2>&1
python3 - <<'PYEOF'
import pathlib, shutil, soundfile as sf
src, dst = pathlib.Path(".devdata/drumkits"), pathlib.Path.home() / ".hydrogen/data/drumkits"
for p in src.rglob("*"):
    if p.is_dir():
        continue
    out = dst / p.relative_to(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    if p.name.endswith(".wav.flac"):
        data, sr = sf.read(str(p), dtype="int32", always_2d=True)
        sf.write(str(out)[:-5], data, sr, subtype=sf.info(str(p)).subtype, format="WAV")
    else:
        shutil.copy2(p, out)
PYEOF
mkdir -p ../shared/data && tar xJf .devdata/groove-midi.tar.xz -C ../shared/data
python3 -c "import drumtx.synth.dataset, drumtx.synth.production, drumtx.synth.sampled.player, drumtx.prepare, drumtx.train, drumtx.tune_thresholds, drumtx.evaluate, pedalboard, pyroomacoustics, pyloudnorm, librosa, soxr, pretty_midi, mir_eval, optuna" \
	|| { echo "an import is missing on this machine"; exit 3; }
PY=python3 SYNTH_ARGS="splits=[train,validation]" TUNE=0 SCORE=0 bash experiments/scripts/gpu_design_encoder.sh "$RESULTS"

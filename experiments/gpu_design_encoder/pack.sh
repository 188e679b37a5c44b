#!/usr/bin/env bash
# Packs what experiments/scripts/gpu_design_encoder.sh needs on a bare GPU machine (the borrowed
# H200 of `device`: torch, lightning, numpy, scipy and scikit-learn there, nothing fetchable, at
# most 64 MiB carried): Python 3.12 wheels of drumtx's other dependencies (.whl/), the pure-Python
# ones that ship no wheel (.devdata/site/), the 11 Hydrogen training kits of data=synth_sampled as
# FLAC (.devdata/drumkits/, *.wav.flac, unpacked to WAV there: 39 MB of WAV is 26 MB of FLAC) and the
# Groove MIDI Dataset (.devdata/groove-midi.tar.xz). Both folders are git-ignored (.gitignore);
# device_run.sh unpacks them. Run from the repository root.
set -euo pipefail
PY=${PY:-.venv/bin/python}
KITS=/usr/share/hydrogen/data/drumkits
GMD=../shared/data/groove-midi
rm -rf .whl .devdata && mkdir -p .whl .devdata/drumkits .devdata/site
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
	--platform manylinux2014_x86_64 -d .whl hydra-core==1.3.8 omegaconf==2.3.1 mido==1.3.3 \
	soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 soxr==1.1.0 mir_eval==0.8.2 optuna==5.1.0 alembic==1.20.1 \
	sqlalchemy==2.1.9 colorlog==6.12.0 mako==1.4.3 librosa==0.11.0 audioread==3.1.0 pooch==1.9.0 \
	decorator==5.3.1 platformdirs==4.14.9 importlib_resources==7.1.0 pedalboard==0.9.26 pyroomacoustics==0.10.1 pyloudnorm==0.2.0
site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cp -r "$site/antlr4" "$site/pretty_midi" .devdata/site/   # sdists only (pure Python)
rm -rf .devdata/site/pretty_midi/*.sf2 .devdata/site/*/__pycache__
for k in GMRockKit "The Black Pearl 1.0" ColomboAcousticDrumkit Millo-Drums_v.1 Millo_MultiLayered2 \
	Millo_MultiLayered3 rumpf_kit_z01_h2 TR808EmulationKit HardElectro1 Audiophob VariBreaks; do
	cp -rL "$KITS/$k" .devdata/drumkits/
done
"$PY" - <<'PYEOF'
import pathlib, soundfile as sf
for p in pathlib.Path(".devdata/drumkits").rglob("*.wav"):
    info = sf.info(str(p))
    if info.subtype not in ("PCM_16", "PCM_24"):
        continue  # (one 8-bit sample stays WAV)
    data, sr = sf.read(str(p), dtype="int32", always_2d=True)
    sf.write(str(p) + ".flac", data, sr, subtype=info.subtype, format="FLAC")
    p.unlink()
PYEOF
tar cf - -C "$(dirname "$GMD")" "$(basename "$GMD")" | xz -9 -T2 > .devdata/groove-midi.tar.xz
du -sh .whl .devdata

# drumtx — common jobs. Every target installs what it needs first (stamp files in .stamps/).
# Pass Hydra overrides with ARGS="…", e.g.  make train ARGS="branches=flat trainer.max_epochs=5"

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
ARGS ?=
IN ?=
OUT ?= transcriptions
CKPT ?=

# Debian packages: the FluidSynth renderer, the drum-kit sound fonts and the Hydrogen sampled
# kits played by drumtx.synth.sampled (see README, "Data").
KIT_PACKAGES := hydrogen-drumkits hydrogen-data
APT_PACKAGES := fluidsynth libsndfile1 fluid-soundfont-gm musescore-general-soundfont-small \
	timgm6mb-soundfont avldrums.lv2-soundfont $(KIT_PACKAGES)
SOUND_FONTS := /usr/share/sounds/sf2/FluidR3_GM.sf2 /usr/share/sounds/sf2/TimGM6mb.sf2 \
	/usr/share/sounds/sf3/MuseScore_General.sf3 /usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2
HYDROGEN_KITS := /usr/share/hydrogen/data/drumkits/GMRockKit/drumkit.xml \
	/usr/share/hydrogen/data/drumkits/ForzeeStereo/drumkit.xml

.DEFAULT_GOAL := help
.PHONY: help setup system demo data train default-model default-model-v2 default-model-v2-music default-model-v2-width default-model-v2-prior default-model-v2-frontend default-model-v2-scratch default-model-v2-scratch-music default-model-v2-candidate default-model-v2-long default-model-v2-tuned default-model-v2-hybrid default-model-v2-ring default-model-v2-ring-nocrash default-model-v2-electronic default-model-v2-electronic-long default-model-v2-leadsil default-model-v2-warm default-model-v2-distil default-model-v2-distil20 default-model-v2-distil-ship default-model-v2-filter default-model-v2-heldout default-model-v2-hardneg default-model-v2-hardneg-scratch default-model-v2-candidate16k default-model-v2-presence transfer-ablation sweep sweep-db sweep-db-stop sweep-finetune evaluate transcribe bench test test-slow test-wheel lint clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-32s %s\n", $$1, $$2}'

setup: $(STAMPS)/venv $(STAMPS)/kits ## system packages (apt-get) + .venv with drumtx[dev,train]

system: $(STAMPS)/system $(STAMPS)/kits ## FluidSynth, the sound fonts and the Hydrogen kits (apt-get)

# $(call apt_install,PACKAGES,NEED): shell text for a recipe that installs the Debian PACKAGES with
# apt-get (sudo -n unless root); without apt-get it fails saying "NEED PACKAGES".
define apt_install
if ! command -v apt-get >/dev/null; then \
    echo "$(2) $(1)" >&2; exit 1; \
  fi; \
  SUDO=; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
  echo "installing system packages: $(1)"; \
  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(1) >/dev/null \
    || { echo "apt-get failed: install $(1) yourself, then rerun" >&2; exit 1; }
endef
KIT_NEED := drumtx's sampled kits need (Debian names):
SYSTEM_NEED := drumtx needs FluidSynth, sound fonts and drum kits; install these (Debian names):

# The Hydrogen kits came after the sound fonts: a checkout whose system stamp predates them
# installs them here (a clean machine gets them with the rest).
$(STAMPS)/kits:
	@mkdir -p $(STAMPS)
	@missing=0; for f in $(HYDROGEN_KITS); do [ -f $$f ] || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  $(call apt_install,$(KIT_PACKAGES),$(KIT_NEED)); \
	fi
	@touch $@

$(STAMPS)/system:
	@mkdir -p $(STAMPS)
	@missing=0; command -v fluidsynth >/dev/null || missing=1; \
	for f in $(SOUND_FONTS) $(HYDROGEN_KITS); do [ -f $$f ] || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  $(call apt_install,$(APT_PACKAGES),$(SYSTEM_NEED)); \
	fi
	@touch $@

$(STAMPS)/venv: pyproject.toml $(STAMPS)/system
	@mkdir -p $(STAMPS)
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,train]'
	@touch $@ $(STAMPS)/venv-base

# what transcription alone needs: drumtx without extras, no system packages (the full venv has it too)
$(STAMPS)/venv-base: pyproject.toml
	@mkdir -p $(STAMPS)
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $@

data: $(STAMPS)/venv ## render the embedded default dataset (data=synth_default)
	$(PY) -m drumtx.synth data=synth_default $(ARGS)

DEMO := outputs/demo
DEMO_TRAIN ?= trainer.max_epochs=8 logger=csv
demo: $(STAMPS)/venv ## end to end on the embedded default data: render, train, evaluate, transcribe
	$(PY) -m drumtx.synth data=synth_default
	$(PY) -m drumtx.train data=synth_default $(DEMO_TRAIN) hydra.run.dir=$(DEMO)/train $(ARGS)
	$(PY) -m drumtx.tune_thresholds ckpt=$(DEMO)/train/best.safetensors hydra.run.dir=$(DEMO)/thresholds
	$(PY) -m drumtx.evaluate ckpt=$(DEMO)/train/best.safetensors data=synth_default split=test out_dir=$(DEMO)/evaluate
	$(PY) -m drumtx.transcribe $$(awk -F, 'NR>1 && $$9=="test" {print "data/synth_default/" $$11; exit}' data/synth_default/e-gmd-v1.0.0.csv) \
		-o $(DEMO)/transcriptions --format midi,chart,csv --overwrite
	@echo "demo done: report $(DEMO)/evaluate/report.md; a test clip transcribed by the packaged default model" \
		"(drumtx/assets/MODEL_CARD.md) in $(DEMO)/transcriptions/ (--ckpt $(DEMO)/train/best.safetensors: the demo's own)"

train: $(STAMPS)/venv ## python -m drumtx.train $(ARGS)
	$(PY) -m drumtx.train $(ARGS)

# The experiment recipes run scripts in experiments/scripts/ (one per target; they run from the
# repository root with this .venv's Python). ARGS are Hydra overrides for their trainings;
# DM_THREADS="…" replaces their per-training thread overrides (default "torch_threads=1
# data.num_workers=1": two trainings share the cores).

# The packaged default model and the hier_vs_flat comparison (experiments/default_model,
# experiments/hier_vs_flat): five-branch and flat side by side for the same 45-minute budget,
# compared on the test split; the five-branch run then continues to 75 minutes and is packaged.
default-model: $(STAMPS)/venv ## render synth_gmd, train v1 (the first packaged model) + flat baseline, tune, evaluate, package into outputs/ (~2.5 h)
	PY=$(PY) bash experiments/scripts/default_model.sh $(ARGS)

# Default model v2 (experiments/default_model_v2): realistic audio (synth_songs), fine-tuned v1 vs
# from scratch at equal steps, two seeds each, thresholds tuned on sampled kits +- music, every
# rung of the realism ladder beside v1. Each step skips what is done; rerun to resume.
default-model-v2: $(STAMPS)/venv ## synth_songs; v1 fine-tuned vs scratch, then fine-tuning to 3,000 steps, 2 seeds (one core each); tune, every rung, package the best (resumable)
	PY=$(PY) bash experiments/scripts/default_model_v2.sh $(ARGS)

default-model-v2-music: $(STAMPS)/venv ## after default-model-v2: its run continued 500 steps with music-only tracks x4 and without (one core each); tune, every rung
	PY=$(PY) bash experiments/scripts/default_model_v2_music.sh $(ARGS)

default-model-v2-width: $(STAMPS)/venv ## encoder width: crnn_small vs crnn_medium from scratch, same 90 min each, side by side (resumable)
	PY=$(PY) bash experiments/scripts/default_model_v2_width.sh $(ARGS)

default-model-v2-prior: $(STAMPS)/venv ## after -width: its crnn_small arm's first 300 steps again without the hit prior (~20 min)
	PY=$(PY) bash experiments/scripts/default_model_v2_prior.sh $(ARGS)

default-model-v2-frontend: $(STAMPS)/venv ## after -width: synth_songs at 32 kHz; 16 kHz-ceiling front end vs the 11 kHz one, from scratch, 90 min each (16 kHz seed 43: the same steps), then every rung and the cases (render ~75 min and prepare ~16 min on 2 cores; resumable)
	PY=$(PY) bash experiments/scripts/default_model_v2_frontend.sh $(ARGS)

default-model-v2-scratch: $(STAMPS)/venv ## after -width and default-model-v2: the width run's crnn_small arm (from scratch, hit prior) continued to 3,000 steps (~100 min, one core), tuned and scored on every rung beside the fine-tuned run
	PY=$(PY) bash experiments/scripts/default_model_v2_scratch.sh $(ARGS)

default-model-v2-scratch-music: $(STAMPS)/venv ## after -scratch and -music: the scratch run continued 500 steps with music-only tracks x4, as the shipped v2 was; every rung against v2 (~30 min training, one core; resumable)
	PY=$(PY) bash experiments/scripts/default_model_v2_scratch_music.sh $(ARGS)

default-model-v2-candidate: $(STAMPS)/venv ## renders and prepares synth_songs, then from scratch with music-only tracks x4 from the start, 3,500 steps, seeds 42 and 43 side by side (~3.7 h; resumable, also from a fresh clone after make default-model-v2-stash); tune, every rung beside the shipped v2
	PY=$(PY) bash experiments/scripts/default_model_v2_candidate.sh $(ARGS)

default-model-v2-long: $(STAMPS)/venv ## after -candidate: both seeds continued from 3,500 to 7,000 steps (~2.5 h, resumable across sessions with -stash); tune, every rung beside the candidate and v2
	PY=$(PY) bash experiments/scripts/default_model_v2_long.sh $(ARGS)

default-model-v2-tuned: $(STAMPS)/venv ## render data=synth_songs_tuned (kits, toms and each cymbal retuned per track; WORKERS=1 beside trainings), then after -candidate its recipe on it, two seeds; every rung and the variation readout beside the candidate (render ~33 min on 2 cores + ~3.7 h training; ~11 GB; resumable)
	PY=$(PY) bash experiments/scripts/default_model_v2_tuned.sh $(ARGS)

default-model-v2-hybrid: $(STAMPS)/venv ## render data=synth_songs_hybrid (half the training tracks' cymbals from another kit; WORKERS=1 beside trainings), then after -candidate its recipe on it, two seeds; every rung beside the candidate (render ~45 min on 2 cores + ~3.7 h training; ~11 GB; resumable)
	PY=$(PY) bash experiments/scripts/default_model_v2_hybrid.sh $(ARGS)

default-model-v2-ring: $(STAMPS)/venv ## render data=synth_songs_ring (half the training tracks' cymbals ringing long and dark; WORKERS=1 beside trainings), then after -candidate its recipe on it, two seeds; every rung beside the candidate (render ~35 min on 2 cores + ~3.7 h training; ~11 GB; resumable)
	PY=$(PY) bash experiments/scripts/default_model_v2_ring.sh $(ARGS)

default-model-v2-ring-nocrash: $(STAMPS)/venv ## render data=synth_songs_ring_nocrash (the ring arm's tracks with the crashes dry: only hi-hats and rides ring; WORKERS=1 beside trainings), then after -candidate its recipe on it, two seeds; every rung beside the candidate (render ~45 min on 2 cores, half linked from a synth_songs_ring render, + ~3.7 h training; resumable)
	PY=$(PY) bash experiments/scripts/default_model_v2_ring_nocrash.sh $(ARGS)

default-model-v2-electronic: $(STAMPS)/venv ## render data=synth_songs_electronic (eight synthesised drum machines added to training), then after -candidate its recipe on it, two seeds; every rung beside the candidate, plus rung (e) (two unseen drum machines) and case C08 (render ~35 min on 2 cores + ~3.7 h training; resumable)
	PY=$(PY) bash experiments/scripts/default_model_v2_electronic.sh $(ARGS)

default-model-v2-electronic-long: $(STAMPS)/venv ## after -electronic: both its seeds continued from 3,500 to 7,000 steps on synth_songs_electronic (~2.5 h, resumable across sessions with -stash); tune, every rung and rung (e) beside it and v2
	PY=$(PY) bash experiments/scripts/default_model_v2_electronic_long.sh $(ARGS)

default-model-v2-leadsil: $(STAMPS)/venv ## after -electronic: its recipe with a tenth of the training crops starting on silence before the track (data.lead_silence_prob=0.1), two seeds (~5 h, resumable with -stash); every rung, rung (e), first hits and fills beside the electronic arm
	PY=$(PY) bash experiments/scripts/default_model_v2_leadsil.sh $(ARGS)
default-model-v2-warm: $(STAMPS)/venv ## after -electronic-long: the shipped v2 warm-started on synth_songs_electronic (1,200 steps at lr 3e-4, else the electronic recipe), two seeds (~1.8 h, resumable with -stash); every rung and rung (e) beside v2 and the electronic arm at 7,000 steps
	PY=$(PY) bash experiments/scripts/default_model_v2_warm.sh $(ARGS)
default-model-v2-distil: $(STAMPS)/venv ## after -electronic-long: each of its seeds fine-tuned 800 steps (lr 3e-4) with v2 as a frozen teacher of the crash head on the sound-font kits' drum-only crops (distillation.*), two seeds (~1.3 h, resumable with -stash); every rung, rung (e) and the crash threshold-free beside v2 and the electronic arm at 7,000 steps
	PY=$(PY) bash experiments/scripts/default_model_v2_distil.sh $(ARGS)
default-model-v2-distil-ship: $(STAMPS)/venv ## after DISTIL_WEIGHT=80 DISTIL_SAMPLED=1 make default-model-v2-distil: its seed 43 with v2's presence gate on every rung, then v1 against it (every rung, synth_gmd) and packaged as the default model (resumable)
	PY=$(PY) bash experiments/scripts/default_model_v2_distil_ship.sh
default-model-v2-distil20: $(STAMPS)/venv ## -distil with the teacher's weight 20 (runs distil20_w4_s42/43; ~1 h, resumable with -stash; any weight: DISTIL_WEIGHT=80 make default-model-v2-distil; DISTIL_SAMPLED=1 teaches on the sampled kits too; DISTIL_STEPS=4000 trains that many steps, runs named …4k; DISTIL_BAND_LIMIT=1 band-limits a fifth of the training crops, runs named …bl)
	DISTIL_WEIGHT=20 PY=$(PY) bash experiments/scripts/default_model_v2_distil.sh $(ARGS)
default-model-v2-filter: $(STAMPS)/venv ## after -electronic: its recipe with a random equaliser on every training crop (augmentation.filter_augment, 3-5 bands, +-6 dB), two seeds (~5 h, resumable with -stash); every rung, rung (e) and the crash threshold-free beside the electronic arm
	PY=$(PY) bash experiments/scripts/default_model_v2_filter.sh $(ARGS)

default-model-v2-heldout: $(STAMPS)/venv ## the long arm's recipe with three training kits held out for validation (data=synth_songs_heldout), thresholds tuned on them; 2 seeds (~4.3 h training, resumable with -stash); every rung beside the long arm and v2
	PY=$(PY) bash experiments/scripts/default_model_v2_heldout.sh $(ARGS)

default-model-v2-hardneg: $(STAMPS)/venv ## after -long: both its seeds continued 1,000 steps with the crash's loss x5 on hi-hat and ride frames (hard negatives) and, as the control, 1,000 steps without (~2 h, resumable with -stash); tuned as the long arm, every rung beside it and v2
	PY=$(PY) bash experiments/scripts/default_model_v2_hardneg.sh $(ARGS)

default-model-v2-hardneg-scratch: $(STAMPS)/venv ## after -candidate: its recipe with the crash's hard negatives (x5 on hi-hat and ride frames) from step 0, two seeds (~3.7 h, resumable with -stash); every rung beside the candidate
	PY=$(PY) bash experiments/scripts/default_model_v2_hardneg_scratch.sh $(ARGS)

default-model-v2-candidate16k: $(STAMPS)/venv ## after -candidate: its recipe at the 16 kHz front end (data=synth_songs_32k, features=logmel_16k, n_fft 1350), two seeds (first run: render ~35 min with 2 workers + ~3.7 h training, resumable with -stash; ~17 GB); the 16 kHz seeds tuned and scored on synth_songs_32k (skipped where stashed), summary (beside the 11 kHz candidate where its reports are at hand; SCORE_11K=1 scores it), cases C07/C08/C12
	PY=$(PY) bash experiments/scripts/default_model_v2_candidate16k.sh $(ARGS)

default-model-v2-stash: $(STAMPS)/venv ## carry unfinished v2 trainings across a fresh checkout: their last/best checkpoints and logs into experiments/default_model_v2/resume/ (commit it; the recipes resume from it)
	PY=$(PY) bash experiments/scripts/default_model_v2_stash.sh

default-model-v2-presence: $(STAMPS)/venv ## after -music: the drum presence gate on every rung, v2 and its recipe's seed 43, beside their reports without it (~40 min on 2 busy cores; resumable)
	PY=$(PY) bash experiments/scripts/default_model_v2_presence.sh

# Transfer ablations (experiments/transfer_ablation), after `make default-model`: each arm takes
# one transfer choice away from its 45-minute run, plus a rerun with another seed (no ARGS).
transfer-ablation: $(STAMPS)/venv ## transfer ablations on the unseen kits: augmentation, kit variety, room/EQ, seed (~2.5 h)
	PY=$(PY) bash experiments/scripts/transfer_ablation.sh

sweep: $(STAMPS)/venv ## Optuna sweep of the branch loss weights (Hydra multirun)
	$(PY) -m drumtx.train -m hparams_search=loss_weights $(ARGS)

# A PostgreSQL server for a study shared by several sweep workers or machines (README,
# "Hyper-parameter sweeps"), its data in $(PG_DIR)/. PostgreSQL refuses to run as root, so as
# root it runs as the `postgres` user that Debian's package creates. PG_LISTEN='*' serves other
# machines: logins then need the password (scram-sha-256), so set your own PG_PASSWORD.
PG_DIR ?= .pg
PG_PORT ?= 5433
PG_LISTEN ?= localhost
PG_USER ?= drumtx
PG_PASSWORD ?= drumtx
PG_DB ?= drumtx
SWEEP_DB_URL = postgresql+psycopg://$(PG_USER):$(PG_PASSWORD)@localhost:$(PG_PORT)/$(PG_DB)
# Shell preamble: $$bin (Debian keeps the server programs off PATH), $$as (run as postgres when root), $$dir.
PG_ENV = bin=$$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1); \
	[ -n "$$bin" ] || bin=$$(dirname "$$(command -v pg_ctl)"); \
	as=; [ "$$(id -u)" != 0 ] || as="runuser -u postgres --"; dir="$(abspath $(PG_DIR))"

$(STAMPS)/postgres: $(STAMPS)/venv
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null; then \
	  command -v apt-get >/dev/null || { echo "sweeps on PostgreSQL need its server: install PostgreSQL (Debian: postgresql)" >&2; exit 1; }; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; echo "installing system packages: postgresql"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null \
	    || { echo "apt-get failed: install postgresql yourself, then rerun" >&2; exit 1; }; \
	fi
	$(PY) -m pip install -q -e '.[dev,sweep,train]'
	@touch $@

sweep-db: $(STAMPS)/postgres ## start a PostgreSQL for shared sweeps (data in .pg/; port PG_PORT=5433; PG_LISTEN='*' serves other machines, default localhost)
	@$(PG_ENV); set -e; mkdir -p "$$dir"; \
	if [ -n "$$as" ]; then \
	  chown postgres: "$$dir"; chmod 700 "$$dir"; \
	  $$as test -w "$$dir" || { echo "sweep-db: the postgres user cannot reach $$dir (a parent folder is closed to it): set PG_DIR=/var/tmp/drumtx-pg" >&2; exit 1; }; \
	fi; \
	if [ ! -f "$$dir/data/PG_VERSION" ]; then \
	  (umask 077; printf '%s\n' '$(PG_PASSWORD)' > "$$dir/pwfile"); [ -z "$$as" ] || chown postgres: "$$dir/pwfile"; \
	  $$as "$$bin/initdb" -D "$$dir/data" -U '$(PG_USER)' --pwfile="$$dir/pwfile" -E UTF8 \
	    --auth-local=trust --auth-host=scram-sha-256 > "$$dir/initdb.log" 2>&1 \
	    || { rm -f "$$dir/pwfile"; tail -n 5 "$$dir/initdb.log" >&2; exit 1; }; \
	  rm -f "$$dir/pwfile"; echo "host all all all scram-sha-256" >> "$$dir/data/pg_hba.conf"; \
	fi; \
	if $$as "$$bin/pg_ctl" -D "$$dir/data" status > /dev/null 2>&1; then echo "sweep-db: already running in $$dir"; \
	else \
	  $$as "$$bin/pg_ctl" -D "$$dir/data" -l "$$dir/server.log" -w -o "-p $(PG_PORT) -k $$dir -c listen_addresses='$(PG_LISTEN)'" start > /dev/null \
	    || { tail -n 5 "$$dir/server.log" >&2; exit 1; }; \
	fi; \
	$$as "$$bin/psql" -h "$$dir" -p $(PG_PORT) -U '$(PG_USER)' -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$(PG_DB)'" | grep -q 1 \
	  || $$as "$$bin/createdb" -h "$$dir" -p $(PG_PORT) -U '$(PG_USER)' '$(PG_DB)'; \
	echo "PostgreSQL for sweeps in $$dir, port $(PG_PORT): hydra.sweeper.storage=$(SWEEP_DB_URL)"

sweep-db-stop: ## stop the sweeps' PostgreSQL (its data stays in .pg/)
	@$(PG_ENV); if [ -f "$$dir/data/postmaster.pid" ]; then $$as "$$bin/pg_ctl" -D "$$dir/data" -m fast -w stop; \
	else echo "sweep-db-stop: no server running in $$dir"; fi

# Loss-weight sweep on a CPU (experiments/sweep_loss_weights_finetune): two workers fine-tune the
# packaged model in one Optuna study, the design's and the best weights are rerun with the seeds
# FT_SEEDS="…" (default "43 44"), and a report judges the best against that seed spread.
sweep-finetune: $(STAMPS)/venv ## rank loss weights by fine-tuning the default model: sweep, seed reruns, report (~2 h)
	PY=$(PY) bash experiments/scripts/sweep_finetune.sh $(ARGS)

evaluate: $(STAMPS)/venv ## python -m drumtx.evaluate $(ARGS)
	$(PY) -m drumtx.evaluate $(ARGS)

# $(call shq,text): text as one single-quoted shell word (spaces, %, quotes and * kept as they are)
shq = '$(subst ','\'',$(1))'

transcribe: $(STAMPS)/venv-base ## make transcribe IN="my song.wav" [OUT=dir] [CKPT=path]: IN is one file or folder, taken whole (spaces, %, quotes); several files: a folder
	@[ -n $(call shq,$(IN)) ] || { echo "usage: make transcribe IN=<one audio file or folder; quote a name with spaces> [OUT=dir] [CKPT=path] (several files: put them in a folder, or run python -m drumtx.transcribe a.wav b.wav -o dir)" >&2; exit 2; }
	$(PY) -m drumtx.transcribe $(call shq,$(IN)) -o $(call shq,$(OUT)) $(if $(CKPT),--ckpt $(call shq,$(CKPT))) $(ARGS)

bench: $(STAMPS)/venv ## speed and memory benchmarks on this machine -> experiments/bench/
	$(PY) -m drumtx.bench $(ARGS)

# $(STAMPS)/postgres: tests/test_sweep_postgres.py starts its own server with `make sweep-db`
test: $(STAMPS)/venv $(STAMPS)/postgres ## the default test suite (no slow tests)
	$(PY) -m pytest -q

test-slow: $(STAMPS)/venv ## only the slow tests (DDP, full kit render, sweeps)
	$(PY) -m pytest -q -m slow

# tests/test_wheel.py (slow): build the wheel, install it into a fresh venv (dependencies from
# .venv through a .pth file, no download) and run the console scripts outside the repository.
test-wheel: $(STAMPS)/venv ## pip install . works: wheel into a fresh venv; train, render, transcribe from it (~3 min)
	$(PY) -m pytest -q -m slow tests/test_wheel.py

lint: $(STAMPS)/venv ## ruff
	$(PY) -m ruff check drumtx tests

clean: ## remove the venv, stamps, caches and single-run outputs (keeps data/, multirun/ sweeps and .pg/)
	rm -rf $(VENV) $(STAMPS) cache outputs .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

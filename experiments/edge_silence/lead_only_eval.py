"""``python -m drumtx.evaluate`` with the edge silence before the track only, none after (a probe,
not a setting: is the silence after the track what invents onsets in short files?). Takes
evaluate's arguments, e.g.

    python experiments/edge_silence/lead_only_eval.py ckpt=outputs/default_model_v2/music_w4_s42/best.safetensors \
        data=synth_songs_electronic split=validation inference.edge_silence_seconds=1.5 \
        out_dir=outputs/edge_silence/v2_validation_leadonly_1.5
"""
import functools

import drumtx.inference as I

I._EdgeSilence = functools.partial(I._EdgeSilence, tail=0)  # activations keeps frames [edge, edge + T) either way
from drumtx.evaluate import main  # noqa: E402

main()

"""``python -m drumtx.evaluate`` with the edge silence before the track only, none after (a probe,
not a setting: is the silence after the track what invents onsets in short files?). Takes
evaluate's arguments, e.g.

    python experiments/edge_silence/lead_only_eval.py ckpt=outputs/default_model_v2/music_w4_s42/best.safetensors \
        data=synth_songs_electronic split=validation inference.edge_silence_seconds=1.5 \
        out_dir=outputs/edge_silence/v2_validation_leadonly_1.5
"""
import numpy as np

import drumtx.inference as I


class LeadOnly(I._EdgeSilence):
    def __init__(self, mel, edge, silence):
        super().__init__(mel, edge, silence)
        self.T = int(mel.shape[1])
        self.shape = (self.shape[0], self.T + self.edge)

    def __getitem__(self, key):
        _, cols = key
        lo, hi = cols.start, cols.stop
        out = np.full((self.shape[0], hi - lo), self.silence, dtype=I.MEL_DTYPE)
        a, z = max(lo, self.edge), min(hi, self.edge + self.T)
        if a < z:
            out[:, a - lo : z - lo] = I._as_cached(self.mel[:, a - self.edge : z - self.edge])
        return out


I._EdgeSilence = LeadOnly
from drumtx.evaluate import main  # noqa: E402

main()

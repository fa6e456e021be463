"""Rule simulate_run: fMRIPrep-style derivatives of one subject x session run."""

import sys

sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

from ecgap.io import read_tsv, save_nifti, write_json, write_tsv
from ecgap.simulate_images import ImagingParams, simulate_run
from ecgap.snake import run
from ecgap.task import n_volumes


def main(smk):
    subject, session = smk.wildcards.subject, smk.wildcards.session
    events = read_tsv(smk.input.events)
    gains = read_tsv(smk.input.gains).set_index("participant_id").loc[f"sub-{subject}"]
    runs = read_tsv(smk.input.runs, dtype={"subject": str, "session": str})
    high_motion = bool(runs.loc[(runs.subject == subject) & (runs.session == session),
                                "high_motion"].iloc[0])
    n_vols = n_volumes(events, smk.params.tr, smk.params.lead_out)
    index = int(subject) * 10 + smk.params.session_index
    bold, mask, confounds, sidecar = simulate_run(
        events, gains, smk.params.session_index, high_motion,
        ImagingParams(**smk.params.imaging), smk.params.grid_mm, smk.params.tr, n_vols,
        seed=[smk.params.seed, 1, index])
    save_nifti(bold, smk.output.bold)
    save_nifti(mask, smk.output.mask)
    write_json({"RepetitionTime": smk.params.tr, "TaskName": smk.params.task,
                "SkullStripped": False, "SliceTimingCorrected": False,
                "Description": "simulated by ecgap", "HighMotion": high_motion},
               smk.output.bold_json)
    write_tsv(confounds, smk.output.confounds)
    write_json(sidecar, smk.output.confounds_json)


run(snakemake, main)  # noqa: F821

"""Rule preprocess_run: confound selection, scrubbing regressors and motion/tSNR QC."""

import gc
import logging
import sys

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821

import nibabel as nib

from ecgap.confounds import ConfoundSpec, QCLimits, motion_qc, select_confounds, temporal_snr
from ecgap.io import read_tsv, write_json, write_tsv
from ecgap.snake import run


def main(smk):
    p = smk.params
    spec = ConfoundSpec.from_config({**p.confounds, "fd_threshold": p.fd_threshold,
                                     "std_dvars_threshold": p.std_dvars_threshold,
                                     "scrub_min_segment": p.scrub_min_segment})
    confounds, scrubbed = select_confounds(smk.input.confounds, smk.input.confounds_json, spec)
    qc = motion_qc(read_tsv(smk.input.confounds), scrubbed,
                   QCLimits(p.max_scrubbed_fraction, p.max_mean_fd))
    qc["tsnr"] = temporal_snr(nib.load(smk.input.bold), nib.load(smk.input.mask))
    qc.update(**smk.params.run, n_confounds=int(confounds.shape[1]))
    logging.info("%s: %s", smk.wildcards.run_id, qc)
    write_tsv(confounds, smk.output.confounds)
    write_json(qc, smk.output.qc)


run(snakemake, main)  # noqa: F821

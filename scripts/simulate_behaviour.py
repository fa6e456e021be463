"""Rule simulate_behaviour: participants, events with ratings, memory scores, truth."""

import gc
import sys
from pathlib import Path

gc.disable()  # until ecgap.snake.run: see there
sys.path.insert(0, snakemake.scriptdir)  # noqa: F821 (snakemake is injected)

from ecgap.simulate_behaviour import BehaviourParams, study_from_config, write_behaviour_dataset
from ecgap.snake import run


def main(smk):
    study = study_from_config({"data": smk.params.data, "design": smk.params.design,
                               "simulate": smk.params.simulate})
    write_behaviour_dataset(study, BehaviourParams(**smk.params.simulate["behaviour"]),
                            Path(smk.output.participants).parent,
                            Path(smk.output.derivatives_description).parent,
                            Path(smk.output.truth).parent, smk.params.link)


run(snakemake, main)  # noqa: F821

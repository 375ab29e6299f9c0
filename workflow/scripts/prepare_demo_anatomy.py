"""Rule prepare_demo_anatomy: derive one source brain of the demo once, before any dataset is drawn.

The derivation (ROBEX, N4, registration, tissue mixture; minutes) fills the user's anatomy cache;
done here, once per anatomy, the synthesis jobs that run side by side do not each derive it again.
The marker records which cached file the run's subjects were drawn from.
"""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import refusals, setup

setup(snakemake)

from patch2loc.synth.anatomies import AnatomyUnavailable, describe_source

with refusals(snakemake, AnatomyUnavailable):  # offline, or a bad cache: one line, not a traceback
    line = describe_source(snakemake.wildcards.anatomy)
with open(snakemake.output.marker, "w") as fh:
    fh.write(line + "\n")

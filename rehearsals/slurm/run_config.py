"""A copy of a config under another run name (results/{name}/, its own raw data and atlas), written
whole (its `extends` chain applied): the copy stands alone.

python rehearsals/slurm/run_config.py config/demo.yaml demo_slurm OUT.yaml
"""

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from patch2loc.run.configfiles import load  # noqa: E402  (the config's `extends` chain, as the workflow reads it)

src, name, dest = sys.argv[1], sys.argv[2], Path(sys.argv[3])
cfg = load([src])
old = f"results/{cfg['run_name']}/"
text = yaml.safe_dump(cfg, sort_keys=False).replace(old, f"results/{name}/")
cfg = yaml.safe_load(text)
cfg["run_name"] = name
dest.parent.mkdir(parents=True, exist_ok=True)
dest.write_text(yaml.safe_dump(cfg, sort_keys=False))

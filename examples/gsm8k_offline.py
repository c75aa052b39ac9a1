"""The offline demo as a script: ExecTune on GSM8K with the six recipes compared.

python examples/gsm8k_offline.py --preset quick     # real offline models, CPU
python examples/gsm8k_offline.py --preset tiny      # smoke run, config-built models
"""

import argparse
import logging

from gcop.demo import run_demo

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--preset", choices=("tiny", "quick", "full"), default="quick")
parser.add_argument("--out", default="runs/gsm8k-offline")
args = parser.parse_args()

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
report = run_demo(args.preset, args.out)
print(report.read_text())

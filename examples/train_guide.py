"""Train a GSM8K guide with ExecTune, in one process or data-parallel over several (accelerate).

python examples/train_guide.py --sft-only --run-dir runs/x        # acceptance + SFT, once
accelerate launch --num_processes 4 examples/train_guide.py --run-dir runs/x

Every launched process runs the whole script: the acceptance decisions the first command stored
in --run-dir are reused (no teacher or core call is repeated), SFT and GRPO run data-parallel,
each process on its own device, and the main process alone saves the policy to <run-dir>/policy.
Each process writes what it trained, and where, to <run-dir>/processes/<rank>.json.
The models and settings are the demo's `quick` preset; --tiny trains a config-built guide on 4
problems against a calculator core, offline in seconds. On a machine without GPUs, launch with
--multi_gpu all the same (torchrun; the trainers then use gloo): accelerate's --cpu starts one
process.
"""

import argparse
import json
import logging
from pathlib import Path

from accelerate import PartialState

import gcop
from gcop.demo import demo_policy
from gcop.lm import ChatCompletion, register_backend
from gcop.presets import PRESETS
from gcop.tasks.gsm8k import TASK
from gcop.tasks.gsm8k.calculator import plan_value

# --tiny: enough SFT that the guide writes a valid plan about half the time, so GRPO's groups differ
TINY_TRAINING = dict(
    sft_epochs=30,
    sft_learning_rate=1e-2,
    grpo_steps=4,
    grpo_generations=4,
    grpo_batch_size=4,
    lambda_judge=0.0,  # no judge: the calculator core cannot score plans
)


class CalculatorCore:
    """A stand-in core without a model: it carries out the plan's last ``Compute`` step."""

    def complete(self, messages: list[dict], *, n: int = 1, **sampling) -> ChatCompletion:
        value = plan_value(messages[-1]["content"])
        answer = "no plan to follow" if value is None else f"The answer is {value}"
        reply = f"[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"
        return ChatCompletion([reply] * n, prompt_tokens=0, completion_tokens=0)


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--run-dir", default="runs/train-guide")
parser.add_argument("--sft-only", action="store_true", help="acceptance and SFT, no GRPO")
parser.add_argument("--tiny", action="store_true", help="config-built guide, calculator core")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

preset = PRESETS["quick"]
if args.tiny:
    core = register_backend("calculator-core", CalculatorCore())
    training = PRESETS["tiny"].exectune.model_copy(update=TINY_TRAINING)
    preset = PRESETS["tiny"].model_copy(update={"core": core, "exectune": training})
run_dir = Path(args.run_dir)
policy = demo_policy(preset)
config = preset.exectune.model_copy(
    update={
        "grpo": not args.sft_only,
        "privileged_teacher": preset.teacher in TASK.privileged_teachers,
    }
)
trainset = TASK.load("train", n=preset.n_train, seed=0)
optimizer = gcop.ExecTune(TASK.metric, teacher=preset.teacher, config=config, run_dir=run_dir)
trained = optimizer.compile(policy, trainset=trainset)

state = PartialState()  # the launch's processes (one process without accelerate launch)
if state.is_main_process:
    trained.save(run_dir / "policy")
record = {
    "rank": state.process_index,
    "processes": state.num_processes,
    "device": str(policy.guide.local_lm.model.device),
    "backend": state.backend,
    "saved": state.is_main_process,
    **{name: trained.artifacts.get(name) for name in ("acceptance", "sft", "grpo")},
}
(run_dir / "processes").mkdir(parents=True, exist_ok=True)
(run_dir / "processes" / f"{state.process_index}.json").write_text(json.dumps(record, indent=2))
print(f"process {state.process_index} of {state.num_processes} on {record['device']}: done")

"""GRPO with a verifiable plan reward on GSM8K (issue 27): can GRPO turn the SFT guide's pass@k
into pass@1?

Three phases, each resumable (re-running the same command continues where it stopped; SFT and
GRPO from their last checkpoint):

1. ``sft``: a LoRA on ``qwen2.5-coder-0.5b`` (``--guide-model``: another base, such as
   ``qwen2.5-coder-1.5b``) trained with gcop's ``train_sft`` on the ``symbolic-planner``'s plans
   for the first ``--n-sft`` GSM8K training problems (seed 0), with the ``evidence`` preset's
   LoRA/SFT settings. Acceptance sampling is skipped: every reference plan is kept (the preset's
   acceptance keeps about half of them).
2. ``eval``: the SFT guide's greedy right-plan rate (and pass@k) on 100 dev problems.
3. ``grpo``: GRPO from the SFT guide on the whole training split, every plan scored by the plan
   verifier (the calculator's value against the gold answer), ``--core-share`` of the groups by
   the core (the same 0.5B model, plain prompt, as in the preset), or with ``--core-gate`` every
   plan the verifier finds right carried out by the core (R_task the product; ``--mu`` and
   ``--lambda-judge`` add the hinge against the core alone and the core model as judge);
   ``--one-operation`` rewards only right plans whose steps each hold one operation;
   ``--agreement-charge β`` charges each wrong plan β × the share of its group computing its value;
   checkpoints every ``--save-steps`` steps, curve points on the dev slice every
   ``--curve-steps`` steps.

Files in ``--run-dir``: ``sft_guide/`` (the starting guide), ``sft_eval.jsonl``,
``checkpoints/`` (GRPO's, resumed from), ``curves.jsonl`` (one point per evaluation),
``steps.jsonl`` (one row per step: rewards, zero-advantage share, sampling/reward/training
time), ``grpo_guide/`` (the final guide), ``log.txt`` when run with ``nohup … > log.txt``.

    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE .venv/bin/python experiments/grpo_plan_reward.py all \
        --run-dir runs/grpo_long

(``OMP_WAIT_POLICY=PASSIVE``: on a shared 2-core machine, spinning OpenMP threads made decoding
several times slower.)
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from types import SimpleNamespace

from gcop.optimizers.freed_memory import cap_heap_arenas
from gcop.tasks import gsm8k as gsm8k_task  # load, the kit (its verifier), the calculator
from gcop.tasks.gsm8k.calculator import stepwise_plan_verdict
from gcop.tasks.gsm8k.planner import plan_from_reference

logger = logging.getLogger("grpo_plan_reward")
MODEL = "qwen2.5-coder-0.5b"
# the task's check of a plan without the core: the calculator's value against the gold answer
PLAN_VERIFIER = gsm8k_task.KIT.verifier


def load_data(args) -> tuple[list, list]:
    train = gsm8k_task.load("train")
    dev = gsm8k_task.load("dev", n=args.n_dev, seed=0)
    return train, dev


def base_config(args):
    from gcop.presets import EVIDENCE

    return EVIDENCE.exectune.model_copy(update={"concurrency": 8})


def new_guide(lm):
    import gcop
    from gcop.signatures import MathGuide

    return gcop.Guide(MathGuide, lm=lm, token_budget=base_config(None).max_strategy_tokens)


# --- phase 1: the SFT guide --------------------------------------------------------------------


def sft_guide(args):
    """The starting guide, trained once and then loaded from ``run_dir/sft_guide``."""
    import gcop

    folder = args.run_dir / "sft_guide"
    if (folder / "gcop_lm.json").exists():
        return new_guide(gcop.LocalLM.load(folder))
    from gcop.optimizers.sft import train_sft

    train = gsm8k_task.load("train", n=args.n_sft, seed=0)
    pairs = [
        ({"question": ex.question}, plan_from_reference(ex.answer, style="symbolic"))
        for ex in train
    ]
    start = time.time()
    config = base_config(args).model_copy(  # a stopped SFT resumes from its last checkpoint
        update={"sft_save_steps": 5, "sft_checkpoint_dir": str(args.run_dir / "sft_checkpoints")}
    )
    guide, summary = train_sft(new_guide(gcop.LocalLM(args.guide_model)), pairs, config)
    guide.local_lm.save(folder)
    summary = {k: v for k, v in summary.items() if k != "losses"} | {"wall_s": time.time() - start}
    (args.run_dir / "sft_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    logger.info("SFT guide saved to %s (%.0f s)", folder, time.time() - start)
    return new_guide(gcop.LocalLM.load(folder))


# --- phase 2: the SFT guide on dev -------------------------------------------------------------


def curves(guide, dev, path, args, pass_n):
    from gcop.optimizers.grpo.curves import PlanCurves

    return PlanCurves(
        guide,
        dev,
        PLAN_VERIFIER,
        path,
        every=args.curve_steps,
        k=args.k,
        pass_n=pass_n,
        temperature=args.temperature,
        max_new_tokens=args.max_completion_tokens,
        batch_size=args.eval_batch,
    )


def evaluate_sft(args, guide, dev) -> dict:
    path = args.run_dir / "sft_eval.jsonl"
    if path.exists():
        return json.loads(path.read_text().splitlines()[-1])
    local = guide.local_lm
    meter = curves(guide, dev, path, args, pass_n=args.pass_n)
    return meter.evaluate(
        local.model, local.tokenizer, SimpleNamespace(global_step=0, log_history=[])
    )


# --- phase 3: GRPO -----------------------------------------------------------------------------


def step_log(path: Path, timers: dict):
    """A callback writing one JSON row per step: TRL's and gcop's logged numbers, and where the
    step's time went (``sampling_s``, ``reward_s``, ``train_s``: loss, backward, optimizer)."""
    from transformers import TrainerCallback

    class StepLog(TrainerCallback):
        started = time.perf_counter()

        def on_step_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()
            timers.update(sampling=0.0, reward=0.0)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return
            total = time.perf_counter() - self.started
            row = {"step": state.global_step, "time": round(time.time(), 1)}
            row |= {"step_s": round(total, 2)}
            row |= {f"{k}_s": round(v, 2) for k, v in timers.items()}
            row["train_s"] = round(total - timers["sampling"] - timers["reward"], 2)
            row |= {k: v for k, v in logs.items() if isinstance(v, int | float)}
            with path.open("a") as out:
                out.write(json.dumps(row) + "\n")

    return StepLog()


def time_phases(timers: dict, reward_class: type | None = None) -> None:
    """Time TRL's sampling and the reward function (class-level wrappers, this process only);
    ``reward_class``: the reward's class (the plan reward's when omitted)."""
    from trl import GRPOTrainer

    from gcop.optimizers.grpo.plan_reward import PlanReward

    reward_class = reward_class or PlanReward

    def timed(function, key):
        def wrapper(*a, **kw):
            start = time.perf_counter()
            try:
                return function(*a, **kw)
            finally:
                timers[key] = timers.get(key, 0.0) + time.perf_counter() - start

        return wrapper

    GRPOTrainer._generate = timed(GRPOTrainer._generate, "sampling")
    reward_class.__call__ = timed(reward_class.__call__, "reward")


def core_module(render: bool = True):
    """The 0.5B core as the preset runs it; ``render=False`` reads the guide's text as it is."""
    import gcop
    from gcop.lm.resolve import resolve_lm
    from gcop.signatures import MathSolve

    return gcop.Core(
        MathSolve,
        lm=resolve_lm(MODEL, "core"),
        adapter="plain",
        temperature=0.0,
        max_tokens=320,
        kit=gsm8k_task.KIT if render else None,  # the kit's render: its calculator
    )


def grpo_config(args, **settings):
    """The preset's settings with the run's GRPO settings (steps, group shape, learning rate,
    temperature, completion cap, checkpoints in ``run_dir/checkpoints``) and ``settings``."""
    return base_config(args).model_copy(
        update={
            "grpo_steps": args.steps,
            "grpo_generations": args.generations,
            "grpo_batch_size": args.questions * args.generations,
            "grpo_micro_batch_size": args.micro_batch,
            "grpo_learning_rate": args.learning_rate,
            "grpo_temperature": args.temperature,
            "grpo_max_completion_tokens": args.max_completion_tokens,
            "grpo_save_steps": args.save_steps,
            "grpo_checkpoint_dir": str(args.run_dir / "checkpoints"),
            **settings,
        }
    )


def run_grpo(args, guide, train, dev) -> dict:
    from gcop.optimizers.grpo.trainer import train_grpo

    config = grpo_config(
        args,
        grpo_core_share=args.core_share,
        grpo_core_gate=args.core_gate,
        grpo_shared_prefix=args.shared_prefix,
        grpo_dynamic_sampling=args.extra_draws,
        mu=args.mu,
        lambda_judge=args.lambda_judge,
    )
    timers = {"sampling": 0.0, "reward": 0.0}
    time_phases(timers)
    steps = step_log(args.run_dir / "steps.jsonl", timers)
    path = args.run_dir / "curves.jsonl"
    sft_point = args.run_dir / "sft_eval.jsonl"
    if not path.exists() and sft_point.exists():  # the SFT guide's point is step 0
        path.write_text(sft_point.read_text())
    meter = curves(guide, dev, path, args, pass_n=args.pass_n)
    meter.at_start = not path.exists()
    uses_core = args.core_share > 0 or args.core_gate
    core = core_module() if uses_core else SimpleNamespace(ledger=_NoLedger())
    trained, summary = train_grpo(
        guide,
        core,
        train,
        metric=gsm8k_task.exact_match,
        config=config,
        reward="shaped",
        plan_verifier=stepwise_plan_verdict if args.one_operation else PLAN_VERIFIER,
        agreement=agreement_charge(args.agreement_charge),
        judge_lm=core.lm if args.lambda_judge > 0 else None,  # the core judges, as in §3i
        callbacks=[meter, steps],
    )
    trained.local_lm.save(args.run_dir / "grpo_guide")
    summary.pop("history", None)
    (args.run_dir / "grpo_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def agreement_charge(weight: float):
    """The charge on wrong plans that agree, from the kit's consensus key and verifier (None at
    weight 0)."""
    from gcop.optimizers.grpo.agreement_charge import AgreementCharge

    kit = gsm8k_task.KIT
    return AgreementCharge(kit.consensus, kit.verifier, weight) if weight > 0 else None


class _NoLedger(list):
    """With ``--core-share 0`` and no ``--core-gate``, no core is built (no core call is made)."""

    def since(self, mark):
        return []


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("phase", choices=["sft", "eval", "grpo", "all"])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/grpo_long"))
    parser.add_argument("--n-sft", type=int, default=240, help="SFT problems (preset: 240)")
    parser.add_argument(
        "--guide-model",
        default=MODEL,
        help="the guide's base model (a registry name); the core stays " + MODEL,
    )
    parser.add_argument("--n-dev", type=int, default=100)
    parser.add_argument("--steps", type=int, default=1000, help="GRPO steps in all")
    parser.add_argument("--questions", type=int, default=8, help="questions (groups) a step")
    parser.add_argument("--generations", type=int, default=8, help="plans per question")
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-completion-tokens", type=int, default=96)
    parser.add_argument("--core-share", type=float, default=0.25)
    parser.add_argument(
        "--core-gate",
        action="store_true",
        help="the core carries out every plan the verifier finds right; R_task = verifier × core "
        "(--core-share unused)",
    )
    parser.add_argument(
        "--mu",
        type=float,
        default=0.0,
        help="non-regression weight μ with --core-gate (one core call alone per question)",
    )
    parser.add_argument(
        "--lambda-judge",
        type=float,
        default=0.0,
        help="judge weight λ_judge with --core-gate (the core model judges every valid plan)",
    )
    parser.add_argument(
        "--one-operation",
        action="store_true",
        help="structure-aware reward: a right plan earns R_task only where each step holds one "
        "operation (the curves still count every right plan)",
    )
    parser.add_argument(
        "--agreement-charge",
        type=float,
        default=0.0,
        help="calibration: charge each wrong plan this weight × the share of the other plans of "
        "its group computing its value (the kit would send it); 0: off",
    )
    parser.add_argument(
        "--shared-prefix",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="one prompt pass per group in sampling and in the loss, not one per completion",
    )
    parser.add_argument(
        "--extra-draws",
        type=int,
        default=0,
        help="dynamic sampling: extra draws a step may take to fill it with mixed groups (0: off)",
    )
    parser.add_argument("--save-steps", type=int, default=10)
    parser.add_argument("--curve-steps", type=int, default=25)
    parser.add_argument("--k", type=int, default=8, help="pass@k's k")
    parser.add_argument("--pass-n", type=int, default=25, help="dev problems for pass@k")
    parser.add_argument(
        "--eval-batch",
        type=int,
        default=50,
        help="dev prompts per generate (decoding is memory-bound)",
    )
    args = parser.parse_args(argv)
    cap_heap_arenas()  # before any thread (gcop.optimizers.freed_memory)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True
    )
    (args.run_dir / "args.json").write_text(json.dumps(vars(args), default=str, indent=2))
    train, dev = load_data(args)
    guide = sft_guide(args)
    if args.phase in ("eval", "all"):
        logger.info("SFT guide on dev: %s", evaluate_sft(args, guide, dev))
    if args.phase in ("grpo", "all"):
        logger.info("GRPO done: %s", run_grpo(args, guide, train, dev))


if __name__ == "__main__":
    main()

"""Your own task: a gcop.Task with a strategy kit; `gcop compile --task custom_task:TASK`."""

import dspy

import gcop

Guide = dspy.Signature("question -> plan", "Plan how to tell whether the number is even.")
Solve = dspy.Signature("question -> answer", "Answer 'yes' or 'no'.")


def load(split="train", n=None, seed=0):
    numbers = range(0, 40) if split == "train" else range(40, 60)
    rows = [dspy.Example(question=f"Is {i} even?", answer=["yes", "no"][i % 2]) for i in numbers]
    return [row.with_inputs("question") for row in rows][:n]


def metric(example, prediction, trace=None):
    return example.answer in str(prediction.answer).lower()


def leads_to(plan):  # where a plan leads: sampled plans that agree on it are kept
    return plan.strip(" .").lower().rpartition(" ")[2]


def verdict(plan, example):  # checks a plan without the core: GRPO's plan reward
    return float(leads_to(plan) == example.answer)


KIT = gcop.register_kit(gcop.StrategyKit("parity", consensus=leads_to, verifier=verdict))
TASK = gcop.Task("parity", load, Guide, Solve, metric, kit=KIT)

if __name__ == "__main__":
    policy = TASK.policy(guide="tiny", core="tiny")  # or any LiteLLM model string
    print(policy(question="Is 7 even?").answer)

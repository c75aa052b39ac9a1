"""GuideCorePolicy, Guide and Core against scripted fake LMs."""

import asyncio
import hashlib
import json

import dspy
import pytest
from dspy.utils.exceptions import AdapterParseError
from fakes import last_user_text

import gcop
from gcop.lm.resolve import API_TIMEOUT_S, LOCAL_TIMEOUT_S
from gcop.modules.strategy_adapter import STRATEGY_HEADER
from gcop.signatures import MathGuide, MathSolve

QUESTION = "Tom has 3 apples and buys 4 more. How many apples?"


def core_reply(messages):
    """Answers 7 only when told to add; otherwise a wrong 12."""
    text = last_user_text(messages)
    answer = 7 if "add the two counts" in text else 12
    return f"[[ ## answer ## ]]\nThe answer is {answer}\n\n[[ ## completed ## ]]"


def make_policy(scripted_lm, guide_reply="<strategy>1. add the two counts</strategy>"):
    guide_lm = scripted_lm([guide_reply])
    core_lm = scripted_lm(core_reply)
    guide = gcop.Guide(MathGuide, lm=guide_lm.model_string)
    core = gcop.Core(MathSolve, lm=core_lm.model_string)
    return gcop.GuideCorePolicy(guide=guide, core=core), guide_lm, core_lm


def test_guided_prediction_carries_strategy_answer_and_cost(scripted_lm):
    policy, guide_lm, core_lm = make_policy(scripted_lm)
    pred = policy(question=QUESTION)
    assert pred.valid is True
    assert pred.strategy == "1. add the two counts"
    assert pred.answer == "The answer is 7"
    assert pred.cost.calls == 2
    assert pred.cost.dollars == 0.0
    sent = last_user_text(core_lm.calls[0]["messages"])
    assert STRATEGY_HEADER in sent and QUESTION in sent
    assert QUESTION in last_user_text(guide_lm.calls[0]["messages"])


def test_invalid_strategy_never_reaches_the_core(scripted_lm):
    policy, _, core_lm = make_policy(scripted_lm, guide_reply="just add them")
    pred = policy(question=QUESTION)
    assert pred.valid is False and pred.reason == "no <strategy> block"
    assert STRATEGY_HEADER not in last_user_text(core_lm.calls[0]["messages"])
    assert pred.answer == "The answer is 12"


def test_unguided_mode_skips_the_guide(scripted_lm):
    policy, guide_lm, _ = make_policy(scripted_lm)
    pred = policy.unguided()(question=QUESTION)
    assert guide_lm.calls == []
    assert pred.answer == "The answer is 12" and pred.cost.calls == 1


def test_with_core_swaps_the_lm_and_keeps_the_guide(scripted_lm):
    policy, guide_lm, core_lm = make_policy(scripted_lm)
    other_core = scripted_lm(["[[ ## answer ## ]]\nThe answer is 99"])
    swapped = policy.with_core(other_core.model_string)
    assert swapped(question=QUESTION).answer == "The answer is 99"
    assert swapped.guide.lm.model == policy.guide.lm.model
    assert core_lm.calls == [] and len(other_core.calls) == 1
    assert policy.core.lm.model == core_lm.model_string  # the original is untouched


def test_with_lm_leaves_the_old_servers_settings_behind():
    core = gcop.Core(
        MathSolve,
        lm="openai/my-model",
        api_base="http://127.0.0.1:8000/v1",
        api_key="sk-local",
        timeout=0.5,
        temperature=0.3,
    )
    assert core.lm.kwargs["api_base"] == "http://127.0.0.1:8000/v1"
    moved = core.with_lm("openai/gpt-4.1-mini")
    assert "api_base" not in moved.lm.kwargs and "api_key" not in moved.lm.kwargs
    assert moved.lm.kwargs["timeout"] == API_TIMEOUT_S  # an API's default, not the old 0.5 s
    assert moved.lm.kwargs["temperature"] == 0.3  # sampling settings carry over
    assert moved.ledger is core.ledger
    served = core.with_lm("openai/other", api_base="http://127.0.0.1:9000/v1")
    assert served.lm.kwargs["api_base"] == "http://127.0.0.1:9000/v1"
    assert served.lm.kwargs["timeout"] == LOCAL_TIMEOUT_S


class Chain(dspy.Module):
    """A user's two-step program: the second predictor reads the first one's output."""

    def __init__(self):
        super().__init__()
        self.draft = dspy.Predict("question -> draft")
        self.final = dspy.Predict("question, draft -> answer")

    def forward(self, question):
        return self.final(question=question, draft=self.draft(question=question).draft)


def test_wraps_an_existing_multi_predictor_program(scripted_lm):
    def reply(messages):
        text = last_user_text(messages)
        assert STRATEGY_HEADER in text  # every predictor sees the strategy
        field = "answer" if "draft-text" in text else "draft"  # the final step reads the draft
        return f"[[ ## {field} ## ]]\n{field}-text\n\n[[ ## completed ## ]]"

    core_lm = scripted_lm(reply)
    guide_lm = scripted_lm(["<strategy>think twice</strategy>"])
    users_program = Chain()
    policy = gcop.GuideCorePolicy(
        guide=gcop.Guide(MathGuide, lm=guide_lm.model_string),
        core=users_program,
        core_lm=core_lm.model_string,
    )
    pred = policy(question=QUESTION)
    assert pred.answer == "answer-text" and pred.strategy == "think twice"
    assert len(core_lm.calls) == 2
    assert users_program.draft.lm is None  # the user's object is not modified
    # Chain has no aforward: acall runs it in a worker thread, with the strategy all the same
    pred = asyncio.run(policy.acall(question=f"{QUESTION}?"))
    assert pred.answer == "answer-text" and pred.cost.calls == 1 + 2 and len(core_lm.calls) == 4


def test_acall_runs_guide_and_core_and_meters_each_prediction(scripted_lm):
    policy, guide_lm, core_lm = make_policy(scripted_lm)

    async def ask(program, n):
        questions = [f"{QUESTION} ({i})" for i in range(n)]
        return await asyncio.gather(*(program.acall(question=q) for q in questions))

    predictions = asyncio.run(ask(policy, 3))
    assert [p.answer for p in predictions] == ["The answer is 7"] * 3
    assert [(p.strategy, p.valid, p.cost.calls) for p in predictions] == [
        ("1. add the two counts", True, 2)
    ] * 3
    assert len(guide_lm.calls) == len(core_lm.calls) == 3
    assert all(STRATEGY_HEADER in last_user_text(call["messages"]) for call in core_lm.calls)

    (unguided,) = asyncio.run(ask(policy.unguided(), 1))
    assert (unguided.answer, unguided.reason, unguided.cost.calls) == (
        "The answer is 12",
        "unguided",
        1,
    )

    invalid, _, invalid_core = make_policy(scripted_lm, guide_reply="just add the two counts")
    (pred,) = asyncio.run(ask(invalid, 1))  # strict: an invalid plan never reaches the core
    assert (pred.valid, pred.strategy, pred.answer) == (False, "", "The answer is 12")
    assert STRATEGY_HEADER not in last_user_text(invalid_core.calls[0]["messages"])


def test_lenient_parse_keeps_unformatted_replies_and_counts_them(scripted_lm):
    core_lm = scripted_lm(["We add 3 and 4. The answer is 7"])
    policy = gcop.GuideCorePolicy(guide=None, core=gcop.Core(MathSolve, lm=core_lm.model_string))
    assert policy(question=QUESTION).answer == "We add 3 and 4. The answer is 7"
    assert policy.stats() == {"lenient_rescues": 1, "unrendered": 0}
    assert policy.unguided().stats()["lenient_rescues"] == 0  # a copy counts its own


def test_a_wrapped_program_is_strict_by_default(scripted_lm):
    core_lm = scripted_lm(["no field markers here"])
    strict = gcop.GuideCorePolicy(guide=None, core=Chain(), core_lm=core_lm.model_string)
    assert strict.core.lenient is False
    with pytest.raises(AdapterParseError):  # never 'no field markers here' as the draft
        strict(question=QUESTION)
    assert strict.stats()["lenient_rescues"] == 0

    lenient = gcop.Core(Chain(), core_lm.model_string, lenient=True)
    assert lenient(question=QUESTION).answer == "no field markers here"
    assert lenient.lenient_rescues == 2  # the draft, then the answer


def test_a_program_without_predictors_is_refused():
    class Direct(dspy.Module):
        def forward(self, question):
            return dspy.Prediction(answer=dspy.LM("openai/gpt-4.1-mini")(question)[0])

    with pytest.raises(ValueError, match="Direct has no dspy.Predict, so no strategy can reach"):
        gcop.Core(Direct(), "openai/gpt-4.1-mini")


def test_replacing_a_predictors_own_lm_warns(scripted_lm):
    program = Chain()
    own_lm = dspy.LM("openai/gpt-4.1-mini")
    program.final.lm = own_lm
    with pytest.warns(UserWarning, match=r"replaces the LM set on predictor\(s\) \['final'\]"):
        core = gcop.Core(program, scripted_lm(["x"]).model_string)
    assert core.program.final.lm is None and program.final.lm is own_lm


def test_trials_with_rollout_ids_are_not_collapsed_by_the_cache(scripted_lm):
    core_lm = scripted_lm(["[[ ## answer ## ]]\n1", "[[ ## answer ## ]]\n2"])
    core = gcop.Core(MathSolve, lm=core_lm.model_string, temperature=0.7)
    for trial in range(2):
        core(question=QUESTION, lm_kwargs={"rollout_id": trial})
    core(question=QUESTION, lm_kwargs={"rollout_id": 0})  # a repeat: served from the cache
    assert len(core_lm.calls) == 2
    summary = core.ledger.summary("core")
    assert summary.calls == 3 and summary.cache_hits == 1


def test_works_inside_dspy_evaluate_and_parallel(scripted_lm):
    policy, _, _ = make_policy(scripted_lm)
    examples = [
        dspy.Example(question=f"{QUESTION} ({i})", gold="7").with_inputs("question")
        for i in range(4)
    ]

    def metric(example, pred, trace=None):
        return pred.answer.endswith(example.gold)

    result = dspy.Evaluate(devset=examples, metric=metric, num_threads=2)(policy)
    assert result.score == 100.0
    outputs = dspy.Parallel(num_threads=2)([(policy, ex) for ex in examples])
    assert all(out.valid for out in outputs)


def test_dspy_evaluate_saves_predictions_as_json(scripted_lm, tmp_path):
    policy, _, _ = make_policy(scripted_lm)
    examples = [dspy.Example(question=QUESTION, gold="7").with_inputs("question")]
    path = tmp_path / "results.json"

    def metric(example, pred, trace=None):
        return pred.answer.endswith(example.gold)

    dspy.Evaluate(devset=examples, metric=metric, save_as_json=str(path))(policy)
    (row,) = json.loads(path.read_text())
    assert row["answer"] == "The answer is 7" and row["strategy"] == "1. add the two counts"
    assert "cost" not in row  # metadata, not an output field
    assert policy(question=QUESTION).cost.calls == 2


def test_save_and_load_round_trip(scripted_lm, tmp_path):
    policy, _, _ = make_policy(scripted_lm)
    policy.artifacts["certificate"] = {"bound": 0.5}
    policy.save(tmp_path / "run")
    fresh, _, _ = make_policy(scripted_lm)
    fresh.guided = False
    fresh.load(tmp_path / "run")
    assert fresh.guided is True
    assert fresh.artifacts == {"certificate": {"bound": 0.5}}
    assert fresh.core.lm.model == policy.core.lm.model


def test_bad_inputs_raise_clear_errors(scripted_lm, tmp_path):
    with pytest.raises(ValueError, match="core_lm"):
        gcop.GuideCorePolicy(guide=None, core=dspy.Predict("question -> answer"))
    with pytest.raises(ValueError, match="cannot route"):
        gcop.Core(MathSolve, lm="nonsense-provider-xyz")
    with pytest.raises(ValueError, match="no local model"):
        gcop.Core(MathSolve, lm="local/never-registered")
    policy, _, _ = make_policy(scripted_lm)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        policy.save(tmp_path / "file")


@pytest.mark.parametrize("name", ["policy.json", "policy.pkl"])
def test_saving_to_a_state_file_asks_for_a_folder(scripted_lm, tmp_path, name):
    policy, _, _ = make_policy(scripted_lm)
    with pytest.raises(ValueError, match=r"saved to a folder .* pass a folder such as '.*policy'"):
        policy.save(tmp_path / name)
    assert not (tmp_path / name).exists()


def test_non_strict_policy_sends_an_unparsed_completion_to_the_core(scripted_lm):
    policy, _, core_lm = make_policy(scripted_lm, guide_reply="just add the two counts")
    policy.strict = False
    pred = policy(question=QUESTION)
    assert pred.valid is False and pred.strategy == "just add the two counts"
    assert "just add the two counts" in last_user_text(core_lm.calls[0]["messages"])
    assert pred.answer == "The answer is 7"


SECRETS = ("sk-string-core", "sk-dspy-core", "pw-in-url", "sk-in-query", "sk-header", "aws-secret")


def test_a_saved_policy_holds_no_secrets_and_loads_keys_from_the_environment(scripted_lm, tmp_path):
    guide = gcop.Guide(MathGuide, lm=scripted_lm(["<strategy>x</strategy>"]).model_string)
    by_string = gcop.Core(MathSolve, lm="openai/gpt-4.1-mini", api_key=SECRETS[0])
    by_string_policy = gcop.GuideCorePolicy(guide=guide, core=by_string)
    by_string_policy.artifacts["teacher"] = {"model": "openai/gpt-4.1", "api_key": SECRETS[0]}
    by_string_policy.save(tmp_path / "string")
    users_lm = dspy.LM(
        "openai/gpt-4.1-mini",
        api_key=SECRETS[1],
        api_base=f"https://me:{SECRETS[2]}@proxy.example/v1?api-key={SECRETS[3]}&region=eu",
        extra_headers={"Authorization": f"Bearer {SECRETS[4]}"},
        aws_secret_access_key=SECRETS[5],
        temperature=0.2,
    )
    gcop.GuideCorePolicy(guide=guide, core=gcop.Core(MathSolve, lm=users_lm)).save(tmp_path / "lm")

    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not [secret for secret in SECRETS if secret in text], path
    saved = json.loads((tmp_path / "lm" / "policy.json").read_text())
    assert saved["core_lm_kwargs"]["api_base"] == "https://proxy.example/v1?region=eu"
    assert saved["core_lm_kwargs"]["temperature"] == 0.2
    by_string_saved = json.loads((tmp_path / "string" / "policy.json").read_text())
    assert by_string_saved["artifacts"]["teacher"] == {"model": "openai/gpt-4.1"}

    fresh, _, _ = make_policy(scripted_lm)
    fresh.load(tmp_path / "lm")
    assert fresh.core.lm.model == "openai/gpt-4.1-mini"
    assert "api_key" not in fresh.core.lm.kwargs  # LiteLLM reads OPENAI_API_KEY when called
    assert fresh.core.lm.kwargs["api_base"] == "https://proxy.example/v1?region=eu"


def test_the_saved_policy_records_its_provenance(scripted_lm, tmp_path):
    policy, _, _ = make_policy(scripted_lm)
    policy.artifacts = {"config": {"k": 4, "tau": 0.75}, "sft": {"steps": 3}}
    policy.save(tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "policy.json").read_text())
    assert saved["format_version"] == 3 and saved["gcop_version"] == gcop.__version__
    assert saved["models"] == {
        "core": {"model": policy.core.lm.model},
        "guide": {"model": policy.guide.lm.model},
    }
    assert saved["training_config"] == {"k": 4, "tau": 0.75}
    policy.artifacts = {"sft": {"config": {"epochs": 3.0}}, "grpo": {"config": {"steps": 2}}}
    policy.save(tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "policy.json").read_text())
    assert saved["training_config"] == {"sft": {"epochs": 3.0}, "grpo": {"steps": 2}}


def saved_folder(scripted_lm, tmp_path):
    policy, _, _ = make_policy(scripted_lm)
    policy.artifacts["certificate"] = {"bound": 0.5}
    return policy.save(tmp_path / "run")


@pytest.mark.parametrize(
    "policy_json, message",
    [
        ("{}", r"policy\.json is not a saved gcop policy \(guided: Field required; core_model"),
        ("[]", r"policy\.json is not a saved gcop policy \(file: Input should be an object"),
        ("{guided: true", r"policy\.json is not a saved gcop policy \(file: Invalid JSON"),
        ('{"guided": true, "core_model": "m", "format_version": 9}', "format_version"),
        ('{"guided": "yes", "core_model": "m"}', "guided: Input should be a valid boolean"),
        ('{"guided": true, "core_model": "m", "guide_local_lm": "/etc"}', "outside its folder"),
        ('{"guided": true, "core_model": "m", "guide_local_lm": "../x"}', "outside its folder"),
    ],
)
def test_a_malformed_policy_file_is_refused_with_its_name(
    scripted_lm, tmp_path, policy_json, message
):
    folder = saved_folder(scripted_lm, tmp_path)
    (folder / "policy.json").write_text(policy_json)
    fresh, _, _ = make_policy(scripted_lm)
    with pytest.raises(ValueError, match=message):
        fresh.load(folder)


def test_a_failed_load_leaves_the_policy_as_it_was(scripted_lm, tmp_path):
    folder = saved_folder(scripted_lm, tmp_path)
    fresh, _, _ = make_policy(scripted_lm)
    fresh.guided, fresh.artifacts = False, {"mine": 1}
    core, guide = fresh.core, fresh.guide
    (folder / "core_program.json").write_text('{"predict": {"demos": 3}}')
    with pytest.raises(ValueError, match=r"core_program\.json does not fit"):
        fresh.load(folder)
    (folder / "core_program.json").unlink()
    with pytest.raises(ValueError, match=r"core_program\.json is missing"):
        fresh.load(folder)
    assert (fresh.guided, fresh.artifacts) == (False, {"mine": 1})
    assert fresh.core is core and fresh.guide is guide
    with pytest.raises(ValueError, match="nowhere is not a folder"):
        fresh.load(tmp_path / "nowhere")
    (folder / "policy.json").unlink()
    with pytest.raises(ValueError, match="holds no saved policy"):
        fresh.load(folder)


def test_guide_weights_are_checked_when_the_policy_loads(scripted_lm, tmp_path):
    from gcop.lm.local import LocalLM
    from gcop.lm.tiny import tiny_model

    local = LocalLM("tiny", name=f"tiny-guide-{tmp_path.name}")
    local.set_model(tiny_model(seed=3)[0])  # trained weights: saved in full
    policy, _, _ = make_policy(scripted_lm)
    policy.guide = gcop.Guide(MathGuide, lm=local, ledger=policy.ledger)
    folder = policy.save(tmp_path / "run")
    saved = json.loads((folder / "policy.json").read_text())
    weights = folder / "guide" / "model" / "model.safetensors"
    assert (
        saved["guide_files"]["guide/model/model.safetensors"]
        == hashlib.sha256(weights.read_bytes()).hexdigest()
    )
    assert saved["models"]["guide"]["source"] == "tiny"
    assert len(saved["models"]["guide"]["weights_fingerprint"]) == 16

    fresh, _, _ = make_policy(scripted_lm)
    fresh.load(folder)
    assert fresh.guide.local_lm.name == local.name and fresh.guide.lm.model == local.model_string

    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte in a weight
    weights.write_bytes(bytes(data))
    other, _, _ = make_policy(scripted_lm)
    guide = other.guide
    with pytest.raises(ValueError, match=r"model\.safetensors is corrupted"):
        other.load(folder)
    assert other.guide is guide


def test_a_kits_render_hands_the_core_the_rendered_strategy_or_none(scripted_lm):
    """A symbolic plan reaches the core with its numbers filled in; one that does not work out
    leaves the core alone, counted in stats()."""
    from gcop.tasks.gsm8k.calculator import render_symbolic

    seen = []
    core_lm = scripted_lm(lambda m: seen.append(last_user_text(m)) or "The answer is 8")
    kit = gcop.StrategyKit("calculator", render=render_symbolic)
    core = gcop.Core(MathSolve, lm=core_lm.model_string, adapter="plain", kit=kit)
    for plan in ("<strategy>1. A = 2*3\n2. B = A+2</strategy>", "<strategy>1. B = C+1</strategy>"):
        guide = gcop.Guide(MathGuide, lm=scripted_lm([plan]).model_string)
        gcop.GuideCorePolicy(guide=guide, core=core)(question=QUESTION)
    assert "1. Compute 2*3.\n2. Compute 6+2." in seen[0]
    assert "Compute" not in seen[1] and "C+1" not in seen[1]
    assert gcop.GuideCorePolicy(guide=None, core=core).stats()["unrendered"] == 1


def test_loading_a_policy_saved_with_a_calculator_restores_it(scripted_lm, tmp_path, caplog):
    """A policy loaded with the defaults gets back the saved core format and strategy kit (by
    name, with its sampling settings and the tools it had on), so a saved policy is evaluated as
    it was trained."""
    from gcop.tasks.gsm8k import KIT

    guide_lm, core_lm = scripted_lm(["<strategy>1. A = 2+2</strategy>"]), scripted_lm(core_reply)
    guide = gcop.Guide(MathGuide, lm=guide_lm.model_string, token_budget=64)
    core = gcop.Core(MathSolve, lm=core_lm.model_string, adapter="plain")
    kit = KIT.with_settings(samples=3, answer_key=None)
    gcop.GuideCorePolicy(guide=guide, core=core, kit=kit).save(tmp_path / "policy")
    stored = json.loads((tmp_path / "policy" / "policy.json").read_text())["inference"]
    assert stored["kit"]["name"] == "gsm8k" and stored["kit"]["samples"] == 3
    assert (stored["kit"]["render"], stored["kit"]["answer_key"]) == (True, False)
    assert stored["core_adapter"] == "plain"
    plain, _, _ = make_policy(scripted_lm)
    ledger = plain.ledger
    with caplog.at_level("INFO", logger="gcop.modules.inference_settings"):
        plain.load(tmp_path / "policy")
    assert plain.core.kit == kit and plain.core.adapter == "plain"
    assert plain.guide.kit == kit and plain.guide.samples == 3
    assert plain.guide.token_budget == 64 and plain.guide.lm.ledger is ledger
    assert "restored core_adapter='plain'" in caplog.text
    assert "WARNING" not in caplog.text


def test_a_policy_file_written_before_kits_loads_with_the_gsm8k_kit(scripted_lm, tmp_path):
    """Files written before kits existed named the kit's parts one by one; they load as the
    GSM8K kit with the same settings."""
    from gcop.tasks.gsm8k import KIT

    make_policy(scripted_lm)[0].save(tmp_path / "policy")
    policy_file = tmp_path / "policy" / "policy.json"
    old = json.loads(policy_file.read_text())
    old["inference"] = {
        "core_adapter": "plain",
        "core_render": "gcop.tasks.gsm8k_plan_value.render_symbolic",
        "answer_key": None,
        "guide_samples": 5,
        "guide_consensus": "gcop.tasks.gsm8k_plan_value.plan_value",
        "guide_min_agreement": 1.0,
        "guide_token_budget": 96,
    }
    policy_file.write_text(json.dumps(old))
    loaded = make_policy(scripted_lm)[0].load(tmp_path / "policy")
    assert loaded.kit == KIT.with_settings(samples=5, min_agreement=1.0, answer_key=None)
    assert loaded.guide.token_budget == 96 and loaded.core.adapter == "plain"


def _double(strategy: str) -> str:
    return strategy + strategy


def test_a_saved_kit_restores_only_when_registered(scripted_lm, tmp_path, caplog):
    """A kit is restored by name only once registered (a name read from a file is never
    imported unless it is gcop's own); until then the loading policy keeps its own kit, with a
    warning."""
    core_lm = scripted_lm(core_reply)
    kit = gcop.StrategyKit("doubling", render=_double)
    core = gcop.Core(MathSolve, lm=core_lm.model_string, kit=kit)
    gcop.GuideCorePolicy(guide=None, core=core).save(tmp_path / "policy")
    fresh = gcop.GuideCorePolicy(guide=None, core=gcop.Core(MathSolve, lm=core_lm.model_string))
    with caplog.at_level("WARNING", logger="gcop.modules.inference_settings"):
        fresh.load(tmp_path / "policy")
    assert fresh.core.kit is None
    assert "saved with the strategy kit 'doubling', which is not registered" in caplog.text
    gcop.register_kit(kit)
    fresh.load(tmp_path / "policy")
    assert fresh.core.kit == kit

    policy_file = tmp_path / "policy" / "policy.json"
    edited = json.loads(policy_file.read_text())
    edited["inference"]["core_adapter"] = "telepathy"
    policy_file.write_text(json.dumps(edited))
    with pytest.raises(ValueError, match="unknown core adapter 'telepathy'"):
        fresh.load(tmp_path / "policy")
    assert fresh.core.adapter == "chat"  # left as it was


def test_loading_restores_the_saved_core_sampling_settings_on_the_same_model(scripted_lm, tmp_path):
    """The same core model loaded back runs with the saved token budget and temperature, not
    the loading policy's defaults; the loading policy's own server settings stay."""
    core_lm = scripted_lm(core_reply)
    saved_core = gcop.Core(MathSolve, lm=core_lm.model_string, max_tokens=320, temperature=0.0)
    gcop.GuideCorePolicy(guide=None, core=saved_core).save(tmp_path / "policy")
    for keep_core_lm in (False, True):  # gcop evaluate --policy keeps its --core
        core = gcop.Core(MathSolve, lm=core_lm.model_string, max_tokens=50, timeout=7)
        fresh = gcop.GuideCorePolicy(guide=None, core=core)
        fresh.load(tmp_path / "policy", keep_core_lm=keep_core_lm)
        assert fresh.core.lm.kwargs["max_tokens"] == 320
        assert fresh.core.lm.kwargs["temperature"] == 0.0
        assert fresh.core.lm.kwargs["timeout"] == 7
        assert fresh.core.ledger is core.ledger and core.lm.kwargs["max_tokens"] == 50

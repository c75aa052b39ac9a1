"""Scale-out settings reach the engines that do the work, checked on CPU without starting them:
TRL's vLLM rollouts (built into ``GRPOConfig``, no vLLM needed) and a core, teacher or judge
served by an OpenAI-compatible server (a 127.0.0.1 fake) through LiteLLM."""

import tempfile

import pytest
from fault_server import FaultServer

import gcop
from gcop.lm.chat import chat
from gcop.lm.resolve import as_lm
from gcop.lm.tiny import tiny_model
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.grpo.trainer import grpo_args
from gcop.signatures import MathSolve


@pytest.mark.parametrize(
    "vllm",
    [
        {"use_vllm": True, "vllm_mode": "server", "vllm_server_base_url": "http://10.0.0.2:8000"},
        {"use_vllm": True, "vllm_mode": "colocate", "vllm_gpu_memory_utilization": 0.3},
    ],
)
def test_vllm_rollout_settings_reach_trls_grpo_config(vllm):
    model, _ = tiny_model()
    with tempfile.TemporaryDirectory() as output_dir:
        args = grpo_args(model, ExecTuneConfig(grpo_steps=3, grpo_args=vllm), output_dir)
    for key, value in vllm.items():
        assert getattr(args, key) == value
    assert args.max_steps == 3  # gcop's own settings stay where the user set none


@pytest.mark.parametrize("route", ["openai/served-core", "hosted_vllm/served-core"])
def test_a_served_core_and_teacher_go_through_litellm_to_api_base(route):
    server = FaultServer(lambda messages: "[[ ## answer ## ]]\n7\n\n[[ ## completed ## ]]")
    try:
        core = gcop.Core(MathSolve, lm=route, api_base=server.api_base, api_key="x", cache=False)
        assert core(strategy="1. add", question="What is 3 + 4?").answer == "7"
        teacher = as_lm(route, api_base=server.api_base, api_key="x", cache=False)
        assert "answer" in chat(teacher, [{"role": "user", "content": "plan it"}])
    finally:
        server.close()
    assert server.served == 2
    [record] = core.ledger.records("core")
    assert record.model == route and record.error is None

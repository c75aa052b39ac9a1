"""A tiny random-weight chat model built in code, for fast offline tests.

``tiny_model(seed=0)`` returns a 2-layer Llama (hidden size 64, ~90k parameters) and a
character-level tokenizer with a ChatML chat template. It generates gibberish, but every code path
that a real model takes — chat templates, batched generation, TRL SFT/GRPO steps, save/load — runs
in milliseconds.
"""

from __future__ import annotations

from typing import Any

from gcop.extras import optional_imports
from gcop.lm.hf_import import HF_IMPORT_LOCK

PAD, BOS, EOS, UNK = "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS)
TINY_CONTEXT = 4096  # characters: DSPy prompts run to ~1k characters; RoPE makes length free

# ChatML, as Qwen and SmolLM2 use; {% generation %} marks assistant text so TRL can mask the loss.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}"
    "{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tiny_tokenizer() -> Any:
    """A character-level tokenizer over printable ASCII, tab and newline, plus ChatML specials.

    Other characters become ``<unk>``, so generated text is always printable.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    with HF_IMPORT_LOCK, optional_imports():
        from transformers import PreTrainedTokenizerFast

    chars = ["\t", "\n", *(chr(code) for code in range(32, 127))]
    vocab = {token: index for index, token in enumerate([*SPECIAL_TOKENS, UNK, *chars])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    backend.add_special_tokens([*SPECIAL_TOKENS, UNK])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        eos_token=EOS,
        unk_token=UNK,
        model_max_length=TINY_CONTEXT,
        chat_template=CHAT_TEMPLATE,
        padding_side="left",
    )


def tiny_model(seed: int = 0, *, hidden_size: int = 64, num_layers: int = 2) -> tuple[Any, Any]:
    """``(model, tokenizer)``: a random-weight Llama, fully determined by ``seed``."""
    with optional_imports():
        import torch

    with HF_IMPORT_LOCK, optional_imports():
        from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=TINY_CONTEXT,
        tie_word_embeddings=False,
        initializer_range=0.2,  # larger than usual so greedy output varies instead of repeating
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.config.name_or_path = "tiny"
    return model, tokenizer

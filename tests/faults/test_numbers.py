"""Nonsense numbers are refused while the command line is parsed: exit 2, the flag and its valid range named,
never silently replaced by a default, never an internal error. Through the real CLI in a subprocess."""

import pytest

from tests.faults.test_messages import WINDOW, ckpt, cli, failed, tok  # noqa: F401 (fixtures)

HUGE = "99999999999999999999"  # past every integer type a seed or a size reaches


# -- 1. NaN and infinity are in no range -----------------------------------------------------------

@pytest.mark.parametrize("stage, flag, value, valid", [
    ("pretrain", "--learning-rate", "nan", "> 0"), ("pretrain", "--lr", "inf", "> 0"),
    ("pretrain", "--grad-clip", "nan", ">= 0"), ("pretrain", "--time-budget", "nan", "> 0"),
    ("pretrain", "--time-budget", "inf", "> 0"), ("dpo", "--dpo-beta", "nan", "> 0"),
    ("grpo", "--kl-beta", "nan", ">= 0"), ("pretrain", "--min-lr-ratio", "nan", ">= 0 and <= 1"),
])
def test_train_float_options_must_be_finite(stage, flag, value, valid):
    shown = "--learning-rate" if flag == "--lr" else flag
    failed(cli("train", stage, flag, value), f"{shown} {value} is out of range: it must be {valid} (a finite number)",
           code=2)


@pytest.mark.parametrize("flag, value", [("--temperature", "inf"), ("--repetition-penalty", "inf"),
                                         ("--top-p", "nan")])
def test_chat_sampling_settings_must_be_finite(ckpt, flag, value):  # noqa: F811
    failed(cli("chat", "--weights", ckpt, "--prompt", "hi", flag, value), f"{flag} {value} is out of range",
           "use a finite number", code=2)


# -- 2. a size of 0 is refused, not replaced by the preset's ---------------------------------------

@pytest.mark.parametrize("flag", ["--hidden-size", "--num-hidden-layers"])
def test_model_size_zero_is_refused(flag):
    failed(cli("train", "pretrain", flag, "0"), f"{flag} 0 is out of range: it must be >= 1", code=2)


def test_hidden_size_must_divide_into_the_heads():
    failed(cli("train", "pretrain", "--hidden-size", "65"),
           "--hidden-size 65 is not a multiple of the 'tiny' preset's 8 attention heads", "e.g. 64", code=2)


# -- 3. seeds: 0 to 2**32 - 1 wherever a --seed is taken -------------------------------------------

@pytest.mark.parametrize("command", [["train", "pretrain"], ["run", "norm", "exp1"], ["chat", "--prompt", "hi"],
                                     ["demo"], ["quiz", "norm"]], ids=lambda c: c[0])
@pytest.mark.parametrize("seed", ["-1", HUGE])
def test_seed_out_of_range(ckpt, command, seed):  # noqa: F811
    weights = ["--weights", ckpt] if command[0] == "chat" else []
    out = cli(*command, *weights, "--seed", seed)
    failed(out, "--seed", code=2)
    bound = (">= 0", "greater than or equal to 0") if seed == "-1" else ("4294967295",)
    assert any(b in " ".join(out.stderr.split()) for b in bound), out.stderr


def test_the_largest_seed_is_taken(ckpt):  # noqa: F811
    out = cli("chat", "--weights", ckpt, "--prompt", "hi", "--max-new-tokens", "2", "--seed", "4294967295")
    assert out.returncode == 0, out.stderr


# -- 4. bench: its own flags, checked before anything is measured ----------------------------------

@pytest.mark.parametrize("args, facts", [
    (["model", "--batch", "0"], ["'--batch'", "greater than or equal to 1"]),
    (["model", "--seq-len", "0"], ["'--seq-len'", "greater than or equal to 2"]),
    (["model", "--steps", "0"], ["'--steps'", "greater than or equal to 1"]),
    (["model", "--steps", "-1"], ["'--steps'", "greater than or equal to 1"]),
    (["model", "--new-tokens", "0"], ["'--new-tokens'", "greater than or equal to 1"]),
    (["model", "--presets", ""], ["--presets '' names no preset", "tiny, minimind2-small"]),
    (["model", "--seq-len", "100000"], ["--seq-len 100000 does not fit the 'tiny' model's window of 4096",
                                        "at most 4096"]),
    (["model", "--new-tokens", "5000"], ["--new-tokens 5000 after a 42-token prompt does not fit", "at most 4054"]),
    (["train", "--steps", "0"], ["'--steps'", "greater than or equal to 1"]),
    (["train", "--batch", "0"], ["'--batch'", "greater than or equal to 1"]),
    (["train", "--presets", "tiny,nope"], ["unknown preset 'nope'"]),
    (["data", "--repeats", "0"], ["'--repeats'", "greater than or equal to 1"]),
    (["data", "--repeats", "-2"], ["'--repeats'", "greater than or equal to 1"]),
])
def test_bench_options(args, facts):
    presets = ["--presets", "tiny"] if args[0] != "data" and "--presets" not in args else []
    hf = ["--no-hf"] if args[0] == "model" else []
    out = cli("bench", *args, *presets, *hf)
    failed(out, *facts, code=2)
    assert "--batch-size" not in out.stderr  # the bench's flag, not the trainer's it passes it to


# -- 5.-7. doctor's --precision, eval's window, the tokenizer's uint16 ids -------------------------

def test_doctor_bad_precision_is_a_usage_error():
    failed(cli("doctor", "--precision", "fp8"), "--precision='fp8' is not a precision", "use auto, fp32 or bf16",
           code=2)


def test_eval_ppl_window_past_the_models_positions(ckpt):  # noqa: F811
    failed(cli("eval", "ppl", "--weights", ckpt, "--max-seq-len", "100000"),
           f"a window is 100001 tokens (the inputs and the next token of each) and the model has {WINDOW} positions",
           f"at most {WINDOW - 1}", code=2)
    out = cli("eval", "ppl", "--weights", ckpt, "--max-seq-len", WINDOW - 1, "--max-windows", "1")
    assert out.returncode == 0, out.stderr
    assert f": {WINDOW} tokens," in out.stdout  # one window: the 127 inputs and the next token of each


def test_tokenizer_vocab_beyond_uint16():
    failed(cli("tokenizer", "train", "--vocab-size", "70000"), "'--vocab-size'", "less than or equal to 65535",
           code=2)


# -- 8. MiniMind's underscore spelling, for every multi-word flag of every command -----------------

def test_every_multi_word_flag_has_its_underscore_spelling():
    import typer

    from minimind_notes.cli.app import app

    def commands(group):
        for command in group.commands.values():
            yield from commands(command) if hasattr(command, "commands") else [command]

    missing = [(command.name, flag) for command in commands(typer.main.get_command(app))
               for param in command.params for flag in param.opts + param.secondary_opts
               if flag.startswith("--") and "-" in flag[2:] and "--" + flag[2:].replace("-", "_") not in
               param.opts + param.secondary_opts]
    assert not missing


@pytest.mark.parametrize("args, fact", [
    (["tokenizer", "train", "--vocab_size", "70000"], "less than or equal to 65535"),
    (["data", "download", "--force_download"], "say what to download"),
    (["eval", "ppl", "--max_windows", "0"], "greater than or equal to 1"),
])
def test_underscore_spellings_are_accepted(args, fact):
    out = cli(*args)
    failed(out, fact, code=2)
    assert "No such option" not in out.stderr


# -- 9. an empty --answers is an error, not a switch to asking --------------------------------------

@pytest.mark.parametrize("answers", ["", " "])
def test_quiz_empty_answers(answers):
    failed(cli("quiz", "norm", "--answers", answers), "--answers is empty", "e.g. --answers A,C,BD", code=2)

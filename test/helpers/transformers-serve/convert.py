#!/usr/bin/env python3
"""Turns a llama GGUF (the project's stories260K) into a Hugging Face model folder that `transformers serve` loads.

Usage: convert.py SOURCE.gguf OUT_DIR

OUT_DIR must not exist yet; the caller (test/helpers/transformers-serve.ts) passes a temporary folder and renames it
into place, so a half-written folder is never seen. The last file written is w2s-convert.json, which says what was
converted and with which versions.

Two things stand between the GGUF and transformers:
- llama2.c exports store unset special-token ids (bos/eos/unk/pad...) as 2^32-1, and transformers indexes the
  vocabulary with them and fails. A scratch copy gets every out-of-range id set to the EOS id (else UNK, else 0),
  written through a read-write memory map so nothing else in the file moves.
- The GGUF has no chat template, and /v1/chat/completions needs one: a minimal "role: content" template is set.
And its generation config is set to sample (see below), so requests' temperature and seed mean something.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def patch_token_ids(path: str) -> dict[str, int]:
    """Rewrites out-of-range tokenizer.ggml.*_token_id scalars of the GGUF at path, in place. Returns what changed."""
    import gguf

    reader = gguf.GGUFReader(path, "r+")
    vocab = reader.fields.get("tokenizer.ggml.tokens")
    if vocab is None:
        return {}
    size = len(vocab.data)

    def value(field) -> int:
        return int(field.parts[field.data[0]][0])

    def in_vocab(key: str) -> int | None:
        field = reader.fields.get(key)
        return value(field) if field is not None and 0 <= value(field) < size else None

    fallback = in_vocab("tokenizer.ggml.eos_token_id")
    if fallback is None:
        fallback = in_vocab("tokenizer.ggml.unknown_token_id")
    if fallback is None:
        fallback = 0

    changed: dict[str, int] = {}
    for key, field in reader.fields.items():
        if not (key.startswith("tokenizer.ggml.") and key.endswith("_token_id")):
            continue
        if len(field.data) != 1 or field.parts[field.data[0]].size != 1:
            continue
        if not 0 <= value(field) < size:
            changed[key] = value(field)
            field.parts[field.data[0]][0] = fallback  # a view into the memory map: this writes the file
    reader.data.flush()
    del reader
    return changed


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    source, out_dir = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if os.path.exists(out_dir):
        print(f"{out_dir} already exists; pass a new folder", file=sys.stderr)
        return 2
    started = time.time()
    os.makedirs(out_dir)
    scratch = os.path.join(out_dir, "_gguf")
    os.makedirs(scratch)
    name = os.path.basename(source)
    shutil.copyfile(source, os.path.join(scratch, name))
    patched = patch_token_ids(os.path.join(scratch, name))

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(scratch, gguf_file=name)
    tokenizer.chat_template = CHAT_TEMPLATE
    loaded = AutoModelForCausalLM.from_pretrained(scratch, gguf_file=name)
    # The GGUF loader dequantizes the weights but marks the model as GGUF-quantized, which save_pretrained refuses:
    # the same architecture built from a clean config takes the plain float weights.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    # Sample by default, as chat models' generation configs do: `transformers serve` only samples when the model's
    # generation config says so (a request's temperature alone does not turn sampling on; temperature 0 turns it off).
    model.generation_config = loaded.generation_config
    model.generation_config.do_sample = True
    tokenizer.save_pretrained(out_dir)
    model.save_pretrained(out_dir)
    shutil.rmtree(scratch)

    info = {
        "source": source,
        "sourceSha256": sha256_of(source),
        "patchedTokenIds": patched,
        "architecture": type(model).__name__,
        "vocabSize": model.config.vocab_size,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "seconds": round(time.time() - started, 2),
    }
    with open(os.path.join(out_dir, "w2s-convert.json"), "w") as fh:
        json.dump(info, fh, indent=2)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""The w2s reference trainer: speaks w2s-trainer/1 (docs/trainer-protocol.md).

A causal LM trunk (transformers) with a 2-logit linear head on the last non-pad token, as in openai/weak-to-strong:
the head is zero-initialised and has no bias. Modes: full fine-tune, LoRA (peft) and head-only (a linear probe).

Usage:
  trainer.py < request.json          one train/predict/check request on stdin, JSONL events on stdout
  torchrun --nproc-per-node N trainer.py < request.json
                                      the same request, data-parallel over N processes (torch.distributed): one rank
                                      reads the request and speaks the protocol, the others follow it
  trainer.py selftest-losses FILE     compute the losses on shared test vectors, print them as one JSON line
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import signal
import sys
import time
import traceback

PROTOCOL = "w2s-trainer/1"
TRAINER = "w2s-hf-reference"
TRAINER_VERSION = "0.1.0"
MANIFEST = "w2s-artifact.json"

# stdout carries only protocol lines; anything else printed (libraries, stray prints) goes to stderr.
_PROTO_OUT = sys.stdout
sys.stdout = sys.stderr


def emit(obj: dict) -> None:
    """Writes one protocol line; under torchrun only the speaker rank writes (see Dist)."""
    if not DIST.is_speaker:
        return
    _PROTO_OUT.write(json.dumps(obj, allow_nan=False) + "\n")
    _PROTO_OUT.flush()


class TrainerError(Exception):
    """An error with a protocol code; its message is one sentence for the user."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class Terminated(BaseException):
    """SIGTERM under torchrun: the launcher is stopping every rank (one of them failed, or it was told to stop)."""


# ---------------------------------------------------------------------------------------------------------------
# Data parallelism (torch.distributed under torchrun). Without torchrun the world is one process and every method
# below is a no-op, so the single-process path is the same code.
# ---------------------------------------------------------------------------------------------------------------

ERROR_KEY = "w2s/error/"


class Dist:
    """The process group as the trainer uses it.

    One rank, the *speaker*, reads the request from stdin, writes every protocol line to stdout and alone writes the
    artifact; it broadcasts the request to the others. The speaker is the local rank 0 of the node whose environment
    has W2S_TRAINER_SPEAKER=1 (w2s sets it on the torchrun it starts; under SLURM only task 0, whose stdin srun
    connects with --input=0, qualifies), else global rank 0. torchrun's c10d rendezvous numbers nodes by host name,
    so on several nodes the speaker need not be rank 0.

    A rank that fails writes its error under w2s/error/<rank> in the process group's store before it exits; the
    speaker reports that rank's error as its own, naming the rank. A rank that dies without a word (SIGKILL, the OOM
    killer) is named by torchrun's failure summary, which w2s reads from stderr."""

    def __init__(self):
        env = os.environ
        self.world = int(env.get("WORLD_SIZE") or 1)
        self.rank = int(env.get("RANK") or 0)
        self.local_rank = int(env.get("LOCAL_RANK") or 0)
        self.local_world = int(env.get("LOCAL_WORLD_SIZE") or 1)
        self.speaker = self.rank if self.world <= 1 else -1  # unknown until init(): nobody speaks before
        self.on = False
        self.store = None

    @property
    def is_speaker(self) -> bool:
        return self.rank == self.speaker

    def init(self) -> None:
        if self.world <= 1:
            return
        from datetime import timedelta

        import torch
        import torch.distributed as dist

        timeout = timedelta(seconds=float(os.environ.get("W2S_TRAINER_DIST_TIMEOUT") or 1800))
        # gloo carries CPU tensors (the request, row shards, CPU gradients); NCCL carries CUDA gradients.
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend, timeout=timeout)
        self.on = True
        try:
            self.store = dist.distributed_c10d._get_default_store()
        except Exception:  # noqa: BLE001 - without the store, failures are still named by torchrun's summary
            self.store = None
        env = os.environ
        claim = self.local_rank == 0 and env.get("W2S_TRAINER_SPEAKER") == "1" and env.get("SLURM_PROCID", "0") == "0"
        claims = self.gather_floats([1.0 if claim else 0.0], [1] * self.world)
        claimed = [r for r, c in enumerate(claims) if c[0] == 1.0]
        self.speaker = claimed[0] if claimed else 0
        if len(claimed) > 1 and self.is_speaker:
            print(f"ranks {claimed} all hold W2S_TRAINER_SPEAKER=1; rank {self.speaker} speaks", file=sys.stderr)

    def close(self) -> None:
        if self.on:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.on = False

    def broadcast(self, obj):
        """The speaker's object on every rank."""
        if not self.on:
            return obj
        import torch
        import torch.distributed as dist

        box = [obj if self.is_speaker else None]
        dist.broadcast_object_list(box, src=self.speaker, device=torch.device("cpu"))
        return box[0]

    def share(self, items: list) -> list:
        """This rank's part of one batch: items[rank::world]. The union over ranks is the batch, nothing repeated."""
        return items[self.rank :: self.world] if self.on else items

    def share_sizes(self, n: int) -> list:
        return [len(range(r, n, self.world)) for r in range(self.world)] if self.on else [n]

    def gather_floats(self, values: list, sizes: list) -> list:
        """Every rank's list of floats (rank r holds sizes[r] of them), on every rank, exact (float64)."""
        if not self.on:
            return [list(values)]
        import torch
        import torch.distributed as dist

        width = max(max(sizes), 1)
        mine = torch.zeros(width, dtype=torch.float64)
        if values:
            mine[: len(values)] = torch.tensor(values, dtype=torch.float64)
        out = [torch.zeros(width, dtype=torch.float64) for _ in range(self.world)]
        dist.all_gather(out, mine)
        return [t[: sizes[r]].tolist() for r, t in enumerate(out)]

    def unshare(self, n: int, values: list) -> list:
        """Inverse of share(): this rank's values for its share of n items -> all n values in item order."""
        if not self.on:
            return list(values)
        parts = self.gather_floats(values, self.share_sizes(n))
        out = [0.0] * n
        for r, part in enumerate(parts):
            out[r :: self.world] = part
        return out

    def sum(self, value: float) -> float:
        if not self.on:
            return value
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t[0])

    def sum_grads(self, params, bucket_elems: int = 1 << 25) -> None:
        """Sums every trainable parameter's gradient over the ranks (flattened buckets, one all_reduce each).

        Each rank's loss is already divided by the global batch's weight, so the sum is the single-process gradient.
        A rank without rows in a step contributes zeros."""
        if not self.on:
            return
        import torch
        import torch.distributed as dist
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

        groups: dict = {}
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            groups.setdefault((p.grad.dtype, p.grad.device), []).append(p.grad)
        for grads in groups.values():
            i = 0
            while i < len(grads):
                bucket, size = [], 0
                while i < len(grads) and (not bucket or size + grads[i].numel() <= bucket_elems):
                    bucket.append(grads[i])
                    size += grads[i].numel()
                    i += 1
                flat = _flatten_dense_tensors(bucket)
                dist.all_reduce(flat)
                for dst, src in zip(bucket, _unflatten_dense_tensors(flat, bucket)):
                    dst.copy_(src)

    def sync_params(self, modules) -> None:
        """Every rank starts from the speaker's weights (they load the same files with the same seed; this makes
        it so whatever a loader does)."""
        if not self.on:
            return
        import torch.distributed as dist

        for m in modules:
            for p in m.parameters():
                if p.requires_grad:
                    dist.broadcast(p.data, src=self.speaker)

    def report(self, code: str, message: str) -> None:
        """A failing non-speaker rank leaves its error for the speaker (best effort)."""
        if self.store is None:
            return
        try:
            import socket

            payload = {"code": code, "message": message, "host": socket.gethostname(), "local_rank": self.local_rank}
            self.store.set(f"{ERROR_KEY}{self.rank}", json.dumps(payload))
        except Exception:  # noqa: BLE001
            pass

    def peer_error(self, wait: float):
        """The lowest-ranked error another rank reported, waiting up to `wait` seconds for one."""
        if self.store is None:
            return None
        deadline = time.time() + wait
        while True:
            for r in range(self.world):
                if r == self.rank:
                    continue
                try:
                    if self.store.check([f"{ERROR_KEY}{r}"]):
                        return r, json.loads(self.store.get(f"{ERROR_KEY}{r}"))
                except Exception:  # noqa: BLE001 - the store went away with the launcher
                    return None
            if time.time() >= deadline:
                return None
            time.sleep(0.1)


DIST = Dist()


def comm_error(e: BaseException) -> bool:
    """An exception from a collective: usually another rank died, and torchrun is about to say which."""
    try:
        import torch.distributed as dist

        if isinstance(e, getattr(dist, "DistError", ())):
            return True
    except Exception:  # noqa: BLE001
        pass
    text = str(e)
    return any(k in text for k in ("gloo", "NCCL", "Connection closed by peer", "Connection reset by peer", "Broken pipe"))


class _RankPrefixed:
    """stderr under torchrun: each line starts with [rank N], so interleaved logs (and w2s's error tail) say whose."""

    def __init__(self, stream, prefix: str):
        self._s, self._p, self._bol = stream, prefix, True

    def write(self, text: str) -> int:
        out = []
        for piece in text.splitlines(keepends=True):
            if self._bol:
                out.append(self._p)
            out.append(piece)
            self._bol = piece.endswith("\n")
        self._s.write("".join(out))
        return len(text)

    def flush(self) -> None:
        self._s.flush()

    def __getattr__(self, name):
        return getattr(self._s, name)


# ---------------------------------------------------------------------------------------------------------------
# Losses: mirror src/train/losses.ts exactly; both are checked against the independent reference
# test/reference/losses_reference.py through test/vectors/losses.json (test/train/loss-vectors.test.ts).
# ---------------------------------------------------------------------------------------------------------------

LOSS_NAMES = ("xent", "logconf", "logconf_linear", "product")


def logconf_coef(schedule: str, step: float, total_steps: float, aux_coef: float, warmup_frac: float) -> float:
    """'step' is the original's c = aux·(f > warmup ? 1 : f) with its jump; 'linear' is PR #33's ramp."""
    if not total_steps > 0:
        raise ValueError(f"logconf needs totalSteps > 0, got {total_steps}")
    f = step / total_steps
    if schedule == "step":
        return aux_coef * (1.0 if f > warmup_frac else f)
    return aux_coef * (1.0 if f >= warmup_frac else f / warmup_frac)


def quantile_linear(values, q: float):
    """torch.quantile's 'linear' rule written out, so both languages agree on the position q·(n−1)."""
    import torch

    s, _ = torch.sort(values)
    pos = min(max(q, 0.0), 1.0) * (s.numel() - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def logconf_hard0(probs, labels):
    """logconf's hardened predictions over one optimizer batch: 1 where the row hardens to class 0, else 0.

    The threshold is the quantile of p[:, 0] at q = mean(y[:, 1]) taken over ALL rows of the batch, as
    openai/weak-to-strong (`loss_fn(all_logits, ...)` once per batch of 32, after every minibatch's forward pass) and
    src/train/losses.ts do; rows with p0 >= threshold become class 0 (so an untrained head's ties all do)."""
    threshold = quantile_linear(probs[:, 0], float(labels[:, 1].mean()))
    return (probs[:, 0] >= threshold).to(labels.dtype)


def loss_target(name: str, logits, labels, step: float, total_steps: float, params: dict, hard0=None):
    """The gradient-free target each row is scored against.

    For logconf, `hard0` gives the rows' hardened predictions when they were computed over a larger optimizer batch
    than `logits` (gradient accumulation, see batch_hard0); without it, the rows given are the whole batch."""
    import torch

    probs = torch.softmax(logits, dim=-1)
    if name == "xent":
        target = labels
    elif name == "product":
        t = probs.pow(float(params.get("beta", 1.0))) * labels.pow(float(params.get("alpha", 1.0)))
        s = t.sum(dim=-1, keepdim=True)
        # Where both factors vanish, fall back to the weak label (as the TypeScript loss does).
        target = torch.where(s > 0, t / torch.where(s > 0, s, torch.ones_like(s)), labels)
    elif name in ("logconf", "logconf_linear"):
        c = logconf_coef(
            "step" if name == "logconf" else "linear",
            step,
            total_steps,
            float(params.get("aux_coef", 0.5)),
            float(params.get("warmup_frac", 0.1)),
        )
        h0 = logconf_hard0(probs, labels) if hard0 is None else hard0.to(device=labels.device, dtype=labels.dtype)
        target = (1 - c) * labels + c * torch.stack([h0, 1 - h0], dim=1)
    else:
        raise TrainerError("bad_request", f"unknown loss {name!r}; expected one of {', '.join(LOSS_NAMES)}")
    return target.detach()


def row_losses(logits, target):
    """−Σ target·log softmax per row; a zero target weight contributes nothing even where log p is −inf."""
    import torch

    logp = torch.log_softmax(logits, dim=-1)
    return -torch.where(target != 0, target * logp, torch.zeros_like(logp)).sum(dim=-1)


def selftest_losses(path: str) -> None:
    import torch

    with open(path) as fh:
        vectors = json.load(fh)
    out = []
    for case in vectors["cases"]:
        ctx = case.get("ctx", {})
        params = {
            "aux_coef": ctx.get("auxCoef", 0.5),
            "warmup_frac": ctx.get("warmupFrac", 0.1),
            "alpha": ctx.get("alpha", 1.0),
            "beta": ctx.get("beta", 1.0),
        }
        logits = torch.tensor(case["logits"], dtype=torch.float64)
        labels = torch.tensor(case["softLabels"], dtype=torch.float64)
        target = loss_target(case["loss"], logits, labels, ctx["step"], ctx["totalSteps"], params)
        loss = row_losses(logits, target).mean()
        out.append({"id": case["id"], "loss": float(loss), "target": target.tolist()})
    coefs = [
        {"id": c["id"], "coef": logconf_coef(c["schedule"], c["step"], c["totalSteps"], c["auxCoef"], c["warmupFrac"])}
        for c in vectors.get("coefs", [])
    ]
    emit({"type": "result", "op": "selftest-losses", "cases": out, "coefs": coefs})


# ---------------------------------------------------------------------------------------------------------------
# Base models: hub id, local directory, or GGUF file.
# ---------------------------------------------------------------------------------------------------------------


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fixed_gguf(path: str, sha: str) -> str:
    """Some GGUF files (llama2.c exports such as stories260K) store special-token ids of 2^32−1 ("none"), which
    transformers indexes into the vocabulary and fails on. Those ids are rewritten to the EOS (or UNK) id in a cached
    copy; the uint32 is patched in place, so every offset and tensor stays as it was. Files without the problem load
    as they are."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(path)
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    if tokens is None:
        return path
    n = len(tokens.data)

    def scalar(key):
        f = reader.fields.get(key)
        return int(f.parts[f.data[0]][0]) if f is not None else None

    eos, unk = scalar("tokenizer.ggml.eos_token_id"), scalar("tokenizer.ggml.unknown_token_id")
    replacement = eos if eos is not None and 0 <= eos < n else (unk if unk is not None and 0 <= unk < n else 0)
    patches = []
    for key, field in reader.fields.items():
        if key.startswith("tokenizer.ggml.") and key.endswith("_token_id") and len(field.data) == 1:
            part = field.parts[field.data[0]]
            if part.size == 1 and not 0 <= int(part[0]) < n:
                offset = field.offset + sum(p.nbytes for p in field.parts[: field.data[0]])
                patches.append((offset, np.array([replacement], dtype=part.dtype).tobytes()))
    if not patches:
        return path
    cache = os.environ.get("W2S_TRAINER_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "w2s", "gguf-fixed")
    out_dir = os.path.join(cache, sha[:16])
    out = os.path.join(out_dir, os.path.basename(path))
    if not os.path.exists(out):
        os.makedirs(out_dir, exist_ok=True)
        tmp = f"{out}.{os.getpid()}.tmp"
        shutil.copyfile(path, tmp)
        with open(tmp, "r+b") as fh:
            for offset, data in patches:
                fh.seek(offset)
                fh.write(data)
        os.replace(tmp, out)
    return out


def resolve_base(ref: str, revision: str | None) -> dict:
    """Describes the base model: its kind, where it loads from, and a revision (hub commit or GGUF sha256)."""
    if not isinstance(ref, str) or not ref:
        raise TrainerError("bad_request", "base_model must be a hub id, a local directory or a .gguf file path")
    if ref.lower().endswith(".gguf"):
        if not os.path.isfile(ref):
            raise TrainerError("model_load", f"the GGUF file {ref} does not exist; fix base_model")
        sha = file_sha256(ref)
        return {"ref": ref, "kind": "gguf", "revision": sha, "path": os.path.abspath(ref)}
    if os.path.isdir(ref):
        return {"ref": ref, "kind": "dir", "revision": revision, "path": os.path.abspath(ref)}
    if ref.startswith((".", "/", "~")) or os.sep in ref.strip("/").replace("/", "", 1):
        raise TrainerError("model_load", f"the base model {ref} is neither a local directory nor a hub id; fix base_model")
    return {"ref": ref, "kind": "hub", "revision": revision, "path": ref}


def load_trunk(base: dict, dtype):
    """Tokenizer and the LM trunk (no LM head); returns the config's resolved hub revision when known."""
    import transformers
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()

    kwargs = {}
    src = base["path"]
    if base["kind"] == "gguf":
        fixed = fixed_gguf(base["path"], base["revision"])
        src, kwargs["gguf_file"] = os.path.dirname(fixed), os.path.basename(fixed)
    elif base["kind"] == "hub" and base.get("revision"):
        kwargs["revision"] = base["revision"]
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, **kwargs)
        config = AutoConfig.from_pretrained(src, **kwargs)
        vocab = getattr(config, "vocab_size", None)
        pad = getattr(config, "pad_token_id", None)
        if pad is None or (vocab is not None and not 0 <= pad < vocab):
            # The trunk needs a valid pad id to build its embedding; pooling never depends on it.
            candidate = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
            config.pad_token_id = candidate if candidate is not None and (vocab is None or candidate < vocab) else 0
        model = AutoModel.from_pretrained(src, config=config, dtype=dtype, **kwargs)
    except TrainerError:
        raise
    except Exception as e:  # noqa: BLE001 - any loader failure is one clear message
        raise TrainerError("model_load", f"loading the base model {base['ref']} failed: {type(e).__name__}: {e}") from e
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    resolved = getattr(config, "_commit_hash", None)
    if base["kind"] == "hub" and resolved:
        base["revision"] = resolved
    return tokenizer, model


# ---------------------------------------------------------------------------------------------------------------
# The classifier: trunk + zero-initialised 2-logit head on the last non-pad token.
# ---------------------------------------------------------------------------------------------------------------


def build_classifier(trunk, mode: str, lora: dict):
    import torch

    hidden = trunk.config.hidden_size
    head = torch.nn.Linear(hidden, 2, bias=False)
    torch.nn.init.zeros_(head.weight)
    if mode == "head":
        for p in trunk.parameters():
            p.requires_grad_(False)
    elif mode == "lora":
        from peft import LoraConfig, get_peft_model

        cfg = LoraConfig(
            r=int(lora.get("rank", 8)),
            lora_alpha=float(lora.get("alpha", 16)),
            lora_dropout=float(lora.get("dropout", 0.0)),
            target_modules=lora.get("target_modules", "all-linear"),
            bias="none",
        )
        trunk = get_peft_model(trunk, cfg)
    elif mode != "full":
        raise TrainerError("bad_request", f"unknown mode {mode!r}; expected full, lora or head")
    return trunk, head


def forward_logits(trunk, head, input_ids, attention_mask, frozen: bool):
    import torch

    ctx = torch.no_grad() if frozen else torch.enable_grad()
    with ctx:
        hidden = trunk(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    last = attention_mask.sum(dim=1) - 1  # right padding: the last real token of each row
    pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    return head(pooled.float())


def encode(tokenizer, texts, max_ctx: int, overflow: str):
    """Token ids per text; rows over max_ctx are dropped (None) or truncated, with counts."""
    ids, dropped, truncated = [], 0, 0
    for t in texts:
        tok = tokenizer(t, add_special_tokens=True)["input_ids"]
        if len(tok) == 0:
            tok = [tokenizer.bos_token_id if tokenizer.bos_token_id is not None else 0]
        if len(tok) > max_ctx:
            if overflow == "drop":
                ids.append(None)
                dropped += 1
                continue
            # Keep the end of the text: the answer and the last debate turn sit there.
            tok = tok[-max_ctx:] if overflow == "truncate_left" else tok[:max_ctx]
            truncated += 1
        ids.append(tok)
    return ids, dropped, truncated


def collate(seqs, pad_id: int, device):
    import torch

    width = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        input_ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return input_ids.to(device), mask.to(device)


def pick_device(requested: str):
    """Under torchrun, "auto" and "cuda" (no index) mean the GPU of the rank's local rank."""
    import torch

    if requested and requested != "auto":
        device = torch.device(requested)
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    else:
        device = torch.device("cpu")
    if device.type == "cuda" and device.index is None and DIST.on:
        device = torch.device("cuda", DIST.local_rank)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    return device


def pick_precision(requested: str, device) -> str:
    import torch

    if requested and requested != "auto":
        if device.type == "cpu" and requested != "fp32":
            raise TrainerError("bad_request", f"precision {requested} needs a GPU; use fp32 (or auto) on CPU")
        return requested
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def set_threads(requested, device) -> None:
    """CPU threads: torch's default (all cores, busy-waiting) collapses on a shared machine, so 0 means half the
    cores, at most 8, shared among the processes torchrun starts on this node; a number is per process."""
    import torch

    n = int(requested or 0)
    if n <= 0 and device.type == "cpu":
        n = max(1, min(8, (os.cpu_count() or 2) // 2) // max(1, DIST.local_world))
    if n > 0:
        torch.set_num_threads(n)


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def fault_injection():
    """For tests: W2S_TRAINER_FAULT=<rank>:<step> makes that rank SIGKILL itself after that optimiser step, as the
    OOM killer would; <rank>:<step>:raise makes it raise an exception there instead."""
    spec = os.environ.get("W2S_TRAINER_FAULT")
    if not spec:
        return None
    rank, step, *how = spec.split(":")
    return int(rank), int(step), (how or ["kill"])[0]


def inject_fault(fault, step: int) -> None:
    if fault is None or fault[:2] != (DIST.rank, step):
        return
    if fault[2] == "raise":
        raise RuntimeError(f"injected fault on rank {DIST.rank} after step {step} (W2S_TRAINER_FAULT)")
    os.kill(os.getpid(), signal.SIGKILL)


# ---------------------------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------------------------

DEFAULT_HP = {
    "epochs": 2,
    "batch_size": 32,
    "minibatch_size": 8,
    "lr": 1e-5,
    "weight_decay": 0.0,
    "lr_schedule": "cosine",
    "max_ctx": 1024,
    "overflow": "drop",
    "precision": "auto",
    "device": "auto",
    "threads": 0,
    "lora": {},
    "predict_batch_size": 32,
}


def check_rows(rows, train: bool):
    if not isinstance(rows, list) or not rows:
        raise TrainerError("bad_request", "rows must be a non-empty list")
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or not isinstance(r.get("id"), str) or not isinstance(r.get("text"), str):
            raise TrainerError("bad_request", f"row {i} needs a string id and a string text")
        if train:
            y = r.get("soft_label")
            if not (isinstance(y, list) and len(y) == 2 and all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in y)):
                raise TrainerError("bad_request", f"row {i} ({r['id']}) needs soft_label [p0, p1] with entries in [0, 1]")
            w = r.get("weight", 1)
            if not isinstance(w, (int, float)) or w < 0:
                raise TrainerError("bad_request", f"row {i} ({r['id']}) has a negative or non-numeric weight")


def batch_hard0(logits_of, chunks, labels, device, batch=None):
    """logconf under gradient accumulation: the hardening threshold must be the quantile over the whole optimizer
    batch, not over each minibatch (8 rows), but a minibatch's backward pass cannot wait for the other minibatches
    without keeping every graph alive (the memory accumulation exists to save). So a first pass, without gradients,
    computes every minibatch's predictions and hardens them over the batch; the training pass then uses those hard
    labels. It costs one extra forward pass per step (logconf with accumulation only). The RNG state is restored
    after the first pass, so dropout (if the trunk trains with it) draws the same masks in both passes.

    Under torchrun `chunks` are this rank's share of the global `batch` (row indices, batch[rank::world]): every
    rank's P(class 0) is gathered, the threshold is taken over the whole global batch, and this rank's rows come
    back, as the single process hardens them."""
    import torch

    accel = device.type != "cpu"  # the CPU generator is always forked; an accelerator's only when named
    fork = torch.random.fork_rng(devices=[device] if accel else [], device_type=device.type if accel else None)
    with fork, torch.no_grad():
        parts = [torch.softmax(logits_of(sub, no_grad=True).float(), dim=-1) for sub in chunks]
    probs = torch.cat(parts) if parts else torch.zeros((0, 2))
    if DIST.on:
        p0 = DIST.unshare(len(batch), probs[:, 0].cpu().tolist())
        full = torch.tensor(p0, dtype=torch.float64).to(torch.float32)
        every = logconf_hard0(torch.stack([full, 1 - full], dim=1), labels[batch])
        return DIST.share(every)
    y = torch.cat([labels[sub] for sub in chunks]).to(probs.device)
    return logconf_hard0(probs, y)


def do_train(req: dict) -> None:
    rows = req.get("rows")
    check_rows(rows, train=True)
    hp = {**DEFAULT_HP, **(req.get("hyperparameters") or {})}
    loss_cfg = req.get("loss") or {"name": "xent"}
    loss_name = loss_cfg.get("name", "xent")
    if loss_name not in LOSS_NAMES:
        raise TrainerError("bad_request", f"unknown loss {loss_name!r}; expected one of {', '.join(LOSS_NAMES)}")
    mode = req.get("mode", "full")
    out_dir = req.get("output_dir")
    if not isinstance(out_dir, str) or not out_dir:
        raise TrainerError("bad_request", "output_dir is required")
    if mode not in ("full", "lora", "head"):
        raise TrainerError("bad_request", f"unknown mode {mode!r}; expected full, lora or head")
    if hp["overflow"] not in ("drop", "truncate", "truncate_left"):
        raise TrainerError("bad_request", f"unknown overflow {hp['overflow']!r}; expected drop, truncate or truncate_left")
    seed = int(req.get("seed", 0))
    # Checked before torch loads (seconds), so a wrong path fails fast.
    base = resolve_base(req.get("base_model"), req.get("base_revision"))
    import torch

    device = pick_device(hp["device"])
    set_threads(hp["threads"], device)
    seed_everything(seed)

    precision = pick_precision(hp["precision"], device)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float32}[precision]
    tokenizer, trunk = load_trunk(base, dtype)
    trunk, head = build_classifier(trunk, mode, hp.get("lora") or {})
    trunk.to(device)
    head.to(device)
    DIST.sync_params([trunk, head])

    encoded, dropped, truncated = encode(tokenizer, [r["text"] for r in rows], int(hp["max_ctx"]), hp["overflow"])
    keep = [i for i, e in enumerate(encoded) if e is not None]
    if not keep:
        raise TrainerError("bad_request", f"all {len(rows)} rows exceed max_ctx={hp['max_ctx']}; raise max_ctx or truncate")
    labels = torch.tensor([rows[i]["soft_label"] for i in keep], dtype=torch.float32)
    weights = torch.tensor([float(rows[i].get("weight", 1)) for i in keep], dtype=torch.float32)
    seqs = [encoded[i] for i in keep]
    n = len(seqs)
    batch = max(1, min(int(hp["batch_size"]), n))
    mb = max(1, min(int(hp["minibatch_size"]), batch))
    steps_per_epoch = math.ceil(n / batch)
    total_steps = steps_per_epoch * int(hp["epochs"])
    if total_steps <= 0:
        raise TrainerError("bad_request", "epochs must be at least 1")

    params = [p for p in list(trunk.parameters()) + list(head.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=float(hp["lr"]), weight_decay=float(hp["weight_decay"]))
    if hp["lr_schedule"] == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    elif hp["lr_schedule"] == "constant":
        sched = None
    else:
        raise TrainerError("bad_request", f"unknown lr_schedule {hp['lr_schedule']!r}; expected cosine or constant")
    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.float16) if precision == "fp16" else None
    )
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    frozen = mode == "head"
    trunk.train(not frozen)
    # Every rank draws the same permutation; under torchrun each takes its share of every global batch (below).
    gen = torch.Generator().manual_seed(seed)
    fault = fault_injection()

    curve = []
    step = 0
    started = time.time()
    seen = 0
    for epoch in range(int(hp["epochs"])):
        order = torch.randperm(n, generator=gen).tolist()
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            # Data parallel: this rank's rows are idx[rank::world], so the ranks' rows together are exactly this
            # global batch; every rank divides by the whole batch's weight and the gradients are summed over ranks.
            mine = DIST.share(idx)
            opt.zero_grad(set_to_none=True)
            wsum = float(weights[idx].sum()) or 1.0
            step_loss = 0.0
            chunks = [mine[j : j + mb] for j in range(0, len(mine), mb)]

            def logits_of(sub, no_grad=False):
                input_ids, mask = collate([seqs[k] for k in sub], tokenizer.pad_token_id or 0, device)
                if autocast is not None:
                    with autocast:
                        return forward_logits(trunk, head, input_ids, mask, frozen or no_grad)
                return forward_logits(trunk, head, input_ids, mask, frozen or no_grad)

            hard0 = None
            if loss_name in ("logconf", "logconf_linear") and (len(chunks) > 1 or DIST.on):
                hard0 = batch_hard0(logits_of, chunks, labels, device, idx)
            for j, sub in enumerate(chunks):
                logits = logits_of(sub)
                y = labels[sub].to(device)
                h = hard0[j * mb : j * mb + len(sub)] if hard0 is not None else None
                target = loss_target(loss_name, logits.float(), y, step, total_steps, loss_cfg, hard0=h)
                # The batch's weighted mean, accumulated over minibatches.
                loss = (row_losses(logits.float(), target) * weights[sub].to(device)).sum() / wsum
                if scaler is not None:
                    scaler.scale(loss).backward()
                else:
                    loss.backward()
                step_loss += float(loss.detach())
            DIST.sum_grads(params)
            step_loss = DIST.sum(step_loss)
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            lr = opt.param_groups[0]["lr"]
            if sched is not None:
                sched.step()
            step += 1
            seen += len(idx)
            inject_fault(fault, step)
            eps = seen / max(time.time() - started, 1e-9)
            curve.append({"step": step, "loss": step_loss, "lr": lr})
            emit(
                {
                    "type": "progress",
                    "step": step,
                    "total_steps": total_steps,
                    "epoch": epoch,
                    "loss": step_loss,
                    "lr": lr,
                    "examples_per_sec": eps,
                }
            )

    elapsed = time.time() - started
    if not DIST.is_speaker:
        return  # every rank holds the same weights; the speaker alone writes them
    os.makedirs(out_dir, exist_ok=True)
    weights_files = save_weights(out_dir, trunk, head, mode)
    stats = {
        "rows": len(rows),
        "rows_used": n,
        "dropped": dropped,
        "truncated": truncated,
        "steps": total_steps,
        "epochs": int(hp["epochs"]),
        "train_seconds": elapsed,
        "steps_per_sec": total_steps / max(elapsed, 1e-9),
        "examples_per_sec": seen / max(elapsed, 1e-9),
        "loss_first": curve[0]["loss"],
        "loss_last": curve[-1]["loss"],
        "curve": curve,
        "device": str(device),
        "precision": precision,
        "world_size": DIST.world,
    }
    manifest = {
        "protocol": PROTOCOL,
        "trainer": TRAINER,
        "trainer_version": TRAINER_VERSION,
        "base_model": {"ref": base["ref"], "kind": base["kind"], "revision": base["revision"]},
        "mode": mode,
        "head": {"pool": "last_non_pad", "classes": 2, "bias": False, "init": "zeros"},
        "loss": {**loss_cfg, "name": loss_name},
        "hyperparameters": hp,
        "seed": seed,
        "weights_files": weights_files,
        "stats": stats,
        "versions": versions(),
    }
    tmp = os.path.join(out_dir, MANIFEST + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(manifest, fh, indent=2)
    os.replace(tmp, os.path.join(out_dir, MANIFEST))
    emit(
        {
            "type": "result",
            "op": "train",
            "artifact_dir": os.path.abspath(out_dir),
            "weights_files": weights_files,
            "base_model": manifest["base_model"],
            "stats": stats,
        }
    )


def save_weights(out_dir: str, trunk, head, mode: str) -> list:
    from safetensors.torch import save_file

    files = []

    def put(name, tensors):
        path = os.path.join(out_dir, name)
        save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, path + ".tmp")
        os.replace(path + ".tmp", path)
        files.append(name)

    put("head.safetensors", {"weight": head.weight})
    if mode == "full":
        put("trunk.safetensors", dict(trunk.state_dict()))
    elif mode == "lora":
        from peft import get_peft_model_state_dict

        put("adapter.safetensors", get_peft_model_state_dict(trunk))
        with open(os.path.join(out_dir, "adapter_config.json"), "w") as fh:
            json.dump(trunk.peft_config["default"].to_dict(), fh, indent=2, default=list)
    return files


def do_predict(req: dict) -> None:
    import torch
    from safetensors.torch import load_file

    rows = req.get("rows")
    check_rows(rows, train=False)
    art = req.get("artifact_dir")
    path = os.path.join(art or "", MANIFEST)
    if not art or not os.path.isfile(path):
        raise TrainerError("bad_request", f"artifact_dir {art} has no {MANIFEST}; pass the directory a train request made")
    with open(path) as fh:
        manifest = json.load(fh)
    hp = {**DEFAULT_HP, **manifest.get("hyperparameters", {}), **(req.get("hyperparameters") or {})}
    device = pick_device(hp["device"])
    set_threads(hp["threads"], device)
    precision = pick_precision(hp["precision"], device)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float32}[precision]
    mb = manifest["base_model"]
    base = resolve_base(req.get("base_model") or mb["ref"], mb.get("revision") if mb["kind"] == "hub" else None)
    if mb["kind"] == "gguf" and base["revision"] != mb["revision"]:
        raise TrainerError("model_load", f"the GGUF file {base['ref']} changed since training (sha256 differs)")
    tokenizer, trunk = load_trunk(base, dtype)
    mode = manifest["mode"]
    lora = {}
    if mode == "lora":
        with open(os.path.join(art, "adapter_config.json")) as fh:
            ac = json.load(fh)
        lora = {"rank": ac["r"], "alpha": ac["lora_alpha"], "dropout": ac["lora_dropout"], "target_modules": ac["target_modules"]}
    trunk, head = build_classifier(trunk, mode, lora)
    head.weight.data.copy_(load_file(os.path.join(art, "head.safetensors"))["weight"])
    if mode == "full":
        trunk.load_state_dict(load_file(os.path.join(art, "trunk.safetensors")))
    elif mode == "lora":
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(trunk, load_file(os.path.join(art, "adapter.safetensors")))
    trunk.to(device).eval()
    head.to(device)

    # Over-long rows are truncated here (never dropped): every row gets a probability.
    overflow = "truncate" if hp["overflow"] == "drop" else hp["overflow"]
    encoded, _, truncated = encode(tokenizer, [r["text"] for r in rows], int(hp["max_ctx"]), overflow)
    order = sorted(range(len(rows)), key=lambda i: len(encoded[i]))  # similar lengths batch with little padding
    probs = [0.0] * len(rows)
    bs = max(1, int(hp["predict_batch_size"]))
    done = 0
    started = time.time()
    with torch.no_grad():
        for start in range(0, len(order), bs):
            idx = order[start : start + bs]
            # Under torchrun each rank predicts its share of the batch; the speaker gathers them in request order.
            mine = DIST.share(idx)
            p = []
            if mine:
                input_ids, mask = collate([encoded[i] for i in mine], tokenizer.pad_token_id or 0, device)
                p = torch.softmax(forward_logits(trunk, head, input_ids, mask, True), dim=-1)[:, 1].tolist()
            p = DIST.unshare(len(idx), p)
            for i, v in zip(idx, p):
                probs[i] = v
            done += len(idx)
            emit({"type": "progress", "step": done, "total_steps": len(rows), "examples_per_sec": done / max(time.time() - started, 1e-9)})
    emit({"type": "result", "op": "predict", "ids": [r["id"] for r in rows], "probs": probs, "truncated": truncated})


def versions() -> dict:
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for m in ("torch", "transformers", "peft", "gguf"):
        try:
            out[m] = metadata.version(m)
        except metadata.PackageNotFoundError:
            out[m] = None
    return out


def do_check(_req: dict) -> None:
    import torch

    info = versions()
    info["cuda"] = torch.cuda.is_available()
    info["device"] = str(pick_device("auto"))
    emit({"type": "result", "op": "check", **info})


def read_request() -> dict:
    try:
        req = json.loads(sys.stdin.read())
    except json.JSONDecodeError as e:
        raise TrainerError("bad_request", f"the request on stdin is not JSON: {e}") from e
    if not isinstance(req, dict):
        raise TrainerError("bad_request", "the request must be a JSON object")
    if req.get("protocol") != PROTOCOL:
        raise TrainerError("protocol", f"this trainer speaks {PROTOCOL}, the request says {req.get('protocol')!r}")
    if req.get("op") not in HANDLERS:
        raise TrainerError("bad_request", f"unknown op {req.get('op')!r}; expected train, predict or check")
    return req


HANDLERS = {"train": do_train, "predict": do_predict, "check": do_check}


def _terminated(_signum, _frame):
    raise Terminated()


def main(argv) -> int:
    if len(argv) >= 2 and argv[0] == "selftest-losses":
        selftest_losses(argv[1])
        return 0
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if DIST.world > 1:
        # torchrun forwards w2s's SIGINT (abort) to every rank; it sends SIGTERM when it stops the ranks itself.
        signal.signal(signal.SIGTERM, _terminated)
        sys.stdout = sys.stderr = _RankPrefixed(sys.__stderr__, f"[rank {DIST.rank}] ")
    else:
        # SIGINT stops at the next Python instruction (KeyboardInterrupt); SIGTERM is treated the same way.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return serve()
    except KeyboardInterrupt:  # also when the signal lands while another failure is being reported
        emit({"type": "error", "code": "interrupted", "message": "interrupted by a signal; nothing was saved"})
        return 130
    except Terminated:
        return 143


def serve() -> int:
    try:
        DIST.init()
        emit({"type": "hello", "protocol": PROTOCOL, "trainer": TRAINER, "version": TRAINER_VERSION})
        # The speaker reads the request; a bad one is reported before the others are told to stop.
        msg = None
        if DIST.is_speaker:
            try:
                msg = {"request": read_request()}
            except TrainerError as e:
                emit({"type": "error", "code": e.code, "message": str(e)})
                msg = {"failed": e.code}
        msg = DIST.broadcast(msg)
        if "failed" in msg:
            return 2
        HANDLERS[msg["request"]["op"]](msg["request"])
        DIST.close()
        return 0
    except Terminated:
        return stopped_by_launcher()
    except TrainerError as e:
        if not DIST.is_speaker:
            print(f"error ({e.code}): {e}", file=sys.stderr)
            DIST.report(e.code, str(e))
            return 2
        emit({"type": "error", "code": e.code, "message": str(e)})
        return 2
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - report every failure as a protocol line, with the traceback on stderr
        traceback.print_exc(file=sys.stderr)
        try:
            return failed(e)
        except Terminated:
            return stopped_by_launcher()


def failed(e: Exception) -> int:
    """An unexpected exception. Under torchrun a failed collective usually means another rank died: the rank then
    waits (at most 10 s) for torchrun to stop it, so that torchrun names the rank that died, not this one."""
    message = f"{type(e).__name__}: {e}"
    if DIST.on and comm_error(e):
        peer = DIST.peer_error(wait=0.5)
        if peer is None:
            time.sleep(10)  # torchrun's SIGTERM (Terminated) normally ends this wait
            peer = DIST.peer_error(wait=0)
        if peer is not None and DIST.is_speaker:
            emit_peer_error(*peer)
            return 1
        message = f"rank {DIST.rank} lost contact with the other ranks ({message}); another rank or node stopped, see its log"
    if not DIST.is_speaker:
        DIST.report("internal", message)
        return 1
    emit({"type": "error", "code": "internal", "message": message})
    return 1


def stopped_by_launcher() -> int:
    """SIGTERM from torchrun: another rank failed. The speaker reports that rank's error when it left one; a rank that
    died silently is named by torchrun's failure summary on stderr, which w2s reads."""
    if DIST.is_speaker:
        peer = DIST.peer_error(wait=0)  # a rank that left an error wrote it before it exited, which torchrun saw
        if peer is not None:
            emit_peer_error(*peer)
    return 143


def emit_peer_error(rank: int, err: dict) -> None:
    where = f"rank {rank} (local rank {err.get('local_rank')} on {err.get('host')})"
    emit({"type": "error", "code": err.get("code", "internal"), "message": f"{where}: {err.get('message')}", "rank": rank})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

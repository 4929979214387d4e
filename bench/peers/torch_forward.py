#!/usr/bin/env python3
"""PyTorch CPU eager peer for probescale's forward benchmark (Debian python3-torch, no transformers).

The same Hugging Face-layout checkpoint (config.json + model.safetensors) is run with plain PyTorch modules
that follow transformers' modeling code (BERT/RoBERTa post-LN with exact GELU; Llama with RMSNorm,
rotate_half RoPE, grouped-query attention, SwiGLU), with every hidden state kept, under torch.no_grad().

  bench mode:  torch_forward.py --model DIR --batch 32 --seq 128 --threads 2 --iters 3 [--logits]
               prints one JSON line (tokens/s, seconds per batch, peak RSS)
  check mode:  torch_forward.py --model DIR --check-golden DIR   (max |diff| against golden.safetensors)
"""
import argparse, json, math, os, resource, struct, sys, time

import numpy as np
import torch
import torch.nn.functional as F

from peer_probe import probe


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[base + b : base + end]
        if e["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif e["dtype"] == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif e["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"unsupported dtype {e['dtype']}")
        out[name] = torch.from_numpy(arr.copy()).reshape(e["shape"])
    return out


def strip_prefix(w, prefixes):
    for p in prefixes:
        if any(k.startswith(p) for k in w):
            return {k[len(p):] if k.startswith(p) else k: v for k, v in w.items()}
    return w


class Bert:
    """BertModel / RobertaModel encoder: x = LN(x + attn(x)); x = LN(x + ffn(x))."""

    def __init__(self, cfg, w, roberta):
        self.w = strip_prefix(w, ["roberta.", "bert."])
        self.cfg = cfg
        self.roberta = roberta
        self.H = cfg["num_attention_heads"]
        self.eps = cfg.get("layer_norm_eps", 1e-12)
        self.L = cfg["num_hidden_layers"]
        self.pad = cfg.get("pad_token_id", 1 if roberta else 0)

    q = None  # dynamic int8: torch.ao.quantization.quantize_dynamic'd nn.Linear modules by name (see dynamic_int8)

    def lin(self, x, name):
        if self.q is not None:
            return self.q[name.replace(".", "_")](x)
        return F.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias"))

    def linear_names(self):
        return [f"encoder.layer.{l}.{n}" for l in range(self.L) for n in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense")]

    def ln(self, x, name):
        return F.layer_norm(x, x.shape[-1:], self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def __call__(self, ids, mask, logits=False):
        B, T = ids.shape
        if self.roberta:
            m = (ids != self.pad).long()
            pos = torch.cumsum(m, 1) * m + self.pad
        else:
            pos = torch.arange(T).expand(B, T)
        x = self.w["embeddings.word_embeddings.weight"][ids] + self.w["embeddings.position_embeddings.weight"][pos] + self.w["embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)]
        x = self.ln(x, "embeddings.LayerNorm")
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        hidden = [x]
        D = x.shape[-1] // self.H
        for l in range(self.L):
            p = f"encoder.layer.{l}."
            q, k, v = (self.lin(x, p + "attention.self." + n).view(B, T, self.H, D).transpose(1, 2) for n in ("query", "key", "value"))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + bias, -1)
            ctx = (att @ v).transpose(1, 2).reshape(B, T, -1)
            x = self.ln(x + self.lin(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = F.gelu(self.lin(x, p + "intermediate.dense"))
            x = self.ln(x + self.lin(h, p + "output.dense"), p + "output.LayerNorm")
            hidden.append(x)
        return hidden, None


class Llama:
    """LlamaModel: pre-norm RMSNorm, rotate_half RoPE, grouped-query attention, SwiGLU; tied or untied head."""

    def __init__(self, cfg, w):
        self.w = w
        self.cfg = cfg
        self.H = cfg["num_attention_heads"]
        self.KV = cfg.get("num_key_value_heads", self.H)
        self.C = cfg["hidden_size"]
        self.D = cfg.get("head_dim") or self.C // self.H
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        self.theta = cfg.get("rope_theta", 10000.0)
        self.L = cfg["num_hidden_layers"]
        self.head = w.get("lm_head.weight", w["model.embed_tokens.weight"]) if not cfg.get("tie_word_embeddings", False) else w["model.embed_tokens.weight"]

    def rms(self, x, name):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.w[name] * (x * torch.rsqrt(var + self.eps))

    def __call__(self, ids, mask, logits=False):
        B, T = ids.shape
        w = self.w
        x = w["model.embed_tokens.weight"][ids]
        inv = 1.0 / (self.theta ** (torch.arange(0, self.D, 2, dtype=torch.int64).float() / self.D))
        freqs = torch.arange(T).float()[:, None] * inv[None, :]
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        rot = lambda t: torch.cat([-t[..., self.D // 2 :], t[..., : self.D // 2]], -1)
        causal = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
        bias = causal[None, None] + (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        bias = bias.clamp(min=torch.finfo(torch.float32).min)
        hidden = [x]
        rep = self.H // self.KV
        for l in range(self.L):
            p = f"model.layers.{l}."
            h = self.rms(x, p + "input_layernorm.weight")
            q = F.linear(h, w[p + "self_attn.q_proj.weight"]).view(B, T, self.H, self.D).transpose(1, 2)
            k = F.linear(h, w[p + "self_attn.k_proj.weight"]).view(B, T, self.KV, self.D).transpose(1, 2)
            v = F.linear(h, w[p + "self_attn.v_proj.weight"]).view(B, T, self.KV, self.D).transpose(1, 2)
            q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.D) + bias, -1)
            x = x + F.linear((att @ v).transpose(1, 2).reshape(B, T, -1), w[p + "self_attn.o_proj.weight"])
            h = self.rms(x, p + "post_attention_layernorm.weight")
            x = x + F.linear(F.silu(F.linear(h, w[p + "mlp.gate_proj.weight"])) * F.linear(h, w[p + "mlp.up_proj.weight"]), w[p + "mlp.down_proj.weight"])
            hidden.append(x)
        final = self.rms(x, "model.norm.weight")
        hidden[-1] = final
        return hidden, (F.linear(final, self.head) if logits else None)


def build(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    t = cfg["model_type"]
    if t in ("bert", "roberta"):
        return Bert(cfg, w, t == "roberta"), cfg
    if t == "llama":
        return Llama(cfg, w), cfg
    raise SystemExit(f"peer supports bert, roberta, llama; got {t}")


def dynamic_int8(model):
    """PyTorch's own dynamic int8: every linear layer as an nn.Linear, then quantize_dynamic (qint8 weights, default
    per-tensor qconfig, activations quantized per batch at run time by torch.backends.quantized.engine: onednn in Debian's torch 1.13, which has no fbgemm)."""
    if not hasattr(model, "linear_names"):
        raise SystemExit("--dynamic-int8: the peer supports it for bert/roberta only")
    mods = torch.nn.ModuleDict()
    for n in model.linear_names():
        W, b = model.w[n + ".weight"], model.w.get(n + ".bias")
        m = torch.nn.Linear(W.shape[1], W.shape[0], bias=b is not None)
        with torch.no_grad():
            m.weight.copy_(W)
            if b is not None:
                m.bias.copy_(b)
        mods[n.replace(".", "_")] = m
    model.q = torch.ao.quantization.quantize_dynamic(mods, {torch.nn.Linear}, dtype=torch.qint8)
    for n in model.linear_names():  # the fp32 copies are no longer read: free them, as quantize_dynamic would
        model.w.pop(n + ".weight")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--logits", action="store_true")
    ap.add_argument("--check-golden")
    ap.add_argument("--dynamic-int8", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, cfg = build(a.model)
    if a.dynamic_int8:
        dynamic_int8(model)
    with torch.no_grad():
        if a.check_golden:
            inp = json.load(open(os.path.join(a.check_golden, "inputs.json")))
            ids = torch.tensor(inp["input_ids"])
            mask = torch.tensor(inp["attention_mask"])
            hidden, logits = model(ids, mask, logits=True)
            gold = read_safetensors(os.path.join(a.check_golden, "golden.safetensors"))
            valid = mask.bool()
            diffs = {f"hidden_states.{i}": float((h - gold[f"hidden_states.{i}"])[valid].abs().max()) for i, h in enumerate(hidden)}
            print(json.dumps(diffs))
            return
        g = torch.Generator().manual_seed(12345)
        ids = torch.randint(3, cfg["vocab_size"], (a.batch, a.seq), generator=g)
        mask = torch.ones_like(ids)
        for _ in range(a.warmup):
            model(ids, mask, a.logits)
        t0 = time.perf_counter()
        for _ in range(a.iters):
            hidden, logits = model(ids, mask, a.logits)
        sec = (time.perf_counter() - t0) / a.iters
    print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "family": cfg["model_type"], "threads": a.threads, "batch": a.batch, "seq": a.seq, "iters": a.iters,
                      "outputs": len(hidden) + (logits is not None), "seconds_per_batch": sec, "tokens_per_s": a.batch * a.seq / sec,
                      "peak_rss_mb": peak_rss_mb(), "precision": "dynamic-int8" if a.dynamic_int8 else "fp32",
                      "quantized_engine": torch.backends.quantized.engine, "probe": probe(torch, a.threads)}))


def peak_rss_mb():
    """VmHWM on Linux: ru_maxrss survives exec, so a peer spawned from a large parent would report its size."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()

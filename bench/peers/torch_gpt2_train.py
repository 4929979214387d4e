#!/usr/bin/env python3
"""PyTorch CPU eager peer for probescale's ONNX-autodiff trainer: the same GPT-2 (pre-LN, exact GELU,
tied head, c_attn packed q|k|v, Conv1D [in, out] weights, LayerNorm eps 1e-5) on the same weights and
batch. Writes its first-step gradients next to the inputs (float32, manifest order) so the caller can
compare them, then times forward + backward + AdamW steps. One JSON line on stdout.
argv: manifest.json threads"""
import json, math, sys, time
import numpy as np
import torch
import torch.nn.functional as F

from peer_probe import probe

man = json.load(open(sys.argv[1]))
threads = int(sys.argv[2])
torch.set_num_threads(threads)
s = man["shape"]; B, T = man["batch"], man["seq"]
C, H, L = s["hidden"], s["heads"], s["layers"]
D = C // H
raw = np.fromfile(man["params_file"], dtype=np.float32)
p, off = {}, 0
for name, shape in man["params"]:
    n = int(np.prod(shape))
    p[name] = torch.tensor(raw[off:off + n].reshape(shape), requires_grad=True)
    off += n
ids = torch.tensor(np.fromfile(man["ids_file"], dtype=np.int64).reshape(B, T))
tgt = torch.tensor(np.fromfile(man["targets_file"], dtype=np.int64))
pos = torch.arange(T).expand(B, T)
mask = torch.triu(torch.full((T, T), -1e9), 1)

def loss_fn():
    P = lambda n: p["transformer." + n]
    x = P("wte.weight")[ids] + P("wpe.weight")[pos]
    for l in range(L):
        h = F.layer_norm(x, (C,), P(f"h.{l}.ln_1.weight"), P(f"h.{l}.ln_1.bias"), 1e-5)
        q, k, v = (h @ P(f"h.{l}.attn.c_attn.weight") + P(f"h.{l}.attn.c_attn.bias")).split(C, -1)
        q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + mask, -1) @ v
        x = x + a.transpose(1, 2).reshape(B, T, C) @ P(f"h.{l}.attn.c_proj.weight") + P(f"h.{l}.attn.c_proj.bias")
        m = F.layer_norm(x, (C,), P(f"h.{l}.ln_2.weight"), P(f"h.{l}.ln_2.bias"), 1e-5)
        x = x + F.gelu(m @ P(f"h.{l}.mlp.c_fc.weight") + P(f"h.{l}.mlp.c_fc.bias")) @ P(f"h.{l}.mlp.c_proj.weight") + P(f"h.{l}.mlp.c_proj.bias")
    x = F.layer_norm(x, (C,), P("ln_f.weight"), P("ln_f.bias"), 1e-5)
    return F.cross_entropy((x @ P("wte.weight").T).view(B * T, -1), tgt)

loss = loss_fn()
loss.backward()
np.concatenate([p[n].grad.numpy().ravel() for n, _ in man["params"]]).astype(np.float32).tofile(man["grads_out"])
first = loss.item()
opt = torch.optim.AdamW(p.values(), lr=1e-3, weight_decay=0.01)

def step():
    opt.zero_grad()
    l = loss_fn()
    l.backward()
    torch.nn.utils.clip_grad_norm_(p.values(), 1.0)
    opt.step()
    return l.item()

step()
n = man.get("steps", 10)
t0 = time.perf_counter()
for _ in range(n):
    last = step()
sec = (time.perf_counter() - t0) / n
print(json.dumps({"engine": "pytorch", "torch": torch.__version__, "threads": threads, "loss_first": first, "loss_last": last, "train_step_s": sec, "tokens_per_s": B * T / sec, "probe": probe(torch, threads)}))

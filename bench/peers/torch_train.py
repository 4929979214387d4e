#!/usr/bin/env python3
"""PyTorch CPU eager peer for the training-engine measurement: the same 4-layer transformer LM as
bench/train/tfjs-candidates.ts (d_model 128, 4 heads, seq 64, batch 32, vocab 65, RMSNorm, ReLU MLP 4x,
tied output embedding, one-hot embedding), one training step = forward + backward + Adam. One JSON line."""
import json, math, sys, time
import torch
import torch.nn.functional as F

from peer_probe import probe

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
V, C, H, L, T, B = 65, 128, 4, 4, 64, 32
D, Fh = C // H, 4 * C
p = {"wte": torch.randn(V, C) * 0.02, "wpe": torch.randn(T, C) * 0.02, "lnf": torch.ones(C)}
for l in range(L):
    p.update({f"ln1.{l}": torch.ones(C), f"qkv.{l}": torch.randn(C, 3 * C) * 0.02, f"proj.{l}": torch.randn(C, C) * 0.02,
              f"ln2.{l}": torch.ones(C), f"fc.{l}": torch.randn(C, Fh) * 0.02, f"out.{l}": torch.randn(Fh, C) * 0.02})
for v in p.values():
    v.requires_grad_(True)
opt = torch.optim.Adam(p.values(), lr=1e-3)
ids = torch.randint(0, V, (B, T))
tgt = torch.randint(0, V, (B, T))
bias = (1 - torch.tril(torch.ones(T, T))) * -1e9
rms = lambda x, g: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * g

def step():
    x = F.one_hot(ids, V).float() @ p["wte"] + p["wpe"]
    for l in range(L):
        q, k, v = (rms(x, p[f"ln1.{l}"]) @ p[f"qkv.{l}"]).view(B, T, 3, H, D).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + bias, -1)
        x = x + (att @ v).transpose(1, 2).reshape(B, T, C) @ p[f"proj.{l}"]
        x = x + torch.relu(rms(x, p[f"ln2.{l}"]) @ p[f"fc.{l}"]) @ p[f"out.{l}"]
    loss = F.cross_entropy((rms(x, p["lnf"]) @ p["wte"].T).view(B * T, V), tgt.view(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()

first = step()
t0 = time.perf_counter()
n = 10
for _ in range(n):
    last = step()
sec = (time.perf_counter() - t0) / n
a = torch.randn(512, 512); b = torch.randn(512, 512); a @ b
t0 = time.perf_counter()
for _ in range(20):
    a @ b
gf = 2 * 512 ** 3 * 20 / (time.perf_counter() - t0) / 1e9
print(json.dumps({"engine": "pytorch", "torch": torch.__version__, "threads": threads, "matmul_gflops": gf, "train_step_s": sec, "tokens_per_s": B * T / sec, "loss_first": first, "loss_last": last, "probe": probe(torch, threads)}))

#!/usr/bin/env python3
"""PyTorch reference for probescale's RoBERTa masked-LM training (src/train/models/roberta.ts, makeBatch).

Written from Hugging Face's RobertaForMaskedLM (post-LN; no `transformers` needed), so it checks our graph
against an independent implementation, and trains the same recipe fast to try changes before our trainer.

  grad  DUMP        loss + every parameter gradient vs ours on one batch, and checks of the batch itself
  train STREAMS     train on the token streams dump.ts wrote; prints held-out loss vs the context-free baseline
  golden OUT        a tiny model + batch + PyTorch's gradients: the fixture of test/train/roberta-parity.test.ts
  copy              a synthetic copy task (masked tokens are copies of visible ones): can the encoder use context?

DUMP / STREAMS come from `node --import tsx bench/train/mlm/dump.ts OUT`. Needs python3-torch and numpy only.
"""
import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

BOS, PAD, EOS, UNK, MASK = 0, 1, 2, 3, 4
NSPECIAL = 5


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop('__metadata__', {})
    dt = {'F32': np.float32, 'I64': np.int64, 'F16': np.float16}
    out = {}
    for name, h in header.items():
        a, b = h['data_offsets']
        out[name] = np.frombuffer(data[a:b], dtype=dt[h['dtype']]).reshape(h['shape']).copy()
    return out, meta


# ---------------------------------------------------------------- the model (HF RobertaForMaskedLM, eval mode)

def param_shapes(vocab, seq, C, layers, F_):
    E = 'roberta.embeddings'
    out = [(f'{E}.word_embeddings.weight', (vocab, C)), (f'{E}.position_embeddings.weight', (seq + 2, C)),
           (f'{E}.token_type_embeddings.weight', (1, C)), (f'{E}.LayerNorm.weight', (C,)), (f'{E}.LayerNorm.bias', (C,))]
    for l in range(layers):
        L = f'roberta.encoder.layer.{l}'
        for n in ('query', 'key', 'value'):
            out += [(f'{L}.attention.self.{n}.weight', (C, C)), (f'{L}.attention.self.{n}.bias', (C,))]
        out += [(f'{L}.attention.output.dense.weight', (C, C)), (f'{L}.attention.output.dense.bias', (C,)),
                (f'{L}.attention.output.LayerNorm.weight', (C,)), (f'{L}.attention.output.LayerNorm.bias', (C,)),
                (f'{L}.intermediate.dense.weight', (F_, C)), (f'{L}.intermediate.dense.bias', (F_,)),
                (f'{L}.output.dense.weight', (C, F_)), (f'{L}.output.dense.bias', (C,)),
                (f'{L}.output.LayerNorm.weight', (C,)), (f'{L}.output.LayerNorm.bias', (C,))]
    out += [('lm_head.dense.weight', (C, C)), ('lm_head.dense.bias', (C,)), ('lm_head.layer_norm.weight', (C,)),
            ('lm_head.layer_norm.bias', (C,)), ('lm_head.bias', (vocab,))]
    return out


def forward(P, ids, pos, heads, layers, eps=1e-5, attn_mask=None, pre_ln=False):
    """Logits [B, T, V]. attn_mask [B, T] (1 = token) as HF's extended mask; None = all visible."""
    E = 'roberta.embeddings'
    B, T = ids.shape
    C = P[f'{E}.word_embeddings.weight'].shape[1]
    D = C // heads
    lin = lambda x, n: F.linear(x, P[f'{n}.weight'], P[f'{n}.bias'])
    ln = lambda x, n: F.layer_norm(x, (C,), P[f'{n}.weight'], P[f'{n}.bias'], eps)
    x = P[f'{E}.word_embeddings.weight'][ids] + P[f'{E}.position_embeddings.weight'][pos] + P[f'{E}.token_type_embeddings.weight'][0]
    x = ln(x, f'{E}.LayerNorm')
    ext = None if attn_mask is None else (1.0 - attn_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    for l in range(layers):
        L = f'roberta.encoder.layer.{l}'
        split = lambda y: y.view(B, T, heads, D).transpose(1, 2)
        h = ln(x, f'{L}.attention.output.LayerNorm') if pre_ln else x
        q, k, v = (split(lin(h, f'{L}.attention.self.{n}')) for n in ('query', 'key', 'value'))
        s = q @ k.transpose(-1, -2) / math.sqrt(D)
        if ext is not None:
            s = s + ext
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        if pre_ln:
            x = x + lin(a, f'{L}.attention.output.dense')
            x = x + lin(F.gelu(lin(ln(x, f'{L}.output.LayerNorm'), f'{L}.intermediate.dense')), f'{L}.output.dense')
        else:
            x = ln(x + lin(a, f'{L}.attention.output.dense'), f'{L}.attention.output.LayerNorm')
            x = ln(x + lin(F.gelu(lin(x, f'{L}.intermediate.dense')), f'{L}.output.dense'), f'{L}.output.LayerNorm')
    h = ln(F.gelu(lin(x, 'lm_head.dense')), 'lm_head.layer_norm')
    return F.linear(h, P[f'{E}.word_embeddings.weight'], P['lm_head.bias'])


def mlm_loss(P, batch, heads, layers, **kw):
    logits = forward(P, batch['input_ids'], batch['position_ids'], heads, layers, **kw)
    labels = torch.where(batch['loss_weights'] > 0, batch['targets'], torch.full_like(batch['targets'], -100))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100), logits


# ---------------------------------------------------------------- grad: parity with our graph

def cmd_grad(a):
    torch.set_num_threads(1)
    d, meta = read_safetensors(a.dump)
    spec = json.loads(meta['spec'])
    P = {k[6:]: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in d.items() if k.startswith('param/')}
    b = {k[6:]: torch.tensor(v) for k, v in d.items() if k.startswith('batch/')}
    B, T = b['input_ids'].shape
    batch = {'input_ids': b['input_ids'], 'position_ids': b['position_ids'], 'targets': b['targets'].view(B, T), 'loss_weights': b['loss_weights'].view(B, T)}
    loss, _ = mlm_loss(P, batch, spec['heads'], spec['layers'])
    loss.backward()
    ours = float(meta['loss'])
    print(f'loss: ours {ours:.6f}  pytorch (fp64) {loss.item():.6f}  diff {abs(ours - loss.item()):.2e}')
    worst = 0.0
    for n, p in P.items():
        g = p.grad.numpy()
        o = d[f'grad/{n}'].astype(np.float64)
        # key biases have an exactly zero gradient (softmax ignores a per-query constant): compare on the
        # scale of 1e-6, not on their fp32 noise
        rel = np.abs(g - o).max() / max(np.abs(g).max(), 1e-6)
        cos = float((g * o).sum() / max(np.linalg.norm(g) * np.linalg.norm(o), 1e-30))
        worst = max(worst, rel)
        if a.verbose or rel > 1e-3:
            print(f'  {n:60s} |g| {np.linalg.norm(g):.3e}  max rel diff {rel:.2e}  cos {cos:.6f}')
    print(f'gradients: {len(P)} parameters, worst max|ours - pytorch| / max|pytorch| = {worst:.2e}')

    # the batch itself
    ids, tg, w, pos = (b[k].numpy() for k in ('input_ids', 'targets', 'loss_weights', 'position_ids'))
    tg, w = tg.reshape(B, T), w.reshape(B, T)
    sel = w > 0
    streams, _ = read_safetensors(a.streams) if a.streams else (None, None)
    if streams is not None:
        tr = streams['train']
        for r, s in enumerate(b['starts'].numpy()):
            assert (tg[r] == tr[s:s + T]).all(), 'targets are not the window'
    assert set(np.unique(w)) <= {0.0, 1.0}
    assert (pos == np.arange(T)[None, :] + PAD + 1).all(), 'positions are not padding_idx + 1 + t'
    assert (ids[~sel] == tg[~sel]).all(), 'an unselected position was changed'
    special = (tg == BOS) | (tg == EOS)
    assert not (sel & special).any(), '<s> or </s> selected'
    m = ids[sel] == MASK
    kept = ids[sel] == tg[sel]
    rnd = ~m & ~kept
    print(f'batch: {B}x{T}, selected {sel.sum()} of {(~special).sum()} non-special ({sel.sum() / (~special).sum():.3f}, asked {spec.get("maskRate")}); '
          f'<mask> {m.mean():.3f}, random {rnd.mean():.3f}, kept {kept.mean():.3f}; <mask> outside the selection: {(ids[~sel] == MASK).sum()}; '
          f'random tokens in [5, vocab): {bool(((ids[sel][rnd] >= NSPECIAL) & (ids[sel][rnd] < spec["vocab"])).all())}')
    return 0 if worst < a.tol and abs(ours - loss.item()) < 1e-4 else 1


# ---------------------------------------------------------------- train: the same recipe, fast

def sinusoids(rows, C, rms):
    r = np.arange(rows)[:, None]
    f = r / 10000 ** (2 * np.arange(C // 2)[None, :] / C)
    out = np.zeros((rows, C))
    out[:, 0::2] = np.sin(f) * rms * math.sqrt(2)
    out[:, 1::2] = np.cos(f) * rms * math.sqrt(2)
    return out


def init_params(shapes, std, rng, sinusoidal=False, qk_identity=0.0, split=False, vo_identity=0.0, pos_scale=1.0):
    """split: words start in the first half of the dimensions, sinusoidal positions in the second, and the
    query/key identity covers only the positional half, so attention starts local and content-blind."""
    P = {}
    for n, s in shapes:
        if n.endswith('.bias'):
            P[n] = torch.zeros(s)
        elif 'LayerNorm' in n or 'layer_norm' in n:
            P[n] = torch.ones(s)
        else:
            v = rng.normal(0, std, size=s)
            if sinusoidal and n.endswith('position_embeddings.weight'):
                v = sinusoids(s[0], s[1], std)
                if split:
                    h = s[1] // 2
                    v = np.concatenate([np.zeros((s[0], h)), sinusoids(s[0], h, std * math.sqrt(2))], axis=1)
            if n.endswith('position_embeddings.weight'):
                v = v * pos_scale
            if split and n.endswith('word_embeddings.weight'):
                v[:, s[1] // 2:] = 0
                v *= math.sqrt(2)
            if qk_identity and (n.endswith('query.weight') or n.endswith('key.weight')):
                eye = np.eye(s[0])
                if split:
                    eye[: s[0] // 2] = 0
                v = v + qk_identity * eye
            if vo_identity and (n.endswith('value.weight') or n.endswith('attention.output.dense.weight')):
                v = v + vo_identity * np.eye(s[0])
            P[n] = torch.tensor(v, dtype=torch.float32)
    return P


def make_batch(stream, starts, T, vocab, rng, rate, mask_frac=0.8, rand_frac=0.1):
    win = np.stack([stream[s:s + T] for s in starts])
    special = (win == BOS) | (win == EOS)
    sel = (rng.random(win.shape) < rate) & ~special
    r = rng.random(win.shape)
    ids = win.copy()
    ids[sel & (r < mask_frac)] = MASK
    rnd = sel & (r >= mask_frac) & (r < mask_frac + rand_frac)
    ids[rnd] = rng.integers(NSPECIAL, vocab, size=rnd.sum())
    B = len(starts)
    return {'input_ids': torch.tensor(ids), 'position_ids': torch.tensor(np.tile(np.arange(T) + PAD + 1, (B, 1))),
            'targets': torch.tensor(win), 'loss_weights': torch.tensor(sel.astype(np.float32))}


def baseline(train, vocab, batches):
    counts = np.bincount(train, minlength=vocab).astype(np.float64) + 1
    pu = counts / counts.sum()
    tot, n = 0.0, 0
    for b in batches:
        sel = b['loss_weights'].numpy() > 0
        t = b['targets'].numpy()[sel]
        x = b['input_ids'].numpy()[sel]
        p = np.where(x == MASK, pu[t], 0.5 * (x == t) + 0.5 * pu[t])
        tot -= np.log(p).sum()
        n += sel.sum()
    return tot / n


def train_loop(a, P, sample, evals, base, heads, layers, log):
    params = list(P.values())
    for p in params:
        p.requires_grad_(True)
    qk = lambda n: n.endswith('query.weight') or n.endswith('key.weight')
    nd = lambda n: n.endswith('.bias') or 'LayerNorm' in n or 'layer_norm' in n
    groups = [{'params': [p for n, p in P.items() if not nd(n) and not qk(n)], 'weight_decay': a.wd, 'mult': 1.0},
              {'params': [p for n, p in P.items() if qk(n)], 'weight_decay': a.wd, 'mult': a.qk_lr_mult},
              {'params': [p for n, p in P.items() if nd(n)], 'weight_decay': 0.0, 'mult': 1.0}]
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(a.beta1, a.beta2), eps=a.eps)
    warm = min(a.warmup, max(1, a.steps // 10))
    sched = lambda s: (s + 1) / warm if s < warm else 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1, (s - warm) / max(1, a.steps - warm))))
    kw = {'pre_ln': a.pre_ln}

    def evaluate():
        with torch.no_grad():
            tot, hit, n = 0.0, 0, 0
            for b in evals:
                loss, logits = mlm_loss(P, b, heads, layers, **kw)
                sel = b['loss_weights'] > 0
                tot += loss.item()
                hit += (logits.argmax(-1)[sel] == b['targets'][sel]).sum().item()
                n += sel.sum().item()
            return tot / len(evals), hit / n

    t0 = time.time()
    run = None
    e, acc = evaluate()
    log(f'step 0: held-out {e:.3f} (acc {acc * 100:.1f}%), context-free baseline {base:.3f}')
    for s in range(a.steps):
        for g in opt.param_groups:
            g['lr'] = a.lr * sched(s) * g['mult']
        b = sample()
        loss, _ = mlm_loss(P, b, heads, layers, **kw)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, a.clip)
        opt.step()
        run = loss.item() if run is None else 0.98 * run + 0.02 * loss.item()
        if (s + 1) % a.eval_every == 0 or s + 1 == a.steps:
            e, acc = evaluate()
            log(f'step {s + 1}: train {run:.3f}, held-out {e:.3f} (acc {acc * 100:.1f}%), baseline {base:.3f}, gap {base - e:+.3f}, {time.time() - t0:.0f} s')
    return e


def cmd_train(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    st, meta = read_safetensors(a.streams)
    vocab = int(meta['vocab'])
    tr, held = st['train'], st['held']
    T = a.seq
    rng = np.random.default_rng(a.seed)
    erng = np.random.default_rng(a.seed + 1)
    span = T + 1
    evals = [make_batch(held, [int(((k * a.batch + j) / (a.eval_batches * a.batch)) * (len(held) - span)) for j in range(a.batch)], T, vocab, erng, a.mask)
             for k in range(a.eval_batches)]
    base = baseline(tr, vocab, evals)
    P = init_params(param_shapes(vocab, T, a.hidden, a.layers, a.hidden * 4), a.std, rng, a.sinusoidal, a.qk_identity, a.split, a.vo_identity, a.pos_scale)
    if a.unigram_bias:
        # start the output bias at the log unigram frequencies: the context-free part is known from step 0
        counts = np.bincount(tr, minlength=vocab).astype(np.float64) + 1
        P['lm_head.bias'] = torch.tensor(np.log(counts / counts.sum()), dtype=torch.float32)
    sample = lambda: make_batch(tr, rng.integers(0, len(tr) - span, size=a.batch), T, vocab, rng, a.mask, a.mask_frac, a.rand_frac)
    print(f'train: {vars(a)}', flush=True)
    train_loop(a, P, sample, evals, base, a.heads, a.layers, lambda s: print(s, flush=True))


def cmd_copy(a):
    """Sequences made of a random span repeated: a masked token can always be read off its copy, so a working
    encoder goes far below the unigram loss (log vocab) quickly; a broken one cannot."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    T, half, vocab = a.seq, a.seq // 2, a.vocab

    def seqs(n, r):
        body = r.integers(NSPECIAL, vocab, size=(n, half))
        return np.concatenate([body, body], axis=1)

    def batch(r):
        s = seqs(a.batch, r)
        return make_batch(s.reshape(-1), [i * T for i in range(a.batch)], T, vocab, r, a.mask)

    erng = np.random.default_rng(a.seed + 1)
    evals = [batch(erng) for _ in range(4)]
    P = init_params(param_shapes(vocab, T, a.hidden, a.layers, a.hidden * 4), a.std, rng, a.sinusoidal, a.qk_identity, a.split, a.vo_identity, a.pos_scale)
    print(f'copy task: vocab {vocab}, seq {T} (a span of {half} twice), unigram loss {math.log(vocab - NSPECIAL):.3f}', flush=True)
    e = train_loop(a, P, lambda: batch(rng), evals, math.log(vocab - NSPECIAL), a.heads, a.layers, lambda s: print(s, flush=True))
    return 0 if e < 0.5 * math.log(vocab - NSPECIAL) else 1


def write_safetensors(path, tensors, meta):
    header, blobs, off = {'__metadata__': meta}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        dt = {np.dtype(np.float32): 'F32', np.dtype(np.int64): 'I64'}[a.dtype]
        b = a.tobytes()
        header[name] = {'dtype': dt, 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def cmd_golden(a):
    """A tiny RoBERTa's parameters, one masked batch, and PyTorch's fp64 loss and gradients: the fixture of
    test/train/roberta-parity.test.ts (our graph against this independent implementation)."""
    rng = np.random.default_rng(7)
    vocab, seq, C, layers, F_, heads, B = 24, 8, 16, 2, 32, 2, 3
    shapes = param_shapes(vocab, seq, C, layers, F_)
    # std 0.3, not 0.02, so attention is far from uniform and every term of the gradient is exercised
    P = {n: torch.tensor(rng.normal(0, 0.3, size=s) + (1.0 if ('LayerNorm.weight' in n or 'layer_norm.weight' in n) else 0.0), dtype=torch.float64, requires_grad=True) for n, s in shapes}
    stream = rng.integers(NSPECIAL, vocab, size=B * seq)
    stream[0] = BOS
    stream[seq - 1] = EOS
    b = make_batch(stream, [i * seq for i in range(B)], seq, vocab, rng, 0.4)
    loss, _ = mlm_loss(P, b, heads, layers)
    loss.backward()
    t = {f'param/{n}': p.detach().numpy().astype(np.float32) for n, p in P.items()}
    t.update({f'grad/{n}': p.grad.numpy().astype(np.float32) for n, p in P.items()})
    t.update({f'batch/{k}': v.numpy().reshape(-1) if k in ('targets', 'loss_weights') else v.numpy() for k, v in b.items()})
    shape = {'vocab': vocab, 'seq': seq, 'hidden': C, 'layers': layers, 'intermediate': F_, 'heads': heads, 'batch': B}
    write_safetensors(a.out, t, {'loss': repr(loss.item()), 'shape': json.dumps(shape), 'source': 'bench/train/mlm/mlm_reference.py golden (PyTorch ' + torch.__version__ + ', fp64)'})
    print(f'wrote {a.out}: loss {loss.item():.6f}, {b["loss_weights"].sum().item():.0f} masked of {B * seq}')
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    g = sub.add_parser('grad')
    g.add_argument('dump')
    g.add_argument('--streams')
    g.add_argument('--tol', type=float, default=1e-3)
    g.add_argument('-v', '--verbose', action='store_true')
    gd = sub.add_parser('golden')
    gd.add_argument('out')
    for name in ('train', 'copy'):
        t = sub.add_parser(name)
        if name == 'train':
            t.add_argument('streams')
        else:
            t.add_argument('--vocab', type=int, default=64)
        t.add_argument('--layers', type=int, default=6)
        t.add_argument('--hidden', type=int, default=128)
        t.add_argument('--heads', type=int, default=4)
        t.add_argument('--seq', type=int, default=64)
        t.add_argument('--batch', type=int, default=32)
        t.add_argument('--steps', type=int, default=500)
        t.add_argument('--lr', type=float, default=1e-3)
        t.add_argument('--warmup', type=int, default=300)
        t.add_argument('--beta1', type=float, default=0.9)
        t.add_argument('--beta2', type=float, default=0.99)
        t.add_argument('--eps', type=float, default=1e-8)
        t.add_argument('--wd', type=float, default=0.01)
        t.add_argument('--clip', type=float, default=1.0)
        t.add_argument('--std', type=float, default=0.02)
        t.add_argument('--mask', type=float, default=0.3)
        t.add_argument('--mask-frac', type=float, default=0.8)
        t.add_argument('--rand-frac', type=float, default=0.1)
        t.add_argument('--pre-ln', action='store_true')
        t.add_argument('--sinusoidal', action='store_true')
        t.add_argument('--qk-identity', type=float, default=0.0)
        t.add_argument('--split', action='store_true')
        t.add_argument('--vo-identity', type=float, default=0.0)
        t.add_argument('--pos-scale', type=float, default=1.0)
        t.add_argument('--unigram-bias', action='store_true')
        t.add_argument('--qk-lr-mult', type=float, default=1.0)
        t.add_argument('--eval-every', type=int, default=100)
        t.add_argument('--eval-batches', type=int, default=16)
        t.add_argument('--threads', type=int, default=1)
        t.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    return {'grad': cmd_grad, 'train': cmd_train, 'copy': cmd_copy, 'golden': cmd_golden}[a.cmd](a)


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""The PyTorch peer of `tensorized-bench speed epoch` for the dense GRU: the model of PAPER.md
(Linear 88 -> 256, LeakyReLU 0.1, nn.GRU 256 -> 512, dropout 0.3, Linear 512 -> 88, a masked
Bernoulli NLL on logits), trained on JSB Chorales' training split with Adam (lr 2.5e-3, gradient
norm clipped at 5) in batches of 16 pieces of similar length padded to the longest (the same
batch shapes as ours: the pieces sorted by length within pools of 16 batches), every padded step
computed as in our fused recurrence. Prints one JSON line: the threads and the seconds of the
second training epoch.

  OPENBLAS_NUM_THREADS=1 python3 apps/bench/scripts/peer_gru.py <path to JSB_Chorales.json.gz> [threads]
"""
import gzip
import json
import random
import sys
import time

import torch

path = sys.argv[1]
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
torch.set_num_threads(threads)
torch.manual_seed(1)
random.seed(1)

with gzip.open(path, 'rt') as f:
    train = json.load(f)['splits']['train']


def roll(piece):
    x = torch.zeros(len(piece), 88)
    for t, notes in enumerate(piece):
        for n in notes:
            x[t, n - 21] = 1
    return x


pieces = [roll(p) for p in train]


def batches():
    order = list(range(len(pieces)))
    random.shuffle(order)
    plan = []
    for p in range(0, len(order), 256):
        group = sorted(order[p:p + 256], key=lambda i: -pieces[i].shape[0])
        plan += [group[i:i + 16] for i in range(0, len(group), 16)]
    random.shuffle(plan)
    for b in plan:
        T = max(pieces[i].shape[0] for i in b)
        x = torch.zeros(len(b), T, 88)
        m = torch.zeros(len(b), T)
        for j, i in enumerate(b):
            n = pieces[i].shape[0]
            x[j, :n] = pieces[i]
            m[j, :n] = 1
        yield x, m


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = torch.nn.Linear(88, 256)
        self.gru = torch.nn.GRU(256, 512, batch_first=True)
        self.drop = torch.nn.Dropout(0.3)
        self.out = torch.nn.Linear(512, 88)

    def forward(self, x):
        h, _ = self.gru(torch.nn.functional.leaky_relu(self.inp(x), 0.1))
        return self.out(self.drop(h))


model = Model()
opt = torch.optim.Adam(model.parameters(), lr=2.5e-3)


def epoch():
    start = time.perf_counter()
    for x, m in batches():
        # Predict frame t + 1 from frames up to t.
        logits = model(x[:, :-1])
        nll = torch.nn.functional.binary_cross_entropy_with_logits(logits, x[:, 1:], reduction='none').sum(-1)
        loss = (nll * m[:, 1:]).sum() / m[:, 1:].sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    return time.perf_counter() - start


epoch()
print(json.dumps({'threads': threads, 'seconds': epoch(), 'torch': torch.__version__}))

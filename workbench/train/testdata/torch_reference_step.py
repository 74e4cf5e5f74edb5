"""PyTorch twin of BenchmarkTrainStep's reference step, for the side-by-side
timing in README (Scale). Same shapes and layers as workbench/model with
model.DefaultConfig(): B = 16 portfolios x K = 64 instances x n = 8
observations, width 64, 2 pre-norm blocks of 4-head attention and an MLP
of ratio 2, GELU, the DeepSets encoder, head q = base + spread (z + f(h)).
Loss: exact expected newsvendor cost under normal demand (closed form), so
the step does what ptft's does (decisions, exact loss, gradients, Adam).

Usage: python3 torch_reference_step.py [threads] [steps]; prints ms/step.
"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 30
torch.set_num_threads(threads)
torch.manual_seed(1)
B, K, N, W, H, FEATS = 16, 64, 8, 64, 4, 12


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(W, W) for _ in range(4))

    def forward(self, x, mask):
        b, k, _ = x.shape
        d = W // H
        split = lambda t: t.view(b, k, H, d).transpose(1, 2)
        q, kk, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        logits = q @ kk.transpose(-1, -2) / math.sqrt(d)
        logits = logits + (mask.view(b, 1, 1, k) - 1) * 1e9
        ctx = torch.softmax(logits, -1) @ v
        return self.o(ctx.transpose(1, 2).reshape(b, k, W))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(W, eps=1e-5), nn.LayerNorm(W, eps=1e-5)
        self.attn = Attention()
        self.m1, self.m2 = nn.Linear(W, 2 * W), nn.Linear(2 * W, W)

    def forward(self, h, mask):
        h = h + self.attn(self.n1(h), mask)
        return h + self.m2(F.gelu(self.m1(self.n2(h))))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.obs, self.rho, self.feat = nn.Linear(2, W), nn.Linear(W, W), nn.Linear(FEATS, W)
        self.blocks = nn.ModuleList(Block() for _ in range(2))
        self.norm = nn.LayerNorm(W, eps=1e-5)
        self.h1, self.h2 = nn.Linear(W, W), nn.Linear(W, 1)
        nn.init.zeros_(self.h2.weight)

    def forward(self, obs, obs_mask, inst, feats, base, spread, z):
        tok = F.gelu(self.obs(obs)) * obs_mask.unsqueeze(-1)
        pooled = tok.sum(2) / obs_mask.sum(2).clamp(min=1).unsqueeze(-1)
        h = self.rho(pooled) + self.feat(feats)
        for blk in self.blocks:
            h = blk(h, inst)
        out = self.h2(F.gelu(self.h1(self.norm(h)))).squeeze(-1)
        return base + spread * (z + out)


def normal_cost(q, mu, sigma, rho):
    zz = (q - mu) / sigma
    pdf = torch.exp(-0.5 * zz * zz) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + torch.erf(zz / math.sqrt(2)))
    # E[rho (D-q)^+ + (1-rho)(q-D)^+] = sigma (pdf + zz (cdf - rho))
    return sigma * (pdf + zz * (cdf - rho))


model = Model()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
theta = 1 + 0.2 * torch.randn(B, K)
sigma = 0.2 * torch.ones(B, K)
x = theta.unsqueeze(-1) + sigma.unsqueeze(-1) * torch.randn(B, K, N)
obs = torch.stack([x, x - x.mean(-1, keepdim=True)], -1)
obs_mask, inst = torch.ones(B, K, N), torch.ones(B, K)
feats = torch.randn(B, K, FEATS)
base, spread = x.mean(-1), x.std(-1).mean(-1, keepdim=True).expand(B, K)
rho = torch.full((B, K), 0.8)
z = torch.full((B, K), 0.8416)
oracle = normal_cost(theta + sigma * 0.8416, theta, sigma, rho)


def step():
    opt.zero_grad()
    q = model(obs, obs_mask, inst, feats, base, spread, z)
    loss = (normal_cost(q, theta, sigma, rho) / oracle).mean()
    loss.backward()
    opt.step()


for _ in range(5):
    step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
ms = (time.perf_counter() - t0) / steps * 1e3
print(f"torch {torch.__version__} threads={threads}: {ms:.1f} ms/step")

#!/usr/bin/env python3
"""The scaling model of docs/tensor-parallel.md: tokens/s of the tensor-parallel BitNet model
(distributed/sharded_bitnet.hpp, per-token activation scales) against the rank count and the link,
from one rank's measured speed and the bytes and collective rounds the implementation moves.
Prints the markdown table the doc shows. All inputs are arguments; defaults are the doc's."""
import argparse
import math

p = argparse.ArgumentParser()
p.add_argument("--hidden", type=int, default=2560)
p.add_argument("--layers", type=int, default=30)
p.add_argument("--vocab", type=int, default=128256)
p.add_argument("--prefill1", type=float, default=78.7, help="1-rank prefill tokens/s")
p.add_argument("--decode1", type=float, default=14.9, help="1-rank decode tokens/s")
p.add_argument("--prompt", type=int, default=512)
p.add_argument("--alpha10", type=float, default=20e-6, help="per-round latency at 10 Gbit/s, s")
p.add_argument("--alpha100", type=float, default=5e-6, help="per-round latency at 100 Gbit/s, s")
a = p.parse_args()

H, L, V = a.hidden, a.layers, a.vocab


def layer_bytes(P):
    # Per rank, per token, per layer: two all-reduces of H int32 (all-to-all + all-gather of
    # ceil(H/P) values each: 2 (P-1) ceil(H/P) * 4 bytes), and the two split sub-norms (an 8-byte
    # sum of squares and a 4-byte maximum to each other rank).
    return 2 * 2 * (P - 1) * math.ceil(H / P) * 4 + 2 * 12 * (P - 1)


def rounds(P):
    # Collective rounds per layer: 2 all-reduces x 2 phases, 2 norm gathers, 2 max gathers; a round
    # costs alpha * ceil(log2 P) (a tree or recursive doubling).
    return 8 * math.ceil(math.log2(P)) if P > 1 else 0


def decode(P, bw, alpha):
    t = 1 / a.decode1 / P
    t += L * (layer_bytes(P) / bw + rounds(P) * alpha)
    if P > 1:  # the logits all-gather
        t += (P - 1) * math.ceil(V / P) * 4 / bw + math.ceil(math.log2(P)) * alpha
    return 1 / t


def prefill(P, bw, alpha):
    T = a.prompt
    t = 1 / a.prefill1 / P + L * layer_bytes(P) / bw + L * rounds(P) * alpha / T
    return 1 / t


print("| ranks | bytes/token/layer | prefill tok/s 10G | prefill tok/s 100G | decode tok/s 10G | decode tok/s 100G |")
print("|---:|---:|---:|---:|---:|---:|")
for P in (1, 2, 4, 8, 16, 32, 64):
    print(f"| {P} | {layer_bytes(P)} | {prefill(P, 1.25e9, a.alpha10):.0f} | "
          f"{prefill(P, 12.5e9, a.alpha100):.0f} | {decode(P, 1.25e9, a.alpha10):.1f} | "
          f"{decode(P, 12.5e9, a.alpha100):.1f} |")

#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/<what>/, deterministically.

Seeds are small on purpose (libFuzzer mutates faster and its default -max_len follows the largest
seed): a BitNet model of 2 layers, hidden size 16 and vocabulary 32 stands in for the tiny fixture
models, whose configs are copied as they are and whose safetensors headers are kept with the data
cut off. Run it after changing a fixture or a loader convention; it replaces the corpora.
Usage: /usr/bin/python3 tests/fuzz/make_corpus.py [--out DIR]   (default: tests/fuzz/corpus)
"""
import argparse
import json
import shutil
import struct
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data"
SEP = b"\n--8<-- bitlin part --8<--\n"  # bitlin_fuzz::part_separator


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype string, shape, raw bytes)."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in tensors)


def bf16(a):
    return (np.asarray(a, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()


def pack_hf(trits):
    """uint8 [ceil(out/4), in]: row r bits 2i..2i+1 hold row r + i*ceil(out/4), code t + 1."""
    out, inn = trits.shape
    rows = (out + 3) // 4
    packed = np.zeros((rows, inn), np.uint8)
    for i in range(4):
        for r in range(rows):
            src = r + i * rows
            if src < out:
                packed[r] |= ((trits[src] + 1).astype(np.uint8) << (2 * i))
    return packed


CFG = dict(model_type="bitnet", vocab_size=32, hidden_size=16, intermediate_size=32,
           num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
           max_position_embeddings=64, rms_norm_eps=1e-5, hidden_act="relu2",
           tie_word_embeddings=True, rope_theta=10000.0)


def mini_model(rng, mode, tied=True):
    """mode: 'packed' (U8 + weight_scale), 'f32' or 'bf16' master weights."""
    c = dict(CFG, tie_word_embeddings=tied)
    H, I, V, L = c["hidden_size"], c["intermediate_size"], c["vocab_size"], c["num_hidden_layers"]
    d = H // c["num_attention_heads"]
    Q, KV = c["num_attention_heads"] * d, c["num_key_value_heads"] * d
    t = []
    floats = (lambda a: ("BF16", bf16(a))) if mode == "bf16" else (lambda a: ("F32", np.asarray(a, "<f4").tobytes()))

    def add_float(name, a):
        dt, raw = floats(a)
        t.append((name, dt, a.shape, raw))

    add_float("model.embed_tokens.weight", rng.normal(0, 0.02, (V, H)).astype(np.float32))
    for l in range(L):
        p = f"model.layers.{l}."
        for n, size in (("input_layernorm", H), ("post_attention_layernorm", H),
                        ("self_attn.attn_sub_norm", Q), ("mlp.ffn_sub_norm", I)):
            add_float(p + n + ".weight", (1 + rng.normal(0, 0.1, size)).astype(np.float32))
        for n, out, inn in (("self_attn.q_proj", Q, H), ("self_attn.k_proj", KV, H),
                            ("self_attn.v_proj", KV, H), ("self_attn.o_proj", H, Q),
                            ("mlp.gate_proj", I, H), ("mlp.up_proj", I, H), ("mlp.down_proj", H, I)):
            if mode == "packed":
                packed = pack_hf(rng.integers(-1, 2, (out, inn)).astype(np.int8))
                t.append((p + n + ".weight", "U8", packed.shape, packed.tobytes()))
                t.append((p + n + ".weight_scale", "F32", (1,), np.array([40.0], "<f4").tobytes()))
            else:
                add_float(p + n + ".weight", rng.normal(0, 0.02, (out, inn)).astype(np.float32))
    add_float("model.norm.weight", (1 + rng.normal(0, 0.1, H)).astype(np.float32))
    if not tied:
        add_float("lm_head.weight", rng.normal(0, 0.02, (V, H)).astype(np.float32))
    if mode == "packed":
        c["quantization_config"] = {"quant_method": "bitnet", "linear_class": "bitlinear",
                                    "quantization_mode": "offline"}
    return c, t


def header_only(path):
    """A fixture's header with the data section cut off (exercises the header checks)."""
    b = path.read_bytes()
    n = struct.unpack("<Q", b[:8])[0]
    return b[: 8 + n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(HERE / "corpus"))
    out = Path(ap.parse_args().out)
    rng = np.random.default_rng(13)
    dirs = {w: out / w for w in ("safetensors", "config", "shard_index", "checkpoint")}
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)

    # safetensors: every dtype, scalar / empty / n-d shapes, metadata, and fixture headers.
    st = dirs["safetensors"]
    f32 = np.arange(6, dtype="<f4")
    (st / "all_dtypes.safetensors").write_bytes(safetensors([
        ("f32", "F32", (2, 3), f32.tobytes()), ("f16", "F16", (3,), np.array([1, -2, 0.5], "<f2").tobytes()),
        ("bf16", "BF16", (2,), bf16([1.0, -3.0])), ("i8", "I8", (2, 2), bytes([1, 255, 0, 127])),
        ("u8", "U8", (4,), bytes([0, 1, 2, 255])), ("i32", "I32", (1,), struct.pack("<i", -7)),
        ("i64", "I64", (), struct.pack("<q", 1 << 40))], metadata={"format": "pt"}))
    (st / "empty_and_scalar.safetensors").write_bytes(safetensors([
        ("empty", "F32", (0, 4), b""), ("scalar", "F32", (), struct.pack("<f", 2.5)),
        ("rank4", "U8", (1, 2, 1, 2), bytes(4))]))
    (st / "no_tensors.safetensors").write_bytes(safetensors([], metadata={"k": "v"}))
    c, t = mini_model(rng, "packed")
    (st / "mini_packed.safetensors").write_bytes(safetensors(t, {"format": "pt"}))
    for f in ("tiny_model", "tiny_auto_model", "tiny_ref"):
        (st / f"{f}_header.safetensors").write_bytes(header_only(DATA / f"{f}.safetensors"))

    # config: the fixture configs, the mini one, and the older spellings of RoPE.
    cf = dirs["config"]
    for f in ("tiny_config", "tiny_auto_config"):
        shutil.copy(DATA / f"{f}.json", cf / f"{f}.json")
    (cf / "mini.json").write_text(json.dumps(c, indent=1))
    old = dict(CFG, rope_scaling=None, head_dim=8, quantization_config={"linear_class": "autobitlinear"})
    (cf / "old_style.json").write_text(json.dumps(old))
    new = dict(CFG, rope_parameters={"rope_theta": 1e4, "rope_type": "default"}, partial_rotary_factor=1.0)
    new.pop("rope_theta")
    (cf / "rope_parameters.json").write_text(json.dumps(new))

    # shard_index: names that fuzz_shard_index's fixed directory holds, good and bad.
    si = dirs["shard_index"]
    one, two = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    seeds = {
        "valid": {"metadata": {"total_size": 12}, "weight_map": {"a": one, "b": one, "c": two}},
        "alias": {"weight_map": {"a": one, "b": "alias.safetensors", "c": two}},
        "escape": {"weight_map": {"x": "escape.safetensors"}},
        "absolute_link": {"weight_map": {"x": "absolute.safetensors"}},
        "dotdot": {"weight_map": {"x": "../outside.safetensors"}},
        "subdir": {"weight_map": {"y": "sub/inner.safetensors"}},
        "loop_fifo": {"weight_map": {"a": "loop.safetensors", "b": "fifo.safetensors"}},
        "missing": {"weight_map": {"a": one, "z": two}},
    }
    for name, j in seeds.items():
        (si / f"{name}.json").write_text(json.dumps(j))

    # checkpoint: config + weights (+ index + shards) joined by SEP.
    ck = dirs["checkpoint"]
    for mode in ("packed", "f32", "bf16"):
        c, t = mini_model(rng, mode)
        (ck / f"mini_{mode}.bin").write_bytes(json.dumps(c).encode() + SEP + safetensors(t, {"format": "pt"}))
    c, t = mini_model(rng, "packed", tied=False)
    c["quantization_config"]["linear_class"] = "autobitlinear"
    (ck / "mini_untied_auto.bin").write_bytes(json.dumps(c).encode() + SEP + safetensors(t))
    c, t = mini_model(rng, "packed")
    half = len(t) // 2
    shards = [t[:half], t[half:]]
    index = {"weight_map": {n: f"model-0000{i + 1}.safetensors" for i, s in enumerate(shards) for n, *_ in s}}
    (ck / "mini_sharded.bin").write_bytes(SEP.join(
        [json.dumps(c).encode(), b"", json.dumps(index).encode()] + [safetensors(s) for s in shards]))
    total = sum(f.stat().st_size for d in dirs.values() for f in d.iterdir())
    print(f"make_corpus: wrote {sum(len(list(d.iterdir())) for d in dirs.values())} seeds, {total} bytes, under {out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from the test fixtures.

Seeds are small on purpose (a few KB each): GGUF seeds keep a fixture's metadata and tensor names but
tiny tensors, so the fuzzer mutates headers, not megabytes of weights. Standard library only; run from
anywhere: python3 tests/fuzz/make_seeds.py. The output is deterministic (fixed random seed)."""
import bz2
import json
import random
import shutil
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
CORPUS = HERE / "corpus"
rng = random.Random(13)

# ---- GGUF (layout facts: llama.cpp's gguf.md) ----
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}
# ggml type id -> (name, block elements, block bytes), the supported ones
TYPES = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 30: ("BF16", 1, 2), 28: ("F64", 1, 8), 2: ("Q4_0", 32, 18),
         3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 10: ("Q2_K", 256, 84),
         11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210)}


def read_gguf(path):
    """(kv list of (key, type, value, element type), tensor list of (name, dims, type, offset), data, alignment)."""
    b = path.read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, b, pos)
        pos += struct.calcsize(fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("<Q")
        s = b[pos:pos + n]
        pos += n
        return s

    def value(t):
        if t == STRING:
            return string()
        if t == ARRAY:
            et, n = take("<I"), take("<Q")
            return (et, [value(et) for _ in range(n)])
        return take(SCALAR[t])

    assert take("<I") == 0x46554747
    take("<I")
    n_tensors, n_kv = take("<Q"), take("<Q")
    kv = []
    for _ in range(n_kv):
        key = string()
        t = take("<I")
        kv.append((key, t, value(t)))
    tensors = []
    for _ in range(n_tensors):
        name = string()
        nd = take("<I")
        dims = [take("<Q") for _ in range(nd)]
        tensors.append((name, dims, take("<I"), take("<Q")))
    return kv, tensors


def write_value(out, t, v):
    if t == STRING:
        out += struct.pack("<Q", len(v)) + v
    elif t == ARRAY:
        et, items = v
        out += struct.pack("<IQ", et, len(items))
        for item in items:
            write_value(out, et, item)
    else:
        out += struct.pack(SCALAR[t], v)


def write_gguf(kv, tensors, alignment=32):
    """tensors: (name, dims, type, data bytes); offsets laid out aligned."""
    out = bytearray(struct.pack("<IIQQ", 0x46554747, 3, len(tensors), len(kv)))
    for key, t, v in kv:
        out += struct.pack("<Q", len(key)) + key + struct.pack("<I", t)
        write_value(out, t, v)
    offset, blobs = 0, []
    for name, dims, t, data in tensors:
        out += struct.pack("<Q", len(name)) + name + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", t, offset)
        blobs.append((offset, data))
        offset += (len(data) + alignment - 1) // alignment * alignment
    out += bytes((-len(out)) % alignment)
    start = len(out)
    for off, data in blobs:
        out += bytes(start + off - len(out)) + data
    return bytes(out)


def random_block_bytes(type_id, blocks=1):
    name, elements, nbytes = TYPES[type_id]
    data = bytearray(rng.randbytes(nbytes * blocks))
    if type_id in (1,):   # F16: keep values finite
        for i in range(0, len(data), 2):
            data[i + 1] &= 0x3B
    return bytes(data)


def save(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def gguf_seeds():
    # one tensor of each supported type, one block (two for the 32-element types)
    tensors = []
    for type_id, (name, elements, nbytes) in TYPES.items():
        blocks = 2 if elements == 32 else 1
        dims = [4] if elements == 1 else [elements * blocks]
        data = struct.pack("<4f", 0.5, -1.0, 2.0, 0.0) if type_id == 0 else random_block_bytes(type_id, 4 if elements == 1 else blocks)[: nbytes * (dims[0] // elements)]
        tensors.append((name.lower().encode() + b".weight", dims, type_id, data))
    kv = [(b"general.architecture", STRING, b"quants"), (b"general.alignment", U32, 32)]
    save("fuzz_gguf_file", "quants-one-block.gguf", write_gguf(kv, tensors))
    save("fuzz_gguf_file", "empty-v3.gguf", write_gguf([], []))

    for fixture, arch in (("mistral-dev-f32.gguf", "llama"), ("gemma3-dev-f32.gguf", "gemma3")):
        kv, infos = read_gguf(FIXTURES / "gguf" / fixture)
        # the model: its metadata without the vocabulary, every tensor F32 [8]
        model_kv = [e for e in kv if not e[0].startswith(b"tokenizer.ggml.") or e[1] != ARRAY]
        model_tensors = [(n, [8], 0, struct.pack("<8f", *[rng.uniform(-1, 1) for _ in range(8)])) for n, _, _, _ in infos]
        model = write_gguf(model_kv, model_tensors)
        # the vocabulary: all its metadata, no tensors
        vocab = write_gguf(kv, [])
        for target in ("fuzz_gguf_file", "fuzz_gguf_model"):
            save(target, f"{arch}-model.gguf", model)
        for target in ("fuzz_gguf_file", "fuzz_gguf_vocabulary", "fuzz_gguf_model"):
            save(target, f"{arch}-vocabulary.gguf", vocab)

    for type_id, (name, elements, nbytes) in TYPES.items():
        blocks = 2 if elements > 1 else 16
        save("fuzz_gguf_dequantize", f"{name}", bytes([type_id, 1]) + random_block_bytes(type_id, blocks))


# ---- safetensors ----
def safetensors(entries, metadata=None):
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, blob in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    save("fuzz_safetensors", "types.safetensors", safetensors([
        ("model.embed_tokens.weight", "F32", [2, 3], struct.pack("<6f", 1, 2, 3, 4, 5, 6)),
        ("model.norm.weight", "BF16", [4], struct.pack("<4H", 0x3F80, 0xBF80, 0x4000, 0)),
        ("input_ids", "I64", [1, 2], struct.pack("<2q", 5, 7)),
        ("attention_mask", "I32", [2], struct.pack("<2i", 1, 0)),
        ("half", "F16", [2], struct.pack("<2H", 0x3C00, 0xC000)),
        ("double", "F64", [1], struct.pack("<d", 0.25)),
        ("empty", "F32", [0, 4], b""),
    ], {"format": "pt"}))
    save("fuzz_safetensors", "scalar.safetensors", safetensors([("x", "F32", [], struct.pack("<f", 3.5))]))


# ---- JSON configs ----
def config_seeds():
    for name in ("mistral-dev", "gemma2-dev", "gemma3-dev"):
        text = (FIXTURES / "hf" / name / "config.json").read_bytes()
        save("fuzz_hf_config", f"{name}.json", text)
        save("fuzz_peft_config", f"{name}.json", (FIXTURES / "hf" / name / "lora" / "adapter_config.json").read_bytes())
    c = json.loads((FIXTURES / "hf" / "gemma3-dev" / "config.json").read_text())
    c.pop("rope_theta", None)
    c.pop("rope_local_base_freq", None)
    c["rope_parameters"] = {"full_attention": {"rope_type": "default", "rope_theta": 1e6},
                            "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}
    c.pop("layer_types", None)
    c["sliding_window_pattern"] = 2
    save("fuzz_hf_config", "gemma3-transformers5.json", json.dumps(c).encode())
    c = json.loads((FIXTURES / "hf" / "mistral-dev" / "config.json").read_text())
    c["architectures"] = ["LlamaForCausalLM"]
    c["rope_parameters"] = {"rope_type": "default", "rope_theta": 500000.0}
    c["head_dim"] = None
    save("fuzz_hf_config", "llama.json", json.dumps(c).encode())


# ---- text: dump, wikitext, BEIR, TSV ----
WIKITEXT = """'''София''' е [[столица]]та на [[България|България]].<ref name="a">{{cite web|url=http://x}}</ref>
{{Infobox град|име=София|население=1 300 000}}
== История ==
* Първо [[Файл:Sofia.jpg|thumb|Снимка]] второ
{| class="wikitable"
|-
| a || b
|}
Текст с <!-- коментар --> и &nbsp;&amp;&#1041; [http://example.org връзка] {{lang|en|text}} <nowiki>[[не]]</nowiki>
<math>x^2</math> '''''удебелен''''' __TOC__
[[Категория:Градове]] [[en:Sofia]]
"""


def dump(pages):
    out = ['<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="bg">',
           "<siteinfo><sitename>Уикипедия</sitename></siteinfo>"]
    for i, (title, ns, redirect, text) in enumerate(pages, 1):
        esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out.append(f"<page><title>{title}</title><ns>{ns}</ns><id>{i}</id>" + ('<redirect title="X" />' if redirect else "") +
                   f"<revision><id>{100 + i}</id><text bytes=\"{len(text)}\" xml:space=\"preserve\">{esc}</text></revision></page>")
    out.append("</mediawiki>\n")
    return "\n".join(out).encode()


def text_seeds():
    xml = dump([("София", 0, False, WIKITEXT), ("Беседа:София", 1, False, "x"), ("Sofia", 0, True, "#ПРЕНАСОЧВАНЕ [[София]]")])
    save("fuzz_wiki_dump", "dump.xml", xml)
    save("fuzz_wiki_dump", "dump.xml.bz2", bz2.compress(xml))
    save("fuzz_wikitext", "article.txt", WIKITEXT.encode())
    save("fuzz_wikitext", "nested.txt", b"{{a|{{b|{|\n|x\n|}}}}} [[a|[[b]]]] <ref>open <div>t</div> &#x1F600; &bogus; ''i'''b")
    beir = FIXTURES / "beir-tiny"
    save("fuzz_beir", "beir-tiny", (beir / "corpus.jsonl").read_bytes() + b"\n\x01\n" + (beir / "queries.jsonl").read_bytes() +
         b"\n\x01\n" + (beir / "qrels" / "test.tsv").read_bytes())
    for name in ("train.tsv", "test.tsv"):
        save("fuzz_tsv", name, b"\x01" + (FIXTURES / "classify-tiny" / name).read_bytes())
    save("fuzz_tsv", "triples.tsv", b"\x02" + "заявка\tположителен\tотрицателен\nq\tp\tn\r\n".encode())


# ---- shards, checkpoints ----
def shard(vocab, width, seq, tokens):
    return b"BG2VTOKS" + struct.pack("<IIIIQ", 1, vocab, width, seq, len(tokens)) + \
        b"".join(struct.pack("<H" if width == 2 else "<I", t) for t in tokens)


def training_seeds():
    save("fuzz_shards", "u16.bin", shard(384, 2, 4, [rng.randrange(384) for _ in range(12)]))
    save("fuzz_shards", "u32.bin", shard(70000, 4, 3, [rng.randrange(70000) for _ in range(6)]))
    params = struct.pack("<6f", *[rng.uniform(-1, 1) for _ in range(6)])
    state = safetensors([("params", "F32", [6], params), ("adamw.m", "F32", [6], params), ("adamw.v", "F32", [6], bytes(24))])
    j = {"step": 3, "seed": 7, "objective": "mntp", "parameters": 6, "optimizer": "adamw", "adamw_steps": 3, "checksum": "@CHECKSUM@"}
    save("fuzz_checkpoint", "adamw", json.dumps(j, indent=2).encode() + b"\n\x01\n" + state)
    j.update(optimizer="sgd", adamw_steps=0)
    save("fuzz_checkpoint", "sgd", json.dumps(j).encode() + b"\n\x01\n" + safetensors([("params", "F32", [6], params)]))


# ---- sentencepiece ----
def sentencepiece_seeds():
    for name in ("mistral-dev.model", "gemma3-dev.model"):
        save("fuzz_tokenizer_model", name, (FIXTURES / "gguf" / "tokenizers" / name).read_bytes())
    pieces = [(2, 0, "<unk>"), (3, 0, "<s>"), (3, 0, "</s>"), (1, 7, "\u2581"), (1, 1, "а"), (1, 2, "\u2581София"), (4, 0, "<mask>"), (5, 0, "x")]
    lines = b"".join(bytes([t, s]) + p.encode() + b"\n" for t, s, p in pieces)
    save("fuzz_sentencepiece_model", "bpe", bytes([1 | 8 | 32, 0, 1, 2, 0xFF]) + lines)
    save("fuzz_sentencepiece_model", "byte-fallback", bytes([1 | 4 | 32 | 64, 0, 1, 2, 0xFF]) + lines)
    save("fuzz_sentencepiece_model", "unigram", bytes([0 | 8 | 16 | 32, 0, 1, 2, 0xFF]) + lines)


if __name__ == "__main__":
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    gguf_seeds()
    safetensors_seeds()
    config_seeds()
    text_seeds()
    training_seeds()
    sentencepiece_seeds()
    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    print(f"{sum(1 for f in CORPUS.rglob('*') if f.is_file())} seeds, {total} bytes under {CORPUS}")

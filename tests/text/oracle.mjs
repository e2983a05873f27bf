// The tokenizer oracle: Hugging Face's pure-JavaScript tokenizer (@huggingface/tokenizers) and,
// when its prebuilt binary loads, the native Rust one (tokenizers on npm), encoding every text of
// a corpus with every given tokenizer.json (no special tokens added). Writes their ids as JSON for
// bitlin's test to compare against, and with --bench FILE MiB-per-second of both on FILE's text.
//
//   node oracle.mjs MODULES_PREFIX CORPUS.json OUT.json TOKENIZER.json...
//   node oracle.mjs MODULES_PREFIX --bench TEXT_FILE TOKENIZER.json [SECONDS]
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const [prefix, ...rest] = process.argv.slice(2);
const req = createRequire(path.join(path.resolve(prefix), "node_modules", "x.js"));
const { Tokenizer } = req("@huggingface/tokenizers");
let native = null, nativeError = null;
try {
  native = req("tokenizers");
} catch (e) {
  nativeError = String(e.message || e);
}

function loadJs(p) {
  const json = JSON.parse(fs.readFileSync(p, "utf8"));
  const cfgPath = path.join(path.dirname(p), "tokenizer_config.json");
  const cfg = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, "utf8")) : {};
  return new Tokenizer(json, cfg);
}
const jsIds = (t, text) => Array.from(t.encode(text, { add_special_tokens: false }).ids);
async function nativeIds(t, text) {
  const enc = await t.encode(text, null, { addSpecialTokens: false });
  return Array.from(enc.getIds());
}

if (rest[0] === "--bench") {
  const text = fs.readFileSync(rest[1], "utf8");
  const bytes = Buffer.byteLength(text, "utf8");
  const seconds = Number(rest[3] || 2);
  // Rates by CPU time of the whole process (user + system, every thread: the native tokenizer
  // encodes on libuv's pool) and by wall time; CPU time is what is comparable on a shared machine.
  const out = { bytes, native_error: nativeError };
  async function measure(name, once) {
    await once();  // warm up (and fill any caches, as bitlin's warm benchmark does)
    let n = 0, el = 0;
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    do { await once(); ++n; el = Number(process.hrtime.bigint() - t0) / 1e9; } while (el < seconds);
    const c = process.cpuUsage(c0), cpu = (c.user + c.system) / 1e6;
    out[name + "_mib_per_s"] = (n * bytes) / cpu / 1048576;
    out[name + "_wall_mib_per_s"] = (n * bytes) / el / 1048576;
  }
  const js = loadJs(rest[2]);
  await measure("js", async () => jsIds(js, text));
  if (native) {
    const nt = native.Tokenizer.fromFile(rest[2]);
    await measure("native", () => nativeIds(nt, text));
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

const [corpusPath, outPath, ...tokenizers] = rest;
const corpus = JSON.parse(fs.readFileSync(corpusPath, "utf8"));
const results = [];
for (const p of tokenizers) {
  const js = loadJs(p);
  const r = { tokenizer: path.resolve(p), js: corpus.map((t) => jsIds(js, t)), native: null,
              native_error: nativeError };
  if (native) {
    try {
      const nt = native.Tokenizer.fromFile(p);
      r.native = [];
      for (const t of corpus) r.native.push(await nativeIds(nt, t));
    } catch (e) {
      r.native = null;
      r.native_error = String(e.message || e);
    }
  }
  results.push(r);
}
fs.writeFileSync(outPath, JSON.stringify({ texts: corpus.length, results }));
console.log(`oracle: ${corpus.length} texts x ${tokenizers.length} tokenizers -> ${outPath}` +
            (native ? "" : ` (native tokenizer unavailable: ${nativeError})`));

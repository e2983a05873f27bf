// Reads a GGUF file with Hugging Face's GGUF reader (@huggingface/gguf) and writes what it sees as
// JSON (bigints as decimal strings, typed metadata as {type, subType, value}) for
// tests/io/test_gguf_oracle.cpp to compare with bitlin's reading.
//   node gguf_dump.mjs MODULES_PREFIX FILE.gguf OUT.json
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const [prefix, file, out] = process.argv.slice(2);
const req = createRequire(path.join(path.resolve(prefix), "node_modules", "x.js"));
const { gguf } = req("@huggingface/gguf");
const r = await gguf(path.resolve(file), { allowLocalFile: true, typedMetadata: true });
const big = (k, v) => (typeof v === "bigint" ? v.toString() : v);
const metadata = {};
for (const [k, v] of Object.entries(r.typedMetadata)) {
  if (k === "version" || k === "tensor_count" || k === "kv_count") continue;
  metadata[k] = v;
}
const dump = {
  version: Number(r.typedMetadata.version.value),
  metadata,
  tensorInfos: r.tensorInfos.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype, offset: t.offset })),
  tensorDataOffset: r.tensorDataOffset,
};
fs.writeFileSync(out, JSON.stringify(dump, big));
console.log(`gguf_dump: ${Object.keys(metadata).length} keys, ${dump.tensorInfos.length} tensors -> ${out}`);

// Pre-tokenizer patterns as the Hugging Face tokenizer.json files of the models spell them. Plain
// strings (no PCRE2 needed): the GGUF reader writes them into the tokenizer.json it rebuilds, the
// tokenizer compiles them.
#pragma once

namespace bitlin::text {

// Llama 3's (and BitNet-2B-4T's); a GGUF vocabulary without a tokenizer.json that says
// `tokenizer.ggml.pre` = "llama-bpe" (or says nothing: bitnet.cpp's files omit the key) uses it.
inline const char* llama3_pretokenizer_regex() {
  return "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
         "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
}
// GPT-2's, for `tokenizer.ggml.pre` = "gpt-2" / "default".
inline const char* gpt2_pretokenizer_regex() {
  return "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
}

}  // namespace bitlin::text

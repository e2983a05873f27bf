# The tokenizer harness exercises the optional tokenizer component (PCRE2): without it the harness
# compiles to a no-op, which a fuzz build must not mistake for fuzzing.
if(TARGET bitlin::tokenizer)
  target_link_libraries(${BITLIN_FUZZ_TARGET} PRIVATE bitlin::tokenizer)
elseif(BITLIN_FUZZ_TARGET STREQUAL "fuzz_tokenizer")
  message(FATAL_ERROR "bitlin: fuzz_tokenizer needs bitlin::tokenizer (install libpcre2-dev)")
endif()

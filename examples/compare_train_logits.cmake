# ctest helper: runs bitnet_cli (CLI) on the checkpoint in DIR with the validation prompt the
# trainer wrote, and requires its --logits-out file to equal the trainer's byte for byte (both are
# a single F32 tensor 'logits' written by the same safetensors writer), for DIR and DIR/packed.
# EMULATOR: the cross build's emulator command, words separated by '|' (empty natively).
string(REPLACE "|" ";" emulator "${EMULATOR}")
file(READ ${DIR}/val_prompt_ids.txt ids)
string(STRIP "${ids}" ids)
foreach(model ${DIR} ${DIR}/packed)
  execute_process(COMMAND ${emulator} ${CLI} --model ${model} --prompt-ids ${ids} -n 0
                          --logits-out ${DIR}/cli_logits.safetensors
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "bitnet_cli failed on ${model} (${rc}): ${out}${err}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${DIR}/val_logits.safetensors
                          ${DIR}/cli_logits.safetensors RESULT_VARIABLE differ)
  if(NOT differ EQUAL 0)
    message(FATAL_ERROR "bitnet_cli logits for ${model} differ from the trainer's")
  endif()
  message(STATUS "bitnet_cli logits on ${model} equal the trainer's")
endforeach()

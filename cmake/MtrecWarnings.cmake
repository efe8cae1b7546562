# Warnings and optional build flavours shared by every target of the project.
add_library(mtrec_flags INTERFACE)
target_compile_options(mtrec_flags INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter
  # GCC 12 reports false -Wrestrict positives inside libstdc++ string code at -O2
  -Wno-restrict)
if(MTREC_NATIVE)
  target_compile_options(mtrec_flags INTERFACE -march=native)
endif()
if(MTREC_SANITIZE)
  target_compile_options(mtrec_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(mtrec_flags INTERFACE -fsanitize=address,undefined)
endif()

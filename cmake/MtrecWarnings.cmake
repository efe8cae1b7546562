# Warnings and optional build flavours shared by every target of the project.
add_library(mtrec_flags INTERFACE)
target_compile_options(mtrec_flags INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter
  # GCC 12 reports false -Wrestrict positives inside libstdc++ string code at -O2
  -Wno-restrict
  # No a·b + c fused into an FMA behind the source's back: the versions of a MTREC_HOT_LOOP function (and builds
  # with and without MTREC_NATIVE) then round alike.
  -ffp-contract=off)
if(MTREC_NATIVE)
  target_compile_options(mtrec_flags INTERFACE -march=native)
endif()
if(MTREC_SANITIZE)
  target_compile_options(mtrec_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(mtrec_flags INTERFACE -fsanitize=address,undefined)
endif()

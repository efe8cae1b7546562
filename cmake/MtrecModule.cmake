# mtrec_module(NAME <name> SOURCES <files...> DEPS <targets...>)
# One static library per module of src/, with explicit sources, so that an include that points against the
# module order (common <- data <- features <- nn <- models <- train -> eval) fails to link.
function(mtrec_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_library(mtrec_${M_NAME} STATIC ${M_SOURCES})
  target_include_directories(mtrec_${M_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(mtrec_${M_NAME} PUBLIC ${M_DEPS} mtrec_flags)
endfunction()

# mtrec_test(NAME <name> SOURCES <files...> DEPS <targets...> [LABELS <labels...>])
function(mtrec_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT T_SOURCES)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main mtrec_flags)
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${T_NAME} PRIVATE MTREC_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                                                MTREC_BINARY="$<TARGET_FILE:mtrec>")
  if(NOT T_LABELS)
    set(T_LABELS fast)
  endif()
  # libgomp's default spin-waiting makes oneDNN calls crawl when ctest runs tests side by side on few cores; the
  # mtrec binary sets the same policy for itself (cli/main.cc).
  gtest_discover_tests(${T_NAME} PROPERTIES LABELS "${T_LABELS}" ENVIRONMENT "OMP_WAIT_POLICY=PASSIVE"
                       DISCOVERY_TIMEOUT 60)
endfunction()

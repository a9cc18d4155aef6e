# Writes OUT, a header defining HET_GIT_REV, from `git describe` of SRC. Run
# at every build (CMakeLists.txt, target het_git_rev), not at configure
# time: taken at configure time, the revision every results row records
# stayed at the commit cmake last ran on, and results from later or
# uncommitted code carried an older commit's name. "-dirty" marks a tree
# with uncommitted changes. The file is rewritten only when the text
# changes, so an unchanged revision recompiles nothing.
execute_process(COMMAND git describe --always --dirty --abbrev=12 WORKING_DIRECTORY "${SRC}"
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT rev)
  set(rev unknown)
endif()
set(text "#define HET_GIT_REV \"${rev}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()

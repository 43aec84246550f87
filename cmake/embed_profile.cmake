# Turns a text file into a C++ source defining `std::string_view <NAMESPACE>::<FUNCTION>()`.
# Defaults (profiles/seccomp/default.json for the policy core): runguard::policy, embedded_seccomp_profile.
if(NOT DEFINED NAMESPACE)
  set(NAMESPACE runguard::policy)
endif()
if(NOT DEFINED FUNCTION)
  set(FUNCTION embedded_seccomp_profile)
endif()
get_filename_component(input_name ${INPUT} NAME)
file(READ ${INPUT} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUTPUT}
"// Generated from ${input_name}; do not edit.\n"
"#include <string_view>\n"
"namespace ${NAMESPACE} {\n"
"namespace { const char kProfile[] = {${bytes} 0}; }\n"
"std::string_view ${FUNCTION}() { return std::string_view(kProfile, sizeof(kProfile) - 1); }\n"
"}  // namespace ${NAMESPACE}\n")

# Turns profiles/seccomp/default.json into a C++ source defining embedded_seccomp_profile().
file(READ ${INPUT} content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
file(WRITE ${OUTPUT}
"// Generated from profiles/seccomp/default.json; do not edit.\n"
"#include <string_view>\n"
"namespace runguard::policy {\n"
"namespace { const char kProfile[] = {${bytes} 0}; }\n"
"std::string_view embedded_seccomp_profile() { return std::string_view(kProfile, sizeof(kProfile) - 1); }\n"
"}  // namespace runguard::policy\n")

#include "runguard/nsutil/mountinfo.h"

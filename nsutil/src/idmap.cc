#include "runguard/nsutil/idmap.h"

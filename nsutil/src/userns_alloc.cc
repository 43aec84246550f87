#include "runguard/nsutil/userns_alloc.h"

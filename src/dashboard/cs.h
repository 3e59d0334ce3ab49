/*
 * cs.h: the one way to include ClearSilver.
 *
 * DESIGN
 * ClearSilver's cs_config.h defines PACKAGE_* as empty strings, which clash
 * with autoconf's config.h: include ClearSilver first, drop its PACKAGE_*,
 * then config.h. Files using this include it instead of config.h.
 */
#ifndef AH_DASHBOARD_CS_H
#define AH_DASHBOARD_CS_H

#include <ClearSilver.h>

#undef PACKAGE_BUGREPORT
#undef PACKAGE_NAME
#undef PACKAGE_STRING
#undef PACKAGE_TARNAME
#undef PACKAGE_URL
#undef PACKAGE_VERSION

#include "config.h"

#endif

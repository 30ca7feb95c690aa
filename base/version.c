/* version.c -- the one file compiled with the version, so new commits rebuild only it. */
#include "base/version.h"

const char fedsched_version[] = FEDSCHED_VERSION;

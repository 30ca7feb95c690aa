/* version.c -- the one file compiled with the version, so new commits rebuild only it. */
#include "scheduler/version.h"

const char fedsched_version[] = FEDSCHED_VERSION;

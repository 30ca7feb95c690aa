/* version.h -- the build's version string (git describe at build time). */
#ifndef SCHEDULER_VERSION_H
#define SCHEDULER_VERSION_H

extern const char fedsched_version[];

#endif

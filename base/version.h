/* version.h -- the build's version string (git describe at build time). */
#ifndef BASE_VERSION_H
#define BASE_VERSION_H

extern const char fedsched_version[];

#endif

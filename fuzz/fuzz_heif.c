/* libFuzzer target: the HEIF decoder (HEIC and AVIF), through the media layer */

#define FUZZ_FORMATS  { HDB_MEDIA_HEIF, HDB_MEDIA_AVIF }

#include "fuzz_image.h"

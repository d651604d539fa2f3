/* libFuzzer target: the PNG decoder, through the media layer */

#define FUZZ_FORMATS  { HDB_MEDIA_PNG }

#include "fuzz_image.h"

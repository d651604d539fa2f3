/* libFuzzer target: the GIF decoder, through the media layer */

#define FUZZ_FORMATS  { HDB_MEDIA_GIF }

#include "fuzz_image.h"

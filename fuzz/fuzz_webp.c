/* libFuzzer target: the WEBP decoder, through the media layer */

#define FUZZ_FORMATS  { HDB_MEDIA_WEBP }

#include "fuzz_image.h"

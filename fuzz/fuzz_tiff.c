/* libFuzzer target: the TIFF decoder, through the media layer */

#define FUZZ_FORMATS  { HDB_MEDIA_TIFF }

#include "fuzz_image.h"

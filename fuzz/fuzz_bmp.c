/* libFuzzer target: the BMP decoder, through the media layer */

#define FUZZ_FORMATS  { HDB_MEDIA_BMP }

#include "fuzz_image.h"

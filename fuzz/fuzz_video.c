/*
 * libFuzzer target: the video containers and codecs (FFmpeg behind our
 * own AVIOContext), through the media layer
 */

#define FUZZ_FORMATS  { HDB_MEDIA_MP4, HDB_MEDIA_MKV, HDB_MEDIA_AVI,         \
                        HDB_MEDIA_MPEGTS }

#include "fuzz_image.h"

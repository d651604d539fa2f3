/*
 * Runs a fuzz target on files, without libFuzzer: how `make test` replays
 * the corpus and every crasher found so far as regression tests.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE           *f;
        long            n;
        unsigned char  *buf;

        f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 2;
        }

        fseek(f, 0, SEEK_END);
        n = ftell(f);
        rewind(f);
        buf = malloc((size_t) n + 1);
        if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
            fprintf(stderr, "%s: read failed\n", argv[i]);
            return 2;
        }
        fclose(f);

        LLVMFuzzerTestOneInput(buf, (size_t) n);
        free(buf);
    }

    printf("%d inputs replayed\n", argc - 1);
    return 0;
}

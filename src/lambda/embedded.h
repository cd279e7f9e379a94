/* src/lambda/embedded.h: the runtime bootstraps of runtimes/, built into the binary
 * (cmake/embed_runtimes.cmake writes the arrays). module.c installs them under the data folder. */
#ifndef MG_LAMBDA_EMBEDDED_H
#define MG_LAMBDA_EMBEDDED_H

#include <stddef.h>

struct mg_lambda_embedded_file {
    const char *path;          /* under the runtimes folder, e.g. "python/bootstrap.py" */
    const unsigned char *data; /* len bytes */
    size_t len;
};

extern const struct mg_lambda_embedded_file mg_lambda_embedded_files[];
extern const size_t mg_lambda_embedded_count;

#endif

/* SPDX-License-Identifier: MIT */
/* token: a bearer token kept in a file (serve's --token-file, upload's and
 * the agent's push token). */
#ifndef SMOLDER_TOKEN_H
#define SMOLDER_TOKEN_H

#include <stddef.h>

/*
 * The token in `path`: its first line without surrounding blanks, at
 * least `min_len` characters. Returns it (caller frees), or NULL after
 * logging what is wrong, naming the file.
 */
char *token_read(const char *path, size_t min_len);

#endif

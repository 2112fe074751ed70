/* hpack: one HPACK decoding context (RFC 7541) — libnghttp2's inflater,
 * with a hard memory bound. Private to wire/ (h2.c keeps one per
 * direction of a connection).
 *
 * Header blocks are decoded as their bytes arrive, in pieces of any size:
 * the inflater keeps the state of a field cut between two pieces, so
 * feeding a block one byte at a time gives the same fields as feeding it
 * whole. Every block of the connection must go through its context, in
 * order, whether or not its fields are wanted: the dynamic table is shared
 * by all of them.
 *
 * Memory: everything the inflater allocates (its dynamic table, the
 * buffers of a field being decoded) is counted against max_mem. A peer
 * that makes the table grow past it (a large SETTINGS_HEADER_TABLE_SIZE
 * filled up) gets an error, not more memory. */
#ifndef WIRE_HPACK_H
#define WIRE_HPACK_H

#include <stddef.h>
#include <stdint.h>

struct wire_hpack;

/* One decoded field: name and value as sent (not NUL-terminated), valid
 * during the call. */
typedef void (*wire_hpack_field_fn)(void *arg, const char *name, size_t nlen,
                                    const char *value, size_t vlen);

/* A context with the initial table size (4096) and a bound on its
 * memory. NULL when out of memory. */
struct wire_hpack *wire_hpack_new(size_t max_mem);
void wire_hpack_free(struct wire_hpack *h);

/* Decode the next n bytes of a header block; final is set on the piece
 * that ends the block (it may be empty). Each field completed by these
 * bytes goes to f. Returns 0, or -1 with *err set to a static message: the
 * context is then unusable (the dynamic table can no longer be trusted,
 * so neither can any later block). */
int wire_hpack_decode(struct wire_hpack *h, const void *in, size_t n, int final,
                      wire_hpack_field_fn f, void *arg, const char **err);

/* The decoder's peer acknowledged a SETTINGS_HEADER_TABLE_SIZE: the
 * encoder may use up to `size` from now on (a smaller size evicts at
 * once and requires a size update at the start of the next block). Only
 * between blocks. Returns 0, or -1 with *err set. */
int wire_hpack_table_size(struct wire_hpack *h, uint32_t size,
                          const char **err);

/* Bytes the context holds now (its allocations, counted as made). */
size_t wire_hpack_mem(const struct wire_hpack *h);

#endif

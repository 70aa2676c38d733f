/*
 * ipcount.h - number of open sessions per client IP (the per_ip limit).
 * A small chained hash keyed by the printable address; entries exist only
 * while their count is above zero.
 */
#ifndef CUTOVER_IPCOUNT_H
#define CUTOVER_IPCOUNT_H

#include <stddef.h>

struct ipcount;

struct ipcount *ipcount_new(void);
void ipcount_free(struct ipcount *ic);
size_t ipcount_get(const struct ipcount *ic, const char *ip);
int ipcount_inc(struct ipcount *ic, const char *ip);
void ipcount_dec(struct ipcount *ic, const char *ip);

#endif

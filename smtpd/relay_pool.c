/*
 * relay_pool.c - the relay client's next hops: per-hop connection counts
 * and the idle pool of upstream sessions kept for reuse (RSET done).
 *
 * Functions (relay-internal): relay_hop_get(), relay_hop_put(),
 * relay_hop_idle_add(), relay_hop_idle_remove(), relay_pool_free().
 *
 * A hop is keyed by the relay string and relay_tls, so a session made with
 * other TLS requirements is never reused.  `count` is the number of slots
 * in use: requests still connecting and connected upstreams (idle or not);
 * it is what per_hop_connections limits.  A hop is freed when its count is
 * back to 0 (an idle upstream holds a slot, so the idle list is empty then).
 * The pool is a list: there are few next hops (one per live domain).
 * Waiters: an acquire that finds no idle session but a session of the hop
 * with its RSET in flight waits for it (relay_client.c) rather than
 * opening another connection; a hop is kept while anyone waits on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upstream_internal.h"

struct relay_hop *
relay_hop_get(struct relay_client *rc, const char *relay, enum relay_tls tls)
{
	struct relay_hop *h;
	char *key;

	if (asprintf(&key, "%s|%d", relay, (int)tls) < 0)
		return NULL;
	LIST_FOREACH(h, &rc->hops, link) {
		if (strcmp(h->key, key) == 0) {
			free(key);
			return h;
		}
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		free(key);
		return NULL;
	}
	h->key = key;
	TAILQ_INIT(&h->idle);
	TAILQ_INIT(&h->waiters);
	LIST_INSERT_HEAD(&rc->hops, h, link);
	return h;
}

static void
hop_free(struct relay_hop *h)
{
	LIST_REMOVE(h, link);
	free(h->key);
	free(h);
}

void
relay_hop_put(struct relay_client *rc, struct relay_hop *hop)
{
	if (hop->count > 0)
		hop->count--;
	if (hop->count == 0 && TAILQ_EMPTY(&hop->idle) &&
	    TAILQ_EMPTY(&hop->waiters))
		hop_free(hop);
}

/* A hop nobody holds a slot of (made by relay_hop_get, then not used). */
void
relay_hop_unused(struct relay_hop *hop)
{
	if (hop->count == 0 && TAILQ_EMPTY(&hop->idle) &&
	    TAILQ_EMPTY(&hop->waiters))
		hop_free(hop);
}

void
relay_hop_idle_add(struct upstream *u)
{
	u->state = UP_IDLE;
	TAILQ_INSERT_HEAD(&u->hop->idle, u, idle_link);
	up_timer(u, u->rc->idle_time);
	relay_hop_wake(u->hop);
}

void
relay_hop_idle_remove(struct upstream *u)
{
	TAILQ_REMOVE(&u->hop->idle, u, idle_link);
	u->state = UP_READY;
	up_timer(u, 0);
}

void
relay_pool_free(struct relay_client *rc)
{
	struct upstream *u;

	while ((u = TAILQ_FIRST(&rc->all)) != NULL) {
		u->cb = NULL;
		up_free(u);
	}
}

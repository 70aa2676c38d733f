/*
 * cutover_milter_sock.c - TCP_NODELAY on the socket libmilter listens on.
 *
 * Why: at end of message the milter answers with several small packets in a
 * row (each header change, then the verdict), each its own write() inside
 * libmilter.  With Nagle's algorithm the verdict waits for the ACK of the
 * change before it leaves, and the MTA, which has nothing to send until the
 * verdict, delays that ACK (40 ms on Linux): one stall per message, the
 * latency of every session at low concurrency.  Linux copies TCP_NODELAY
 * from a listening socket to the connections accept() returns, so setting
 * it once on the listener covers every MTA connection.
 *
 * How: libmilter keeps its listening descriptor private, so after
 * smfi_opensocket() the descriptors are searched for a listening TCP
 * socket (SO_ACCEPTCONN, SO_PROTOCOL).  A unix: socket has none; that is
 * not an error.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "cutover_milter.h"

#define FD_SCAN_MAX 1024

static bool
is_tcp_listener(int fd)
{
	int on = 0, proto = 0;
	socklen_t len = sizeof on;

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on)
		return false;
	len = sizeof proto;
	return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
	    proto == IPPROTO_TCP;
}

int
cm_listener_nodelay(void)
{
	struct rlimit rl;
	int fd, max = FD_SCAN_MAX, n = 0, one = 1;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < FD_SCAN_MAX)
		max = (int)rl.rlim_cur;
	for (fd = 0; fd < max; fd++) {
		if (!is_tcp_listener(fd))
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof one) != 0)
			return -1;
		n++;
	}
	return n;
}

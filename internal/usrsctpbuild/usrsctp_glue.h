/*
 * usrsctp_glue.h: what the C programs on libusrsctp share
 * (integration/usrsctp-peer/peer.c, bench/usrsctp-bench/bench.c).
 * internal/usrsctpbuild puts this directory on the include path.
 */
#ifndef USOCK_USRSCTP_GLUE_H
#define USOCK_USRSCTP_GLUE_H

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <usrsctp.h>

/* recv_msg reads one whole message or notification from so into buf,
 * joining the pieces usrsctp_recvv returns until MSG_EOR. It returns its
 * length, 0 at the end of the socket, -1 on error (errno EMSGSIZE when it
 * does not fit cap). *flags gets the first piece's flags and *rcv, when
 * rcv is not NULL, its SCTP_RECVV_RCVINFO (zero when there is none). */
static ssize_t recv_msg(struct socket *so, char *buf, size_t cap, struct sctp_rcvinfo *rcv, int *flags)
{
	size_t got = 0;
	for (;;) {
		struct sctp_rcvinfo ri;
		socklen_t infolen = sizeof(ri);
		unsigned int infotype = 0;
		int fl = 0;
		struct sockaddr_in from;
		socklen_t fromlen = sizeof(from);
		memset(&ri, 0, sizeof(ri));
		ssize_t n = usrsctp_recvv(so, buf + got, cap - got, (struct sockaddr *)&from, &fromlen, &ri, &infolen,
		                          &infotype, &fl);
		if (n < 0)
			return -1;
		if (n == 0 && got == 0)
			return 0;
		if (got == 0) {
			*flags = fl;
			if (rcv != NULL) {
				if (infotype == SCTP_RECVV_RCVINFO)
					*rcv = ri;
				else
					memset(rcv, 0, sizeof(*rcv));
			}
		}
		got += (size_t)n;
		if (fl & MSG_EOR)
			return (ssize_t)got;
		if (got == cap) {
			errno = EMSGSIZE;
			return -1;
		}
	}
}

#endif

/*
 * kpeer: the Linux kernel's side of usock's kernel interop tests
 * (integration/kernel). It runs inside the test guest, against the
 * kernel's own SCTP (net.sctp.udp_port and net.sctp.encap_port make the
 * kernel carry it over UDP, RFC 6951), with one-to-one style sockets
 * (RFC 6458 section 4) and the SCTP_SNDRCV ancillary data, so that the
 * stream, the PPID and the unordered flag of each message round-trip.
 *
 * One line per event on stdout (the guest's control console):
 *
 *   LISTEN port=P                       server ready
 *   UP assoc=A outs=O ins=I             SCTP_COMM_UP or SCTP_RESTART
 *   MSG assoc=A stream=S ppid=P len=L unordered=U
 *   SHUTDOWN assoc=A                    SCTP_SHUTDOWN_EVENT (the peer shuts down)
 *   DOWN assoc=A                        SCTP_SHUTDOWN_COMP
 *   ABORT assoc=A error=E               SCTP_COMM_LOST
 *   CANTSTART assoc=A                   SCTP_CANT_STR_ASSOC
 *   PADDR assoc=A addr=X state=S        SCTP_PEER_ADDR_CHANGE
 *   REMOTEERROR assoc=A cause=C         SCTP_REMOTE_ERROR
 *   SENDFAILED assoc=A                  SCTP_SEND_FAILED
 *   CLOSED assoc=A                      end of the association's socket
 *   PATH assoc=A addr=X state=S rto=R   one per peer address, for each open
 *                                       association, when kpeer gets SIGUSR1
 *                                       (SCTP_GET_PEER_ADDR_INFO; S is active,
 *                                       pf, inactive or unconfirmed, R in ms)
 *   PATHS n=N                           the end of such a report (N lines)
 *   VERIFIED n=N uflag=U                client: every echo matched (U of the
 *                                       unordered ones came back ordered)
 *   FAIL ...                            something did not match
 *
 * Modes:
 *   -mode echo     listens; accepts any number of associations (one thread
 *                  each) and echoes every message with its stream, PPID and
 *                  unordered flag; -close shutdown|abort ends each
 *                  association after -n messages (0: never)
 *   -mode client   connects (sctp_connectx to every -connect address),
 *                  sends -n messages with the -sizes (cycled) on -streams
 *                  streams, PPIDs 40..46, every third unordered; verifies
 *                  every echo byte for byte (ordered ones in order per
 *                  stream), then shuts down (or aborts with -abort)
 *   -mode sink     as echo, but only reads (prints MSG lines)
 *   -mode pace     client that sends -n messages of -sizes, one every
 *                  -interval ms, and counts the echoes (for the failover
 *                  cases)
 *
 * -q leaves out the MSG lines (bulk runs). -rtomax MS sets the RTO.Max of
 * the associations (SCTP_RTOINFO, RFC 6458 section 8.1.1), so that a cut
 * path's back-off, and with it the time to notice its return, stays short.
 *
 * Addresses: -bind ADDR (repeatable; sctp_bindx; default wildcard),
 * -connect ADDR (repeatable), -port (local SCTP port), -rport (remote).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ADDRS 8
#define MAX_MSG (256 * 1024)
#define MAX_STREAMS 64
#define MAX_PENDING 65536

#include "../../cpeer/say.h" /* say, die */

/* options */
static const char *mode = "echo", *close_how = "";
static uint16_t sctp_port, remote_sctp_port;
static struct sockaddr_in binds[MAX_ADDRS], connects[MAX_ADDRS];
static int nbinds, nconnects;
static int nmsgs = 16, nstreams = 4, do_abort, quiet, timeout_s = 60, interval_ms = 20;
static int sizes[64], nsizes;
static int rto_max_ms;

/* The sockets of the open associations, for the PATH report; under fds_mu. */
static pthread_mutex_t fds_mu = PTHREAD_MUTEX_INITIALIZER;
static int fds[256], nfds;

static void parse_addr(const char *s, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, s, &sin->sin_addr) != 1) {
		fprintf(stderr, "bad IPv4 address %s\n", s);
		exit(2);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: kpeer -mode echo|sink|client|pace -port P [-rport P]\n"
	                "             [-bind A]... [-connect A]... [-n N] [-sizes 1,100,...]\n"
	                "             [-streams S] [-abort] [-close shutdown|abort]\n"
	                "             [-interval MS] [-timeout S] [-rtomax MS] [-q]\n");
	exit(2);
}

/* subscribe turns on the notifications the tests read (RFC 6458 6.2.1). */
static void subscribe(int fd)
{
	struct sctp_event_subscribe ev;
	memset(&ev, 0, sizeof(ev));
	ev.sctp_data_io_event = 1; /* SCTP_SNDRCV ancillary data on every read */
	ev.sctp_association_event = 1;
	ev.sctp_address_event = 1;
	ev.sctp_send_failure_event = 1;
	ev.sctp_peer_error_event = 1;
	ev.sctp_shutdown_event = 1;
	if (setsockopt(fd, IPPROTO_SCTP, SCTP_EVENTS, &ev, sizeof(ev)) < 0)
		die("SCTP_EVENTS");
	int on = 1;
	if (setsockopt(fd, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on)) < 0)
		die("SCTP_NODELAY");
}

static int new_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
	if (fd < 0)
		die("socket");
	struct sctp_initmsg im;
	memset(&im, 0, sizeof(im));
	im.sinit_num_ostreams = MAX_STREAMS;
	im.sinit_max_instreams = MAX_STREAMS;
	if (setsockopt(fd, IPPROTO_SCTP, SCTP_INITMSG, &im, sizeof(im)) < 0)
		die("SCTP_INITMSG");
	if (rto_max_ms > 0) {
		struct sctp_rtoinfo ri;
		memset(&ri, 0, sizeof(ri));
		ri.srto_max = rto_max_ms; /* 0 keeps the initial and minimum */
		if (setsockopt(fd, IPPROTO_SCTP, SCTP_RTOINFO, &ri, sizeof(ri)) < 0)
			die("SCTP_RTOINFO");
	}
	int buf = 4 * 1024 * 1024;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	subscribe(fd);
	if (nbinds == 0) {
		struct sockaddr_in any;
		memset(&any, 0, sizeof(any));
		any.sin_family = AF_INET;
		any.sin_port = htons(sctp_port);
		if (bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0)
			die("bind");
	} else {
		for (int i = 0; i < nbinds; i++)
			binds[i].sin_port = htons(sctp_port);
		if (sctp_bindx(fd, (struct sockaddr *)binds, nbinds, SCTP_BINDX_ADD_ADDR) < 0)
			die("sctp_bindx");
	}
	return fd;
}

static const char *paddr_state(int s)
{
	switch (s) {
	case SCTP_ADDR_AVAILABLE:
		return "available";
	case SCTP_ADDR_UNREACHABLE:
		return "unreachable";
	case SCTP_ADDR_REMOVED:
		return "removed";
	case SCTP_ADDR_ADDED:
		return "added";
	case SCTP_ADDR_MADE_PRIM:
		return "primary";
	case SCTP_ADDR_CONFIRMED:
		return "confirmed";
#ifdef SCTP_ADDR_PF
	case SCTP_ADDR_POTENTIALLY_FAILED:
		return "pf";
#endif
	default:
		return "other";
	}
}

static const char *spinfo_state(int s)
{
	switch (s) {
	case SCTP_ACTIVE:
		return "active";
	case SCTP_PF:
		return "pf";
	case SCTP_INACTIVE:
		return "inactive";
	case SCTP_UNCONFIRMED:
		return "unconfirmed";
	default:
		return "other";
	}
}

static void track(int fd)
{
	pthread_mutex_lock(&fds_mu);
	if (nfds < (int)(sizeof(fds) / sizeof(fds[0])))
		fds[nfds++] = fd;
	pthread_mutex_unlock(&fds_mu);
}

static void untrack(int fd)
{
	pthread_mutex_lock(&fds_mu);
	for (int i = 0; i < nfds; i++)
		if (fds[i] == fd) {
			fds[i] = fds[--nfds];
			break;
		}
	pthread_mutex_unlock(&fds_mu);
}

/*
 * report_paths prints a PATH line for every peer address of every open
 * association (one-to-one sockets: one association each), then PATHS.
 */
static void report_paths(void)
{
	int lines = 0;
	pthread_mutex_lock(&fds_mu);
	for (int i = 0; i < nfds; i++) {
		struct sockaddr *addrs = NULL;
		int n = sctp_getpaddrs(fds[i], 0, &addrs);
		for (int k = 0; k < n; k++) {
			struct sctp_paddrinfo pi;
			memset(&pi, 0, sizeof(pi));
			memcpy(&pi.spinfo_address, (struct sockaddr_in *)addrs + k, sizeof(struct sockaddr_in));
			socklen_t len = sizeof(pi);
			char a[INET6_ADDRSTRLEN] = "?";
			inet_ntop(AF_INET, &((struct sockaddr_in *)addrs + k)->sin_addr, a, sizeof(a));
			if (getsockopt(fds[i], IPPROTO_SCTP, SCTP_GET_PEER_ADDR_INFO, &pi, &len) < 0) {
				say("PATH assoc=%d addr=%s error=%s", pi.spinfo_assoc_id, a, strerror(errno));
			} else {
				say("PATH assoc=%d addr=%s state=%s rto=%u", pi.spinfo_assoc_id, a,
				    spinfo_state(pi.spinfo_state), pi.spinfo_rto);
			}
			lines++;
		}
		if (n > 0)
			sctp_freepaddrs(addrs);
	}
	pthread_mutex_unlock(&fds_mu);
	say("PATHS n=%d", lines);
}

/* reporter answers each SIGUSR1 (blocked in every thread) with a report. */
static void *reporter(void *arg)
{
	sigset_t *set = arg;
	for (;;) {
		int sig;
		if (sigwait(set, &sig) == 0 && sig == SIGUSR1)
			report_paths();
	}
	return NULL;
}

/*
 * notification prints an event line; it returns 1 when the association
 * ended. n holds len bytes from the socket: each field is checked to be
 * inside them before it is read.
 */
static int notification(const union sctp_notification *n, size_t len)
{
	if (len < sizeof(n->sn_header))
		return 0;
	switch (n->sn_header.sn_type) {
	case SCTP_ASSOC_CHANGE: {
		const struct sctp_assoc_change *ac = &n->sn_assoc_change;
		if (len < sizeof(*ac))
			return 0;
		switch (ac->sac_state) {
		case SCTP_COMM_UP:
		case SCTP_RESTART:
			say("UP assoc=%d outs=%u ins=%u", ac->sac_assoc_id, ac->sac_outbound_streams,
			    ac->sac_inbound_streams);
			return 0;
		case SCTP_COMM_LOST:
			say("ABORT assoc=%d error=%u", ac->sac_assoc_id, ac->sac_error);
			return 1;
		case SCTP_SHUTDOWN_COMP:
			say("DOWN assoc=%d", ac->sac_assoc_id);
			return 1;
		case SCTP_CANT_STR_ASSOC:
			say("CANTSTART assoc=%d", ac->sac_assoc_id);
			return 1;
		}
		return 0;
	}
	case SCTP_PEER_ADDR_CHANGE: {
		const struct sctp_paddr_change *pc = &n->sn_paddr_change;
		if (len < sizeof(*pc))
			return 0;
		char a[INET6_ADDRSTRLEN] = "?";
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&pc->spc_aaddr;
		if (sin->sin_family == AF_INET)
			inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		say("PADDR assoc=%d addr=%s state=%s", pc->spc_assoc_id, a, paddr_state(pc->spc_state));
		return 0;
	}
	case SCTP_SHUTDOWN_EVENT:
		say("SHUTDOWN assoc=%d", n->sn_shutdown_event.sse_assoc_id);
		return 0;
	case SCTP_REMOTE_ERROR:
		if (len < sizeof(n->sn_remote_error))
			return 0;
		say("REMOTEERROR assoc=%d cause=%u", n->sn_remote_error.sre_assoc_id,
		    ntohs(n->sn_remote_error.sre_error));
		return 0;
	case SCTP_SEND_FAILED:
		say("SENDFAILED assoc=%d", n->sn_send_failed.ssf_assoc_id);
		return 0;
	}
	return 0;
}

/*
 * readmsg reads one whole message (or notification) into buf, joining the
 * parts of a partial delivery (RFC 6458 section 8.1.20) until MSG_EOR. It
 * returns its length, 0 at the end of the association, -1 on error.
 */
static ssize_t readmsg(int fd, char *buf, size_t cap, struct sctp_sndrcvinfo *info, int *flags)
{
	size_t got = 0;
	for (;;) {
		struct iovec iov = {buf + got, cap - got};
		char cbuf[CMSG_SPACE(sizeof(struct sctp_sndrcvinfo))];
		struct msghdr mh;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		ssize_t n = recvmsg(fd, &mh, 0);
		if (n <= 0)
			return n;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == IPPROTO_SCTP && c->cmsg_type == SCTP_SNDRCV)
				memcpy(info, CMSG_DATA(c), sizeof(*info));
		got += n;
		*flags = mh.msg_flags;
		if ((mh.msg_flags & MSG_EOR) || got == cap)
			return got;
	}
}

/* sendmsg_info sends one message with its stream, PPID and flags. */
/* send_one sends one message with sendmsg flags (0 or MSG_DONTWAIT); -1
   with errno set when it was not sent whole. */
static int send_one(int fd, const char *buf, size_t len, uint16_t stream, uint32_t ppid_net, int unordered,
		    int flags)
{
	char cbuf[CMSG_SPACE(sizeof(struct sctp_sndrcvinfo))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = {(void *)buf, len};
	struct msghdr mh;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = IPPROTO_SCTP;
	c->cmsg_type = SCTP_SNDRCV;
	c->cmsg_len = CMSG_LEN(sizeof(struct sctp_sndrcvinfo));
	struct sctp_sndrcvinfo *si = (struct sctp_sndrcvinfo *)CMSG_DATA(c);
	si->sinfo_stream = stream;
	si->sinfo_ppid = ppid_net; /* the kernel sends sinfo_ppid as it is */
	si->sinfo_flags = unordered ? SCTP_UNORDERED : 0;
	ssize_t n = sendmsg(fd, &mh, flags);
	return n == (ssize_t)len ? 0 : -1;
}

/* end closes an association as -close (or -abort) asks. */
static void end_assoc(int fd, const char *how)
{
	if (strcmp(how, "abort") == 0) {
		struct linger l = {1, 0}; /* close with SO_LINGER 0 sends ABORT */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(fd);
		return;
	}
	shutdown(fd, SHUT_WR); /* SHUTDOWN after the queued data */
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(MAX_MSG);
	int assoc = -1, count = 0, ended = 0;
	if (!buf)
		die("malloc");
	track(fd);
	for (;;) {
		struct sctp_sndrcvinfo info;
		memset(&info, 0, sizeof(info));
		int flags = 0;
		ssize_t n = readmsg(fd, buf, MAX_MSG, &info, &flags);
		if (n <= 0)
			break;
		if (flags & MSG_NOTIFICATION) {
			const union sctp_notification *nt = (const union sctp_notification *)buf;
			if (nt->sn_header.sn_type == SCTP_ASSOC_CHANGE && (size_t)n >= sizeof(nt->sn_assoc_change))
				assoc = nt->sn_assoc_change.sac_assoc_id;
			if (notification(nt, n))
				break;
			continue;
		}
		int unordered = (info.sinfo_flags & SCTP_UNORDERED) != 0;
		if (!quiet)
			say("MSG assoc=%d stream=%u ppid=%u len=%zd unordered=%d", info.sinfo_assoc_id, info.sinfo_stream,
			    ntohl(info.sinfo_ppid), n, unordered);
		if (strcmp(mode, "echo") == 0 &&
		    send_one(fd, buf, n, info.sinfo_stream, info.sinfo_ppid, unordered, 0) < 0) {
			say("FAIL echo: %s", strerror(errno));
			break;
		}
		if (++count == nmsgs && close_how[0] && !ended) {
			ended = 1;
			if (strcmp(close_how, "abort") == 0) {
				untrack(fd);
				end_assoc(fd, "abort");
				say("CLOSED assoc=%d", assoc);
				free(buf);
				return NULL;
			}
			end_assoc(fd, close_how);
		}
	}
	say("CLOSED assoc=%d", assoc);
	untrack(fd);
	close(fd);
	free(buf);
	return NULL;
}

static void run_server(void)
{
	int fd = new_socket();
	if (listen(fd, 64) < 0)
		die("listen");
	say("LISTEN port=%u", sctp_port);
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		subscribe(c);
		pthread_t th;
		if (pthread_create(&th, NULL, serve, (void *)(intptr_t)c) != 0)
			die("pthread_create");
		pthread_detach(th);
	}
}

/* fill makes message i's payload: bytes derived from i, so any mix-up shows. */
static void fill(char *buf, size_t len, int i)
{
	uint32_t x = 2654435761u * (uint32_t)(i + 1);
	for (size_t k = 0; k < len; k++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[k] = (char)x;
	}
}

struct sent {
	int index, len, stream, unordered;
	uint32_t ppid;
	int echoed;
};

static struct sent sent[MAX_PENDING];

static int deadline_passed(time_t start) { return time(NULL) - start > timeout_s; }

static void run_client(void)
{
	if (nconnects == 0)
		usage();
	int fd = new_socket();
	for (int i = 0; i < nconnects; i++)
		connects[i].sin_port = htons(remote_sctp_port);
	sctp_assoc_t id = 0;
	if (sctp_connectx(fd, (struct sockaddr *)connects, nconnects, &id) < 0)
		die("sctp_connectx");
	track(fd);
	if (nsizes == 0)
		sizes[nsizes++] = 100;
	if (nmsgs > MAX_PENDING)
		nmsgs = MAX_PENDING;
	char *out = malloc(MAX_MSG), *in = malloc(MAX_MSG), *want = malloc(MAX_MSG);
	if (!out || !in || !want)
		die("malloc");
	time_t start = time(NULL);
	int pacing = strcmp(mode, "pace") == 0;
	int next = 0, verified = 0, failed = 0, uflag = 0, blocked = 0;
	/* next ordered index expected per stream */
	while (verified < nmsgs && !deadline_passed(start)) {
		if (next < nmsgs) {
			struct sent *s = &sent[next];
			s->index = next;
			s->len = sizes[next % nsizes];
			s->stream = next % nstreams;
			s->ppid = 40 + next % 7;
			s->unordered = next % 3 == 2;
			fill(out, s->len, next);
			/* Never block in a send: a client that stops reading its
			   echoes while its send buffer is full fills the echo
			   server's window too, and neither side moves again. */
			if (send_one(fd, out, s->len, s->stream, htonl(s->ppid), s->unordered, MSG_DONTWAIT) == 0)
				next++;
			else if (errno == EAGAIN || errno == EWOULDBLOCK)
				blocked = 1;
			else
				die("sendmsg");
		}
		struct pollfd p = {fd, POLLIN | (blocked ? POLLOUT : 0), 0};
		int wait = next < nmsgs ? (blocked ? 1000 : pacing ? interval_ms : 0) : 1000;
		blocked = 0;
		while (poll(&p, 1, wait) > 0 && (p.revents & POLLIN)) {
			struct sctp_sndrcvinfo info;
			memset(&info, 0, sizeof(info));
			int flags = 0;
			ssize_t n = readmsg(fd, in, MAX_MSG, &info, &flags);
			if (n <= 0) {
				say("FAIL association ended after %d of %d echoes", verified, nmsgs);
				exit(1);
			}
			if (flags & MSG_NOTIFICATION) {
				if (notification((const union sctp_notification *)in, n)) {
					say("FAIL association ended after %d of %d echoes", verified, nmsgs);
					exit(1);
				}
				continue;
			}
			int unordered = (info.sinfo_flags & SCTP_UNORDERED) != 0;
			uint32_t ppid = ntohl(info.sinfo_ppid);
			/* the echo is the unechoed message of its stream with its
			   length, PPID and bytes; an echo sent ordered must be the
			   oldest unechoed ordered message of its stream (RFC 9260
			   section 6.6). An unordered message that comes back ordered
			   is counted (uflag), not failed: a peer that does not report
			   the U flag to its application echoes it ordered. */
			int match = -1, oldest = -1;
			for (int k = 0; k < next; k++) {
				struct sent *s = &sent[k];
				if (s->echoed || s->stream != info.sinfo_stream)
					continue;
				if (!s->unordered && oldest < 0)
					oldest = k;
				if (match < 0 && s->len == n && s->ppid == ppid) {
					fill(want, n, k);
					if (memcmp(want, in, n) == 0)
						match = k;
				}
			}
			if (match < 0) {
				say("FAIL unexpected echo stream=%u ppid=%u len=%zd unordered=%d", info.sinfo_stream, ppid, n,
				    unordered);
				failed++;
				continue;
			}
			struct sent *s = &sent[match];
			if (!s->unordered && match != oldest) {
				say("FAIL message %d on stream %u echoed before message %d", match, s->stream, oldest);
				failed++;
			}
			if (s->unordered && !unordered)
				uflag++;
			if (!s->unordered && unordered) {
				say("FAIL ordered message %d echoed unordered", match);
				failed++;
			}
			s->echoed = 1;
			verified++;
			wait = 0;
		}
	}
	if (failed || verified < nmsgs) {
		say("FAIL verified %d of %d (%d mismatches)", verified, nmsgs, failed);
		exit(1);
	}
	say("VERIFIED n=%d uflag=%d", verified, uflag);
	end_assoc(fd, do_abort ? "abort" : "shutdown");
	if (!do_abort) {
		/* wait for SHUTDOWN COMPLETE */
		for (;;) {
			struct sctp_sndrcvinfo info;
			int flags = 0;
			ssize_t n = readmsg(fd, in, MAX_MSG, &info, &flags);
			if (n <= 0)
				break;
			if ((flags & MSG_NOTIFICATION) && notification((const union sctp_notification *)in, n))
				break;
		}
		close(fd);
	}
	exit(0);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-abort") == 0) {
			do_abort = 1;
			continue;
		}
		if (strcmp(a, "-q") == 0) {
			quiet = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(a, "-mode") == 0)
			mode = v;
		else if (strcmp(a, "-port") == 0)
			sctp_port = atoi(v);
		else if (strcmp(a, "-rport") == 0)
			remote_sctp_port = atoi(v);
		else if (strcmp(a, "-bind") == 0 && nbinds < MAX_ADDRS)
			parse_addr(v, &binds[nbinds++]);
		else if (strcmp(a, "-connect") == 0 && nconnects < MAX_ADDRS)
			parse_addr(v, &connects[nconnects++]);
		else if (strcmp(a, "-n") == 0)
			nmsgs = atoi(v);
		else if (strcmp(a, "-streams") == 0)
			nstreams = atoi(v);
		else if (strcmp(a, "-timeout") == 0)
			timeout_s = atoi(v);
		else if (strcmp(a, "-interval") == 0)
			interval_ms = atoi(v);
		else if (strcmp(a, "-close") == 0)
			close_how = v;
		else if (strcmp(a, "-rtomax") == 0)
			rto_max_ms = atoi(v);
		else if (strcmp(a, "-sizes") == 0) {
			char *copy = strdup(v), *tok, *save = NULL;
			for (tok = strtok_r(copy, ",", &save); tok && nsizes < 64; tok = strtok_r(NULL, ",", &save)) {
				int s = atoi(tok);
				if (s < 1 || s > MAX_MSG)
					usage();
				sizes[nsizes++] = s;
			}
			free(copy);
		} else
			usage();
	}
	if (nstreams < 1 || nstreams > MAX_STREAMS)
		usage();
	/* SIGUSR1 goes to the reporter thread alone. */
	static sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	pthread_t rep;
	if (pthread_create(&rep, NULL, reporter, &usr1) != 0)
		die("pthread_create");
	pthread_detach(rep);
	if (strcmp(mode, "echo") == 0 || strcmp(mode, "sink") == 0)
		run_server();
	else if (strcmp(mode, "client") == 0 || strcmp(mode, "pace") == 0)
		run_client();
	else
		usage();
	return 0;
}

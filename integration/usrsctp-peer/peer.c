/*
 * peer: a small usrsctp peer for usock's interop tests (integration/).
 *
 * All SCTP packets travel over UDP (RFC 6951): -udp is the local
 * encapsulation port (usrsctp_init), -rudp the peer's (the socket option
 * SCTP_REMOTE_UDP_ENCAPS_PORT). One line per event goes to stdout:
 *
 *   LISTEN port=P                 server ready
 *   UP assoc=A                    SCTP_COMM_UP / SCTP_RESTART
 *   MSG assoc=A stream=S ppid=P len=L unordered=U
 *   SHUTDOWN assoc=A              the peer sent SHUTDOWN (SCTP_SHUTDOWN_EVENT)
 *   DOWN assoc=A                  graceful end (SCTP_SHUTDOWN_COMP)
 *   ABORT assoc=A error=E         SCTP_COMM_LOST (ABORT received or failure)
 *   CANTSTART assoc=A             SCTP_CANT_STR_ASSOC
 *   PADDR assoc=A addr=X state=S  SCTP_PEER_ADDR_CHANGE
 *   VERIFIED n=N                  client: every echo matched
 *   FAIL ...                      client: something did not match
 *
 * Modes:
 *   -mode echo      one-to-many server, echoes every message (stream,
 *                   PPID and unordered flag kept) to its association
 *   -mode discard   one-to-many server, reads and drops
 *   -mode client    one-to-one socket: connects, sends -n messages with the
 *                   -sizes (cycled) on -streams streams, PPIDs 40..46, every
 *                   third unordered; reads the echoes, verifies every byte,
 *                   then shuts down (or aborts with -abort) and exits 0
 *
 * Servers read commands on stdin, one per line: "shutdown" (graceful
 * shutdown of every association), "abort" (ABORT every association),
 * "quit" (or end of input: close and exit).
 *
 * Addresses: -bind ADDR (repeatable; usrsctp_bindx; default wildcard),
 * -connect ADDR (repeatable; usrsctp_connectx), -port (local SCTP port),
 * -rport (remote SCTP port).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <usrsctp.h>

#include "usrsctp_glue.h" /* internal/usrsctpbuild */

#define MAX_ADDRS 8
#define MAX_ASSOCS 256
#define MAX_MSG (256 * 1024)

#include "../cpeer/say.h" /* say, die */

static void debug_printf(const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	vfprintf(stderr, format, ap);
	va_end(ap);
}

/* options */
static const char *mode = "echo";
static uint16_t udp_port = 9899, remote_udp_port = 9899;
static uint16_t sctp_port = 0, remote_sctp_port = 0;
static struct sockaddr_in binds[MAX_ADDRS], connects[MAX_ADDRS];
static int nbinds, nconnects;
static int nmsgs = 16, nstreams = 4, do_abort, timeout_s = 60;
static int sizes[64], nsizes;

static struct socket *so;

/* associations seen by a server, for the stdin commands */
static pthread_mutex_t assoc_mu = PTHREAD_MUTEX_INITIALIZER;
static sctp_assoc_t assocs[MAX_ASSOCS];
static int nassocs;

static void assoc_add(sctp_assoc_t id)
{
	pthread_mutex_lock(&assoc_mu);
	if (nassocs < MAX_ASSOCS)
		assocs[nassocs++] = id;
	pthread_mutex_unlock(&assoc_mu);
}

static void assoc_del(sctp_assoc_t id)
{
	pthread_mutex_lock(&assoc_mu);
	for (int i = 0; i < nassocs; i++) {
		if (assocs[i] == id) {
			assocs[i] = assocs[--nassocs];
			break;
		}
	}
	pthread_mutex_unlock(&assoc_mu);
}

static void parse_addr(const char *s, struct sockaddr_in *sin, uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	if (inet_pton(AF_INET, s, &sin->sin_addr) != 1) {
		fprintf(stderr, "bad IPv4 address %s\n", s);
		exit(2);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: peer -mode echo|discard|client -udp P -rudp P -port P [-rport P]\n"
	                "            [-bind A]... [-connect A]... [-n N] [-sizes 1,100,...] [-streams S]\n"
	                "            [-abort] [-timeout S]\n");
	exit(2);
}

static void setopt(int level, int name, const void *v, socklen_t l, const char *what)
{
	if (usrsctp_setsockopt(so, level, name, v, l) < 0)
		die(what);
}

static void common_options(void)
{
	uint16_t types[] = {SCTP_ASSOC_CHANGE, SCTP_PEER_ADDR_CHANGE, SCTP_SHUTDOWN_EVENT,
	                    SCTP_REMOTE_ERROR, SCTP_SEND_FAILED_EVENT};
	struct sctp_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.se_assoc_id = SCTP_FUTURE_ASSOC;
	ev.se_on = 1;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		ev.se_type = types[i];
		setopt(IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev), "SCTP_EVENT");
	}
	int on = 1;
	setopt(IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on), "SCTP_RECVRCVINFO");
	setopt(IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on), "SCTP_NODELAY");
	int buf = 4 * 1024 * 1024;
	setopt(SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf), "SO_RCVBUF");
	setopt(SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf), "SO_SNDBUF");
	int level = 0; /* a partially delivered message blocks the others */
	setopt(IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &level, sizeof(level), "SCTP_FRAGMENT_INTERLEAVE");

	struct sctp_udpencaps enc;
	memset(&enc, 0, sizeof(enc));
	enc.sue_assoc_id = SCTP_FUTURE_ASSOC;
	enc.sue_address.ss_family = AF_INET;
	enc.sue_port = htons(remote_udp_port);
	setopt(IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, &enc, sizeof(enc), "SCTP_REMOTE_UDP_ENCAPS_PORT");

	if (nbinds == 0) {
		struct sockaddr_in any;
		memset(&any, 0, sizeof(any));
		any.sin_family = AF_INET;
		any.sin_port = htons(sctp_port);
		if (usrsctp_bind(so, (struct sockaddr *)&any, sizeof(any)) < 0)
			die("bind");
	} else {
		for (int i = 0; i < nbinds; i++)
			binds[i].sin_port = htons(sctp_port);
		if (usrsctp_bindx(so, (struct sockaddr *)binds, nbinds, SCTP_BINDX_ADD_ADDR) < 0)
			die("bindx");
	}
}

/* notification prints an event line; it returns 1 when the association ended. */
static int notification(const union sctp_notification *n)
{
	switch (n->sn_header.sn_type) {
	case SCTP_ASSOC_CHANGE: {
		const struct sctp_assoc_change *ac = &n->sn_assoc_change;
		switch (ac->sac_state) {
		case SCTP_COMM_UP:
		case SCTP_RESTART:
			assoc_add(ac->sac_assoc_id);
			say("UP assoc=%u outs=%u ins=%u", ac->sac_assoc_id, ac->sac_outbound_streams,
			    ac->sac_inbound_streams);
			return 0;
		case SCTP_COMM_LOST:
			assoc_del(ac->sac_assoc_id);
			say("ABORT assoc=%u error=%u", ac->sac_assoc_id, ac->sac_error);
			return 1;
		case SCTP_SHUTDOWN_COMP:
			assoc_del(ac->sac_assoc_id);
			say("DOWN assoc=%u", ac->sac_assoc_id);
			return 1;
		case SCTP_CANT_STR_ASSOC:
			say("CANTSTART assoc=%u error=%u", ac->sac_assoc_id, ac->sac_error);
			return 1;
		}
		return 0;
	}
	case SCTP_PEER_ADDR_CHANGE: {
		const struct sctp_paddr_change *pc = &n->sn_paddr_change;
		char a[INET6_ADDRSTRLEN] = "?";
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&pc->spc_aaddr;
		if (sin->sin_family == AF_INET)
			inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		say("PADDR assoc=%u addr=%s state=%u error=%u", pc->spc_assoc_id, a, pc->spc_state, pc->spc_error);
		return 0;
	}
	case SCTP_SHUTDOWN_EVENT:
		say("SHUTDOWN assoc=%u", n->sn_shutdown_event.sse_assoc_id);
		return 0;
	case SCTP_REMOTE_ERROR:
		say("REMOTEERROR assoc=%u error=%u", n->sn_remote_error.sre_assoc_id,
		    ntohs(n->sn_remote_error.sre_error));
		return 0;
	case SCTP_SEND_FAILED_EVENT:
		say("SENDFAILED assoc=%u", n->sn_send_failed_event.ssfe_assoc_id);
		return 0;
	}
	return 0;
}

static void send_msg(const void *data, size_t len, uint16_t sid, uint32_t ppid_net, int unordered,
                     sctp_assoc_t id)
{
	struct sctp_sndinfo si;
	memset(&si, 0, sizeof(si));
	si.snd_sid = sid;
	si.snd_ppid = ppid_net;
	si.snd_flags = unordered ? SCTP_UNORDERED : 0;
	si.snd_assoc_id = id;
	if (usrsctp_sendv(so, data, len, NULL, 0, &si, sizeof(si), SCTP_SENDV_SNDINFO, 0) < 0)
		say("SENDERROR assoc=%u errno=%d %s", id, errno, strerror(errno));
}

static void end_all(uint16_t flag)
{
	sctp_assoc_t ids[MAX_ASSOCS];
	pthread_mutex_lock(&assoc_mu);
	int n = nassocs;
	memcpy(ids, assocs, sizeof(ids[0]) * (size_t)n);
	pthread_mutex_unlock(&assoc_mu);
	static char none[1];
	for (int i = 0; i < n; i++) {
		struct sctp_sndinfo si;
		memset(&si, 0, sizeof(si));
		si.snd_flags = flag;
		si.snd_assoc_id = ids[i];
		if (usrsctp_sendv(so, none, 0, NULL, 0, &si, sizeof(si), SCTP_SENDV_SNDINFO, 0) < 0)
			say("SENDERROR assoc=%u errno=%d %s", ids[i], errno, strerror(errno));
	}
}

static void *stdin_loop(void *arg)
{
	(void)arg;
	char line[256];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strncmp(line, "shutdown", 8) == 0) {
			end_all(SCTP_EOF);
		} else if (strncmp(line, "abort", 5) == 0) {
			end_all(SCTP_ABORT);
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		}
	}
	say("QUIT");
	/* No usrsctp_close/usrsctp_finish here: with the main thread blocked
	 * in usrsctp_recvv they can hang; the process just ends. */
	_exit(0);
	return NULL;
}

static int run_server(int echo)
{
	so = usrsctp_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP, NULL, NULL, 0, NULL);
	if (so == NULL)
		die("socket");
	common_options();
	if (usrsctp_listen(so, 16) < 0)
		die("listen");
	say("LISTEN port=%u udp=%u", sctp_port, udp_port);
	pthread_t th;
	pthread_create(&th, NULL, stdin_loop, NULL);

	char *buf = malloc(MAX_MSG);
	for (;;) {
		struct sctp_rcvinfo rcv;
		int flags = 0;
		ssize_t n = recv_msg(so, buf, MAX_MSG, &rcv, &flags);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			say("ERROR recv: %s", strerror(errno));
			continue;
		}
		if (flags & MSG_NOTIFICATION) {
			notification((const union sctp_notification *)buf);
			continue;
		}
		if (n == 0)
			continue;
		int unordered = (rcv.rcv_flags & SCTP_UNORDERED) != 0;
		say("MSG assoc=%u stream=%u ppid=%u len=%zd unordered=%d", rcv.rcv_assoc_id, rcv.rcv_sid,
		    ntohl(rcv.rcv_ppid), n, unordered);
		if (echo)
			send_msg(buf, (size_t)n, rcv.rcv_sid, rcv.rcv_ppid, unordered, rcv.rcv_assoc_id);
	}
	return 0;
}

/* the client's messages */
struct msg {
	int size;
	uint16_t sid;
	uint32_t ppid;
	int unordered;
	int matched;
};
static struct msg *msgs;

static void fill(char *p, int i, int size)
{
	for (int j = 0; j < size; j++)
		p[j] = (char)(i * 37 + j * 13 + (j >> 8) + 1);
}

static void *send_loop(void *arg)
{
	(void)arg;
	char *buf = malloc(MAX_MSG);
	for (int i = 0; i < nmsgs; i++) {
		fill(buf, i, msgs[i].size);
		send_msg(buf, (size_t)msgs[i].size, msgs[i].sid, htonl(msgs[i].ppid), msgs[i].unordered, 0);
	}
	say("SENT n=%d", nmsgs);
	free(buf);
	return NULL;
}

static int run_client(void)
{
	if (nconnects == 0 || remote_sctp_port == 0)
		usage();
	msgs = calloc((size_t)nmsgs, sizeof(*msgs));
	for (int i = 0; i < nmsgs; i++) {
		msgs[i].size = sizes[i % nsizes];
		msgs[i].sid = (uint16_t)(i % nstreams);
		msgs[i].ppid = 40 + (uint32_t)(i % 7);
		msgs[i].unordered = i % 3 == 1;
	}
	so = usrsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
	if (so == NULL)
		die("socket");
	common_options();
	struct sctp_initmsg im;
	memset(&im, 0, sizeof(im));
	im.sinit_num_ostreams = (uint16_t)nstreams;
	im.sinit_max_instreams = (uint16_t)nstreams;
	setopt(IPPROTO_SCTP, SCTP_INITMSG, &im, sizeof(im), "SCTP_INITMSG");
	for (int i = 0; i < nconnects; i++)
		connects[i].sin_port = htons(remote_sctp_port);
	if (usrsctp_connectx(so, (struct sockaddr *)connects, nconnects, NULL) < 0)
		die("connectx");

	pthread_t th;
	pthread_create(&th, NULL, send_loop, NULL);

	char *buf = malloc(MAX_MSG), *want = malloc(MAX_MSG);
	int matched = 0, failed = 0, closing = 0;
	for (;;) {
		struct sctp_rcvinfo rcv;
		int flags = 0;
		ssize_t n = recv_msg(so, buf, MAX_MSG, &rcv, &flags);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			say("ERROR recv: %s", strerror(errno));
			return 1;
		}
		if (n == 0) {
			say("EOF");
			break;
		}
		if (flags & MSG_NOTIFICATION) {
			if (notification((const union sctp_notification *)buf))
				break;
			continue;
		}
		uint32_t ppid = ntohl(rcv.rcv_ppid);
		say("MSG assoc=%u stream=%u ppid=%u len=%zd unordered=%d", rcv.rcv_assoc_id, rcv.rcv_sid, ppid, n,
		    (rcv.rcv_flags & SCTP_UNORDERED) != 0);
		int found = -1;
		for (int i = 0; i < nmsgs && found < 0; i++) {
			if (msgs[i].matched || msgs[i].size != n || msgs[i].sid != rcv.rcv_sid || msgs[i].ppid != ppid)
				continue;
			fill(want, i, (int)n);
			if (memcmp(want, buf, (size_t)n) == 0)
				found = i;
		}
		if (found < 0) {
			say("FAIL no sent message matches stream=%u ppid=%u len=%zd", rcv.rcv_sid, ppid, n);
			failed++;
		} else {
			msgs[found].matched = 1;
			matched++;
		}
		if (matched + failed == nmsgs && !closing) {
			if (failed == 0)
				say("VERIFIED n=%d", matched);
			closing = 1;
			pthread_join(th, NULL);
			if (do_abort) {
				/* SO_LINGER 0: close aborts (RFC 9260 section 9.1). */
				struct linger l = {1, 0};
				setopt(SOL_SOCKET, SO_LINGER, &l, sizeof(l), "SO_LINGER");
				usrsctp_close(so);
				sleep(1); /* usrsctp's timer thread sends the ABORT */
				say("CLOSED abort=1");
				usrsctp_finish();
				return failed ? 1 : 0;
			}
			if (usrsctp_shutdown(so, SHUT_WR) < 0)
				die("shutdown");
		}
	}
	usrsctp_close(so);
	say("CLOSED abort=0");
	if (matched != nmsgs) {
		say("FAIL matched %d of %d", matched, nmsgs);
		return 1;
	}
	return failed ? 1 : 0;
}

static void on_alarm(int sig)
{
	(void)sig;
	const char m[] = "TIMEOUT\n";
	(void)!write(1, m, sizeof(m) - 1);
	_exit(3);
}

int main(int argc, char **argv)
{
	const char *sizes_arg = "1,100,1000,1232,5000,65536";
	char *bind_args[MAX_ADDRS], *connect_args[MAX_ADDRS];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc && strcmp(a, "-abort") != 0)
			usage();
		if (strcmp(a, "-mode") == 0)
			mode = argv[++i];
		else if (strcmp(a, "-udp") == 0)
			udp_port = (uint16_t)atoi(argv[++i]);
		else if (strcmp(a, "-rudp") == 0)
			remote_udp_port = (uint16_t)atoi(argv[++i]);
		else if (strcmp(a, "-port") == 0)
			sctp_port = (uint16_t)atoi(argv[++i]);
		else if (strcmp(a, "-rport") == 0)
			remote_sctp_port = (uint16_t)atoi(argv[++i]);
		else if (strcmp(a, "-bind") == 0 && nbinds < MAX_ADDRS)
			bind_args[nbinds++] = argv[++i];
		else if (strcmp(a, "-connect") == 0 && nconnects < MAX_ADDRS)
			connect_args[nconnects++] = argv[++i];
		else if (strcmp(a, "-n") == 0)
			nmsgs = atoi(argv[++i]);
		else if (strcmp(a, "-streams") == 0)
			nstreams = atoi(argv[++i]);
		else if (strcmp(a, "-sizes") == 0)
			sizes_arg = argv[++i];
		else if (strcmp(a, "-timeout") == 0)
			timeout_s = atoi(argv[++i]);
		else if (strcmp(a, "-abort") == 0)
			do_abort = 1;
		else
			usage();
	}
	for (const char *p = sizes_arg; *p && nsizes < 64;) {
		sizes[nsizes] = atoi(p);
		if (sizes[nsizes] <= 0 || sizes[nsizes] > MAX_MSG)
			usage();
		nsizes++;
		p = strchr(p, ',');
		if (p == NULL)
			break;
		p++;
	}
	if (nsizes == 0 || nstreams <= 0 || nstreams > 65535 || nmsgs <= 0)
		usage();

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)timeout_s);

	usrsctp_init(udp_port, NULL, debug_printf);
	/* Check the CRC32c on loopback too (usrsctp skips it by default). */
	usrsctp_sysctl_set_sctp_no_csum_on_loopback(0);
	usrsctp_sysctl_set_sctp_blackhole(0);
	for (int i = 0; i < nbinds; i++)
		parse_addr(bind_args[i], &binds[i], 0);
	for (int i = 0; i < nconnects; i++)
		parse_addr(connect_args[i], &connects[i], 0);

	if (strcmp(mode, "echo") == 0)
		return run_server(1);
	if (strcmp(mode, "discard") == 0)
		return run_server(0);
	if (strcmp(mode, "client") == 0) {
		int rc = run_client();
		usrsctp_finish();
		return rc;
	}
	usage();
	return 2;
}

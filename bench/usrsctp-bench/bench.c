/*
 * usrsctp-bench: the usrsctp side of usock's performance comparison
 * (bench/compare). SCTP over UDP (RFC 6951) on loopback, usrsctp on both
 * ends, the protocol of bench/internal/harness: data messages start with
 * 'a'; a message starting with 'F' is a flush request answered with the
 * 8 bytes "ACKACKAC" on the same stream; in echo mode every message is
 * returned.
 *
 *   usrsctp-bench server -udp P -rudp P -port S -mode sink|echo -ps N
 *       prints "READY", then answers stdin lines: "rusage" ->
 *       "RUSAGE <cpu ns between the last two flush requests> <cpu ns total>";
 *       end of input: exit.
 *   usrsctp-bench client -udp P -rudp P -rport S -ps N -test tput|rtt|hs
 *       [-size N] [-ms D] [-warmup-ms W] [-par K]
 *       prints one line "RESULT {json}" (the fields of harness.Sample).
 *
 * -ps is the SCTP packet size: the path MTU is set to it plus the IPv4 and
 * UDP headers, with path MTU discovery off. The CRC32c is computed and
 * checked on loopback too (usrsctp skips it there by default), as the Go
 * stacks do.
 *
 * Build: cc -O2 -o usrsctp-bench bench.c -lusrsctp -lpthread
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <usrsctp.h>

#include "usrsctp_glue.h" /* internal/usrsctpbuild */

#define MAX_MSG (256 * 1024)

static uint16_t udp_port, remote_udp_port = 9899, sctp_port, remote_sctp_port;
static const char *mode = "sink", *test = "tput";
static int ps = 1232, size = 1024, ms = 3000, warmup_ms = 300, par = 1;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* quantile returns the nearest-rank pm/1000 quantile of the n sorted
 * values (internal/quantile.Of in Go): the value of rank ceil(n * pm / 1000). */
static int64_t quantile(const int64_t *sorted, size_t n, size_t pm)
{
	if (n == 0)
		return 0;
	size_t rank = (n * pm + 999) / 1000;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static int64_t cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static void die(const char *what)
{
	fprintf(stderr, "usrsctp-bench: %s: %s\n", what, strerror(errno));
	printf("ERROR %s: %s\n", what, strerror(errno));
	fflush(stdout);
	_exit(2);
}

static void setopt(struct socket *so, int level, int name, const void *v, socklen_t l, const char *what)
{
	if (usrsctp_setsockopt(so, level, name, v, l) < 0)
		die(what);
}

static void options(struct socket *so)
{
	int on = 1;
	setopt(so, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on), "SCTP_NODELAY");
	setopt(so, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on), "SCTP_RECVRCVINFO");
	int buf = 1 << 20; /* usock's and pion's receive buffer */
	setopt(so, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf), "SO_RCVBUF");
	setopt(so, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf), "SO_SNDBUF");

	struct sctp_udpencaps enc;
	memset(&enc, 0, sizeof(enc));
	enc.sue_assoc_id = SCTP_FUTURE_ASSOC;
	enc.sue_address.ss_family = AF_INET;
	enc.sue_port = htons(remote_udp_port);
	setopt(so, IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, &enc, sizeof(enc), "SCTP_REMOTE_UDP_ENCAPS_PORT");

	struct sctp_paddrparams pp;
	memset(&pp, 0, sizeof(pp));
	pp.spp_assoc_id = SCTP_FUTURE_ASSOC;
	pp.spp_flags = SPP_PMTUD_DISABLE;
	pp.spp_pathmtu = (uint32_t)(ps + 20 + 8);
	setopt(so, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &pp, sizeof(pp), "SCTP_PEER_ADDR_PARAMS");
}

static void bind_any(struct socket *so, uint16_t port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (usrsctp_bind(so, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind");
}

static int send_msg(struct socket *so, const void *p, size_t len, uint16_t sid, sctp_assoc_t id)
{
	struct sctp_sndinfo si;
	memset(&si, 0, sizeof(si));
	si.snd_sid = sid;
	si.snd_assoc_id = id;
	return usrsctp_sendv(so, p, len, NULL, 0, &si, sizeof(si), SCTP_SENDV_SNDINFO, 0) < 0 ? -1 : 0;
}

/* server */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t flush_last, flush_prev;
static int flushes;

static void *stdin_loop(void *arg)
{
	(void)arg;
	char line[256];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strncmp(line, "rusage", 6) == 0) {
			pthread_mutex_lock(&mu);
			int64_t d = flushes >= 2 ? flush_last - flush_prev : 0;
			pthread_mutex_unlock(&mu);
			printf("RUSAGE %lld %lld\n", (long long)d, (long long)cpu_ns());
			fflush(stdout);
		}
	}
	_exit(0);
	return NULL;
}

static int run_server(void)
{
	int echo = strcmp(mode, "echo") == 0;
	struct socket *so = usrsctp_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP, NULL, NULL, 0, NULL);
	if (so == NULL)
		die("socket");
	options(so);
	bind_any(so, sctp_port);
	if (usrsctp_listen(so, 128) < 0)
		die("listen");
	printf("READY udp=%u port=%u\n", udp_port, sctp_port);
	fflush(stdout);
	pthread_t th;
	pthread_create(&th, NULL, stdin_loop, NULL);
	char *buf = malloc(MAX_MSG);
	static const char ack[] = "ACKACKAC";
	for (;;) {
		struct sctp_rcvinfo rcv;
		int flags = 0;
		ssize_t n = recv_msg(so, buf, MAX_MSG, &rcv, &flags);
		if (n <= 0 || (flags & MSG_NOTIFICATION))
			continue;
		if (echo) {
			send_msg(so, buf, (size_t)n, rcv.rcv_sid, rcv.rcv_assoc_id);
		} else if (buf[0] == 'F') {
			int64_t c = cpu_ns();
			pthread_mutex_lock(&mu);
			flush_prev = flush_last;
			flush_last = c;
			flushes++;
			pthread_mutex_unlock(&mu);
			send_msg(so, ack, 8, rcv.rcv_sid, rcv.rcv_assoc_id);
		}
	}
	return 0;
}

/* client */

static struct socket *dial(void)
{
	struct socket *so = usrsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
	if (so == NULL)
		return NULL;
	options(so);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(remote_sctp_port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (usrsctp_connect(so, (struct sockaddr *)&a, sizeof(a)) < 0) {
		usrsctp_close(so);
		return NULL;
	}
	return so;
}

static void flush(struct socket *so, char *buf)
{
	char f[8] = {'F'};
	if (send_msg(so, f, 8, 0, 0) < 0)
		die("send flush");
	for (;;) {
		int flags = 0;
		ssize_t n = recv_msg(so, buf, MAX_MSG, NULL, &flags);
		if (n <= 0)
			die("recv ack");
		if (!(flags & MSG_NOTIFICATION) && n == 8 && memcmp(buf, "ACKACKAC", 8) == 0)
			return;
	}
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static pthread_mutex_t hs_mu = PTHREAD_MUTEX_INITIALIZER;
static long long hs_count;
static int hs_failed;
static int64_t hs_end;

static void *hs_loop(void *arg)
{
	(void)arg;
	while (now_ns() < hs_end) {
		struct socket *so = dial();
		if (so == NULL) {
			pthread_mutex_lock(&hs_mu);
			hs_failed++;
			pthread_mutex_unlock(&hs_mu);
			return NULL;
		}
		struct linger l = {1, 0}; /* close aborts */
		usrsctp_setsockopt(so, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		usrsctp_close(so);
		pthread_mutex_lock(&hs_mu);
		hs_count++;
		pthread_mutex_unlock(&hs_mu);
	}
	return NULL;
}

static int run_client(void)
{
	char *buf = malloc(MAX_MSG);
	if (strcmp(test, "hs") == 0) {
		pthread_t th[1024];
		int n = par > 1024 ? 1024 : par;
		int64_t c0 = cpu_ns(), t0 = now_ns();
		hs_end = t0 + (int64_t)ms * 1000000;
		for (int i = 0; i < n; i++)
			pthread_create(&th[i], NULL, hs_loop, NULL);
		for (int i = 0; i < n; i++)
			pthread_join(th[i], NULL);
		int64_t t1 = now_ns();
		if (hs_count == 0)
			die("connect");
		printf("RESULT {\"handshakes\":%lld,\"seconds\":%.6f,\"cpu_ns\":%lld}\n", hs_count, (t1 - t0) / 1e9,
		       (long long)(cpu_ns() - c0));
		fflush(stdout);
		return 0;
	}
	struct socket *so = dial();
	if (so == NULL)
		die("connect");
	char *p = malloc((size_t)size);
	for (int i = 0; i < size; i++)
		p[i] = (char)('a' + i % 26);
	if (strcmp(test, "tput") == 0) {
		int64_t end = now_ns() + (int64_t)warmup_ms * 1000000;
		while (now_ns() < end)
			if (send_msg(so, p, (size_t)size, 0, 0) < 0)
				die("send");
		flush(so, buf);
		int64_t c0 = cpu_ns(), t0 = now_ns();
		long long msgs = 0;
		end = t0 + (int64_t)ms * 1000000;
		for (;;) {
			for (int i = 0; i < 16; i++)
				if (send_msg(so, p, (size_t)size, 0, 0) < 0)
					die("send");
			msgs += 16;
			if (now_ns() >= end)
				break;
		}
		flush(so, buf);
		int64_t t1 = now_ns();
		printf("RESULT {\"bytes\":%lld,\"msgs\":%lld,\"seconds\":%.6f,\"cpu_ns\":%lld}\n", msgs * size, msgs,
		       (t1 - t0) / 1e9, (long long)(cpu_ns() - c0));
	} else if (strcmp(test, "rtt") == 0) {
		size_t cap = 1 << 16, n = 0;
		int64_t *rtts = malloc(cap * sizeof(int64_t));
		int64_t start = now_ns() + (int64_t)warmup_ms * 1000000, end = start + (int64_t)ms * 1000000;
		int64_t c0 = 0;
		int warm = 1;
		for (;;) {
			int64_t t = now_ns();
			if (warm && t >= start) {
				warm = 0;
				c0 = cpu_ns();
			}
			if (t >= end)
				break;
			if (send_msg(so, p, (size_t)size, 0, 0) < 0)
				die("send");
			int flags = 0;
			do {
				if (recv_msg(so, buf, MAX_MSG, NULL, &flags) <= 0)
					die("recv");
			} while (flags & MSG_NOTIFICATION);
			if (!warm) {
				if (n == cap) {
					cap *= 2;
					rtts = realloc(rtts, cap * sizeof(int64_t));
				}
				rtts[n++] = now_ns() - t;
			}
		}
		qsort(rtts, n, sizeof(int64_t), cmp64);
		printf("RESULT {\"msgs\":%zu,\"seconds\":%.6f,\"cpu_ns\":%lld,\"median_ns\":%lld,\"p99_ns\":%lld,"
		       "\"p999_ns\":%lld}\n",
		       n, ms / 1e3, (long long)(cpu_ns() - c0), (long long)quantile(rtts, n, 500),
		       (long long)quantile(rtts, n, 990), (long long)quantile(rtts, n, 999));
	} else {
		fprintf(stderr, "unknown -test %s\n", test);
		return 2;
	}
	fflush(stdout);
	struct linger l = {1, 0};
	usrsctp_setsockopt(so, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	usrsctp_close(so);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: usrsctp-bench server|client [flags]\n");
		return 2;
	}
	const char *role = argv[1];
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (strcmp(a, "-udp") == 0)
			udp_port = (uint16_t)atoi(v);
		else if (strcmp(a, "-rudp") == 0)
			remote_udp_port = (uint16_t)atoi(v);
		else if (strcmp(a, "-port") == 0)
			sctp_port = (uint16_t)atoi(v);
		else if (strcmp(a, "-rport") == 0)
			remote_sctp_port = (uint16_t)atoi(v);
		else if (strcmp(a, "-mode") == 0)
			mode = v;
		else if (strcmp(a, "-test") == 0)
			test = v;
		else if (strcmp(a, "-ps") == 0)
			ps = atoi(v);
		else if (strcmp(a, "-size") == 0)
			size = atoi(v);
		else if (strcmp(a, "-ms") == 0)
			ms = atoi(v);
		else if (strcmp(a, "-warmup-ms") == 0)
			warmup_ms = atoi(v);
		else if (strcmp(a, "-par") == 0)
			par = atoi(v);
		else {
			fprintf(stderr, "unknown flag %s\n", a);
			return 2;
		}
	}
	if (size < 8 || size > MAX_MSG) {
		fprintf(stderr, "-size %d: 8 to %d\n", size, MAX_MSG);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	usrsctp_init(udp_port, NULL, NULL);
	usrsctp_sysctl_set_sctp_no_csum_on_loopback(0);
	usrsctp_sysctl_set_sctp_blackhole(0);
	if (strcmp(role, "server") == 0)
		return run_server();
	if (strcmp(role, "client") == 0) {
		int rc = run_client();
		_exit(rc); /* usrsctp_finish can hang with timers pending */
	}
	fprintf(stderr, "unknown role %s\n", role);
	return 2;
}

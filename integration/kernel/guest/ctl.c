/*
 * ctl: the control loop of the kernel interop guest (integration/kernel).
 * It reads the host's commands from a serial console, one per line,
 *
 *   ID CMD...   run CMD with /bin/sh -c; every line it prints comes back
 *               as "ID line", then "ID EXIT status"
 *
 * and runs them concurrently. A shell loop cannot do this reliably: a
 * child's SIGCHLD interrupting the shell's read of the console loses the
 * bytes read so far, and with them the start of the next command.
 *
 * usage: ctl TTY BANNER   (BANNER is printed once the console is ready)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAX_CMDS 64
#define LINE 4096

struct cmd {
	int used, fd;
	pid_t pid;
	char id[32];
	char buf[LINE];
	size_t len;
};

static struct cmd cmds[MAX_CMDS];
static int tty;

/* emit writes one whole line to the console. */
static void emit(const char *id, const char *s, size_t n)
{
	char out[LINE + 64];
	int k = snprintf(out, sizeof(out), "%s %.*s\n", id, (int)n, s);
	if (k > (int)sizeof(out))
		k = sizeof(out);
	for (int off = 0; off < k;) {
		ssize_t w = write(tty, out + off, k - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += w;
	}
}

static void start(char *line)
{
	char *sp = strchr(line, ' ');
	if (!sp)
		return;
	*sp = 0;
	const char *id = line, *cmd = sp + 1;
	int slot = -1;
	for (int i = 0; i < MAX_CMDS; i++)
		if (!cmds[i].used) {
			slot = i;
			break;
		}
	if (slot < 0) {
		emit(id, "EXIT 127", 8);
		return;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		emit(id, "EXIT 126", 8);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		signal(SIGCHLD, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	struct cmd *c = &cmds[slot];
	memset(c, 0, sizeof(*c));
	c->used = 1;
	c->fd = p[0];
	c->pid = pid;
	snprintf(c->id, sizeof(c->id), "%.31s", id);
}

/* drain forwards a command's output; at its end it reports the status. */
static void drain(struct cmd *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n < 0 && errno == EINTR)
		return;
	if (n > 0) {
		c->len += n;
		char *s = c->buf, *nl;
		while ((nl = memchr(s, '\n', c->buf + c->len - s)) != NULL) {
			emit(c->id, s, nl - s);
			s = nl + 1;
		}
		c->len -= s - c->buf;
		memmove(c->buf, s, c->len);
		if (c->len == sizeof(c->buf)) { /* a line longer than LINE: cut */
			emit(c->id, c->buf, c->len);
			c->len = 0;
		}
		return;
	}
	if (c->len)
		emit(c->id, c->buf, c->len);
	close(c->fd);
	int st = 0;
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
	char exit[32];
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	int k = snprintf(exit, sizeof(exit), "EXIT %d", code);
	emit(c->id, exit, k);
	c->used = 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: ctl TTY BANNER\n");
		return 2;
	}
	tty = open(argv[1], O_RDWR | O_NOCTTY);
	if (tty < 0) {
		perror(argv[1]);
		return 1;
	}
	struct termios tio;
	if (tcgetattr(tty, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(tty, TCSANOW, &tio);
	}
	emit("GUEST", argv[2], strlen(argv[2]));
	char line[LINE];
	size_t len = 0;
	for (;;) {
		struct pollfd pf[MAX_CMDS + 1];
		struct cmd *who[MAX_CMDS + 1];
		int n = 0;
		pf[n].fd = tty;
		pf[n].events = POLLIN;
		who[n++] = NULL;
		for (int i = 0; i < MAX_CMDS; i++)
			if (cmds[i].used) {
				pf[n].fd = cmds[i].fd;
				pf[n].events = POLLIN;
				who[n++] = &cmds[i];
			}
		if (poll(pf, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int i = 1; i < n; i++)
			if (pf[i].revents)
				drain(who[i]);
		if (pf[0].revents & POLLIN) {
			char b[512];
			ssize_t r = read(tty, b, sizeof(b));
			if (r == 0)
				return 0;
			for (ssize_t k = 0; k < r; k++) {
				if (b[k] == '\r')
					continue;
				if (b[k] == '\n') {
					line[len] = 0;
					if (len)
						start(line);
					len = 0;
				} else if (len < sizeof(line) - 1) {
					line[len++] = b[k];
				}
			}
		}
	}
}

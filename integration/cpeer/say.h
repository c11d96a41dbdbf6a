/* say.h: the output of the C test peers (integration/usrsctp-peer/peer.c
   and integration/kernel/guest/peer.c). Each prints one line per event on
   stdout, which the Go tests read line by line; say writes a whole line
   under a lock, so that lines of several threads never interleave. Include
   it once, after <errno.h>, <pthread.h>, <stdarg.h>, <stdio.h>,
   <stdlib.h> and <string.h>. */
#ifndef USOCK_CPEER_SAY_H
#define USOCK_CPEER_SAY_H

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

/* say prints one line (fmt without its newline) and flushes it. */
static void say(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_mu);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

/* die reports what failed with errno's text and exits with status 2. */
static void die(const char *what)
{
	say("ERROR %s: %s", what, strerror(errno));
	exit(2);
}

#endif

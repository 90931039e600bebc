/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "endpoint.h"

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int parse_port(const char *s, char out[6])
{
	unsigned long v = 0;
	size_t i;

	/* Digits only, no sign or spaces strtoul would take. */
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (!i || v < 1 || v > 65535)
		return -EINVAL;
	memcpy(out, s, i + 1);
	return 0;
}

int cd_endpoint_parse(const char *spec, struct cd_endpoint *ep)
{
	const char *rest, *colon;
	size_t n;

	memset(ep, 0, sizeof(*ep));
	if (!spec || has_ctl(spec))
		return -EINVAL;
	if (!strncmp(spec, "unix:", 5)) {
		rest = spec + 5;
		n = strlen(rest);
		if (!n || n >= sizeof(ep->path))
			return -EINVAL;
		ep->is_unix = true;
		memcpy(ep->path, rest, n + 1);
		return 0;
	}
	if (strncmp(spec, "tcp:", 4))
		return -EINVAL;
	rest = spec + 4;
	colon = strrchr(rest, ':');
	if (!colon)
		return -EINVAL;
	n = (size_t)(colon - rest);
	if (n >= 2 && rest[0] == '[' && rest[n - 1] == ']') {
		rest++;
		n -= 2;
	} else if (memchr(rest, ':', n)) {
		return -EINVAL;	/* an IPv6 literal needs its brackets */
	}
	if (!n || n > CD_HOST_MAX || memchr(rest, '[', n) || memchr(rest, ']', n))
		return -EINVAL;
	memcpy(ep->host, rest, n);
	ep->host[n] = '\0';
	return parse_port(colon + 1, ep->port);
}

bool cd_endpoint_is_spec(const char *spec)
{
	struct cd_endpoint ep;

	return cd_endpoint_parse(spec, &ep) == 0;
}

static int unix_addr(const struct cd_endpoint *ep, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, ep->path, strlen(ep->path) + 1);
	return 0;
}

static int resolve(const struct cd_endpoint *ep, bool passive,
		   struct addrinfo **res)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | (passive ? AI_NUMERICHOST : 0),
	};
	int rc = getaddrinfo(ep->host, ep->port, &hints, res);

	if (rc == EAI_SYSTEM)
		return -errno;
	if (rc)
		return -EHOSTUNREACH;
	return 0;
}

int cd_endpoint_connect(const struct cd_endpoint *ep, unsigned int idx,
			bool *in_progress)
{
	struct addrinfo *res = NULL, *ai;
	struct sockaddr_un sun;
	unsigned int n = 0, i;
	int fd = -1, err, one = 1;

	*in_progress = false;
	if (ep->is_unix) {
		unix_addr(ep, &sun);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			err = -errno;
			if (err != -EINPROGRESS && err != -EAGAIN)
				goto fail;
			*in_progress = true;
		}
		return fd;
	}

	err = resolve(ep, false, &res);
	if (err)
		return err;
	for (ai = res; ai; ai = ai->ai_next)
		n++;
	for (ai = res, i = 0; i < idx % n; i++)
		ai = ai->ai_next;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	/* HCI is request/response: Nagle would only add latency. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		err = -errno;
		if (err != -EINPROGRESS)
			goto fail;
		*in_progress = true;
	}
	freeaddrinfo(res);
	return fd;

fail:
	if (fd >= 0)
		close(fd);
	if (res)
		freeaddrinfo(res);
	return err;
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}

/* A unix socket path is in use if something accepts a connection on it. */
static int unix_clear_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, rc;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;	/* never unlink what is not a socket */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	if (errno != ECONNREFUSED)
		return -errno;
	if (unlink(sun->sun_path) < 0)
		return -errno;
	return 0;
}

int cd_endpoint_listen(const struct cd_endpoint *ep)
{
	struct addrinfo *res = NULL;
	struct sockaddr_un sun;
	int fd = -1, err, one = 1;
	mode_t old;

	if (ep->is_unix) {
		unix_addr(ep, &sun);
		err = unix_clear_stale(&sun);
		if (err)
			return err;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		/* Only the user who runs us may drive the controller. */
		old = umask(0177);
		err = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno : 0;
		umask(old);
		if (err)
			goto fail;
	} else {
		err = resolve(ep, true, &res);
		if (err)
			return err;
		if (!is_loopback(res->ai_addr)) {
			err = -EPERM;
			goto fail;
		}
		fd = socket(res->ai_family,
			    res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    res->ai_protocol);
		if (fd < 0) {
			err = -errno;
			goto fail;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
			err = -errno;
			goto fail;
		}
		freeaddrinfo(res);
		res = NULL;
	}
	if (listen(fd, 4) < 0) {
		err = -errno;
		goto fail;
	}
	return fd;

fail:
	if (fd >= 0)
		close(fd);
	if (res)
		freeaddrinfo(res);
	return err;
}

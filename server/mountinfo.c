/*
 * server/mountinfo.c - one line of /proc/self/mountinfo, decoded.
 *
 * A line (proc(5)), fields separated by single spaces:
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   id parent maj:min root point mount-opts [optional fields...] - type source super-opts
 * The optional fields end at a lone "-". Paths, the source and the type have
 * space, tab, newline and backslash written as \040, \011, \012, \134.
 */
#include "server/mountinfo.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#define MOUNTINFO_FILE "/proc/self/mountinfo"

/* The next space-separated field of *p: its start and length; false at the end. */
static bool mi_field(const char **p, const char **start, size_t *len)
{
	const char *s = *p;
	size_t n;

	while (*s == ' ')
		s++;
	n = strcspn(s, " \n");
	if (n == 0)
		return false;
	*start = s;
	*len = n;
	*p = s + n;
	return true;
}

static bool mi_is_octal(char c)
{
	return c >= '0' && c <= '7';
}

/* Copy len bytes of s into out (size outlen, truncating), decoding \ooo escapes. */
static void mi_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	while (i < len && o + 1 < outlen) {
		if (s[i] == '\\' && i + 3 < len && mi_is_octal(s[i + 1]) && mi_is_octal(s[i + 2]) &&
		    mi_is_octal(s[i + 3])) {
			out[o++] = (char)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) |
					  (s[i + 3] - '0'));
			i += 4;
			continue;
		}
		out[o++] = s[i++];
	}
	out[o] = '\0';
}

/* Copy len bytes of s into out as they are (truncating). */
static void mi_copy(const char *s, size_t len, char *out, size_t outlen)
{
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, s, len);
	out[len] = '\0';
}

/* A decimal number filling exactly len bytes of s. */
static bool mi_number(const char *s, size_t len, uint64_t *v)
{
	uint64_t n = 0;

	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	*v = n;
	return true;
}

int mountinfo_parse(const char *line, struct mountinfo *mi)
{
	const char *p = line, *f, *colon;
	uint64_t major, minor;
	size_t n;

	memset(mi, 0, sizeof(*mi));
	if (!mi_field(&p, &f, &n) || !mi_number(f, n, &mi->id))
		return -EINVAL;
	if (!mi_field(&p, &f, &n) || !mi_number(f, n, &mi->parent))
		return -EINVAL;
	if (!mi_field(&p, &f, &n))
		return -EINVAL;
	colon = memchr(f, ':', n);
	if (!colon || !mi_number(f, (size_t)(colon - f), &major) ||
	    !mi_number(colon + 1, n - (size_t)(colon - f) - 1, &minor) || major > UINT32_MAX ||
	    minor > UINT32_MAX)
		return -EINVAL;
	mi->dev = makedev((unsigned int)major, (unsigned int)minor);
	if (!mi_field(&p, &f, &n)) /* root of the mount within its filesystem: unused */
		return -EINVAL;
	if (!mi_field(&p, &f, &n))
		return -EINVAL;
	mi_decode(f, n, mi->point, sizeof(mi->point));
	if (!mi_field(&p, &f, &n)) /* per-mount options: unused */
		return -EINVAL;
	do { /* optional fields, up to the lone "-" */
		if (!mi_field(&p, &f, &n))
			return -EINVAL;
	} while (n != 1 || f[0] != '-');
	if (!mi_field(&p, &f, &n))
		return -EINVAL;
	mi_decode(f, n, mi->fstype, sizeof(mi->fstype));
	if (!mi_field(&p, &f, &n))
		return -EINVAL;
	mi_decode(f, n, mi->source, sizeof(mi->source));
	if (mi_field(&p, &f, &n))
		mi_copy(f, n, mi->super_opts, sizeof(mi->super_opts));
	return 0;
}

int mountinfo_find(const char *file, uint64_t id, struct mountinfo *mi)
{
	FILE *f = fopen(file ? file : MOUNTINFO_FILE, "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (mountinfo_parse(line, mi) == 0 && mi->id == id) {
			ret = 0;
			break;
		}
	}
	if (ret && ferror(f))
		ret = -EIO;
	free(line);
	fclose(f);
	return ret;
}

bool mountinfo_is_fuse(const struct mountinfo *mi)
{
	return strcmp(mi->fstype, "fuse") == 0 || strncmp(mi->fstype, "fuse.", 5) == 0 ||
	       strcmp(mi->fstype, "fuseblk") == 0;
}

int mountinfo_opt_uint(const char *opts, const char *key, unsigned int *val)
{
	size_t klen = strlen(key);

	for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		size_t n = strcspn(p, ",");
		uint64_t v;

		if (n <= klen || strncmp(p, key, klen) != 0 || p[klen] != '=')
			continue;
		if (!mi_number(p + klen + 1, n - klen - 1, &v) || v > UINT32_MAX)
			return -EINVAL;
		*val = (unsigned int)v;
		return 0;
	}
	return -ENOENT;
}

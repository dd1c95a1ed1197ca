/* config/values.c - the text forms of paths and sizes that configs use. */
#include "config/config.h"

#include <errno.h>
#include <string.h>

int config_path_normalize(const char *in, char *out, size_t outsz)
{
	size_t n = 0;
	const char *p;

	if (!in || in[0] != '/')
		return -EINVAL;
	for (p = in; *p;) {
		const char *c;
		size_t len;

		while (*p == '/')
			p++;
		c = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - c);
		if (len == 0 || (len == 1 && c[0] == '.'))
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.')
			return -EINVAL; /* never resolved: a config path means what it says */
		if (n + 1 + len + 1 > outsz)
			return -ENAMETOOLONG;
		out[n++] = '/';
		memcpy(out + n, c, len);
		n += len;
	}
	if (n == 0) {
		if (outsz < 2)
			return -ENAMETOOLONG;
		out[n++] = '/';
	}
	out[n] = '\0';
	return 0;
}

struct size_unit {
	const char *suffix;
	uint64_t mult;
};

/* Binary units in their short and IEC forms; KB/MB/... are decimal, as disks sell them. */
static const struct size_unit size_units[] = {
	{ "", 1 },
	{ "B", 1 },
	{ "k", 1ull << 10 },
	{ "K", 1ull << 10 },
	{ "KiB", 1ull << 10 },
	{ "m", 1ull << 20 },
	{ "M", 1ull << 20 },
	{ "MiB", 1ull << 20 },
	{ "g", 1ull << 30 },
	{ "G", 1ull << 30 },
	{ "GiB", 1ull << 30 },
	{ "t", 1ull << 40 },
	{ "T", 1ull << 40 },
	{ "TiB", 1ull << 40 },
	{ "kB", 1000ull },
	{ "KB", 1000ull },
	{ "MB", 1000ull * 1000 },
	{ "GB", 1000ull * 1000 * 1000 },
	{ "TB", 1000ull * 1000 * 1000 * 1000 },
};

int config_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!s || *p < '0' || *p > '9') /* also refuses "", " 1", "-1", "+1" */
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
		if (strcmp(p, size_units[i].suffix))
			continue;
		if (v > UINT64_MAX / size_units[i].mult)
			return -ERANGE;
		*out = v * size_units[i].mult;
		return 0;
	}
	return -EINVAL;
}

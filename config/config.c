/*
 * config/config.c - load a config: read the text, pick the format, parse it
 * into the generic tree (yaml.c / json.c), validate it into the model
 * (validate.c). Defaults live here, in one place.
 */
#include "config/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/*
 * By extension; otherwise (stdin, or an unknown extension) by content: JSON
 * text starts with '{', and a YAML config never does in practice (a flow
 * mapping would, and the JSON parser reads that just as well if it is JSON).
 */
static bool is_json(const char *name, const char *buf, size_t len)
{
	size_t i = 0;

	if (ends_with(name, ".json"))
		return true;
	if (ends_with(name, ".yaml") || ends_with(name, ".yml"))
		return false;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	return i < len && buf[i] == '{';
}

static int set_defaults(struct vfsmux_config *cfg, const char *name)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	cfg->file = strdup(name);
	cfg->fuse.fsname = strdup("vfsmux");
	if (!cfg->file || !cfg->fuse.fsname)
		return -ENOMEM;
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > 1024)
		ncpu = 1024; /* the most fuse.threads accepts */
	cfg->fuse.threads = (uint32_t)ncpu;
	cfg->fuse.max_threads = cfg->fuse.threads > 16 ? cfg->fuse.threads : 16;
	cfg->fuse.default_permissions = true;
	cfg->fuse.passthrough = true;
	cfg->fuse.max_write = 1u << 20;
	cfg->timeouts = (struct config_timeouts){ .entry = 1.0, .attr = 1.0, .negative = 0.0 };
	cfg->pseudofs.mode = 0755;
	return 0;
}

int config_load_buffer(const char *name, const char *buf, size_t len, struct vfsmux_config **out,
		       struct config_errors *errs)
{
	struct config_loc none = { 0, 0 };
	struct vfsmux_config *cfg;
	struct cnode *root = NULL;
	int err;

	*out = NULL;
	if (len > CONFIG_MAX_TEXT)
		return config_error_add(errs, none, NULL, "larger than %u bytes: not a config",
					CONFIG_MAX_TEXT)
			   ?: -EINVAL;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	err = set_defaults(cfg, name);
	if (err)
		goto out_free;
	if (is_json(name, buf, len))
		err = config_json_parse(buf, len, &root, errs);
	else
		err = config_yaml_parse(buf, len, &root, errs);
	if (err)
		goto out_free;
	err = config_validate(root, cfg, errs);
	cnode_free(root);
	if (err)
		goto out_free;
	*out = cfg;
	return 0;
out_free:
	config_free(cfg);
	return err;
}

/* The whole of fd into a malloc'd buffer; 0 or -errno (-EFBIG past the limit). */
static int read_all(int fd, char **out, size_t *outlen)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int err;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap > CONFIG_MAX_TEXT) {
				err = -EFBIG;
				goto out_free;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				err = -ENOMEM;
				goto out_free;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			err = -errno;
			if (err == -EINTR)
				continue;
			goto out_free;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*outlen = n;
	return 0;
out_free:
	free(buf);
	return err;
}

int config_load(const char *path, struct vfsmux_config **out, struct config_errors *errs)
{
	struct config_loc none = { 0, 0 };
	const bool std_in = !strcmp(path, "-");
	const char *name = std_in ? "<stdin>" : path;
	char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int fd, err;

	*out = NULL;
	fd = std_in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		goto out_report;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		goto out_close;
	}
	err = read_all(fd, &buf, &len);
out_close:
	if (!std_in)
		close(fd);
	if (err)
		goto out_report;
	err = config_load_buffer(name, buf, len, out, errs);
	free(buf);
	return err;
out_report:
	if (err == -EFBIG)
		return config_error_add(errs, none, NULL, "larger than %u bytes: not a config",
					CONFIG_MAX_TEXT)
			   ?: err;
	return config_error_add(errs, none, NULL, "cannot read: %s", strerror(-err)) ?: err;
}

void config_free(struct vfsmux_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->nmounts; i++) {
		struct mount_config *m = &cfg->mounts[i];

		free(m->path);
		free(m->type);
		free(m->source);
		free(m->seed);
	}
	free(cfg->mounts);
	free(cfg->fuse.fsname);
	free(cfg->control_socket);
	free(cfg->mountpoint);
	free(cfg->file);
	free(cfg);
}

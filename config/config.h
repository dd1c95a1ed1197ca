/*
 * config/config.h - the one configuration model, loaded from YAML or JSON.
 *
 * Nobody else parses text. config_load() validates everything it can check
 * without touching the filesystem beyond stat() and access() of sources and
 * seeds; every problem is reported with file:line:column and the key, and a
 * config with any error is never returned. Key paths are dotted, with 0-based
 * sequence indexes: "mounts[0].source".
 */
#ifndef VFSMUX_CONFIG_H
#define VFSMUX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Where a value stood in its file (1-based line and column). */
struct config_loc {
	int line;
	int column;
};

struct config_timeouts {
	double entry;	 /* seconds the kernel may cache a name -> inode */
	double attr;	 /* seconds the kernel may cache attributes */
	double negative; /* seconds the kernel may cache "no such name"; 0 = never */
};

/* caller id outside (what the kernel reports) -> id inside (what the backend sees). */
struct config_id_map {
	uint32_t inside;
	uint32_t outside;
	uint32_t count; /* 0 = no mapping (identity) */
};

/*
 * `faults:` of a mount - TESTING ONLY (backends/faulty/): the mount's backend
 * is wrapped so that a fraction of its calls fail with an injected errno
 * before the real op runs. Never use it for data you care about.
 * Plain data (no heap), so struct mount_config needs no extra freeing.
 */
enum config_fault_op {
	CONFIG_FAULT_LOOKUP,
	CONFIG_FAULT_GETATTR,
	CONFIG_FAULT_SETATTR,
	CONFIG_FAULT_READLINK,
	CONFIG_FAULT_MKNOD,
	CONFIG_FAULT_MKDIR,
	CONFIG_FAULT_SYMLINK,
	CONFIG_FAULT_UNLINK,
	CONFIG_FAULT_RMDIR,
	CONFIG_FAULT_RENAME,
	CONFIG_FAULT_LINK,
	CONFIG_FAULT_OPEN,
	CONFIG_FAULT_CREATE,
	CONFIG_FAULT_READ,
	CONFIG_FAULT_WRITE,
	CONFIG_FAULT_FLUSH,
	CONFIG_FAULT_FSYNC,
	CONFIG_FAULT_OPENDIR,
	CONFIG_FAULT_READDIR,
	CONFIG_FAULT_FSYNCDIR,
	CONFIG_FAULT_STATFS,
	CONFIG_FAULT_ACCESS,
	CONFIG_FAULT_SETXATTR,
	CONFIG_FAULT_GETXATTR,
	CONFIG_FAULT_LISTXATTR,
	CONFIG_FAULT_REMOVEXATTR,
	CONFIG_FAULT_FALLOCATE,
	CONFIG_FAULT_LSEEK,
	CONFIG_FAULT_COPY_FILE_RANGE,
	CONFIG_FAULT_NOPS /* forget, release, releasedir, destroy are never faulted */
};
#define CONFIG_FAULT_OPS_ALL	  ((UINT64_C(1) << CONFIG_FAULT_NOPS) - 1)
#define CONFIG_FAULT_ERRORS_MAX	  16
#define CONFIG_FAULT_DELAY_MAX_MS 3600000

struct config_faults {
	bool enabled;	  /* a `faults:` key was given */
	double rate;	  /* `rate:` fraction 0..1 of calls that fail; default 0 */
	uint32_t nerrors; /* >= 1 when enabled (default: EIO alone) */
	int errors[CONFIG_FAULT_ERRORS_MAX]; /* `errors:` positive errno values, drawn at random */
	uint32_t delay_ms; /* `delay_ms:` sleep before each faultable call, <= 1 hour */
	uint64_t seed;	   /* `seed:` same seed + same call order = same faults */
	uint64_t ops;	   /* `ops:` bit (1 << enum config_fault_op) per op that may fail */
};

/* Op name as written in `ops:` ("lookup", "copy_file_range"), or NULL. */
const char *config_fault_op_name(unsigned op);
/* Errno name ("EIO") allowed in `errors:`, or NULL when e is not one of them. */
const char *config_fault_errno_name(int e);

/* One entry of `mounts:`. Keys not meaningful for a type are rejected by the loader. */
struct mount_config {
	char *path;   /* normalized absolute path inside the FUSE mount, never "/" */
	char *type;   /* "passthrough", "memfs", ... (validated against the registry) */
	char *source; /* passthrough/archive: absolute host path; NULL otherwise */
	bool readonly;
	struct config_id_map uid_map; /* from id_map: applies to uids and gids alike */
	struct config_id_map gid_map;
	struct config_timeouts timeouts; /* global ones unless overridden */
	/* memfs */
	uint64_t size_limit;  /* bytes; 0 = unlimited (`size:`) */
	uint64_t inode_limit; /* 0 = unlimited (`inodes:`) */
	uint32_t root_mode;   /* `mode:` permission bits of the backend root; default 0755 */
	uint32_t root_uid, root_gid;
	bool has_root_mode, has_root_owner;
	char *seed; /* memfs: host directory copied in at mount, or NULL */
	/* passthrough */
	uint32_t fd_cache;	     /* bound on cached O_PATH fds; 0 = default */
	bool allow_devices;	     /* `devices: true` permits MKNOD of block/char devices */
	struct config_faults faults; /* testing only, any type; see above */
	struct config_loc loc;	     /* where this mount's entry starts */
};

struct config_fuse {
	uint32_t threads;     /* workers started at mount; default = number of CPUs */
	uint32_t max_threads; /* upper bound when all workers are busy; default 16 */
	bool allow_other;
	bool default_permissions; /* default true */
	bool suid;		  /* default false: the mount is nosuid */
	bool dev;		  /* default false: the mount is nodev */
	bool writeback_cache;	  /* default false */
	bool passthrough;	  /* default true: kernel passthrough where the kernel allows */
	bool io_uring;		  /* default false: FUSE over io_uring when the kernel offers it */
	uint32_t max_write;	  /* bytes, default 1 MiB, at most 1 MiB */
	char *fsname;		  /* default "vfsmux" */
};

struct config_pseudofs {
	uint32_t mode; /* permission bits of pseudo directories, default 0755 */
	uint32_t uid, gid;
};

struct vfsmux_config {
	char *file;	  /* path it was loaded from, "<stdin>" for stdin */
	char *mountpoint; /* absolute; may be NULL when given on the command line */
	char *control_socket;
	struct config_fuse fuse;
	struct config_timeouts timeouts;
	struct config_pseudofs pseudofs;
	struct mount_config *mounts;
	size_t nmounts;
};

/* One problem found in a config. */
struct config_error {
	struct config_loc loc; /* 0/0 when the problem has no place (e.g. unreadable file) */
	char *key;	       /* dotted key path, e.g. "mounts[2].source"; may be NULL */
	char *msg;
};

struct config_errors {
	struct config_error *v;
	size_t n;
};

/*
 * Load and validate path ("-" reads stdin; the format is then chosen by content).
 * The format comes from the extension: .yaml/.yml or .json.
 * On success *out is set and 0 returned; on failure errs holds at least one
 * error, *out is NULL and -EINVAL (or -errno for an unreadable file, -ENOMEM)
 * returned. Errors are appended to errs (start it zeroed; config_errors_fini()
 * frees them), in file order.
 */
int config_load(const char *path, struct vfsmux_config **out, struct config_errors *errs);
/* Same, from a buffer; name is used in messages and for the format ("x.json"). */
int config_load_buffer(const char *name, const char *buf, size_t len, struct vfsmux_config **out,
		       struct config_errors *errs);
void config_free(struct vfsmux_config *cfg); /* NULL is a no-op */

void config_errors_fini(struct config_errors *errs);
/* Print "file:line:column: key: message" lines. */
void config_errors_print(const struct config_errors *errs, const char *file, FILE *to);

/*
 * Print the namespace cfg makes, for `vfsmux check`: a "mountpoint:" line, then
 * the pseudofs root and a tree of pseudo directories and mounts, children
 * sorted by name, each mount with its type, source and non-default settings.
 */
void config_print_tree(const struct vfsmux_config *cfg, FILE *to);

/*
 * Normalize an absolute path: collapse "//", drop "." and trailing "/".
 * Returns 0, or -EINVAL for a relative path or one containing "..",
 * -ENAMETOOLONG when it does not fit in outsz.
 */
int config_path_normalize(const char *in, char *out, size_t outsz);

/* Parse "256MiB", "2GiB", "1048576", "64k" into bytes. 0 or -EINVAL/-ERANGE. */
int config_parse_size(const char *s, uint64_t *out);

#endif

/*
 * server/mount.c - attaching the FUSE connection to a directory and detaching it.
 *
 * A FUSE mount is a superblock bound to one open /dev/fuse file: the kernel
 * takes the fd number as the "fd" mount option and from then on every request
 * on the mount is read from, and answered on, that file. Three ways to get
 * there, tried in order under FUSE_MOUNT_AUTO:
 *   fsmount      fsopen("fuse") + fsconfig + fsmount + move_mount. Needs
 *                CAP_SYS_ADMIN; the kernel explains a refused option in the
 *                fs context's log, which we copy into the error.
 *   mount        mount(2) with type "fuse.vfsmux" and the options as a string,
 *                for kernels without the new API.
 *   fusermount3  the setuid helper, for unprivileged users: it opens
 *                /dev/fuse, mounts, and sends the fd back over the socket named
 *                by $_FUSE_COMMFD (SCM_RIGHTS), then exits.
 * Each way opens its own /dev/fuse: a superblock that was created and then
 * dropped leaves its fd bound to a dead connection, unusable for a retry.
 *
 * Before mounting we look at what is on the mountpoint already, without
 * sending a FUSE request that could hang (statx AT_STATX_DONT_SYNC with an
 * empty mask answers from the kernel's cache, even for a mount of another
 * user): its mount id, then its fs type and source in /proc/self/mountinfo.
 * A FUSE mount there is either live (another daemon serves it: refused, with
 * --force too) or stale (its daemon died: every request fails with ENOTCONN;
 * refused with the fix in the message, or with force detached first). Which
 * one, only a request can tell, and a request to a live daemon that does not
 * answer blocks - even SIGKILL waits once the daemon has read it. So a child
 * process asks (fstatfs), and a deadline turns silence into "live": a stale
 * mount answers at once, from the kernel, with no daemon involved.
 *
 * At stop we detach our own mount and nothing else: its mount id is recorded
 * right after mounting, and at unmount an O_PATH fd on the mountpoint must be
 * on that mount, which we then detach through /proc/self/fd/N - the fd names
 * one mount, so a mount stacked on the mountpoint in between is never hit.
 * We do not keep an fd on our mount for the whole run: it would hold a
 * reference that makes a plain `umount` of it fail with EBUSY.
 */
#include "server/mount.h"

#include "server/log.h"
#include "server/mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MNT_SUBTYPE    "vfsmux"
#define MNT_FSTYPE     "fuse." MNT_SUBTYPE
#define MNT_ROOTMODE   "40000" /* S_IFDIR, octal, as the fuse option parser wants */
#define MNT_FUSERMOUNT "fusermount3"
/* Stacked dead mounts are each detached in turn; more than this is not a crash. */
#define MNT_MAX_STALE 16
/*
 * How long a FUSE daemon on the mountpoint has to answer a statfs before we
 * call it live but hung. A stale mount answers in microseconds (the kernel
 * itself says ENOTCONN), so this only bounds how long we wait for a live one.
 */
#define MNT_PROBE_MS   5000
#define MNT_PROBE_TEXT "5 s"
/* Older headers lack it (Linux 6.8); an older kernel ignores the bit. */
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

static void mnt_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void mnt_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool mnt_errno_is_stale(int e)
{
	/* ECONNABORTED: the connection was aborted through /sys/fs/fuse/connections. */
	return e == ENOTCONN || e == ECONNABORTED;
}

/*
 * Which mount fd (any fd, O_PATH will do) is on. With AT_STATX_DONT_SYNC and
 * an empty mask FUSE answers from its cache and sends no request, and a FUSE
 * mount that does not allow us answers st_dev only: either way no hang, no
 * EACCES. The unique id needs a non-empty mask, which such a mount refuses;
 * it is then left 0 and id + dev compare instead. 0 or -errno.
 */
static int mnt_ident_of(int fd, struct fuse_mount_ident *id)
{
	struct statx sx;

	memset(id, 0, sizeof(*id));
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &sx) < 0)
		return -errno;
	if (!(sx.stx_mask & STATX_MNT_ID) || !(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return -ENOSYS; /* Linux < 5.8 */
	id->id = sx.stx_mnt_id;
	id->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	id->root = (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID_UNIQUE, &sx) == 0 &&
	    (sx.stx_mask & STATX_MNT_ID_UNIQUE))
		id->unique = sx.stx_mnt_id;
	return 0;
}

static bool mnt_ident_same(const struct fuse_mount_ident *a, const struct fuse_mount_ident *b)
{
	if (a->unique && b->unique)
		return a->unique == b->unique;
	return a->id == b->id && a->dev == b->dev;
}

/* Child side of mnt_probe_stale(): async-signal-safe calls only (we may have threads). */
static void __attribute__((noreturn))
mnt_probe_child(int fd, int out, unsigned int uid, unsigned int gid)
{
	unsigned char r = 0;
	struct statfs sfs;

	/* Unswitched, a FUSE mount that does not allow root answers statfs itself. */
	if (uid || gid)
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(1);
	if (fstatfs(fd, &sfs) < 0)
		r = errno > 0 && errno < 256 ? (unsigned char)errno : EIO;
	if (write(out, &r, 1) != 1)
		_exit(1);
	_exit(0);
}

/*
 * Is the FUSE mount whose root fd (O_PATH) is on stale? A child process, with
 * the mount owner's ids when we are root (user_id=, group_id= in mi), calls
 * fstatfs() on it; we wait for its answer at most ms. Returns the stale errno
 * (ENOTCONN or ECONNABORTED: the daemon died), 0 if the mount answered
 * anything else (live), -ETIMEDOUT if it did not answer in time (live but
 * hung, or slow), or -errno. A child still blocked is killed and left to
 * finish in the kernel's time, never waited for.
 */
static int mnt_probe_stale(int fd, const struct mountinfo *mi, int ms)
{
	unsigned int uid = 0, gid = 0;
	struct pollfd p = { .events = POLLIN };
	unsigned char r;
	int pfd[2], ret;
	pid_t pid;

	if (geteuid() == 0 && (mountinfo_opt_uint(mi->super_opts, "user_id", &uid) ||
			       mountinfo_opt_uint(mi->super_opts, "group_id", &gid)))
		uid = gid = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(pfd[1]);
		goto out_close;
	}
	if (pid == 0)
		mnt_probe_child(fd, pfd[1], uid, gid);
	close(pfd[1]);
	p.fd = pfd[0];
	do
		ret = poll(&p, 1, ms);
	while (ret < 0 && errno == EINTR);
	if (ret <= 0) {
		ret = ret == 0 ? -ETIMEDOUT : -errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, WNOHANG);
		goto out_close;
	}
	/* The child writes its byte and exits: this wait is short. */
	ret = read(pfd[0], &r, 1) == 1 ? (mnt_errno_is_stale(r) ? r : 0) : -EIO;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
out_close:
	close(pfd[0]);
	return ret;
}

/* Detach exactly the mount fd is the root of: /proc/self/fd/N leads to fd's own mount. */
static int mnt_detach_fd(int fd)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return umount2(path, MNT_DETACH) == 0 ? 0 : -errno;
}

/*
 * An O_PATH fd on the mountpoint, and what is there: *id, and in *mi the
 * mount's line when something is mounted on it (id->root). -errno with the
 * reason in err.
 */
static int mnt_open_mountpoint(const char *mp, struct fuse_mount_ident *id, struct mountinfo *mi,
			       char *err, size_t errlen)
{
	int fd, ret;

	/* O_PATH reaches the root of a mount on mp without asking its filesystem. */
	fd = open(mp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			mnt_errf(err, errlen, "mountpoint %s does not exist", mp);
		else if (ret == -ENOTDIR)
			mnt_errf(err, errlen, "mountpoint %s is not a directory", mp);
		else
			mnt_errf(err, errlen, "cannot open mountpoint %s: %s", mp, strerror(-ret));
		return ret;
	}
	ret = mnt_ident_of(fd, id);
	if (ret) {
		mnt_errf(err, errlen, "cannot tell which mount %s is on: statx: %s", mp,
			 strerror(-ret));
		goto out_close;
	}
	if (!id->root)
		return fd;
	ret = mountinfo_find(NULL, id->id, mi);
	if (ret) {
		mnt_errf(err, errlen,
			 "cannot find the mount on %s (id %" PRIu64 ") in /proc/self/mountinfo: %s",
			 mp, id->id, strerror(-ret));
		goto out_close;
	}
	return fd;

out_close:
	close(fd);
	return ret;
}

bool fuse_mount_is_stale(const char *mountpoint)
{
	struct fuse_mount_ident id = { 0 };
	struct mountinfo mi;
	bool stale = false;
	int fd;

	fd = mnt_open_mountpoint(mountpoint, &id, &mi, NULL, 0);
	if (fd < 0)
		return false;
	if (id.root && mountinfo_is_fuse(&mi))
		stale = mnt_probe_stale(fd, &mi, MNT_PROBE_MS) > 0;
	close(fd);
	return stale;
}

/*
 * The mountpoint is an existing directory with no live FUSE mount on it; a
 * stale one is detached if o->force. Other mounts are mounted over, as
 * mount(8) does.
 */
static int mnt_check_mountpoint(const struct fuse_mount_opts *o, char *err, size_t errlen)
{
	const char *mp = o->mountpoint;
	struct fuse_mount_ident id = { 0 };
	struct mountinfo mi;
	int tries, fd, ret;

	for (tries = 0;; tries++) {
		fd = mnt_open_mountpoint(mp, &id, &mi, err, errlen);
		if (fd < 0)
			return fd;
		if (!id.root || !mountinfo_is_fuse(&mi))
			break;
		ret = mnt_probe_stale(fd, &mi, MNT_PROBE_MS);
		if (ret == 0 || ret == -ETIMEDOUT) {
			mnt_errf(err, errlen,
				 "mountpoint %s already has a live FUSE filesystem on it (%s, "
				 "source '%s')%s: stop the daemon that serves it or choose another "
				 "mountpoint (--force only replaces a stale mount)",
				 mp, mi.fstype, mi.source,
				 ret ? ", whose daemon did not answer within " MNT_PROBE_TEXT : "");
			ret = -EBUSY;
			goto out_close;
		}
		if (ret < 0) {
			mnt_errf(err, errlen, "cannot tell whether the %s mount on %s is stale: %s",
				 mi.fstype, mp, strerror(-ret));
			goto out_close;
		}
		if (!o->force) {
			mnt_errf(err, errlen,
				 "mountpoint %s is stale (%s): a previous vfsmux died there; "
				 "run 'umount -l %s' or start with --force",
				 mp, strerror(ret), mp);
			ret = -ret;
			goto out_close;
		}
		if (tries == MNT_MAX_STALE) {
			mnt_errf(err, errlen, "mountpoint %s is still stale after %d lazy unmounts",
				 mp, tries);
			ret = -ret;
			goto out_close;
		}
		ret = mnt_detach_fd(fd);
		if (ret) {
			mnt_errf(err, errlen, "mountpoint %s is stale and umount -l failed: %s", mp,
				 strerror(-ret));
			goto out_close;
		}
		vlog(VLOG_WARN,
		     "mountpoint %s was stale (%s, source '%s': a FUSE daemon died there): "
		     "lazily unmounted it (--force)",
		     mp, mi.fstype, mi.source);
		close(fd);
	}
	close(fd);
	return 0;

out_close:
	close(fd);
	return ret;
}

static int mnt_open_dev_fuse(char *err, size_t errlen)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	int ret;

	if (fd >= 0)
		return fd;
	ret = -errno;
	mnt_errf(err, errlen, "cannot open /dev/fuse: %s", strerror(-ret));
	return ret;
}

/*
 * Copy the fs context's newest log line ("e fuse: Invalid rootmode") after
 * ": " into buf, or make buf empty. read() on an fs context never blocks.
 */
static void mnt_fs_log(int fsfd, char *buf, size_t len)
{
	char msg[256];
	ssize_t n = read(fsfd, msg, sizeof(msg) - 1);

	buf[0] = '\0';
	if (n <= 0)
		return;
	msg[n] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	snprintf(buf, len, " (kernel: %s)", msg);
}

static int mnt_fsconfig(int fsfd, unsigned int cmd, const char *key, const char *val, char *err,
			size_t errlen)
{
	char klog[300];
	int ret;

	if (fsconfig(fsfd, cmd, key, val, 0) == 0)
		return 0;
	ret = -errno;
	mnt_fs_log(fsfd, klog, sizeof(klog));
	if (cmd == FSCONFIG_CMD_CREATE)
		mnt_errf(err, errlen, "fsconfig create: %s%s", strerror(-ret), klog);
	else
		mnt_errf(err, errlen, "fsconfig %s%s%s: %s%s", key, val ? "=" : "", val ? val : "",
			 strerror(-ret), klog);
	return ret;
}

/*
 * fsopen/fsconfig/fsmount/move_mount. The /dev/fuse fd or -errno; *own
 * receives the mount's identity, read from the fsmount fd itself.
 */
static int mnt_fsmount(const struct fuse_mount_opts *o, const char *fsname,
		       struct fuse_mount_ident *own, char *err, size_t errlen)
{
	unsigned int attrs = 0;
	int fd, fsfd, mfd, ret;
	char num[16];

	fd = mnt_open_dev_fuse(err, errlen);
	if (fd < 0)
		return fd;
	fsfd = fsopen("fuse", FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		ret = -errno;
		mnt_errf(err, errlen, "fsopen(fuse): %s", strerror(-ret));
		goto out_close_fd;
	}
	snprintf(num, sizeof(num), "%d", fd);
	ret = mnt_fsconfig(fsfd, FSCONFIG_SET_STRING, "fd", num, err, errlen);
	if (ret)
		goto out_close_fsfd;
	ret = mnt_fsconfig(fsfd, FSCONFIG_SET_STRING, "rootmode", MNT_ROOTMODE, err, errlen);
	if (ret)
		goto out_close_fsfd;
	snprintf(num, sizeof(num), "%u", (unsigned int)getuid());
	ret = mnt_fsconfig(fsfd, FSCONFIG_SET_STRING, "user_id", num, err, errlen);
	if (ret)
		goto out_close_fsfd;
	snprintf(num, sizeof(num), "%u", (unsigned int)getgid());
	ret = mnt_fsconfig(fsfd, FSCONFIG_SET_STRING, "group_id", num, err, errlen);
	if (ret)
		goto out_close_fsfd;
	if (o->allow_other) {
		ret = mnt_fsconfig(fsfd, FSCONFIG_SET_FLAG, "allow_other", NULL, err, errlen);
		if (ret)
			goto out_close_fsfd;
	}
	if (o->default_permissions) {
		ret =
		    mnt_fsconfig(fsfd, FSCONFIG_SET_FLAG, "default_permissions", NULL, err, errlen);
		if (ret)
			goto out_close_fsfd;
	}
	if (o->max_read) {
		snprintf(num, sizeof(num), "%u", (unsigned int)o->max_read);
		ret = mnt_fsconfig(fsfd, FSCONFIG_SET_STRING, "max_read", num, err, errlen);
		if (ret)
			goto out_close_fsfd;
	}
	ret = mnt_fsconfig(fsfd, FSCONFIG_SET_STRING, "source", fsname, err, errlen);
	if (ret)
		goto out_close_fsfd;
	/* Cosmetic ("fuse.vfsmux" in /proc/mounts): a kernel that refuses it still mounts. */
	if (mnt_fsconfig(fsfd, FSCONFIG_SET_STRING, "subtype", MNT_SUBTYPE, err, errlen))
		vlog(VLOG_DEBUG, "mount: %s; mounting as plain fuse", err ? err : "no subtype");
	ret = mnt_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, err, errlen);
	if (ret)
		goto out_close_fsfd;
	if (!o->suid)
		attrs |= MOUNT_ATTR_NOSUID;
	if (!o->dev)
		attrs |= MOUNT_ATTR_NODEV;
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
	if (mfd < 0) {
		ret = -errno;
		mnt_errf(err, errlen, "fsmount: %s", strerror(-ret));
		goto out_close_fsfd;
	}
	if (move_mount(mfd, "", AT_FDCWD, o->mountpoint, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		ret = -errno;
		mnt_errf(err, errlen, "move_mount to %s: %s", o->mountpoint, strerror(-ret));
		goto out_close_mfd;
	}
	/*
	 * The mount now lives in the namespace; these fds only pinned it until
	 * here (held, mfd would make a plain umount of it fail with EBUSY).
	 */
	if (mnt_ident_of(mfd, own) < 0)
		memset(own, 0, sizeof(*own)); /* fuse_mount() asks by path instead */
	close(mfd);
	close(fsfd);
	return fd;

out_close_mfd:
	close(mfd);
out_close_fsfd:
	close(fsfd);
out_close_fd:
	close(fd);
	return ret;
}

/* mount(2) with type "fuse.vfsmux". The /dev/fuse fd or -errno. */
static int mnt_legacy(const struct fuse_mount_opts *o, const char *fsname, char *err, size_t errlen)
{
	unsigned long flags = 0;
	char data[256];
	int fd, n, ret;

	fd = mnt_open_dev_fuse(err, errlen);
	if (fd < 0)
		return fd;
	n = snprintf(data, sizeof(data), "fd=%d,rootmode=%s,user_id=%u,group_id=%u%s%s", fd,
		     MNT_ROOTMODE, (unsigned int)getuid(), (unsigned int)getgid(),
		     o->allow_other ? ",allow_other" : "",
		     o->default_permissions ? ",default_permissions" : "");
	if (n > 0 && (size_t)n < sizeof(data) && o->max_read)
		n += snprintf(data + n, sizeof(data) - (size_t)n, ",max_read=%u",
			      (unsigned int)o->max_read);
	if (n < 0 || (size_t)n >= sizeof(data)) {
		ret = -EOVERFLOW; /* cannot happen with these bounded fields */
		mnt_errf(err, errlen, "mount options too long");
		goto out_close_fd;
	}
	if (!o->suid)
		flags |= MS_NOSUID;
	if (!o->dev)
		flags |= MS_NODEV;
	if (mount(fsname, o->mountpoint, MNT_FSTYPE, flags, data) < 0) {
		ret = -errno;
		mnt_errf(err, errlen, "mount(2) on %s: %s", o->mountpoint, strerror(-ret));
		goto out_close_fd;
	}
	return fd;

out_close_fd:
	close(fd);
	return ret;
}

/*
 * A copy of environ without any inherited _FUSE_COMMFD, plus extra (may be
 * NULL). Only the pointer array is allocated: free() it, not its strings.
 */
static char **mnt_env_with(char *extra)
{
	static const char key[] = "_FUSE_COMMFD=";
	size_t n = 0, i, j = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], key, sizeof(key) - 1) != 0)
			env[j++] = environ[i];
	if (extra)
		env[j++] = extra;
	env[j] = NULL;
	return env;
}

/*
 * Start fusermount3 with argv (argv[0] is looked up in $PATH), its stderr
 * into a pipe whose read end goes to *errfd. comm_fd >= 0 is inherited by
 * the child under the same number and named in $_FUSE_COMMFD.
 */
static int mnt_spawn(char *const argv[], int comm_fd, pid_t *pid, int *errfd)
{
	posix_spawn_file_actions_t fa;
	char commfd_env[32];
	int pipefd[2];
	char **env;
	int ret;

	*pid = -1;
	*errfd = -1;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	snprintf(commfd_env, sizeof(commfd_env), "_FUSE_COMMFD=%d", comm_fd);
	env = mnt_env_with(comm_fd >= 0 ? commfd_env : NULL);
	if (!env) {
		ret = -ENOMEM;
		goto out_close_pipe;
	}
	ret = -posix_spawn_file_actions_init(&fa);
	if (ret)
		goto out_free_env;
	ret = -posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	/* dup2 onto itself clears FD_CLOEXEC (glibc >= 2.29): the child keeps the socket. */
	if (!ret && comm_fd >= 0)
		ret = -posix_spawn_file_actions_adddup2(&fa, comm_fd, comm_fd);
	if (!ret)
		ret = -posix_spawnp(pid, argv[0], &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	if (ret)
		goto out_free_env;
	free(env);
	close(pipefd[1]);
	*errfd = pipefd[0];
	return 0;

out_free_env:
	free(env);
out_close_pipe:
	close(pipefd[0]);
	close(pipefd[1]);
	return ret;
}

/* Read fd to EOF, keeping the first len-1 bytes as one line (';' between lines). */
static void mnt_read_all(int fd, char *buf, size_t len)
{
	size_t used = 0;
	char sink[256];
	ssize_t n;

	for (;;) {
		if (used + 1 < len)
			n = read(fd, buf + used, len - 1 - used);
		else
			n = read(fd, sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (used + 1 < len)
			used += (size_t)n;
	}
	while (used > 0 && (buf[used - 1] == '\n' || buf[used - 1] == ' '))
		used--;
	buf[used] = '\0';
	for (char *p = buf; (p = strchr(p, '\n')) != NULL;)
		*p = ';';
}

/* Wait for pid; its exit status (0..255), 128+signal, or -errno. */
static int mnt_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* One fd sent with SCM_RIGHTS on sock (made O_CLOEXEC), or -errno; -ENODATA at EOF. */
static int mnt_recv_fd(int sock)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = { 0 };
	struct cmsghdr *c;
	struct iovec iov;
	char byte;
	ssize_t n;
	int fd;

	iov.iov_base = &byte;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ENODATA;
	c = CMSG_FIRSTHDR(&msg);
	/* Exactly one int: anything else is not fusermount3 (extra fds were truncated away). */
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	if (msg.msg_flags & MSG_CTRUNC) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

/* Append s to the fusermount3 option string, escaping ',' and '\' as it expects. */
static bool mnt_opt_escaped(char *buf, size_t len, size_t *used, const char *s)
{
	for (; *s; s++) {
		if (*s == ',' || *s == '\\') {
			if (*used + 1 >= len)
				return false;
			buf[(*used)++] = '\\';
		}
		if (*used + 1 >= len)
			return false;
		buf[(*used)++] = *s;
	}
	buf[*used] = '\0';
	return true;
}

/* The setuid helper: it mounts and passes /dev/fuse back. The fd or -errno. */
static int mnt_fusermount(const struct fuse_mount_opts *o, const char *fsname, char *err,
			  size_t errlen)
{
	char opts[512] = "fsname=", tail[160], out[512];
	size_t used = strlen(opts);
	/* exec does not write to argv: the casts only satisfy its pre-const prototype. */
	char *argv[] = { (char *)MNT_FUSERMOUNT, (char *)"-o",		opts,
			 (char *)"--",		 (char *)o->mountpoint, NULL };
	int sv[2], errfd, fd, status, ret;
	pid_t pid;

	snprintf(tail, sizeof(tail), ",subtype=%s,%s,%s%s%s", MNT_SUBTYPE,
		 o->suid ? "suid" : "nosuid", o->dev ? "dev" : "nodev",
		 o->allow_other ? ",allow_other" : "",
		 o->default_permissions ? ",default_permissions" : "");
	if (o->max_read)
		snprintf(tail + strlen(tail), sizeof(tail) - strlen(tail), ",max_read=%u",
			 (unsigned int)o->max_read);
	if (!mnt_opt_escaped(opts, sizeof(opts), &used, fsname) ||
	    used + strlen(tail) >= sizeof(opts)) {
		mnt_errf(err, errlen, "fsname too long for fusermount3");
		return -ENAMETOOLONG;
	}
	memcpy(opts + used, tail, strlen(tail) + 1); /* fits: checked above */

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		mnt_errf(err, errlen, "socketpair: %s", strerror(-ret));
		return ret;
	}
	ret = mnt_spawn(argv, sv[1], &pid, &errfd);
	close(sv[1]); /* else recvmsg never sees EOF when the child fails */
	if (ret) {
		mnt_errf(err, errlen, "cannot run %s: %s", MNT_FUSERMOUNT, strerror(-ret));
		goto out_close_sock;
	}
	fd = mnt_recv_fd(sv[0]);
	mnt_read_all(errfd, out, sizeof(out));
	close(errfd);
	status = mnt_wait(pid);
	if (fd >= 0 && status == 0) {
		close(sv[0]);
		return fd;
	}
	if (fd >= 0)
		close(fd); /* it sent an fd and still failed: trust the status */
	if (status < 0)
		mnt_errf(err, errlen, "%s: waitpid: %s", MNT_FUSERMOUNT, strerror(-status));
	else if (out[0])
		mnt_errf(err, errlen, "%s failed (status %d): %s", MNT_FUSERMOUNT, status, out);
	else if (status)
		mnt_errf(err, errlen, "%s failed with status %d", MNT_FUSERMOUNT, status);
	else
		mnt_errf(err, errlen, "%s exited without passing the /dev/fuse fd (%s)",
			 MNT_FUSERMOUNT, strerror(-fd));
	ret = -EIO;
out_close_sock:
	close(sv[0]);
	return ret;
}

/* Worth trying the next way: the kernel lacks this one or we lack the privilege. */
static bool mnt_may_fall_back(int ret)
{
	return ret == -ENOSYS || ret == -EPERM || ret == -EACCES || ret == -ENODEV;
}

/*
 * Record in m which mount is ours, right after mounting: own if fsmount gave
 * it (race-free), else the mount now on the mountpoint - someone mounting
 * there in the microseconds since is the one case this cannot tell apart.
 */
static void mnt_record(struct fuse_mount *m, const char *mp, const char *how,
		       const struct fuse_mount_ident *own)
{
	int fd;

	snprintf(m->mountpoint, sizeof(m->mountpoint), "%s", mp);
	m->how = how;
	atomic_init(&m->detached, false);
	m->ident = *own;
	if (m->ident.root)
		return;
	fd = open(mp, O_PATH | O_CLOEXEC);
	if (fd >= 0 && mnt_ident_of(fd, &m->ident) == 0 && m->ident.root) {
		close(fd);
		return;
	}
	vlog(VLOG_WARN, "mounted %s but cannot read its mount id: it will not be unmounted at stop",
	     mp);
	memset(&m->ident, 0, sizeof(m->ident));
	if (fd >= 0)
		close(fd);
}

int fuse_mount(const struct fuse_mount_opts *o, struct fuse_mount *m, char *err, size_t errlen)
{
	struct fuse_mount_ident own = { 0 };
	const char *fsname, *how;
	bool any;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!o || !o->mountpoint || o->mountpoint[0] != '/') {
		mnt_errf(err, errlen, "mountpoint %s is not an absolute path",
			 o && o->mountpoint ? o->mountpoint : "(none)");
		return -EINVAL;
	}
	if (strlen(o->mountpoint) >= sizeof(m->mountpoint)) {
		mnt_errf(err, errlen, "mountpoint %.64s... is too long", o->mountpoint);
		return -ENAMETOOLONG;
	}
	fsname = o->fsname && o->fsname[0] ? o->fsname : "vfsmux";
	ret = mnt_check_mountpoint(o, err, errlen);
	if (ret)
		return ret;

	any = o->method == FUSE_MOUNT_AUTO;
	if (any || o->method == FUSE_MOUNT_FSMOUNT) {
		ret = mnt_fsmount(o, fsname, &own, err, errlen);
		how = "fsmount";
		if (ret >= 0)
			goto mounted;
		if (!any || !mnt_may_fall_back(ret))
			return ret;
		vlog(VLOG_DEBUG, "mount: %s; trying mount(2)", err ? err : "fsmount failed");
	}
	if (any || o->method == FUSE_MOUNT_LEGACY) {
		ret = mnt_legacy(o, fsname, err, errlen);
		how = "mount";
		if (ret >= 0)
			goto mounted;
		if (!any || (ret != -EPERM && ret != -EACCES))
			return ret;
		vlog(VLOG_DEBUG, "mount: %s; trying %s", err ? err : "mount(2) failed",
		     MNT_FUSERMOUNT);
	}
	ret = mnt_fusermount(o, fsname, err, errlen);
	how = MNT_FUSERMOUNT;
	if (ret < 0)
		return ret;
mounted:
	if (err && errlen)
		err[0] = '\0'; /* no stale text from a refused subtype or a way we fell back from */
	if (m)
		mnt_record(m, o->mountpoint, how, &own);
	return ret;
}

/* fusermount3 -u -z: the helper checks the mount is ours (user_id) before detaching. */
static int mnt_fusermount_unmount(const char *mountpoint)
{
	char *argv[] = { (char *)MNT_FUSERMOUNT, (char *)"-u",	     (char *)"-z",
			 (char *)"--",		 (char *)mountpoint, NULL };
	char out[512];
	int errfd, status, ret;
	pid_t pid;

	ret = mnt_spawn(argv, -1, &pid, &errfd);
	if (ret) {
		vlog(VLOG_ERR, "cannot run %s -u %s: %s", MNT_FUSERMOUNT, mountpoint,
		     strerror(-ret));
		return ret;
	}
	mnt_read_all(errfd, out, sizeof(out));
	close(errfd);
	status = mnt_wait(pid);
	if (status == 0)
		return 0;
	if (status < 0)
		vlog(VLOG_ERR, "%s -u %s: waitpid: %s", MNT_FUSERMOUNT, mountpoint,
		     strerror(-status));
	else
		vlog(VLOG_ERR, "%s -u %s failed (status %d): %s", MNT_FUSERMOUNT, mountpoint,
		     status, out[0] ? out : "no message");
	return -EIO;
}

/*
 * Says, when the mount on m's mountpoint (id) is not ours, whether ours is
 * still mounted beneath it, and leaves both alone. -EBUSY.
 */
static int mnt_not_ours(const struct fuse_mount *m, const struct fuse_mount_ident *id)
{
	struct mountinfo top, ours;
	bool beneath;

	if (mountinfo_find(NULL, id->id, &top) < 0)
		snprintf(top.fstype, sizeof(top.fstype), "?");
	beneath = mountinfo_find(NULL, m->ident.id, &ours) == 0 && ours.dev == m->ident.dev;
	if (top.fstype[0] == '?')
		top.source[0] = '\0';
	if (beneath)
		vlog(VLOG_WARN,
		     "not unmounting %s: another mount (%s, source '%s') sits on top of ours; "
		     "both stay, and ours is stale once we exit (remove the one on top, then "
		     "'umount -l %s')",
		     m->mountpoint, top.fstype, top.source, m->mountpoint);
	else
		vlog(VLOG_WARN,
		     "not unmounting %s: ours is gone, and the %s mount there now "
		     "(source '%s') is not ours",
		     m->mountpoint, top.fstype, top.source);
	return -EBUSY;
}

int fuse_unmount(struct fuse_mount *m)
{
	struct fuse_mount_ident id = { 0 };
	int fd, ret;

	if (!m)
		return -EINVAL;
	if (atomic_exchange(&m->detached, true) || !m->ident.root)
		return 0; /* detached once already, or we never knew which mount is ours */
	fd = open(m->mountpoint, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT || ret == -ENOTDIR)
			return 0; /* the mountpoint is gone, and our mount with it */
		vlog(VLOG_WARN, "unmounting %s: %s", m->mountpoint, strerror(-ret));
		return ret;
	}
	ret = mnt_ident_of(fd, &id);
	if (ret) {
		vlog(VLOG_WARN, "unmounting %s: statx: %s", m->mountpoint, strerror(-ret));
		goto out_close;
	}
	if (!mnt_ident_same(&id, &m->ident)) {
		/* Not a mount root: someone unmounted ours; the directory is bare. */
		ret = id.root ? mnt_not_ours(m, &id) : 0;
		goto out_close;
	}
	ret = mnt_detach_fd(fd);
	if (ret == -EPERM && geteuid() != 0)
		ret = mnt_fusermount_unmount(m->mountpoint); /* checked just now: ours */
	else if (ret)
		vlog(VLOG_WARN, "unmounting %s: %s", m->mountpoint, strerror(-ret));
out_close:
	close(fd);
	return ret;
}

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
 * A stale mountpoint (a daemon died without unmounting) answers every stat
 * with ENOTCONN; we refuse it with the fix in the message, or with force
 * detach it first.
 */
#include "server/mount.h"

#include "server/log.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MNT_SUBTYPE    "vfsmux"
#define MNT_FSTYPE     "fuse." MNT_SUBTYPE
#define MNT_ROOTMODE   "40000" /* S_IFDIR, octal, as the fuse option parser wants */
#define MNT_FUSERMOUNT "fusermount3"
/* Stacked dead mounts are each detached in turn; more than this is not a crash. */
#define MNT_MAX_STALE 16

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
 * stat() the mountpoint and, when that works, statfs() it too: for up to the
 * attr timeout after a daemon died, the kernel still answers stat() of the
 * mount root from its cache, while statfs() always asks the daemon and so
 * fails with ENOTCONN at once. Returns 0 or -errno.
 */
static int mnt_probe(const char *mp, struct stat *st)
{
	struct statfs sfs;

	if (stat(mp, st) < 0)
		return -errno;
	if (statfs(mp, &sfs) < 0 && mnt_errno_is_stale(errno))
		return -errno;
	return 0;
}

bool fuse_mount_is_stale(const char *mountpoint)
{
	struct stat st;
	int err = mnt_probe(mountpoint, &st);

	return err && mnt_errno_is_stale(-err);
}

/* The mountpoint is an existing directory; a stale mount on it is detached if o->force. */
static int mnt_check_mountpoint(const struct fuse_mount_opts *o, char *err, size_t errlen)
{
	const char *mp = o->mountpoint;
	struct stat st;
	int tries, ret;

	for (tries = 0;; tries++) {
		ret = mnt_probe(mp, &st);
		if (ret == 0)
			break;
		if (ret == -ENOENT) {
			mnt_errf(err, errlen, "mountpoint %s does not exist", mp);
			return ret;
		}
		if (!mnt_errno_is_stale(-ret)) {
			mnt_errf(err, errlen, "cannot stat mountpoint %s: %s", mp, strerror(-ret));
			return ret;
		}
		if (!o->force) {
			mnt_errf(err, errlen,
				 "mountpoint %s is stale (%s): a previous vfsmux died there; "
				 "run 'umount -l %s' or start with --force",
				 mp, strerror(-ret), mp);
			return ret;
		}
		if (tries == MNT_MAX_STALE) {
			mnt_errf(err, errlen, "mountpoint %s is still stale after %d lazy unmounts",
				 mp, tries);
			return ret;
		}
		if (umount2(mp, MNT_DETACH) < 0) {
			ret = -errno;
			mnt_errf(err, errlen, "mountpoint %s is stale and umount -l failed: %s", mp,
				 strerror(-ret));
			return ret;
		}
		vlog(VLOG_WARN,
		     "mountpoint %s was stale (a FUSE daemon died there): "
		     "lazily unmounted it (--force)",
		     mp);
	}
	if (!S_ISDIR(st.st_mode)) {
		mnt_errf(err, errlen, "mountpoint %s is not a directory", mp);
		return -ENOTDIR;
	}
	return 0;
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

/* fsopen/fsconfig/fsmount/move_mount. The /dev/fuse fd or -errno. */
static int mnt_fsmount(const struct fuse_mount_opts *o, const char *fsname, char *err,
		       size_t errlen)
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
	/* The mount now lives in the namespace; these fds only pinned it until here. */
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

int fuse_mount(const struct fuse_mount_opts *o, const char **how, char *err, size_t errlen)
{
	const char *fsname;
	bool any;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!o || !o->mountpoint || o->mountpoint[0] != '/') {
		mnt_errf(err, errlen, "mountpoint %s is not an absolute path",
			 o && o->mountpoint ? o->mountpoint : "(none)");
		return -EINVAL;
	}
	fsname = o->fsname && o->fsname[0] ? o->fsname : "vfsmux";
	ret = mnt_check_mountpoint(o, err, errlen);
	if (ret)
		return ret;

	any = o->method == FUSE_MOUNT_AUTO;
	if (any || o->method == FUSE_MOUNT_FSMOUNT) {
		ret = mnt_fsmount(o, fsname, err, errlen);
		if (ret >= 0) {
			if (how)
				*how = "fsmount";
			if (err && errlen)
				err[0] = '\0'; /* a refused subtype left its text */
			return ret;
		}
		if (!any || !mnt_may_fall_back(ret))
			return ret;
		vlog(VLOG_DEBUG, "mount: %s; trying mount(2)", err ? err : "fsmount failed");
	}
	if (any || o->method == FUSE_MOUNT_LEGACY) {
		ret = mnt_legacy(o, fsname, err, errlen);
		if (ret >= 0) {
			if (how)
				*how = "mount";
			if (err && errlen)
				err[0] = '\0';
			return ret;
		}
		if (!any || (ret != -EPERM && ret != -EACCES))
			return ret;
		vlog(VLOG_DEBUG, "mount: %s; trying %s", err ? err : "mount(2) failed",
		     MNT_FUSERMOUNT);
	}
	ret = mnt_fusermount(o, fsname, err, errlen);
	if (ret >= 0 && how)
		*how = MNT_FUSERMOUNT;
	if (ret >= 0 && err && errlen)
		err[0] = '\0'; /* no stale text from a way we fell back from */
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

int fuse_unmount(const char *mountpoint)
{
	int ret;

	if (!mountpoint)
		return -EINVAL;
	if (umount2(mountpoint, MNT_DETACH) == 0)
		return 0;
	ret = -errno;
	if (ret == -EINVAL || ret == -ENOENT)
		return 0; /* not a mount point (any more), or gone */
	if (ret == -EPERM && geteuid() != 0)
		return mnt_fusermount_unmount(mountpoint);
	return ret;
}

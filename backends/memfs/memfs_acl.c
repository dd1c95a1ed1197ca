/*
 * backends/memfs/memfs_acl.c - POSIX ACLs, kept as tmpfs keeps them.
 *
 * An ACL is stored as the xattr the kernel sends and reads back
 * (system.posix_acl_access / system.posix_acl_default): a 4-byte version (2)
 * and 8-byte entries {u16 tag, u16 perm, u32 id}, little-endian, sorted by tag
 * then id. The kernel checks access against the access ACL itself (it reads it
 * with a GETXATTR; mount option default_permissions), so memfs only keeps the
 * ACLs and the mode consistent, as a local filesystem does:
 *  - setting an access ACL sets the mode's permission bits from it (group
 *    bits from the mask entry when there is one), and an ACL that says no more
 *    than the mode is not kept at all (posix_acl_update_mode);
 *  - chmod rewrites the access ACL's owner, mask (or group) and other entries
 *    (posix_acl_chmod);
 *  - a new inode in a directory with a default ACL gets its mode masked by
 *    that ACL instead of by the umask, an access ACL when the result says more
 *    than the mode, and, for a directory, the default ACL itself
 *    (posix_acl_create).
 * ACLs exist only when the kernel enforces them (op_ctx.perm_checked, which
 * is when the server negotiates FUSE_POSIX_ACL); otherwise memfs refuses
 * them, and vfs reads their absence as "no ACL". Callers hold the inode's
 * lock for writing (or ns_lock for writing, for a node not yet linked).
 */
#include "memfs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#define ACL_XATTR_VERSION 2
#define ACL_HEADER	  4
#define ACL_ENTRY	  8

enum acl_tag {
	ACL_TAG_USER_OBJ = 0x01,
	ACL_TAG_USER = 0x02,
	ACL_TAG_GROUP_OBJ = 0x04,
	ACL_TAG_GROUP = 0x08,
	ACL_TAG_MASK = 0x10,
	ACL_TAG_OTHER = 0x20,
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

bool memfs_acl_name(const char *name, bool *is_default)
{
	if (strcmp(name, MEMFS_ACL_ACCESS) == 0) {
		*is_default = false;
		return true;
	}
	if (strcmp(name, MEMFS_ACL_DEFAULT) == 0) {
		*is_default = true;
		return true;
	}
	return false;
}

/* Entries of a well-formed ACL value: posix_acl_valid()'s rules. */
int memfs_acl_valid(const void *value, size_t size)
{
	const uint8_t *v = value;
	unsigned seen = 0, prev_tag = 0;
	uint32_t prev_id = 0;
	size_t n;

	if (size < ACL_HEADER || (size - ACL_HEADER) % ACL_ENTRY != 0 ||
	    get32(v) != ACL_XATTR_VERSION)
		return -EINVAL;
	n = (size - ACL_HEADER) / ACL_ENTRY;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = v + ACL_HEADER + i * ACL_ENTRY;
		unsigned tag = get16(e), perm = get16(e + 2);
		uint32_t id = get32(e + 4);

		if (perm & ~7u || tag < prev_tag)
			return -EINVAL;
		switch (tag) {
		case ACL_TAG_USER:
		case ACL_TAG_GROUP:
			if (tag == prev_tag && id <= prev_id)
				return -EINVAL; /* sorted, each id once */
			prev_id = id;
			break;
		case ACL_TAG_USER_OBJ:
		case ACL_TAG_GROUP_OBJ:
		case ACL_TAG_MASK:
		case ACL_TAG_OTHER:
			if (seen & tag)
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
		seen |= tag;
		prev_tag = tag;
	}
	if ((seen & (ACL_TAG_USER_OBJ | ACL_TAG_GROUP_OBJ | ACL_TAG_OTHER)) !=
	    (ACL_TAG_USER_OBJ | ACL_TAG_GROUP_OBJ | ACL_TAG_OTHER))
		return -EINVAL;
	if ((seen & (ACL_TAG_USER | ACL_TAG_GROUP)) && !(seen & ACL_TAG_MASK))
		return -EINVAL;
	return 0;
}

/*
 * The permission bits an ACL gives the mode (group from the mask when there is
 * one) in *perm; returns whether the ACL says more than those bits.
 */
static bool acl_mode(const uint8_t *v, size_t size, mode_t *perm)
{
	size_t n = (size - ACL_HEADER) / ACL_ENTRY;
	mode_t m = 0, group = 0, mask = 0;
	bool has_mask = false, extended = false;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = v + ACL_HEADER + i * ACL_ENTRY;
		mode_t p = get16(e + 2) & 7;

		switch (get16(e)) {
		case ACL_TAG_USER_OBJ:
			m |= p << 6;
			break;
		case ACL_TAG_GROUP_OBJ:
			group = p;
			break;
		case ACL_TAG_MASK:
			mask = p;
			has_mask = true;
			extended = true;
			break;
		case ACL_TAG_OTHER:
			m |= p;
			break;
		default:
			extended = true;
			break;
		}
	}
	*perm = m | (has_mask ? mask : group) << 3;
	return extended;
}

int memfs_acl_set_locked(struct memfs_inode *node, const struct op_ctx *ctx, const char *name,
			 const void *value, size_t size, int flags)
{
	bool is_default = false, extended;
	mode_t perm;
	int ret;

	(void)memfs_acl_name(name, &is_default);
	if (!ctx->perm_checked)
		return -EOPNOTSUPP; /* the kernel would not enforce it */
	if (ctx->uid != 0 && ctx->uid != node->uid)
		return -EPERM;
	if (S_ISLNK(node->type))
		return -EOPNOTSUPP;
	if (is_default && !S_ISDIR(node->type))
		return -EACCES; /* as the kernel, for a default ACL on a non-directory */
	ret = memfs_acl_valid(value, size);
	if (ret)
		return ret;
	if (is_default)
		return memfs_xattr_set_locked(node, name, value, size,
					      flags & (XATTR_CREATE | XATTR_REPLACE));
	if ((flags & XATTR_CREATE) && *memfs_xattr_find(node, name))
		return -EEXIST;
	if ((flags & XATTR_REPLACE) && !*memfs_xattr_find(node, name))
		return -ENODATA;
	extended = acl_mode(value, size, &perm);
	if (extended)
		ret = memfs_xattr_set_locked(node, name, value, size, 0);
	else
		(void)memfs_xattr_drop_locked(node, name); /* the mode says it all */
	if (ret)
		return ret;
	node->mode = (node->mode & ~(mode_t)0777) | perm;
	if (flags & VFS_XATTR_KILL_SGID)
		node->mode &= ~(mode_t)S_ISGID;
	return 0;
}

void memfs_acl_chmod_locked(struct memfs_inode *node)
{
	struct memfs_xattr *x = *memfs_xattr_find(node, MEMFS_ACL_ACCESS);
	uint8_t *group = NULL, *mask = NULL;
	size_t n;

	if (!x)
		return;
	n = (x->size - ACL_HEADER) / ACL_ENTRY;
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = (uint8_t *)x->value + ACL_HEADER + i * ACL_ENTRY;

		switch (get16(e)) {
		case ACL_TAG_USER_OBJ:
			put16(e + 2, (uint16_t)((node->mode >> 6) & 7));
			break;
		case ACL_TAG_GROUP_OBJ:
			group = e;
			break;
		case ACL_TAG_MASK:
			mask = e;
			break;
		case ACL_TAG_OTHER:
			put16(e + 2, (uint16_t)(node->mode & 7));
			break;
		default:
			break;
		}
	}
	if (mask || group)
		put16((mask ? mask : group) + 2, (uint16_t)((node->mode >> 3) & 7));
}

/*
 * Mask a copy of the parent's default ACL with the requested mode, and the
 * mode with it (posix_acl_create_masq): owner and other entries and the mask
 * (or, without one, the owning group) keep only what the mode asks for, and
 * the mode keeps only what they allow. Returns whether the result says more
 * than the mode, i.e. must be kept as an access ACL.
 */
static bool acl_create_masq(uint8_t *v, size_t size, mode_t *mode)
{
	size_t n = (size - ACL_HEADER) / ACL_ENTRY;
	mode_t m = *mode & 0777;
	uint8_t *group = NULL, *mask = NULL;
	bool extended = false;

	for (size_t i = 0; i < n; i++) {
		uint8_t *e = v + ACL_HEADER + i * ACL_ENTRY;
		mode_t p = get16(e + 2);

		switch (get16(e)) {
		case ACL_TAG_USER_OBJ:
			p &= (m >> 6) & 7;
			put16(e + 2, (uint16_t)p);
			m = (m & ~(mode_t)0700) | p << 6;
			break;
		case ACL_TAG_GROUP_OBJ:
			group = e;
			break;
		case ACL_TAG_MASK:
			mask = e;
			extended = true;
			break;
		case ACL_TAG_OTHER:
			p &= m & 7;
			put16(e + 2, (uint16_t)p);
			m = (m & ~(mode_t)07) | p;
			break;
		default:
			extended = true;
			break;
		}
	}
	if (mask || group) {
		uint8_t *e = mask ? mask : group;
		mode_t p = get16(e + 2) & ((m >> 3) & 7);

		put16(e + 2, (uint16_t)p);
		m = (m & ~(mode_t)070) | p << 3;
	}
	*mode = (*mode & ~(mode_t)0777) | m;
	return extended;
}

int memfs_acl_inherit(const struct memfs_inode *dir, const struct op_ctx *ctx, mode_t *mode,
		      struct memfs_xattr **acls)
{
	struct memfs_xattr *def = *memfs_xattr_find((struct memfs_inode *)dir, MEMFS_ACL_DEFAULT);
	struct memfs_inode scratch = { .type = *mode & S_IFMT };
	uint8_t *copy;
	int ret = 0;

	*acls = NULL;
	if (S_ISLNK(*mode))
		return 0; /* symlinks have neither ACLs nor a umask */
	if (!def) {
		*mode &= ~(mode_t)(ctx->umask & 0777);
		return 0;
	}
	copy = malloc(def->size);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, def->value, def->size);
	if (acl_create_masq(copy, def->size, mode))
		ret = memfs_xattr_set_locked(&scratch, MEMFS_ACL_ACCESS, copy, def->size, 0);
	if (!ret && S_ISDIR(*mode))
		ret = memfs_xattr_set_locked(&scratch, MEMFS_ACL_DEFAULT, def->value, def->size, 0);
	free(copy);
	if (ret)
		memfs_xattrs_free(scratch.xattrs);
	else
		*acls = scratch.xattrs;
	return ret;
}

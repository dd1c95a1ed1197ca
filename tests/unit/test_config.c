/* tests/unit/test_config.c - config loading, validation, error positions, tree printing. */
#include "testlib.h"

#include "config/config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct config_errors errs;
static struct vfsmux_config *cfg;
static char *tmp;

static void setup(void)
{
	memset(&errs, 0, sizeof(errs));
	cfg = NULL;
	tmp = testlib_tmpdir();
}

static void teardown(void)
{
	config_free(cfg);
	config_errors_fini(&errs);
	testlib_rmtree(tmp);
	free(tmp);
}

static int load(const char *name, const char *text)
{
	return config_load_buffer(name, text, strlen(text), &cfg, &errs);
}

/* A config that must fail: -EINVAL and no model. */
static void load_bad(const char *name, const char *text)
{
	ck_assert_int_eq(load(name, text), -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_ge(errs.n, 1);
}

/* The error reported for key, at line:column, whose message contains what. */
static void expect_err(const char *key, int line, int column, const char *what)
{
	for (size_t i = 0; i < errs.n; i++) {
		const struct config_error *e = &errs.v[i];

		if ((key == NULL) != (e->key == NULL) || (key && strcmp(key, e->key)))
			continue;
		ck_assert_msg(e->loc.line == line && e->loc.column == column,
			      "%s: at %d:%d, expected %d:%d (%s)", key ? key : "(no key)",
			      e->loc.line, e->loc.column, line, column, e->msg);
		ck_assert_msg(strstr(e->msg, what), "%s: message '%s' lacks '%s'",
			      key ? key : "(no key)", e->msg, what);
		return;
	}
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "  have %d:%d %s: %s\n", errs.v[i].loc.line, errs.v[i].loc.column,
			errs.v[i].key ? errs.v[i].key : "-", errs.v[i].msg);
	ck_abort_msg("no error for key %s", key ? key : "(none)");
}

static char *data_path(const char *name)
{
	const char *dir = getenv("TEST_SRCDIR");
	char *p;

	ck_assert_ptr_nonnull(dir);
	ck_assert_int_gt(asprintf(&p, "%s/data/config/%s", dir, name), 0);
	return p;
}

/* The model both good.yaml and good.json describe. */
static void check_good_model(const struct vfsmux_config *c, int mount0_line)
{
	const struct mount_config *m;

	ck_assert_str_eq(c->mountpoint, "/mnt/composite");
	ck_assert_str_eq(c->control_socket, "/run/vfsmux/vfsmux.sock");
	ck_assert_uint_eq(c->fuse.threads, 2);
	ck_assert_uint_eq(c->fuse.max_threads, 8);
	ck_assert(!c->fuse.allow_other); /* allow_other needs default_permissions */
	ck_assert(!c->fuse.default_permissions);
	ck_assert(c->fuse.suid);
	ck_assert(c->fuse.dev);
	ck_assert(c->fuse.writeback_cache);
	ck_assert(!c->fuse.passthrough);
	ck_assert(c->fuse.io_uring);
	ck_assert_uint_eq(c->fuse.max_write, 128 * 1024);
	ck_assert_str_eq(c->fuse.fsname, "composite");
	ck_assert_double_eq(c->timeouts.entry, 2.5);
	ck_assert_double_eq(c->timeouts.attr, 3.0);
	ck_assert_double_eq(c->timeouts.negative, 0.5);
	ck_assert_uint_eq(c->pseudofs.mode, 0711);
	ck_assert_uint_eq(c->pseudofs.uid, 10);
	ck_assert_uint_eq(c->pseudofs.gid, 20);
	ck_assert_uint_eq(c->nmounts, 3);

	m = &c->mounts[0];
	ck_assert_str_eq(m->path, "/base");
	ck_assert_str_eq(m->type, "passthrough");
	ck_assert_str_eq(m->source, "/usr");
	ck_assert(m->readonly);
	ck_assert_uint_eq(m->fd_cache, 500);
	ck_assert(m->allow_devices);
	ck_assert_uint_eq(m->uid_map.count, 0);
	ck_assert_double_eq(m->timeouts.entry, 2.5); /* inherited */
	ck_assert_int_eq(m->loc.line, mount0_line);

	m = &c->mounts[1];
	ck_assert_str_eq(m->path, "/home/alice");
	ck_assert_str_eq(m->source, "/etc");
	ck_assert(!m->readonly);
	ck_assert_uint_eq(m->uid_map.inside, 0);
	ck_assert_uint_eq(m->uid_map.outside, 100000);
	ck_assert_uint_eq(m->uid_map.count, 65536);
	ck_assert_mem_eq(&m->gid_map, &m->uid_map, sizeof(m->uid_map));
	ck_assert_double_eq(m->timeouts.entry, 10.0); /* overridden */
	ck_assert_double_eq(m->timeouts.attr, 3.0);   /* inherited key by key */
	ck_assert_double_eq(m->timeouts.negative, 0.5);

	m = &c->mounts[2];
	ck_assert_str_eq(m->path, "/scratch");
	ck_assert_str_eq(m->type, "memfs");
	ck_assert_ptr_null(m->source);
	ck_assert_uint_eq(m->size_limit, 256ull << 20);
	ck_assert_uint_eq(m->inode_limit, 10000);
	ck_assert(m->has_root_mode);
	ck_assert_uint_eq(m->root_mode, 0700);
	ck_assert(m->has_root_owner);
	ck_assert_uint_eq(m->root_uid, 1000);
	ck_assert_uint_eq(m->root_gid, 1001);
	ck_assert_str_eq(m->seed, "/usr");
}

START_TEST(good_yaml_file_loads)
{
	char *p = data_path("good.yaml");

	ck_assert_int_eq(config_load(p, &cfg, &errs), 0);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_str_eq(cfg->file, p);
	check_good_model(cfg, 19);
	free(p);
}
END_TEST

START_TEST(good_json_file_loads_same_model)
{
	char *p = data_path("good.json");

	ck_assert_int_eq(config_load(p, &cfg, &errs), 0);
	ck_assert_uint_eq(errs.n, 0);
	check_good_model(cfg, 12);
	free(p);
}
END_TEST

START_TEST(defaults_fill_an_almost_empty_config)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	const struct mount_config *m;

	ck_assert_int_eq(load("d.yaml", "mounts:\n  - {path: /m, type: memfs}\n"), 0);
	ck_assert_ptr_null(cfg->mountpoint);
	ck_assert_ptr_null(cfg->control_socket);
	ck_assert_uint_eq(cfg->fuse.threads, (uint32_t)ncpu);
	ck_assert_uint_eq(cfg->fuse.max_threads, ncpu > 16 ? (uint32_t)ncpu : 16);
	ck_assert(cfg->fuse.default_permissions);
	ck_assert(!cfg->fuse.allow_other && !cfg->fuse.suid && !cfg->fuse.dev);
	ck_assert(!cfg->fuse.writeback_cache);
	ck_assert(cfg->fuse.passthrough);
	ck_assert(!cfg->fuse.io_uring);
	ck_assert_uint_eq(cfg->fuse.max_write, 1u << 20);
	ck_assert_str_eq(cfg->fuse.fsname, "vfsmux");
	ck_assert_double_eq(cfg->timeouts.entry, 1.0);
	ck_assert_double_eq(cfg->timeouts.attr, 1.0);
	ck_assert_double_eq(cfg->timeouts.negative, 0.0);
	ck_assert_uint_eq(cfg->pseudofs.mode, 0755);
	ck_assert_uint_eq(cfg->pseudofs.uid, 0);
	ck_assert_uint_eq(cfg->pseudofs.gid, 0);
	m = &cfg->mounts[0];
	ck_assert_uint_eq(m->root_mode, 0755);
	ck_assert(!m->has_root_mode && !m->has_root_owner);
	ck_assert_uint_eq(m->size_limit, 0);
	ck_assert_int_eq(m->loc.line, 2);
	ck_assert_int_eq(m->loc.column, 5);
}
END_TEST

START_TEST(threads_raise_default_max_threads)
{
	ck_assert_int_eq(load("t.json", "{\"fuse\": {\"threads\": 40}}"), 0);
	ck_assert_uint_eq(cfg->fuse.max_threads, 40);
}
END_TEST

START_TEST(max_threads_bounds_default_threads)
{
	ck_assert_int_eq(load("t.yaml", "fuse: {max_threads: 1}\n"), 0);
	ck_assert_uint_eq(cfg->fuse.threads, 1);
	ck_assert_uint_eq(cfg->fuse.max_threads, 1);
}
END_TEST

START_TEST(mode_forms)
{
	ck_assert_int_eq(load("m.yaml", "pseudofs: {mode: 0750}\n"), 0);
	ck_assert_uint_eq(cfg->pseudofs.mode, 0750);
	config_free(cfg);
	ck_assert_int_eq(load("m.yaml", "pseudofs: {mode: 0o711}\n"), 0);
	ck_assert_uint_eq(cfg->pseudofs.mode, 0711);
	config_free(cfg);
	ck_assert_int_eq(load("m.json", "{\"pseudofs\": {\"mode\": 493}}"), 0);
	ck_assert_uint_eq(cfg->pseudofs.mode, 0755);
	config_free(cfg);
	cfg = NULL;
	load_bad("m.json", "{\"pseudofs\": {\"mode\": \"0789\"}}");
	expect_err("pseudofs.mode", 1, 23, "octal");
}
END_TEST

START_TEST(stdin_is_json_by_content)
{
	const char *text = "  \n{\"mountpoint\": \"/x//y\"}";
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], text, strlen(text)), (ssize_t)strlen(text));
	close(fds[1]);
	ck_assert_int_eq(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
	close(fds[0]);
	ck_assert_int_eq(config_load("-", &cfg, &errs), 0);
	ck_assert_str_eq(cfg->file, "<stdin>");
	ck_assert_str_eq(cfg->mountpoint, "/x/y");
}
END_TEST

START_TEST(unknown_extension_yaml_by_content)
{
	ck_assert_int_eq(load("conf", "mountpoint: /z\n"), 0);
	ck_assert_str_eq(cfg->mountpoint, "/z");
}
END_TEST

START_TEST(missing_file_is_reported)
{
	ck_assert_int_eq(config_load("/nonexistent/x.yaml", &cfg, &errs), -ENOENT);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].loc.line, 0);
	ck_assert_ptr_nonnull(strstr(errs.v[0].msg, "No such file"));
}
END_TEST

START_TEST(yaml_syntax_error)
{
	load_bad("s.yaml", "mounts:\n  - {path: /a,\n    type: memfs\nfuse: 1\n");
	ck_assert_uint_eq(errs.n, 1);
	expect_err(NULL, 4, 5, "YAML");
}
END_TEST

START_TEST(json_syntax_error)
{
	load_bad("s.json", "{\n  \"mountpoint\": \"/m\",\n  \"fuse\": }\n");
	ck_assert_uint_eq(errs.n, 1);
	expect_err(NULL, 3, 11, "JSON");
}
END_TEST

START_TEST(json_top_level_must_be_object)
{
	load_bad("s.json", "\"text\"");
	expect_err(NULL, 1, 6, "JSON");
	config_errors_fini(&errs);
	load_bad("s.json", "[1]");
	expect_err(NULL, 1, 1, "mapping");
}
END_TEST

START_TEST(empty_config)
{
	load_bad("e.yaml", "# nothing\n");
	expect_err(NULL, 1, 1, "empty");
}
END_TEST

START_TEST(unknown_top_level_key)
{
	load_bad("u.yaml", "mountpoint: /m\nmount: []\n");
	expect_err("mount", 2, 1, "unknown key 'mount'");
	ck_assert_ptr_nonnull(strstr(errs.v[0].msg, "mounts"));
}
END_TEST

START_TEST(unknown_nested_key)
{
	load_bad("u.json", "{\"fuse\": {\"treads\": 2}, \"timeouts\": {\"neg\": 1}}");
	expect_err("fuse.treads", 1, 11, "unknown key 'treads'");
	expect_err("timeouts.neg", 1, 38, "unknown key 'neg'");
}
END_TEST

START_TEST(unknown_mount_key)
{
	load_bad("u.yaml", "mounts:\n  - path: /a\n    type: memfs\n    colour: red\n");
	ck_assert_uint_eq(errs.n, 1);
	expect_err("mounts[0].colour", 4, 5, "unknown key 'colour'");
	ck_assert_ptr_nonnull(strstr(errs.v[0].msg, "valid keys for type memfs"));
}
END_TEST

START_TEST(key_invalid_for_type)
{
	load_bad("k.yaml", "mounts:\n  - {path: /a, type: passthrough, source: /, size: 1G}\n"
			   "  - {path: /b, type: memfs, source: /}\n");
	ck_assert_uint_eq(errs.n, 2);
	expect_err("mounts[0].size", 2, 46, "key 'size' is not valid for type passthrough");
	expect_err("mounts[1].source", 3, 29, "key 'source' is not valid for type memfs");
}
END_TEST

START_TEST(unknown_type_names_known_ones)
{
	load_bad("t.yaml", "mounts:\n  - {path: /a, type: nfs}\n");
	expect_err("mounts[0].type", 2, 22, "unknown type 'nfs' (known types: passthrough, memfs)");
	config_errors_fini(&errs);
	load_bad("t.yaml", "mounts:\n  - {path: /a}\n");
	expect_err("mounts[0]", 2, 5, "missing required key 'type'");
}
END_TEST

START_TEST(wrong_types)
{
	load_bad("w.yaml", "fuse:\n  allow_other: \"true\"\n  threads: two\n  fsname: [a]\n"
			   "mounts: {path: /a}\n");
	expect_err("fuse.allow_other", 2, 16, "expected a boolean");
	expect_err("fuse.threads", 3, 12, "expected an integer");
	expect_err("fuse.fsname", 4, 11, "expected a string, got a list");
	expect_err("mounts", 5, 9, "expected a list, got a mapping");
	config_errors_fini(&errs);
	load_bad("w.json",
		 "{\"mounts\": [{\"path\": \"/a\", \"type\": \"memfs\", \"readonly\": 1,\n"
		 " \"uid\": -3, \"inodes\": 2.5, \"gid\": 4294967296}]}");
	expect_err("mounts[0].readonly", 1, 57, "expected a boolean");
	expect_err("mounts[0].uid", 2, 9, "must not be negative");
	expect_err("mounts[0].inodes", 2, 23, "expected an integer, got 2.5");
	expect_err("mounts[0].gid", 2, 35, "too large");
}
END_TEST

/* allow_other without default_permissions would let any user act as the daemon. */
START_TEST(allow_other_without_default_permissions_is_refused)
{
	load_bad("p.yaml", "fuse:\n  allow_other: true\n  default_permissions: false\n"
			   "mounts: [{path: /a, type: memfs}]\n");
	ck_assert_uint_eq(errs.n, 1);
	expect_err("fuse.default_permissions", 3, 24, "refused with allow_other");
	expect_err("fuse.default_permissions", 3, 24, "daemon's privileges");
	config_errors_fini(&errs);
	load_bad("p.json", "{\"fuse\": {\"default_permissions\": false, \"allow_other\": true},\n"
			   " \"mounts\": [{\"path\": \"/a\", \"type\": \"memfs\"}]}");
	expect_err("fuse.default_permissions", 1, 34, "use default_permissions");
	config_errors_fini(&errs);
	/* Either alone is fine; allow_other with the kernel's checks is the safe form. */
	ck_assert_int_eq(load("o.yaml", "fuse: {allow_other: true}\nmounts: []\n"), 0);
	ck_assert(cfg->fuse.allow_other && cfg->fuse.default_permissions);
	config_free(cfg);
	cfg = NULL;
	ck_assert_int_eq(load("d.yaml", "fuse: {default_permissions: false}\nmounts: []\n"), 0);
	ck_assert(!cfg->fuse.allow_other && !cfg->fuse.default_permissions);
}
END_TEST

START_TEST(bad_sizes)
{
	load_bad("b.yaml", "fuse: {max_write: 2MiB}\nmounts:\n"
			   "  - {path: /a, type: memfs, size: 12 MB}\n"
			   "  - {path: /b, type: memfs, size: -1G}\n"
			   "  - {path: /c, type: memfs, size: 99999999999T}\n");
	expect_err("fuse.max_write", 1, 19, "between 4KiB and 1MiB");
	expect_err("mounts[0].size", 3, 35, "invalid size '12 MB'");
	expect_err("mounts[1].size", 4, 35, "must not be negative");
	expect_err("mounts[2].size", 5, 35, "too large");
}
END_TEST

START_TEST(relative_path)
{
	load_bad("r.yaml", "mountpoint: mnt/x\nmounts:\n  - {path: a/b, type: memfs}\n");
	expect_err("mountpoint", 1, 13, "must be absolute");
	expect_err("mounts[0].path", 3, 12, "must be absolute");
}
END_TEST

START_TEST(dotdot_path)
{
	load_bad("r.json", "{\"mounts\": [{\"type\": \"memfs\", \"path\": \"/a/../etc\"}]}");
	expect_err("mounts[0].path", 1, 39, "must not contain '..'");
}
END_TEST

START_TEST(duplicate_mount_path)
{
	load_bad("d.yaml",
		 "mounts:\n  - {path: /a/b, type: memfs}\n  - {path: /a//b/, type: memfs}\n");
	ck_assert_uint_eq(errs.n, 1);
	expect_err("mounts[1].path", 3, 12,
		   "duplicate mount path '/a/b' (also mounts[0] at line 2, column 12)");
}
END_TEST

START_TEST(prefix_conflict)
{
	load_bad("p.yaml", "mounts:\n  - {path: /a/b, type: memfs}\n  - {path: /a, type: memfs}\n"
			   "  - {path: /ab, type: memfs}\n");
	ck_assert_uint_eq(errs.n, 1); /* /ab is not inside /a */
	expect_err("mounts[1].path", 3, 12, "nested mounts are not supported yet");
	ck_assert_ptr_nonnull(strstr(errs.v[0].msg, "'/a/b' (line 2, column 12)"));
}
END_TEST

START_TEST(mount_at_root)
{
	load_bad("r.yaml", "mounts:\n  - {path: /., type: memfs}\n");
	expect_err("mounts[0].path", 2, 12, "a mount at / is not supported yet");
}
END_TEST

START_TEST(missing_source)
{
	load_bad("m.yaml", "mounts:\n  - {path: /a, type: passthrough}\n"
			   "  - {path: /b, type: passthrough, source: /nonexistent/dir}\n");
	expect_err("mounts[0].source", 2, 5, "missing required key 'source'");
	expect_err("mounts[1].source", 3, 43, "'/nonexistent/dir' does not exist");
}
END_TEST

START_TEST(source_not_a_directory)
{
	char *file, *text;

	ck_assert_int_gt(asprintf(&file, "%s/f", tmp), 0);
	testlib_write_file(file, "x", 1);
	ck_assert_int_gt(asprintf(&text,
				  "mounts:\n- path: /a\n  type: passthrough\n  source: %s\n"
				  "- path: /b\n  type: memfs\n  seed: %s\n",
				  file, file),
			 0);
	load_bad("s.yaml", text);
	expect_err("mounts[0].source", 4, 11, "is not a directory");
	expect_err("mounts[1].seed", 7, 9, "is not a directory");
	free(text);
	free(file);
}
END_TEST

START_TEST(id_map_checks)
{
	load_bad("i.yaml",
		 "mounts:\n- path: /a\n  type: memfs\n"
		 "  id_map: {inside: 4294967000, outside: 0, count: 1000}\n"
		 "- path: /b\n  type: memfs\n  id_map: {inside: 0, outside: 1, count: 0}\n"
		 "- path: /c\n  type: memfs\n  id_map: {inside: 0, count: 1}\n");
	expect_err("mounts[0].id_map.inside", 4, 20, "goes past the last id");
	expect_err("mounts[1].id_map.count", 7, 42, "must be at least 1");
	expect_err("mounts[2].id_map", 10, 11, "missing required key 'outside'");
	config_errors_fini(&errs);
	/* Exactly reaching 2^32 is fine. */
	ck_assert_int_eq(load("i.yaml",
			      "mounts:\n- path: /a\n  type: memfs\n"
			      "  id_map: {inside: 4294966296, outside: 1, count: 1000}\n"),
			 0);
	ck_assert_uint_eq(cfg->mounts[0].gid_map.inside, 4294966296u);
}
END_TEST

START_TEST(duplicate_key)
{
	load_bad("d.yaml", "fuse:\n  threads: 2\n  threads: 3\nmounts: []\nmounts: []\n");
	expect_err("fuse.threads", 3, 3, "duplicate key 'threads' (first at line 2, column 3)");
	expect_err("mounts", 5, 1, "duplicate key 'mounts'");
	config_errors_fini(&errs);
	load_bad("d.json", "{\"mountpoint\": \"/a\",\n \"mountpoint\": \"/b\"}");
	expect_err("mountpoint", 2, 2, "duplicate key");
}
END_TEST

START_TEST(many_errors_at_once)
{
	load_bad("m.yaml",
		 "bogus: 1\nfuse: {suid: maybe}\nmounts:\n"
		 "  - {path: rel, type: memfs}\n  - {path: /x, type: memfs, size: lots}\n");
	ck_assert_uint_eq(errs.n, 4);
	/* In file order. */
	ck_assert_str_eq(errs.v[0].key, "bogus");
	ck_assert_str_eq(errs.v[1].key, "fuse.suid");
	ck_assert_str_eq(errs.v[2].key, "mounts[0].path");
	ck_assert_str_eq(errs.v[3].key, "mounts[1].size");
}
END_TEST

START_TEST(fsname_cannot_inject_options)
{
	load_bad("f.yaml", "fuse: {fsname: \"x,suid\"}\n");
	expect_err("fuse.fsname", 1, 16, "without spaces, ','");
}
END_TEST

START_TEST(max_threads_below_threads)
{
	load_bad("t.yaml", "fuse: {threads: 8, max_threads: 4}\n");
	expect_err("fuse.max_threads", 1, 33, "must be at least threads");
}
END_TEST

START_TEST(negative_timeout)
{
	load_bad("t.yaml", "timeouts: {entry: -0.5}\nmounts:\n- {path: /a, type: memfs, "
			   "timeouts: {attr: .inf}}\n");
	expect_err("timeouts.entry", 1, 19, "must not be negative");
	expect_err("mounts[0].timeouts.attr", 3, 44, "expected a number of seconds");
}
END_TEST

START_TEST(yaml_alias_refused)
{
	load_bad("a.yaml", "fuse: &f {threads: 2}\ntimeouts: *f\n");
	expect_err(NULL, 2, 11, "aliases");
}
END_TEST

START_TEST(errors_print_format)
{
	char buf[512] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	load_bad("x.yaml", "bogus: 1\n");
	ck_assert_ptr_nonnull(f);
	config_errors_print(&errs, "x.yaml", f);
	fclose(f);
	ck_assert_msg(!strncmp(buf, "x.yaml:1:1: bogus: unknown key 'bogus'", 38), "%s", buf);
	ck_assert_int_eq(buf[strlen(buf) - 1], '\n');
}
END_TEST

START_TEST(control_characters_scrubbed)
{
	load_bad("c.json", "{\"a\\nb.yaml:9:9: forged\": 1}");
	ck_assert_ptr_null(strchr(errs.v[0].key, '\n'));
	ck_assert_ptr_null(strchr(errs.v[0].msg, '\n'));
}
END_TEST

START_TEST(path_normalize_table)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} t[] = {
		{ "/", 0, "/" },	  { "//", 0, "/" },
		{ "/a//b/", 0, "/a/b" },  { "/a/./b/.", 0, "/a/b" },
		{ "/./", 0, "/" },	  { "/a.b/..c/...", 0, "/a.b/..c/..." },
		{ "a/b", -EINVAL, NULL }, { "", -EINVAL, NULL },
		{ "./a", -EINVAL, NULL }, { "/a/../b", -EINVAL, NULL },
		{ "/..", -EINVAL, NULL }, { "/a/..", -EINVAL, NULL },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = config_path_normalize(t[i].in, out, sizeof(out));

		ck_assert_msg(rc == t[i].rc, "'%s': %d, expected %d", t[i].in, rc, t[i].rc);
		if (!rc)
			ck_assert_str_eq(out, t[i].out);
	}
	ck_assert_int_eq(config_path_normalize("/abc", out, 4), -ENAMETOOLONG);
	ck_assert_int_eq(config_path_normalize("/abc", out, 5), 0);
	ck_assert_int_eq(config_path_normalize("/", out, 1), -ENAMETOOLONG);
}
END_TEST

START_TEST(size_table)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t out;
	} t[] = {
		{ "0", 0, 0 },
		{ "1048576", 0, 1048576 },
		{ "64k", 0, 65536 },
		{ "64K", 0, 65536 },
		{ "64KiB", 0, 65536 },
		{ "256MiB", 0, 256ull << 20 },
		{ "3M", 0, 3ull << 20 },
		{ "2GiB", 0, 2ull << 30 },
		{ "2G", 0, 2ull << 30 },
		{ "1TiB", 0, 1ull << 40 },
		{ "5KB", 0, 5000 },
		{ "5MB", 0, 5000000 },
		{ "5GB", 0, 5000000000ull },
		{ "10B", 0, 10 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "16777216TiB", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "+1", -EINVAL, 0 },
		{ " 1", -EINVAL, 0 },
		{ "1 M", -EINVAL, 0 },
		{ "1.5G", -EINVAL, 0 },
		{ "12XB", -EINVAL, 0 },
		{ "G", -EINVAL, 0 },
		{ "1mib", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = 12345;
		int rc = config_parse_size(t[i].in, &v);

		ck_assert_msg(rc == t[i].rc, "'%s': %d, expected %d", t[i].in, rc, t[i].rc);
		if (!rc)
			ck_assert_msg(v == t[i].out, "'%s': %" PRIu64, t[i].in, v);
	}
}
END_TEST

START_TEST(print_tree_shows_namespace)
{
	char buf[4096] = "";
	FILE *f;

	ck_assert_int_eq(load("p.yaml",
			      "mountpoint: /mnt/c\n"
			      "timeouts: {entry: 1}\n"
			      "mounts:\n"
			      "- {path: /home/bob, type: memfs, size: 64MiB}\n"
			      "- {path: /base, type: passthrough, source: /usr, readonly: true}\n"
			      "- {path: /home/alice, type: passthrough, source: /etc,\n"
			      "   id_map: {inside: 0, outside: 1000, count: 65536},\n"
			      "   timeouts: {entry: 5}}\n"
			      "- {path: /home-x, type: memfs}\n"),
			 0);
	f = fmemopen(buf, sizeof(buf), "w");
	ck_assert_ptr_nonnull(f);
	config_print_tree(cfg, f);
	fclose(f);
	ck_assert_msg(strstr(buf, "mountpoint: /mnt/c\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "/                      pseudofs (mode 0755, uid 0, gid 0)\n"),
		      "%s", buf);
	ck_assert_msg(strstr(buf, "├── base               passthrough /usr (readonly)\n"), "%s",
		      buf);
	ck_assert_msg(strstr(buf, "├── home\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "│   ├── alice          passthrough /etc (id_map 0:1000:65536, "
				  "entry timeout 5s)\n"),
		      "%s", buf);
	ck_assert_msg(strstr(buf, "│   └── bob            memfs (size 64MiB)\n"), "%s", buf);
	ck_assert_msg(strstr(buf, "└── home-x             memfs\n"), "%s", buf);
	/* Children sorted by name: base, home, home-x. */
	ck_assert(strstr(buf, "base") < strstr(buf, "home\n"));
	ck_assert(strstr(buf, "home\n") < strstr(buf, "home-x"));
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_yaml_file_loads);
	tcase_add_test(tc, allow_other_without_default_permissions_is_refused);
	tcase_add_test(tc, good_json_file_loads_same_model);
	tcase_add_test(tc, defaults_fill_an_almost_empty_config);
	tcase_add_test(tc, threads_raise_default_max_threads);
	tcase_add_test(tc, max_threads_bounds_default_threads);
	tcase_add_test(tc, mode_forms);
	tcase_add_test(tc, stdin_is_json_by_content);
	tcase_add_test(tc, unknown_extension_yaml_by_content);
	tcase_add_test(tc, missing_file_is_reported);
	tcase_add_test(tc, yaml_syntax_error);
	tcase_add_test(tc, json_syntax_error);
	tcase_add_test(tc, json_top_level_must_be_object);
	tcase_add_test(tc, empty_config);
	tcase_add_test(tc, unknown_top_level_key);
	tcase_add_test(tc, unknown_nested_key);
	tcase_add_test(tc, unknown_mount_key);
	tcase_add_test(tc, key_invalid_for_type);
	tcase_add_test(tc, unknown_type_names_known_ones);
	tcase_add_test(tc, wrong_types);
	tcase_add_test(tc, bad_sizes);
	tcase_add_test(tc, relative_path);
	tcase_add_test(tc, dotdot_path);
	tcase_add_test(tc, duplicate_mount_path);
	tcase_add_test(tc, prefix_conflict);
	tcase_add_test(tc, mount_at_root);
	tcase_add_test(tc, missing_source);
	tcase_add_test(tc, source_not_a_directory);
	tcase_add_test(tc, id_map_checks);
	tcase_add_test(tc, duplicate_key);
	tcase_add_test(tc, many_errors_at_once);
	tcase_add_test(tc, fsname_cannot_inject_options);
	tcase_add_test(tc, max_threads_below_threads);
	tcase_add_test(tc, negative_timeout);
	tcase_add_test(tc, yaml_alias_refused);
	tcase_add_test(tc, errors_print_format);
	tcase_add_test(tc, control_characters_scrubbed);
	tcase_add_test(tc, path_normalize_table);
	tcase_add_test(tc, size_table);
	tcase_add_test(tc, print_tree_shows_namespace);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testlib_run(config_suite());
}

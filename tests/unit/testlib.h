/* tests/unit/testlib.h - helpers shared by the Check suites. */
#ifndef VFSMUX_TESTLIB_H
#define VFSMUX_TESTLIB_H

#include <check.h>
#include <stddef.h>

#ifdef NDEBUG
#error "unit tests rely on assert(); do not build them with NDEBUG"
#endif

/* A fresh temporary directory (removed by testlib_rmtree). Never NULL. */
char *testlib_tmpdir(void);
/* rm -rf path; ignores errors. */
void testlib_rmtree(const char *path);
/* Write len bytes to path (created 0644). ck_abort()s on failure. */
void testlib_write_file(const char *path, const void *buf, size_t len);
/* Run the suite in fork mode; returns the process exit code. */
int testlib_run(Suite *s);

#endif

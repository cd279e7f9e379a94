/* The Lambda sandbox: which accounts run without one, and the seccomp filter. The sandbox itself
 * (namespaces, mounts, cgroups) is exercised end to end by tests/e2e/lambda-isolation.test.mjs. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "lambda/internal.h"
#include "unit/leaks.h"

static void test_lambda_sandbox_admits_one_account_without_isolation(void **state)
{
    (void)state;
    struct mg_lambda_sandbox sb;
    memset(&sb, 0, sizeof(sb));
    sb.mode = MG_LAMBDA_ISOLATION_AUTO;
    assert_true(mg_lambda_sandbox_admits(&sb, "111122223333"));
    assert_false(mg_lambda_sandbox_admits(&sb, "444455556666"));
    assert_true(mg_lambda_sandbox_admits(&sb, "111122223333"));
    assert_false(mg_lambda_sandbox_admits(&sb, "444455556666"));
    /* the operator gave isolation up: everyone */
    sb.mode = MG_LAMBDA_ISOLATION_NONE;
    assert_true(mg_lambda_sandbox_admits(&sb, "444455556666"));
    /* a sandbox: everyone */
    sb.mode = MG_LAMBDA_ISOLATION_AUTO;
    sb.enabled = true;
    assert_true(mg_lambda_sandbox_admits(&sb, "444455556666"));
    mg_lambda_sandbox_cleanup(&sb);
    assert_null(sb.accounts);
}

static void test_lambda_sandbox_none_builds_nothing(void **state)
{
    (void)state;
    struct mg_lambda_sandbox sb;
    memset(&sb, 0, sizeof(sb));
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_lambda_sandbox_init(&sb, MG_LAMBDA_ISOLATION_NONE, "runtimes", ".", NULL,
                                            &ei),
                     MG_E_OK);
    assert_false(sb.enabled);
    assert_null(sb.filter);
    mg_lambda_sandbox_cleanup(&sb);
}

/* In a child: installs the filter, then tries what it refuses and what it allows. The exit
 * status is the number of the first check that failed (0: all passed). */
static int s_filter_child(const struct mg_lambda_sandbox *sb)
{
    struct sock_fprog prog = {sb->n_filter, sb->filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
        return 1;
    if (unshare(CLONE_NEWUSER) == 0 || errno != EPERM)
        return 2;
    if (mount("none", "/tmp", "tmpfs", 0, NULL) == 0 || errno != EPERM)
        return 3;
    if (syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0) == 0 || errno != EPERM)
        return 4;
    if (syscall(SYS_clone, (unsigned long)(CLONE_NEWPID | SIGCHLD), 0, 0, 0, 0) >= 0 ||
        errno != EPERM)
        return 5;
#ifdef SYS_clone3
    if (syscall(SYS_clone3, NULL, 0) >= 0 || errno != ENOSYS)
        return 6;
#endif
    /* what a function needs still works: processes, files */
    pid_t p = fork();
    if (p == 0)
        _exit(7);
    int st = 0;
    if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
        return 8;
    if (getpid() <= 0 || access("/", R_OK) != 0)
        return 9;
    return 0;
}

static void test_lambda_sandbox_seccomp_filter(void **state)
{
    (void)state;
    struct mg_lambda_sandbox sb;
    memset(&sb, 0, sizeof(sb));
    struct mg_errinfo ei = {0};
    /* auto never fails: it tells the log what it found */
    assert_int_equal(mg_lambda_sandbox_init(&sb, MG_LAMBDA_ISOLATION_AUTO, "runtimes", ".", NULL,
                                            &ei),
                     MG_E_OK);
    if (sb.filter == NULL) {
        mg_lambda_sandbox_cleanup(&sb);
        skip(); /* an architecture without a filter, or no data folder to resolve */
    }
    pid_t p = fork();
    if (p == 0)
        _exit(s_filter_child(&sb));
    int st = 0;
    assert_int_equal(waitpid(p, &st, 0), p);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    mg_lambda_sandbox_cleanup(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lambda_sandbox_admits_one_account_without_isolation),
        cmocka_unit_test(test_lambda_sandbox_none_builds_nothing),
        cmocka_unit_test(test_lambda_sandbox_seccomp_filter),
    };
    return MG_RUN_TESTS(tests);
}

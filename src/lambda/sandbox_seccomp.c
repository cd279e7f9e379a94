/* The seccomp filter every sandboxed runtime process installs before it executes: built once
 * at start-up into the sandbox's settings. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/syscall.h>

#include "base/alloc.h"
#include "lambda/sandbox_internal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#if defined(__x86_64__)
#define S_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define S_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* The seccomp filter: what a function never needs fails with EPERM; clone with namespace flags
 * too; clone3 fails with ENOSYS so that libc falls back to clone, whose flags can be checked. */
bool mg_lambda_seccomp_build(struct mg_lambda_sandbox *sb)
{
#ifndef S_AUDIT_ARCH
    (void)sb;
    return false;
#else
    static const int denied[] = {
#define S_DENY(name) __NR_##name,
#ifdef __NR_mount
        S_DENY(mount)
#endif
#ifdef __NR_umount2
            S_DENY(umount2)
#endif
#ifdef __NR_pivot_root
                S_DENY(pivot_root)
#endif
#ifdef __NR_chroot
                    S_DENY(chroot)
#endif
#ifdef __NR_swapon
                        S_DENY(swapon) S_DENY(swapoff)
#endif
#ifdef __NR_reboot
                            S_DENY(reboot)
#endif
#ifdef __NR_kexec_load
                                S_DENY(kexec_load)
#endif
#ifdef __NR_kexec_file_load
                                    S_DENY(kexec_file_load)
#endif
#ifdef __NR_init_module
                                        S_DENY(init_module) S_DENY(finit_module) S_DENY(
                                            delete_module)
#endif
#ifdef __NR_acct
                                            S_DENY(acct)
#endif
#ifdef __NR_settimeofday
                                                S_DENY(settimeofday)
#endif
#ifdef __NR_clock_settime
                                                    S_DENY(clock_settime) S_DENY(
                                                        clock_adjtime) S_DENY(adjtimex)
#endif
#ifdef __NR_sethostname
                                                        S_DENY(sethostname) S_DENY(setdomainname)
#endif
#ifdef __NR_keyctl
                                                            S_DENY(keyctl) S_DENY(add_key) S_DENY(
                                                                request_key)
#endif
#ifdef __NR_bpf
                                                                S_DENY(bpf)
#endif
#ifdef __NR_perf_event_open
                                                                    S_DENY(perf_event_open)
#endif
#ifdef __NR_userfaultfd
                                                                        S_DENY(userfaultfd)
#endif
#ifdef __NR_unshare
                                                                            S_DENY(unshare) S_DENY(
                                                                                setns)
#endif
#ifdef __NR_open_by_handle_at
                                                                                S_DENY(open_by_handle_at) S_DENY(
                                                                                    name_to_handle_at)
#endif
#ifdef __NR_quotactl
                                                                                    S_DENY(quotactl)
#endif
#ifdef __NR_lookup_dcookie
                                                                                        S_DENY(
                                                                                            lookup_dcookie)
#endif
#ifdef __NR_vhangup
                                                                                            S_DENY(
                                                                                                vhangup)
#endif
#ifdef __NR_iopl
                                                                                                S_DENY(
                                                                                                    iopl)
#endif
#ifdef __NR_ioperm
                                                                                                    S_DENY(
                                                                                                        ioperm)
#endif
#ifdef __NR_syslog
                                                                                                        S_DENY(
                                                                                                            syslog)
#endif
#ifdef __NR_ptrace
                                                                                                            S_DENY(ptrace) S_DENY(
                                                                                                                process_vm_readv) S_DENY(process_vm_writev)
#endif
#ifdef __NR_io_uring_setup
                                                                                                                S_DENY(io_uring_setup) S_DENY(
                                                                                                                    io_uring_enter) S_DENY(io_uring_register)
#endif
#ifdef __NR_open_tree
                                                                                                                    S_DENY(open_tree) S_DENY(
                                                                                                                        move_mount) S_DENY(fsopen)
                                                                                                                        S_DENY(fsconfig) S_DENY(
                                                                                                                            fsmount) S_DENY(fspick)
#endif
#ifdef __NR_mount_setattr
                                                                                                                            S_DENY(
                                                                                                                                mount_setattr)
#endif
#ifdef __NR_uselib
                                                                                                                                S_DENY(
                                                                                                                                    uselib)
#endif
#ifdef __NR_fanotify_init
                                                                                                                                    S_DENY(
                                                                                                                                        fanotify_init)
#endif
#ifdef __NR_pidfd_getfd
                                                                                                                                        S_DENY(
                                                                                                                                            pidfd_getfd)
#endif
#undef S_DENY
    };
    size_t nd = sizeof(denied) / sizeof(denied[0]);
    size_t cap = nd + 16;
    if (cap > MG_LAMBDA_SANDBOX_FILTER)
        return false;
    struct sock_filter *f = mg_calloc(cap, sizeof(*f));
    if (f == NULL)
        return false;
    size_t n = 0;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, S_AUDIT_ARCH, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, nr));
    /* the labels at the end: [allow] [clone check: load, jset, allow] [enosys] [deny] */
    size_t n_checks = nd + 2;
#if defined(__x86_64__)
    n_checks++;
#endif
    size_t at_allow = n + n_checks, at_clone = at_allow + 1, at_enosys = at_clone + 3,
           at_deny = at_enosys + 1;
#define S_JUMP_TO(target) (uint8_t)((target)-n - 1)
#if defined(__x86_64__)
    f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 0);
    f[n].jt = S_JUMP_TO(at_deny); /* x32 system calls */
    n++;
#endif
    f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 0);
    f[n].jt = S_JUMP_TO(at_enosys);
    n++;
    f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 0);
    f[n].jt = S_JUMP_TO(at_clone);
    n++;
    for (size_t i = 0; i < nd; i++) {
        f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)denied[i], 0, 0);
        f[n].jt = S_JUMP_TO(at_deny);
        n++;
    }
#undef S_JUMP_TO
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW); /* at_allow */
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, args[0]));
    uint32_t ns = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
                  CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME;
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, ns, 2, 0); /* to deny */
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & 0xffff));
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & 0xffff));
    if (n != at_deny + 1) {
        mg_free(f);
        return false;
    }
    sb->filter = f;
    sb->n_filter = (unsigned short)n;
    return true;
#endif
}

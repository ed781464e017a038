/* privs.c - dropping to --user while the /proc readers keep what they need, per thread. */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

static const cap_value_t proc_caps[] = { CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH };
#define N_PROC_CAPS (int)(sizeof(proc_caps) / sizeof(proc_caps[0]))

int privs_drop_to_user(const char *user)
{
	struct passwd *pw = getpwnam(user);
	if (!pw)
		return log_error("run: --user '%s': no such user", user);
	/* Keep the permitted set across setuid so the /proc threads can raise from it. */
	if (prctl(PR_SET_KEEPCAPS, 1) != 0 || setgroups(0, NULL) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
		return log_error("run: cannot switch to user '%s': %s (needs CAP_SETUID and CAP_SETGID)",
				 user, strerror(errno));
	prctl(PR_SET_KEEPCAPS, 0);
	cap_t caps = cap_init();	/* everything clear ... */
	int rc = caps ? cap_set_flag(caps, CAP_PERMITTED, N_PROC_CAPS, proc_caps, CAP_SET) : -1;
	if (rc == 0)
		rc = cap_set_proc(caps);	/* ... but the two /proc capabilities, permitted only */
	cap_free(caps);
	if (rc != 0) {
		log_warning("run: could not keep CAP_SYS_PTRACE/CAP_DAC_READ_SEARCH: %s; only "
			    "processes of user '%s' can be mapped to connections", strerror(errno), user);
		cap_t none = cap_init();
		if (none) {
			cap_set_proc(none);
			cap_free(none);
		}
	}
	log_info("run: running as user '%s' (uid %u) with no effective capability", user,
		 (unsigned)pw->pw_uid);
	return 0;
}

void privs_raise_for_proc_reading(void)
{
	cap_t caps = cap_get_proc();
	if (!caps)
		return;
	cap_flag_value_t permitted;
	int ok = 1;
	for (int i = 0; i < N_PROC_CAPS; i++)
		if (cap_get_flag(caps, proc_caps[i], CAP_PERMITTED, &permitted) != 0 || permitted != CAP_SET)
			ok = 0;
	if (ok && cap_set_flag(caps, CAP_EFFECTIVE, N_PROC_CAPS, proc_caps, CAP_SET) == 0)
		cap_set_proc(caps);	/* this thread only: libcap without psx sets the caller's caps */
	cap_free(caps);
}

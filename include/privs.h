/*
 * privs.h - privilege handling for `run --user`: after the capture is open
 * the process becomes the user; CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH stay
 * permitted (not effective), and only the /proc worker threads raise them
 * for themselves, so the capturing thread runs with an empty effective set.
 */
#ifndef TIERPROBE_PRIVS_H
#define TIERPROBE_PRIVS_H

/* Switches to user; returns 0 or -1 after logging why (naming the capability). */
int privs_drop_to_user(const char *user);

/*
 * Called at the start of a worker thread that reads other processes' /proc
 * entries: makes the kept capabilities effective for this thread only.
 * Harmless when they are not permitted (running as an ordinary user).
 */
void privs_raise_for_proc_reading(void);

#endif

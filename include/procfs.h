/*
 * procfs.h - the host and per-role sampler behind samples.csv: CPU, load,
 * memory, swap, faults, context switches, disks, network, and per role (web,
 * mongod, self) CPU, RSS, threads, storage IO and context switches.
 *
 * Sources: libproc2 (stat, meminfo, vmstat, diskstats, pids, loadavg); read
 * directly only where libproc2 4.0 has no API: /proc/net/dev and the
 * voluntary/nonvoluntary_ctxt_switches lines of /proc/PID/task/TID/status.
 *
 * Call procfs_sample() once per interval: rates are deltas since the previous
 * call (procfs_sampler_new() takes the first baseline). Every value is a
 * double and NAN means unknown (written as an empty CSV field, never 0): no
 * baseline yet, a role with no processes, no disk IO to average an await over.
 */
#ifndef TIERPROBE_PROCFS_H
#define TIERPROBE_PROCFS_H

#include <stddef.h>
#include <sys/types.h>

#include "roles.h"
#include "timestamp.h"

#define PROCFS_NAME_MAX 32
#define PROCFS_MAX_DISKS 32
#define PROCFS_MAX_IFACES 32

/* One whole-disk device (loop, ram, zram and partitions are skipped, as iostat -x does). */
struct procfs_disk {
	char name[PROCFS_NAME_MAX];
	double util_pct;		/* Δio_ticks / Δt */
	double await_ms;		/* (Δread_ticks + Δwrite_ticks) / (Δreads + Δwrites); NAN without IO */
	double read_bytes_per_s, write_bytes_per_s;
	double read_iops, write_iops;
	int stacked;			/* dm/md: built on other disks, left out of the totals */
};

struct procfs_iface {
	char name[PROCFS_NAME_MAX];
	double rx_bytes_per_s, tx_bytes_per_s;
	double rx_packets_per_s, tx_packets_per_s;
};

struct procfs_role_sample {
	double pids;			/* processes in the set now */
	double cpu_pct;			/* Σ Δ(utime+stime) / Δt, in % of one core */
	double rss_mib;
	double threads;
	double read_bytes_per_s;	/* /proc/PID/io read_bytes: storage reads */
	double write_bytes_per_s;	/* /proc/PID/io write_bytes: storage writes */
	double vcsw_per_s;		/* voluntary context switches (waits: IO, locks, sockets) */
	double ivcsw_per_s;		/* involuntary: preempted (CPU contention) */
};

struct host_sample {
	ts_ns ts;			/* wall clock at the sample */
	double interval_s;		/* monotonic time since the previous sample */

	/* CPU, % of all cores: user (+nice), system (+irq +softirq), iowait, steal, idle sum to 100. */
	double cpu_user_pct, cpu_system_pct, cpu_iowait_pct, cpu_steal_pct, cpu_idle_pct;
	double cpu_busiest_core_pct;	/* the busiest single core's non-idle % */
	double load1, load5, load15;
	double procs_running;		/* runnable tasks now (/proc/stat procs_running) */
	double procs_blocked;		/* tasks in uninterruptible IO wait */

	double mem_used_mib;		/* MemTotal - MemAvailable */
	double mem_available_mib, mem_cached_mib, swap_used_mib;
	double swap_in_kib_per_s, swap_out_kib_per_s;
	double pgfault_major_per_s, pgfault_minor_per_s;
	double ctx_switches_per_s;

	/* Disks: the busiest device, and totals over the non-stacked disks. */
	double disk_util_max_pct;
	char disk_util_max_dev[PROCFS_NAME_MAX];	/* "" when unknown */
	double disk_util_max_await_ms;
	double disk_await_ms;		/* over all IO of the non-stacked disks */
	double disk_read_bytes_per_s, disk_write_bytes_per_s;
	double disk_read_iops, disk_write_iops;
	size_t ndisks;
	struct procfs_disk disks[PROCFS_MAX_DISKS];

	/* Network: totals over every interface except lo (loopback counted apart). */
	double net_rx_bytes_per_s, net_tx_bytes_per_s;
	double net_rx_packets_per_s, net_tx_packets_per_s;
	double net_lo_bytes_per_s;
	size_t nifaces;
	struct procfs_iface ifaces[PROCFS_MAX_IFACES];

	struct procfs_role_sample role[ROLES_COUNT];
};

struct procfs_sampler;

/*
 * Opens the libproc2 handles and takes the baseline. Returns a sampler (free
 * with procfs_sampler_free) or NULL with errno set.
 */
struct procfs_sampler *procfs_sampler_new(void);

/* NULL is a no-op. */
void procfs_sampler_free(struct procfs_sampler *s);

/*
 * Sets the processes of a role (copied; e.g. from roles_pids()). A pid that
 * stays gets its rates from its previous counters; a pid that is new starts
 * a baseline (counted from the next sample); a pid that left drops out.
 * Returns 0 or -ENOMEM / -EINVAL.
 */
int procfs_sampler_set_role(struct procfs_sampler *s, enum roles_role role, const pid_t *pids,
			    size_t n);

/*
 * Fills out with the deltas since the previous call (or since new). Fields
 * that could not be read are NAN. Returns 0, or -errno when nothing at all
 * could be read.
 */
int procfs_sample(struct procfs_sampler *s, struct host_sample *out);

/* Sets every value of out to unknown (NAN, "" device, no disks or interfaces). */
void procfs_sample_clear(struct host_sample *out);

/* ---- samples.csv ---- */

/* The column names, in order (a static array of PROCFS_NCOLUMNS strings). */
#define PROCFS_NCOLUMNS 58
extern const char *const procfs_columns[PROCFS_NCOLUMNS];

/* Room for one formatted sample: the text of each cell and pointers to it. */
#define PROCFS_CELL_MAX 40
struct procfs_row {
	char text[PROCFS_NCOLUMNS][PROCFS_CELL_MAX];
	const char *cells[PROCFS_NCOLUMNS];	/* point into text; "" for unknown */
};

/*
 * Formats a sample into row->cells (PROCFS_NCOLUMNS of them, in
 * procfs_columns order; ready for csv_writer_row). Unknown values are "".
 */
void procfs_format_row(const struct host_sample *s, struct procfs_row *row);

#endif

// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
/*
 * /init of the arm64 test guest (static, no shell needed): mounts the pseudo
 * filesystems, quiets the console, hands QEMU's edu devices to vfio-pci, runs
 * /test-binary with the arguments in /args and the environment in /env (both
 * NUL-separated), prints the marker line
 * the runner reads, and powers off. With "dump-iort" in /args it prints the ACPI IORT
 * table in hex instead (the runner patches it for the next boots).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, value, strlen(value)) < 0)
		fprintf(stderr, "init: writing %s to %s: %s\n", value, path, strerror(errno));
	close(fd);
}

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* QEMU's edu device is 1234:11e8. */
static void bind_edu_to_vfio(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	char path[512], vendor[16], device[16];
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if (read_small(path, vendor, sizeof(vendor)))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		if (read_small(path, device, sizeof(device)))
			continue;
		if (strncmp(vendor, "0x1234", 6) || strncmp(device, "0x11e8", 6))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", e->d_name);
		put(path, "vfio-pci");
		put("/sys/bus/pci/drivers_probe", e->d_name);
	}
	closedir(d);
}

static void dump_iort(void)
{
	unsigned char buf[4096];
	int fd = open("/sys/firmware/acpi/tables/IORT", O_RDONLY);
	ssize_t n, i;
	if (fd < 0) {
		printf("IORT-MISSING\n");
		return;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	printf("IORT-HEX:");
	for (i = 0; i < n; i++)
		printf("%02x", buf[i]);
	printf("\n");
}

int main(void)
{
	static char args[65536];
	char *argv[256];
	int argc = 0, status = 0, fd;
	ssize_t len = 0;
	pid_t pid;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	klogctl(8, NULL, 1); /* console loglevel 1: keep kernel lines off the test output */

	fd = open("/args", O_RDONLY);
	if (fd >= 0) {
		len = read(fd, args, sizeof(args) - 1);
		close(fd);
	}
	argv[argc++] = "/test-binary";
	for (ssize_t i = 0; i < len && argc < 255; i += strlen(args + i) + 1)
		argv[argc++] = args + i;
	argv[argc] = NULL;

	/* Environment for the workload: /env holds NUL-separated KEY=VALUE entries. */
	static char envs[8192];
	fd = open("/env", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, envs, sizeof(envs) - 1);
		close(fd);
		for (ssize_t i = 0; i < n; i += strlen(envs + i) + 1)
			putenv(envs + i);
	}

	if (argc > 1 && !strcmp(argv[1], "dump-iort")) {
		dump_iort();
	} else {
		bind_edu_to_vfio();
		pid = fork();
		if (pid == 0) {
			chdir("/tmp");
			execv(argv[0], argv);
			perror("init: exec /test-binary");
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
			status = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		else
			status = WEXITSTATUS(status);
		if (status) {
			static char log[1 << 16];
			int n = klogctl(3, log, sizeof(log));
			if (n > 0) {
				int start = n > 6000 ? n - 6000 : 0;
				printf("rig: kernel log follows\n%.*s\n", n - start, log + start);
			}
		}
	}
	printf("IOMMUFD-RIG-EXIT=%d\n", status);
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}

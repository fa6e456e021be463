"""A single-node SLURM cluster on localhost for the SLURM test (Debian 12 packages).

munged runs as user munge on its default socket; slurmctld and slurmd run as root with
state, logs and pid files in a folder of the test's own. The config goes to
/etc/slurm/slurm.conf (an existing one is set aside and put back): srun inside a batch job
does not see SLURM_CONF from the submitting environment.
Accounting is off, so Snakemake's slurm plugin must poll with squeue
(``--slurm-status-command squeue``), which needs MinJobAge well above its check delay.
Only daemons this module started are stopped, by their pid files.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
BINARIES = ["slurmctld", "slurmd", "sbatch", "squeue", "munged"]


def missing_reason() -> str | None:
    """None if SLURM is (or can be made) available here, else why not."""
    if all(shutil.which(b) for b in BINARIES):
        return None
    if os.geteuid() != 0:
        return "SLURM is not installed and installing it needs root (apt-get install " \
               + " ".join(PACKAGES) + ")"
    if not shutil.which("apt-get"):
        return "SLURM is not installed and apt-get is unavailable"
    return None


def install() -> None:
    """Install the Debian packages if any binary is missing (root, apt)."""
    if all(shutil.which(b) for b in BINARIES):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], env=env, check=False,
                   capture_output=True, timeout=900)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
                   env=env, check=True, capture_output=True, timeout=1800)


def node_hardware() -> tuple[int, int]:
    """CPUs and RealMemory (MB) of this machine as slurmd reports them."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    cpus = int(re.search(r"CPUs=(\d+)", out).group(1))
    memory = int(re.search(r"RealMemory=(\d+)", out).group(1))
    return cpus, memory


def slurm_conf(root: Path, cpus: int, memory: int) -> str:
    return f"""ClusterName=ecgaptest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


class LocalSlurm:
    """Start with :meth:`start`, stop with :meth:`stop`; ``env`` is for clients."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[Path] = []  # pid files of the daemons this object started
        self.conf = Path("/etc/slurm/slurm.conf")
        self.backup = root / "slurm.conf.orig"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self, timeout: float = 60) -> None:
        for sub in ("state", "spool"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        cpus, memory = node_hardware()
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        if self.conf.exists():
            shutil.copy2(self.conf, self.backup)
        self.conf.write_text(slurm_conf(self.root, cpus, memory))
        self._start_munge()
        subprocess.run(["slurmctld", "-i"], env=self.env, check=True)
        self.started.append(self.root / "slurmctld.pid")
        subprocess.run(["slurmd", "-N", "localhost"], env=self.env, check=True)
        self.started.append(self.root / "slurmd.pid")
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env,
                                 capture_output=True, text=True).stdout
            if "idle" in out:
                return
            time.sleep(1)
        raise RuntimeError(f"SLURM node not idle after {timeout} s: {self.log_tail()}")

    def _start_munge(self) -> None:
        socket = Path("/run/munge/munge.socket.2")
        if socket.exists() and subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return  # a munged is already serving; leave it alone
        run_dir = Path("/run/munge")  # munge's own: a test tmp folder is not reachable
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        pid_file = run_dir / "ecgap-test-munged.pid"
        subprocess.run(["runuser", "-u", "munge", "--", "munged", "--force",
                        f"--pid-file={pid_file}", f"--log-file={run_dir}/ecgap-test-munged.log"],
                       check=True)
        self.started.append(pid_file)

    def stop(self) -> None:
        for pid_file in reversed(self.started):
            try:
                pid = int(pid_file.read_text().split()[0])
                os.kill(pid, signal.SIGTERM)
            except (FileNotFoundError, ValueError, IndexError, ProcessLookupError):
                continue
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
        self.started.clear()
        if self.backup.exists():
            shutil.move(self.backup, self.conf)
        elif self.conf.exists():
            self.conf.unlink()

    def _submitted_ids(self) -> list[int]:
        """Ids of the batch jobs slurmctld accepted, in order, from its log."""
        log = self.root / "slurmctld.log"
        return [int(job) for job in re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)",
                                               log.read_text() if log.exists() else "")]

    def submitted_jobs(self) -> int:
        """Batch jobs slurmctld accepted, from its log."""
        return len(self._submitted_ids())

    def requested(self, job_id: int) -> dict[str, str]:
        """What a job asked for: ``scontrol show job``'s fields (NumCPUs, MinMemoryNode,
        TimeLimit, ...)."""
        out = subprocess.run(["scontrol", "show", "job", str(job_id)], env=self.env,
                             capture_output=True, text=True, check=True).stdout
        return dict(re.findall(r"(\w+)=(\S+)", out))

    def last_job_id(self) -> int:
        return self._submitted_ids()[-1]

    def log_tail(self) -> str:
        return "\n".join((self.root / name).read_text()[-1500:]
                         for name in ("slurmctld.log", "slurmd.log")
                         if (self.root / name).exists())

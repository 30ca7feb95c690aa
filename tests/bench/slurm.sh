#!/usr/bin/env bash
# slurm.sh start DIR | stop DIR -- a private Slurm controller for bench_submit's baseline
# (docs/benchmarks.md, "Submissions against slurmrestd"): munged, slurmctld and slurmrestd
# (Debian's slurmctld, slurmrestd and munge packages, .ci/deps), everything under DIR.
# One partition of one node that never registers (no slurmd runs), so submitted jobs stay
# pending: what is measured is acceptance, as bench_submit measures fedsched's.
# start prints the path of slurmrestd's unix socket (rest_auth/local: the peer's uid is the
# caller). Exit status non-zero when a daemon does not come up; stop always succeeds.
set -euo pipefail
cmd=${1:?usage: slurm.sh start|stop DIR}
dir=${2:?usage: slurm.sh start|stop DIR}

stop() {
  for p in slurmrestd slurmctld munged; do
    [ -f "$dir/run/$p.pid" ] && kill "$(cat "$dir/run/$p.pid")" 2>/dev/null || true
  done
  # slurmctld saves its state on the way out; give it a moment before DIR goes.
  for _ in $(seq 50); do
    [ -f "$dir/run/slurmctld.pid" ] && kill -0 "$(cat "$dir/run/slurmctld.pid")" 2>/dev/null || break
    sleep 0.1
  done
}

case $cmd in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "slurm.sh: unknown command $cmd" >&2; exit 2 ;;
esac

mkdir -p "$dir"/{run,state,spool,log}
chmod 755 "$dir"
chmod 1777 "$dir/run" "$dir/log"
user=$(id -un)
head -c 1024 /dev/urandom >"$dir/munge.key"
chmod 400 "$dir/munge.key"
munged --key-file="$dir/munge.key" --socket="$dir/run/munge.sock" \
  --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
  --seed-file="$dir/run/munge.seed" --force

# A free pair of ports below the kernel's ephemeral range (32768 and up, where an outgoing
# connection can take a port between our check and slurmctld's bind); tried again on
# another pair when slurmctld still finds its port taken.
free_pair() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    (echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null && continue
    (echo >/dev/tcp/127.0.0.1/$((p + 1))) 2>/dev/null && continue
    echo $p
    return
  done
}

write_conf() {
  cat >"$dir/slurm.conf" <<EOF
ClusterName=fedschedbench
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$dir/run/munge.sock
CredType=cred/munge
SlurmUser=$user
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SchedulerType=sched/builtin
SelectType=select/cons_tres
ProctrackType=proctrack/linuxproc
MaxJobCount=1000000
NodeName=localhost CPUs=2 State=UNKNOWN
PartitionName=train Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  chmod 644 "$dir/slurm.conf"
}

export SLURM_CONF=$dir/slurm.conf
up=0
for try in 1 2 3; do
  port=$(free_pair)
  write_conf
  : >"$dir/log/slurmctld.log"
  slurmctld
  for _ in $(seq 100); do
    scontrol ping 2>/dev/null | grep -q UP && { up=1; break; }
    grep -q "Address already in use" "$dir/log/slurmctld.log" && break
    sleep 0.1
  done
  [ $up = 1 ] && break
  grep -q "Address already in use" "$dir/log/slurmctld.log" || break
  echo "slurm.sh: port $port taken (try $try), trying another" >&2
done
[ $up = 1 ] || { echo "slurm.sh: slurmctld did not come up:" >&2; tail -5 "$dir/log/slurmctld.log" >&2; stop; exit 1; }

# slurmrestd refuses to run as root ("should not be run as the root user"): run it as
# postgres (present wherever the tests run) when we are root, else as ourselves.
rest="slurmrestd -a rest_auth/local -s openapi/v0.0.38 unix:$dir/run/rest.sock"
if [ "$(id -u)" -eq 0 ]; then
  su postgres -s /bin/bash -c "SLURM_CONF=$SLURM_CONF setsid $rest >$dir/log/rest.log 2>&1 & echo \$! >$dir/run/slurmrestd.pid"
else
  setsid $rest >"$dir/log/rest.log" 2>&1 &
  echo $! >"$dir/run/slurmrestd.pid"
fi
for _ in $(seq 100); do
  [ -S "$dir/run/rest.sock" ] && break
  sleep 0.1
done
[ -S "$dir/run/rest.sock" ] || { echo "slurm.sh: slurmrestd did not come up:" >&2; tail -5 "$dir/log/rest.log" >&2; stop; exit 1; }
echo "$dir/run/rest.sock"
